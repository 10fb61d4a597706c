package wall_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/webform"
	"github.com/backchannel/backchannel/internal/ratelimit"
	"github.com/backchannel/backchannel/wall"
)

// startMineNode serves "ev" with a web form that stores its posts in the
// event's log, as the binary does, and the given read-back limits.
func startMineNode(t *testing.T, limits wall.MineLimits) *staffNode {
	t.Helper()
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	clk := newClock()
	form := webform.New(webform.Options{Now: clk.Now, Key: []byte(testKey), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	return startNode(t, store, clk, func(o *wall.StaffOptions, e *wall.Event) {
		form.SetEvent("ev", webform.Event{Sink: ingest.NewLogSink(e.Log, nil, nil, event.Actor{Role: event.RoleSource, Name: webform.Kind}, clk.Now)})
		o.Form, o.MineLimits = form, limits
	})
}

// sendForm posts text through the form from the event's own page and
// returns the form's answer.
func sendForm(t *testing.T, n *staffNode, text string) webform.Answer {
	t.Helper()
	var a webform.Answer
	n.call(t, "POST", "/e/ev/form", cred{origin: n.http.URL}, map[string]any{"name": "Ada", "text": text, "question": true}, 200, &a)
	if a.Post == "" || a.Token == "" {
		t.Fatalf("the form's answer has no post or token: %+v", a)
	}
	return a
}

// mine reads a post back with token, from the event's own page.
func mine(t *testing.T, n *staffNode, token string) (int, wall.MyPost, string) {
	t.Helper()
	status, b := n.do(t, "GET", "/e/ev/mine?token="+url.QueryEscape(token), cred{origin: n.http.URL}, nil)
	var p wall.MyPost
	if status == 200 {
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("mine: %v in %s", err, b)
		}
	}
	return status, p, string(b)
}

func TestMineShowsOnlyTheTokensOwnPost(t *testing.T) {
	n := startMineNode(t, wall.MineLimits{})
	a := sendForm(t, n, "Will the bus lanes reach Headingley?")
	b := sendForm(t, n, "A second post, still waiting")

	// The token's own post, waiting: its text, its name, the tick.
	status, p, body := mine(t, n, a.Token)
	if status != 200 || p.ID != a.Post || p.State != "pending" || p.Text != "Will the bus lanes reach Headingley?" || p.Name != "Ada" || !p.Question {
		t.Fatalf("own pending post = %d %+v (%s)", status, p, body)
	}
	// Nothing for moderators only in the answer.
	for _, leak := range []string{"rule", "decided", "checks", "pre-moderation", "uri"} {
		if strings.Contains(body, leak) {
			t.Errorf("the answer carries %q: %s", leak, body)
		}
	}

	// Wrong tokens find nothing, and say nothing of b.
	parts := strings.Split(a.Token, ".")
	bparts := strings.Split(b.Token, ".")
	for name, tok := range map[string]string{
		"forged mac":                  parts[0] + "." + parts[1] + ".AAAAAAAAAAAAAAAAAAAAAAAA",
		"a's mac on b's id":           b.Post + "." + parts[1] + "." + parts[2],
		"a's mac on b's id and pos":   b.Post + "." + bparts[1] + "." + parts[2],
		"a's id with b's mac":         parts[0] + "." + bparts[1] + "." + bparts[2],
		"the bare post id":            b.Post,
		"cut":                         a.Token[:len(a.Token)-3],
		"another event's token shape": "x.1.y",
	} {
		status, _, body := mine(t, n, tok)
		if status != 404 || strings.Contains(body, "second post") {
			t.Errorf("%s: %d %s, want 404 and nothing of the other post", name, status, body)
		}
	}
	if status, _ := n.do(t, "GET", "/e/ev/mine", cred{origin: n.http.URL}, nil); status != 400 {
		t.Errorf("no token: %d, want 400", status)
	}
	if status, _ := n.do(t, "GET", "/e/nope/mine?token="+url.QueryEscape(a.Token), cred{origin: n.http.URL}, nil); status != 404 {
		t.Errorf("unknown event: %d, want 404", status)
	}
	// From another site, even with the right token: refused.
	if status, body := n.do(t, "GET", "/e/ev/mine?token="+url.QueryEscape(a.Token), cred{origin: "https://evil.example"}, nil); status != 403 || strings.Contains(string(body), "Headingley") {
		t.Errorf("cross-site read: %d %s, want 403", status, body)
	}

	// A moderator approves a, rejects b: each token follows its own post.
	n.call(t, "POST", "/api/events/ev/posts/"+a.Post+"/approve", modCred, nil, 200, nil)
	n.call(t, "POST", "/api/events/ev/posts/"+b.Post+"/reject", modCred, nil, 200, nil)
	if status, p, body := mine(t, n, a.Token); status != 200 || p.State != "approved" {
		t.Errorf("approved post = %d %s", status, body)
	}
	if status, p, body := mine(t, n, b.Token); status != 200 || p.State != "rejected" || p.Text != "A second post, still waiting" {
		t.Errorf("rejected post = %d %s", status, body)
	}
}

// The honeypot's answer looks like a real one; its token reads as gone.
func TestMineHoneypotTokenFindsNothing(t *testing.T) {
	n := startMineNode(t, wall.MineLimits{})
	var a webform.Answer
	n.call(t, "POST", "/e/ev/form", cred{origin: n.http.URL}, map[string]any{"text": "buy now", "website": "http://spam.example"}, 200, &a)
	if a.Token == "" || a.Post == "" {
		t.Fatalf("honeypot answer differs from a real one: %+v", a)
	}
	if status, _, body := mine(t, n, a.Token); status != 404 {
		t.Errorf("honeypot token: %d %s, want 404", status, body)
	}
}

func TestMineIsRateLimited(t *testing.T) {
	n := startMineNode(t, wall.MineLimits{
		PerPost:    ratelimit.Rate{Burst: 3, Every: time.Minute},
		PerAddress: ratelimit.Rate{Burst: 6, Every: time.Minute},
	})
	a := sendForm(t, n, "first")
	b := sendForm(t, n, "second")
	for i := 0; i < 3; i++ {
		if status, _, body := mine(t, n, a.Token); status != 200 {
			t.Fatalf("read %d: %d %s", i, status, body)
		}
	}
	req, _ := http.NewRequest("GET", n.http.URL+"/e/ev/mine?token="+url.QueryEscape(a.Token), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 429 || res.Header.Get("Retry-After") == "" {
		t.Fatalf("fourth read of one post: %d, Retry-After %q; want 429 with Retry-After", res.StatusCode, res.Header.Get("Retry-After"))
	}
	// Another post from the same address still reads, until the address's
	// share (wrong guesses included) is spent.
	if status, _, body := mine(t, n, b.Token); status != 200 {
		t.Fatalf("other post: %d %s", status, body)
	}
	if status, _, _ := mine(t, n, "guess.1.wrong"); status != 404 {
		t.Fatalf("guess: %d, want 404", status)
	}
	if status, _, _ := mine(t, n, b.Token); status != 429 {
		t.Errorf("past the address's share: %d, want 429", status)
	}
}
