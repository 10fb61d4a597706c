package wall_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/wall"
)

// A moderator who decides on a post another moderator has just decided
// otherwise is asked first: 409 with the decision it would reverse, and
// nothing appended until they confirm.
func TestDecisionReversingAnotherAsksFirst(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t, textPost("https://a.example/1", "first", "@ada@a.example"), textPost("https://a.example/2", "second", "@ada@a.example"))
	ada, max := n.login(t, modPass, "ada"), n.login(t, modPass, "max")
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/approve", ada, map[string]any{"state": "pending"}, 200, nil)

	// The page says it saw the post pending: the fold leaves the reject undone.
	var res wall.ActionResult
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/reject", max, map[string]any{"state": "pending"}, 409, &res)
	if res.Reverses == nil || res.Reverses.By.Name != "ada" || res.Reverses.State != fold.StateApproved || !strings.Contains(res.Error.Message, "ada approved this post") {
		t.Fatalf("answer %+v, want the approval by ada it would reverse", res)
	}
	// An API caller that says nothing is asked too, with nothing appended.
	head := n.head(t)
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/reject", max, nil, 409, &res)
	if n.head(t) != head || res.Reverses == nil {
		t.Fatalf("an unconfirmed reversal was appended (head %d -> %d) or not explained: %+v", head, n.head(t), res)
	}
	// Its own decision is not someone else's.
	n.call(t, "POST", "/api/events/ev/posts/"+ids[1]+"/approve", ada, nil, 200, nil)
	n.call(t, "POST", "/api/events/ev/posts/"+ids[1]+"/reject", ada, nil, 200, nil)
	// Confirmed: it reverses.
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/reject", max, map[string]any{"state": "pending", "confirm": true}, 200, &res)
	if res.Post.State != fold.StateRejected {
		t.Fatalf("confirmed reject left the post %s", res.Post.State)
	}
	// Long after, nobody is asked.
	n.clock.Add(event.ReversalWindow)
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/approve", ada, map[string]any{"state": "pending"}, 200, nil)
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/undo", ada, map[string]any{"state": "bogus"}, 400, nil)
}

// Reject-many rejects each post as its own decision; a post another
// moderator approved moments ago is left, its item saying so.
func TestBulkReject(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t, textPost("https://a.example/1", "one", "@ada@a.example"), textPost("https://a.example/2", "two", "@ada@a.example"),
		textPost("https://a.example/3", "three", "@ada@a.example"))
	ada, max := n.login(t, modPass, "ada"), n.login(t, modPass, "max")
	n.call(t, "POST", "/api/events/ev/posts/"+ids[2]+"/approve", ada, nil, 200, nil)
	var res wall.BulkResult
	n.call(t, "POST", "/api/events/ev/posts/reject", max, map[string]any{"ids": append(ids, "nope"), "states": map[string]string{ids[2]: "pending"}}, 200, &res)
	if res.Rejected != 2 || len(res.Results) != 4 {
		t.Fatalf("rejected %d of %d, want 2 of 4: %+v", res.Rejected, len(res.Results), res)
	}
	if it := res.Results[2]; it.Applied || it.Reverses == nil || it.Reverses.By.Name != "ada" {
		t.Fatalf("the post ada approved: %+v", it)
	}
	if it := res.Results[3]; it.Error == nil || it.Error.Code != event.ENOTFOUND {
		t.Fatalf("unknown id: %+v", it)
	}
	var c wall.CountsView
	n.call(t, "GET", "/api/events/ev/counts", modCred, nil, 200, &c)
	if c.Rejected != 2 || c.Approved != 1 {
		t.Fatalf("counts %+v", c.Counts)
	}
	n.call(t, "POST", "/api/events/ev/posts/reject", max, map[string]any{"ids": []string{}}, 400, nil)
}

// Going live needs confirm, removes the rehearsal posts and says how many.
func TestGoLive(t *testing.T) {
	n := newDiskNode(t)
	n.receive(t, textPost("https://a.example/1", "made up", "@ada@a.example"), textPost("https://a.example/2", "made up too", "@ada@a.example"))
	real := textPost("https://a.example/3", "real", "@ada@a.example")
	real.Source = "mastodon"
	n.receive(t, real)
	n.call(t, "POST", "/api/events/ev/go-live", modCred, nil, 400, nil)
	n.call(t, "POST", "/api/events/ev/go-live", facCred, map[string]any{"confirm": true}, 403, nil)
	var res wall.GoLiveResult
	n.call(t, "POST", "/api/events/ev/go-live", modCred, map[string]any{"confirm": true}, 200, &res)
	if !res.Applied || res.Removed != 2 || !res.Counts.Live || res.Counts.Pending != 1 || res.Counts.Rehearsal != 0 {
		t.Fatalf("go live: %+v", res)
	}
	n.call(t, "POST", "/api/events/ev/go-live", modCred, map[string]any{"confirm": true}, 200, &res)
	if res.Applied || res.Removed != 0 {
		t.Fatalf("going live again: %+v", res)
	}
}

// The stage acknowledges a message; the answer carries when and who.
func TestStageRead(t *testing.T) {
	n := newDiskNode(t)
	var sent wall.ActionResult
	n.call(t, "POST", "/api/events/ev/stage", modCred, map[string]any{"message": "two minutes"}, 200, &sent)
	fay := n.login(t, facPass, "fay")
	var res wall.ActionResult
	n.call(t, "POST", "/api/events/ev/stage/"+itoa(sent.Pos)+"/read", fay, nil, 200, &res)
	if res.Stage == nil || res.Stage.ReadBy.Name != "fay" || res.Stage.ReadAt.IsZero() {
		t.Fatalf("read: %+v", res.Stage)
	}
	n.call(t, "POST", "/api/events/ev/stage/"+itoa(sent.Pos)+"/read", fay, nil, 409, nil)
	n.call(t, "POST", "/api/events/ev/stage/999/read", fay, nil, 404, nil)
	n.call(t, "POST", "/api/events/ev/stage/x/read", fay, nil, 400, nil)
}

func itoa(u uint64) string { b, _ := json.Marshal(u); return string(b) }

// A moderator opening a post another opened first is told it is theirs,
// and every moderator's claims socket hears of each claim at once.
func TestClaimsArePushed(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t, textPost("https://a.example/1", "one", "@ada@a.example"))
	ada, max := n.login(t, modPass, "ada"), n.login(t, modPass, "max")

	url := "ws" + strings.TrimPrefix(n.http.URL, "http") + "/api/events/ev/ws/presence"
	h := http.Header{}
	h.Add("Cookie", max.cookie.String())
	ws, resp, err := websocket.DefaultDialer.Dial(url, h)
	if err != nil {
		t.Fatalf("dial: %v %v", err, resp)
	}
	defer ws.Close()
	read := func() wall.PresenceMessage {
		t.Helper()
		_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		var m wall.PresenceMessage
		if err := ws.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := read(); m.Type != "presence" || len(m.Open) != 0 {
		t.Fatalf("first message %+v, want no claims", m)
	}
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/open", ada, nil, 200, nil)
	start := time.Now()
	m := read()
	if len(m.Open) != 1 || m.Open[0].By.Name != "ada" || m.Open[0].You {
		t.Fatalf("pushed %+v, want ada's claim", m)
	}
	// Pushed, not found by the once-a-second recheck.
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Errorf("the claim took %v to arrive", d)
	} else {
		t.Logf("the claim arrived %v after the open's answer", d)
	}
	// Max opens it a moment later (the test clock stands still unless
	// moved; claims at the same instant are ordered by viewer, not time).
	n.clock.Add(time.Second)
	var open wall.OpenResult
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/open", max, nil, 200, &open)
	if open.ClaimedBy == nil || open.ClaimedBy.By.Name != "ada" {
		t.Fatalf("max opened ada's post: claimed_by %+v", open.ClaimedBy)
	}
	if m := read(); len(m.Open) != 2 || !m.Open[1].You {
		t.Fatalf("pushed %+v, want ada's claim then max's own", m)
	}

	// Another site's page may not listen.
	h.Set("Origin", "https://evil.example")
	if _, resp, err := websocket.DefaultDialer.Dial(url, h); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin upgrade: %v %v", err, resp)
	}
}

// Source trouble in a host's words, in the event's zone.
func TestSourceTroubleWords(t *testing.T) {
	since := time.Date(2026, 3, 12, 11, 2, 0, 0, time.UTC)
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	n := startNode(t, store, newClock(), func(_ *wall.StaffOptions, e *wall.Event) {
		e.Config.Timezone = "Europe/Paris"
		e.Health = func() []ingest.HealthSnapshot {
			return []ingest.HealthSnapshot{
				{Source: "mastodon:mastodon.social", State: ingest.StateBackingOff, LastError: "dial tcp: connection refused", TroubleSince: since},
				{Source: "mastodon:fosstodon.org", State: ingest.StateRateLimited, LastError: "429", TroubleSince: since},
				{Source: "mastodon:example.social", State: ingest.StateBackingOff, LastError: "server refused the access token: 401", TroubleSince: since},
				{Source: "bluesky", State: ingest.StateOK},
			}
		}
	})
	var v wall.SourcesView
	n.call(t, "GET", "/api/events/ev/sources", modCred, nil, 200, &v)
	want := []string{
		"mastodon.social cannot be reached since 12:02; check the venue's network",
		"fosstodon.org is limiting how fast we read, since 12:02; posts will arrive late",
		"example.social refused our token since 12:02; check the source's token in the configuration",
	}
	if len(v.Trouble) != len(want) {
		t.Fatalf("trouble %+v", v.Trouble)
	}
	for i, w := range want {
		if v.Trouble[i].Message != w {
			t.Errorf("trouble %d: %q, want %q", i, v.Trouble[i].Message, w)
		}
	}
}
