package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/wall"
)

const voteModToken = "e2e-vote-moderator-token-0123456789"

// startVoteServer is startStaffServer with the web form, whose device
// tokens the votes need, and a moderator token for the API.
func startVoteServer(t testing.TB) *staffServer {
	t.Helper()
	return startStaff(t, staffSetup{title: "Votes under test", hashtag: "VoteTest", modTokens: []string{voteModToken}, form: true})
}

// phone is a participant's phone that is not a browser: its own cookie
// jar, so its own device token, fetched as the participant page does.
type phone struct {
	c    *http.Client
	base string
}

func newPhone(t testing.TB, base string) *phone {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	p := &phone{c: &http.Client{Jar: jar, Timeout: 10 * time.Second}, base: base}
	res, err := p.c.Get(base + "/e/" + staffSlug + "/form")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return p
}

// vote sends a vote (or, with take, takes it back) as the page would,
// from the event's own origin, and returns the status.
func (p *phone) vote(t testing.TB, qid string, take bool) int {
	t.Helper()
	method := "POST"
	if take {
		method = "DELETE"
	}
	req, _ := http.NewRequest(method, p.base+"/e/"+staffSlug+"/questions/"+qid+"/vote", nil)
	req.Header.Set("Origin", p.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := p.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode
}

func voteAPI(t testing.TB, base, method, path string, body any, into any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, base+"/api/events/"+staffSlug+"/"+path, rd)
	req.Header.Set("Authorization", "Bearer "+voteModToken)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, b)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatal(err)
		}
	}
}

// A participant asks on the participant page; a moderator approves; fifty
// phones and the participant's browser vote; the facilitator's list, by
// votes, reorders live; a vote is taken back with a second tap; a second
// vote from one device is refused.
func TestAskApproveVoteReorder(t *testing.T) {
	s := startVoteServer(t)

	// The participant asks, ticking "this is a question".
	part := staffTab(t, 390, 844, 90*time.Second)
	if err := chromedp.Do(part, chromedp.Navigate(s.URL+"/e/"+staffSlug)); err != nil {
		t.Fatal(err)
	}
	staffJSEventually(t, part, 10*time.Second, "the page is live", `document.querySelector("#conn").dataset.status === "live"`)
	const asked = "Will the new bus lanes reach Seacroft before 2030?"
	if err := chromedp.Do(part,
		chromedp.SendKeys(chromedp.ID("f-text"), asked),
		chromedp.Click(chromedp.ID("f-question")),
		chromedp.Click(chromedp.ID("f-send"))); err != nil {
		t.Fatal(err)
	}
	staffJSEventually(t, part, 10*time.Second, "the form says it was received", `document.querySelector("#f-result").classList.contains("ok")`)

	// It reaches the moderators as a question candidate; approving makes it a question.
	var q wall.QueueView
	staffEventually(t, 5*time.Second, "the question is in the queue", func() bool {
		voteAPI(t, s.URL, "GET", "queue", nil, &q)
		return len(q.Posts) == 1
	})
	if p := q.Posts[0]; !p.QuestionCandidate || p.Text != asked {
		t.Fatalf("queued post = %+v, want the question candidate", p)
	}
	pid := q.Posts[0].ID
	voteAPI(t, s.URL, "POST", "posts/"+pid+"/approve", nil, nil)
	var qa, qb wall.ActionResult
	voteAPI(t, s.URL, "POST", "questions", map[string]string{"text": "How is the budget split between wards?"}, &qa)
	voteAPI(t, s.URL, "POST", "questions", map[string]string{"text": "Who sits on the citizens' panel?"}, &qb)
	ida, idb := qa.Question.ID, qb.Question.ID

	// The facilitator, ordering by votes.
	fac := staffTab(t, 390, 844, 90*time.Second)
	staffLogin(t, fac, s, "facilitate", "fay", staffFacPass)
	staffJSEventually(t, fac, 10*time.Second, "three open questions", `document.querySelectorAll("#open li").length === 3`)
	if err := chromedp.Do(fac, chromedp.Click(chromedp.ID("order-votes"))); err != nil {
		t.Fatal(err)
	}
	order := func(ids ...string) string {
		return fmt.Sprintf(`[...document.querySelectorAll("#open li")].map((li) => li.dataset.id).join(",") === %q`, strings.Join(ids, ","))
	}
	staffJSEventually(t, fac, 5*time.Second, "by votes, no votes yet: the shared order", order(pid, ida, idb))

	// The participant sees the approved question and votes for it in the browser.
	btn := fmt.Sprintf(`document.querySelector('#questions li[data-id=%q] button.vote')`, pid)
	staffJSEventually(t, part, 10*time.Second, "the participant sees the questions", `document.querySelectorAll("#questions li").length === 3 && `+btn)
	if err := chromedp.Do(part, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#questions li[data-id="%s"] button.vote`, pid)))); err != nil {
		t.Fatal(err)
	}
	staffJSEventually(t, part, 10*time.Second, "the browser's vote counted", btn+`.getAttribute("aria-pressed") === "true" && `+btn+`.dataset.votes === "1"`)

	// Fifty phones, each with its own device token: 30 for B, 20 for A.
	phones := make([]*phone, 50)
	for i := range phones {
		phones[i] = newPhone(t, s.URL)
	}
	var wg sync.WaitGroup
	errs := make(chan string, len(phones))
	for i, p := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := idb
			if i >= 30 {
				id = ida
			}
			if st := p.vote(t, id, false); st != 200 {
				errs <- fmt.Sprintf("phone %d: vote = %d", i, st)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	staffJSEventually(t, fac, 10*time.Second, "the facilitator's list reorders by votes", order(idb, ida, pid))
	staffJSEventually(t, fac, 5*time.Second, "the counts are shown",
		fmt.Sprintf(`document.querySelector('#open li[data-id=%q] .q-votes').dataset.votes === "30"`, idb))

	// A second vote from one device is refused, from a phone and from the browser.
	if st := phones[0].vote(t, idb, false); st != http.StatusConflict {
		t.Errorf("a phone's second vote = %d, want 409", st)
	}
	var started bool
	EvalJS(t, part, fmt.Sprintf(`(window.secondVote = 0, fetch("/e/%s/questions/%s/vote", {method: "POST", credentials: "same-origin"}).then((r) => { window.secondVote = r.status; }), true)`, staffSlug, pid), &started)
	staffJSEventually(t, part, 10*time.Second, "the browser's second vote is answered", `window.secondVote > 0`)
	var second int
	EvalJS(t, part, `window.secondVote`, &second)
	if second != http.StatusConflict {
		t.Errorf("the browser's second vote = %d, want 409", second)
	}

	// Then forty phones vote for the participant's question: it goes first, live.
	for _, p := range phones[:40] {
		if st := p.vote(t, pid, false); st != 200 {
			t.Fatalf("vote for the asked question = %d", st)
		}
	}
	staffJSEventually(t, fac, 10*time.Second, "the asked question goes first", order(pid, idb, ida))

	// A second tap in the browser takes its vote back.
	if err := chromedp.Do(part, chromedp.Click(chromedp.CSS(fmt.Sprintf(`#questions li[data-id="%s"] button.vote`, pid)))); err != nil {
		t.Fatal(err)
	}
	staffJSEventually(t, part, 10*time.Second, "the vote is taken back", btn+`.getAttribute("aria-pressed") === "false" && `+btn+`.dataset.votes === "40"`)
	var v fold.QuestionView
	s.view(func(st *fold.State) { v, _ = st.Question(pid) })
	if v.Votes != 40 {
		t.Errorf("the fold counts %d votes for the asked question, want 40", v.Votes)
	}
	staffJSEventually(t, fac, 10*time.Second, "the facilitator sees 40",
		fmt.Sprintf(`document.querySelector('#open li[data-id=%q] .q-votes').dataset.votes === "40"`, pid))
	Screenshot(t, fac, "votes-facilitate-390x844")
	Screenshot(t, part, "votes-participant-390x844")
}
