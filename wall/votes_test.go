package wall_test

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/ingest/webform"
	"github.com/backchannel/backchannel/internal/ratelimit"
	"github.com/backchannel/backchannel/wall"
)

// startVoteNode serves "ev" with the web form (whose device tokens the
// votes need) and the given vote limits.
func startVoteNode(t *testing.T, limits wall.VoteLimits) (*staffNode, *webform.Handler) {
	t.Helper()
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	clk := newClock()
	form := webform.New(webform.Options{Now: clk.Now, Key: []byte(testKey), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	n := startNode(t, store, clk, func(o *wall.StaffOptions, e *wall.Event) {
		form.SetEvent("ev", webform.Event{})
		o.Form, o.VoteLimits = form, limits
	})
	return n, form
}

// deviceOf fetches the form as the participant page does and returns the
// device token cookie, as a credential sent from the event's own page.
func deviceOf(t *testing.T, n *staffNode) cred {
	t.Helper()
	res, err := http.Get(n.http.URL + "/e/ev/form")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	for _, c := range res.Cookies() {
		if c.Name == webform.DeviceCookie {
			return cred{cookie: c, origin: n.http.URL}
		}
	}
	t.Fatal("no device token handed out")
	return cred{}
}

func TestVotes(t *testing.T) {
	n, _ := startVoteNode(t, wall.VoteLimits{})
	var added wall.ActionResult
	n.call(t, "POST", "/api/events/ev/questions", facCred, map[string]string{"text": "Who pays for it?"}, 200, &added)
	qid := added.Question.ID
	path := "/e/ev/questions/" + qid + "/vote"
	d1, d2 := deviceOf(t, n), deviceOf(t, n)

	var r wall.VoteResult
	n.call(t, "POST", path, d1, nil, 200, &r)
	if !r.Voted || r.Votes != 1 {
		t.Fatalf("first vote = %+v", r)
	}
	n.call(t, "POST", path, d1, nil, 409, nil) // a second vote from one device
	n.call(t, "POST", path, d2, nil, 200, &r)
	if r.Votes != 2 {
		t.Fatalf("second device's vote = %+v", r)
	}
	var mine wall.MyVotes
	n.call(t, "GET", "/e/ev/votes", d1, nil, 200, &mine)
	if len(mine.Voted) != 1 || mine.Voted[0] != qid {
		t.Fatalf("GET votes = %+v", mine)
	}
	n.call(t, "DELETE", path, d1, nil, 200, &r)
	if r.Voted || r.Votes != 1 {
		t.Fatalf("taken back = %+v", r)
	}
	n.call(t, "DELETE", path, d1, nil, 409, nil)
	n.call(t, "POST", path, d1, nil, 200, &r) // and given again
	if r.Votes != 2 {
		t.Fatalf("voted again = %+v", r)
	}
	var w struct {
		Questions []struct {
			ID    string `json:"id"`
			Votes int    `json:"votes"`
		} `json:"questions"`
	}
	n.call(t, "GET", "/api/events/ev/wall", noCred, nil, 200, &w)
	if len(w.Questions) != 1 || w.Questions[0].ID != qid || w.Questions[0].Votes != 2 {
		t.Fatalf("public wall questions = %+v", w.Questions)
	}

	n.call(t, "POST", "/e/ev/questions/nope/vote", d1, nil, 404, nil)
	n.call(t, "POST", path, cred{origin: n.http.URL}, nil, 403, nil) // no device token
	cross := d2
	cross.origin = "https://evil.example"
	n.call(t, "POST", path, cross, nil, 403, nil)
	// Answered: no more votes.
	n.call(t, "POST", "/api/events/ev/questions/"+qid+"/answered", facCred, nil, 200, nil)
	n.call(t, "POST", path, deviceOf(t, n), nil, 404, nil)
}

func TestVotesRateLimited(t *testing.T) {
	n, _ := startVoteNode(t, wall.VoteLimits{
		PerDevice:  ratelimit.Rate{Burst: 3, Every: time.Hour},
		PerAddress: ratelimit.Rate{Burst: 5, Every: time.Hour},
	})
	var added wall.ActionResult
	n.call(t, "POST", "/api/events/ev/questions", facCred, map[string]string{"text": "Why?"}, 200, &added)
	path := "/e/ev/questions/" + added.Question.ID + "/vote"
	d := deviceOf(t, n)
	n.call(t, "POST", path, d, nil, 200, nil)
	n.call(t, "DELETE", path, d, nil, 200, nil)
	n.call(t, "POST", path, d, nil, 200, nil)
	status, body := n.do(t, "DELETE", path, d, nil)
	if status != http.StatusTooManyRequests {
		t.Fatalf("fourth tap of one device = %d %s, want 429", status, body)
	}
	// The address: two more devices get two votes in, then it is full.
	n.call(t, "POST", path, deviceOf(t, n), nil, 200, nil)
	n.call(t, "POST", path, deviceOf(t, n), nil, 200, nil)
	if status, _ := n.do(t, "POST", path, deviceOf(t, n), nil); status != http.StatusTooManyRequests {
		t.Fatalf("the address's sixth vote = %d, want 429", status)
	}
}
