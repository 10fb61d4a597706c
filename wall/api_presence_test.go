package wall_test

import (
	"context"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/internal/redistest"
	"github.com/backchannel/backchannel/presence/redispresence"
	"github.com/backchannel/backchannel/wall"
)

// twoNodes starts two nodes serving "ev" from one Redis log, as two
// fan-out nodes behind a load balancer with no sticky sessions, with one
// presence store in the same Redis, as cmd wires them with --redis.
func twoNodes(t *testing.T) (a, b *staffNode) {
	rs := redistest.Start(t)
	clk := newClock()
	node := func() *staffNode {
		store, err := redislog.Open(context.Background(), rs.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		ps, err := redispresence.Open(context.Background(), rs.URL, 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ps.Close() })
		return startNode(t, store, clk, func(o *wall.StaffOptions, _ *wall.Event) { o.Presence = ps })
	}
	return node(), node()
}

func TestPresenceAcrossNodesRedis(t *testing.T) {
	a, b := twoNodes(t)
	ids := a.receive(t,
		textPost("https://a.example/1", "one", "@ada@a.example"),
		textPost("https://a.example/2", "two", "@ada@a.example"),
	)
	b.waitPos(t, a.head(t))
	before := a.head(t)
	// Sessions are signed with the deployment's key, so a login made on
	// one node is good on the other, as behind a load balancer.
	ada := a.login(t, modPass, "ada")
	bob := b.login(t, modPass, "bob")

	var open wall.OpenResult
	a.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/open", ada, nil, 200, &open)
	a.clock.Add(time.Second)
	b.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/open", bob, nil, 200, &open)
	if len(open.Others) != 1 || open.Others[0].By.Name != "ada" || open.Others[0].You {
		t.Fatalf("bob on node B sees on his post = %+v, want ada from node A", open.Others)
	}
	var pv wall.PresenceView
	a.call(t, "GET", "/api/events/ev/presence", ada, nil, 200, &pv)
	if len(pv.Open) != 2 || pv.Open[0].By.Name != "ada" || !pv.Open[0].You || pv.Open[1].By.Name != "bob" || pv.Open[1].You {
		t.Fatalf("node A's presence = %+v", pv)
	}
	// Ada's next request lands on node B: she is the same viewer there.
	b.call(t, "GET", "/api/events/ev/presence", ada, nil, 200, &pv)
	if len(pv.Open) != 2 || !pv.Open[0].You || pv.TTLSeconds != 30 {
		t.Fatalf("node B's presence for ada = %+v", pv)
	}
	// She moves on through node B; node A sees only bob on the first post.
	b.call(t, "POST", "/api/events/ev/posts/"+ids[1]+"/open", ada, nil, 200, &open)
	a.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/open", bob, nil, 200, &open)
	if len(open.Others) != 0 {
		t.Fatalf("after ada moved on, others on the first post = %+v", open.Others)
	}
	// Bob lets go through node A; node B sees only ada.
	a.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/close", bob, nil, 204, nil)
	b.call(t, "GET", "/api/events/ev/presence", bob, nil, 200, &pv)
	if len(pv.Open) != 1 || pv.Open[0].By.Name != "ada" || pv.Open[0].PostID != ids[1] {
		t.Fatalf("node B's presence after bob closed on A = %+v", pv)
	}
	// Unrenewed, entries end by themselves on every node.
	a.clock.Add(31 * time.Second)
	for _, n := range []*staffNode{a, b} {
		n.call(t, "GET", "/api/events/ev/presence", bob, nil, 200, &pv)
		if len(pv.Open) != 0 {
			t.Errorf("presence after the TTL = %+v", pv)
		}
	}
	if a.head(t) != before {
		t.Errorf("presence wrote %d events to the log", a.head(t)-before)
	}

	// A settings change made on one node is the other's once its fold
	// has it: the mode ingest follows is the log's, not a node's.
	var sv fold.SettingsView
	a.call(t, "POST", "/api/events/ev/settings", ada, map[string]any{"moderation": "auto"}, 200, &sv)
	b.waitPos(t, a.head(t))
	if m := b.live.Mode(); m != event.ModeAuto {
		t.Fatalf("node B's mode after node A's switch = %q", m)
	}
	b.call(t, "GET", "/api/events/ev/settings", bob, nil, 200, &sv)
	if sv.Moderation != event.ModeAuto {
		t.Fatalf("node B's settings = %+v", sv)
	}
}
