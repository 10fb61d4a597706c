package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// TestModeratorRedactsAPhoneNumber: a post with a phone number arrives
// held by the personal-data rule, the number marked on the card; the
// moderator presses d (redact what the rules matched) and a (approve); the
// wall shows the post with the number replaced and the note that the
// moderators redacted it, and never the number.
func TestModeratorRedactsAPhoneNumber(t *testing.T) {
	s := startStaffServer(t)
	p := staffFixturePosts(t, 1)[0]
	const number = "07700 900123"
	p.Text = "Lovely talk! Ring Edith on " + number + " to join the group"
	p.HTML = "<p>Lovely talk! Ring Edith on " + number + " to join the group</p>"
	p.ContentWarning, p.Media = "", nil
	start := strings.Index(p.Text, number)
	rec := staffReceived(p)
	rec.Verdict = &event.Verdict{Decision: event.DecisionHold, Rule: "personal data: UK phone number",
		Checks: []event.Check{{Rule: "personal data: UK phone number", Score: 1,
			Spans: []event.Span{{Start: start, End: start + len(number), Text: number}}}}}
	s.add(t, rec)

	wallTab := staffTab(t, 1280, 800, 60*time.Second)
	if err := chromedp.Do(wallTab, chromedp.Navigate(s.URL+"/e/"+staffSlug+"/wall")); err != nil {
		t.Fatal(err)
	}
	mod := staffTab(t, 1280, 900, 60*time.Second)
	staffLogin(t, mod, s, "moderate", "alice", staffModPass)
	card := fmt.Sprintf(`document.querySelector('#list .post[data-id=%q]')`, p.ID)
	staffJSEventually(t, mod, 5*time.Second, "the card marks the matched number",
		card+` && `+card+`.querySelector("mark.matched") && `+card+`.querySelector("mark.matched").textContent === "`+number+`"`)

	staffPress(t, mod, "d")
	staffJSEventually(t, mod, 5*time.Second, "the card shows the redaction",
		card+` && `+card+`.querySelector(":scope > .post-body").innerText.includes("█████") && `+
			card+`.querySelector(".redactions") && `+card+`.querySelector(".redactions").innerText.includes("`+number+`")`)
	if v := staffPostState(s, p.ID); v.State != fold.StatePending || len(v.Redactions) != 1 || strings.Contains(v.Text, "900123") {
		t.Fatalf("after d: state %s, redactions %q, text %q", v.State, v.Redactions, v.Text)
	}
	Screenshot(t, mod, "moderate_redacted_card")
	staffPress(t, mod, "a")
	staffJSEventually(t, wallTab, 10*time.Second, "the wall shows the post, redacted, with the note",
		`document.body.innerText.includes("Ring Edith on █████ to join the group") && document.body.innerText.includes("Redacted by the moderators")`)
	if got := staffJSString(t, wallTab, `String(document.documentElement.outerHTML.includes("900123"))`); got != "false" {
		t.Error("the wall page carries the redacted number")
	}
	if v := staffPostState(s, p.ID); v.State != fold.StateApproved || v.Original == nil || !strings.Contains(v.Original.Text, number) {
		t.Errorf("after a: state %s, original %+v", v.State, v.Original)
	}
	// The card fades in: the screenshot waits for it to be whole.
	staffJSEventually(t, wallTab, 5*time.Second, "the card has faded in",
		`[...document.querySelectorAll("article.post")].every(a => getComputedStyle(a).opacity === "1")`)
	Screenshot(t, wallTab, "wall_redacted_post")
}
