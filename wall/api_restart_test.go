package wall_test

import (
	"context"
	"testing"

	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/internal/redistest"
	"github.com/backchannel/backchannel/wall"
)

func TestRestartKeepsEveryDecisionDisk(t *testing.T) {
	dir := t.TempDir()
	restartScenario(t, func(t *testing.T) eventlog.Store {
		s, err := disklog.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, nil)
}

func TestRestartKeepsEveryDecisionRedis(t *testing.T) {
	rs := redistest.Start(t)
	restartScenario(t, func(t *testing.T) eventlog.Store {
		s, err := redislog.Open(context.Background(), rs.URL)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}, func() { rs.Restart(t) }) // and Redis itself restarts, from its append-only file
}

// restartScenario makes every kind of decision through the API, reads
// every staff and public view, stops the node and closes its store (and
// runs between, if any), then opens the store again in a new node whose
// fold rebuilds from the log, and requires the same answers to the same
// requests; a block still in force still rejects the author's new post.
func restartScenario(t *testing.T, open func(*testing.T) eventlog.Store, between func()) {
	clk := newClock()
	store := open(t)
	n := startNode(t, store, clk, nil)
	ids := n.receive(t,
		textPost("https://a.example/1", "approved and pinned", "@ada@a.example"),
		textPost("https://a.example/2", "rejected with a reason", "@ada@a.example"),
		textPost("https://a.example/3", "a question", "@bea@a.example"),
		textPost("https://troll.example/4", "troll", "@troll@troll.example"),
		textPost("https://a.example/5", "still pending", "@cy@a.example"),
		textPost("https://a.example/6", "approved then undone", "@cy@a.example"),
	)
	ada := n.login(t, modPass, "ada")
	fay := n.login(t, facPass, "fay")
	p := "/api/events/ev/"
	n.call(t, "POST", p+"posts/"+ids[0]+"/approve", ada, nil, 200, nil)
	n.call(t, "POST", p+"posts/"+ids[0]+"/pin", ada, nil, 200, nil)
	n.call(t, "POST", p+"posts/"+ids[0]+"/hide-media", ada, nil, 200, nil)
	n.call(t, "POST", p+"posts/"+ids[1]+"/reject", ada, map[string]string{"reason": "off topic"}, 200, nil)
	n.call(t, "POST", p+"posts/"+ids[2]+"/question", modCred, nil, 200, nil)
	n.call(t, "POST", p+"posts/"+ids[5]+"/approve", modCred, nil, 200, nil)
	n.call(t, "POST", p+"posts/"+ids[5]+"/undo", modCred, nil, 200, nil)
	n.call(t, "POST", p+"authors/block", ada, map[string]any{"post_id": ids[3], "minutes": 120}, 200, nil)
	n.call(t, "POST", p+"authors/block", ada, map[string]any{"domain": "spam.example"}, 200, nil)
	var added wall.ActionResult
	n.call(t, "POST", p+"questions", fay, map[string]string{"text": "Heard in the room", "name": "Row 3"}, 200, &added)
	room := added.Question.ID
	n.call(t, "POST", p+"questions/order", fay, map[string]any{"order": []string{room, ids[2]}}, 200, nil)
	n.call(t, "POST", p+"questions/"+ids[2]+"/note", fay, map[string]string{"note": "asked by three people"}, 200, nil)
	n.call(t, "POST", p+"questions/"+ids[2]+"/reading", fay, nil, 200, nil)
	n.call(t, "POST", p+"questions/"+ids[2]+"/answered", fay, nil, 200, nil)
	n.call(t, "POST", p+"questions/"+room+"/reading", fay, nil, 200, nil)
	n.call(t, "POST", p+"stage", fay, map[string]string{"message": "two more questions"}, 200, nil)
	last := n.head(t)

	reads := []string{
		p + "queue", p + "audit?limit=5000", p + "counts", p + "blocks", p + "questions", p + "stage?limit=500",
		p + "export/questions.json", p + "export/questions.csv", p + "export/posts.json", p + "export/posts.csv",
		p + "wall?limit=500",
	}
	for _, id := range ids {
		reads = append(reads, p+"posts/"+id)
	}
	capture := func(n *staffNode) map[string]string {
		out := map[string]string{}
		for _, r := range reads {
			status, body := n.do(t, "GET", r, modCred, nil)
			if status != 200 {
				t.Fatalf("GET %s = %d %s", r, status, body)
			}
			out[r] = string(body)
		}
		return out
	}
	before := capture(n)

	n.stop()
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	if between != nil {
		between()
	}
	store2 := open(t)
	t.Cleanup(func() { _ = store2.Close() })
	n2 := startNode(t, store2, clk, nil)
	n2.waitPos(t, last)
	after := capture(n2)
	for _, r := range reads {
		if before[r] != after[r] {
			t.Errorf("GET %s changed across the restart:\nbefore %s\nafter  %s", r, before[r], after[r])
		}
	}

	// The things themselves, not only their equality.
	var qs wall.QuestionsView
	n2.call(t, "GET", p+"questions", fay, nil, 200, &qs)
	if qs.NowReading == nil || qs.NowReading.ID != room || len(qs.Answered) != 1 || len(qs.Answered[0].Notes) != 1 {
		t.Errorf("questions after restart = %+v", qs)
	}
	// Sessions survive too: they are signed, not stored.
	n2.call(t, "POST", p+"posts/"+ids[4]+"/approve", ada, nil, 200, nil)
	// The blocks are still in force.
	newIDs := n2.receive(t, textPost("https://troll.example/7", "back again", "@troll@troll.example"))
	var pv fold.PostView
	n2.call(t, "GET", p+"posts/"+newIDs[0], modCred, nil, 200, &pv)
	if pv.State != fold.StateRejected || pv.Rule != fold.RuleAuthorBlocked {
		t.Errorf("the blocked author's post after the restart = %+v", pv)
	}
}
