package fanout

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/internal/redistest"
)

// Two nodes as two processes would be: each with its own connection to one
// real Redis. A post held and approved through node A's log reaches a
// public client on node B, and a client that saw pos N on A resumes on B
// with exactly N+1...
func TestTwoNodesOverRedis(t *testing.T) {
	srv := redistest.Start(t)
	open := func() eventlog.Log {
		st, err := redislog.Open(context.Background(), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		l, err := st.Log(context.Background(), "leaders4leeds")
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	la, lb := open(), open()
	a := startNode(t, la, fast, nil)
	b := startNode(t, lb, fast, nil)
	if a.hub.Epoch() != b.hub.Epoch() {
		t.Fatalf("epochs differ: %q and %q", a.hub.Epoch(), b.hub.Epoch())
	}
	onB := dial(t, b.url(Public, ""), nil)
	onA := dial(t, a.url(Public, ""), nil)
	for _, c := range []*client{onA, onB} {
		if _, err := c.next(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}

	appendPost(t, la, "q", "held on A", event.DecisionHold)
	n := appendDecision(t, la, event.PostApproved, "q")
	onB.readUntil(n)
	onA.readUntil(n)
	if got := onB.events(); !slices.Equal(got, []uint64{n}) {
		t.Errorf("B got events %v, want the approval at %d only", got, n)
	}
	onA.ws.Close()

	var last uint64
	for i := range 10 {
		last = appendPost(t, la, fmt.Sprint("m", i), "missed", event.DecisionApprove)
	}
	b.waitPos(t, last)
	resumed := dial(t, b.url(Public, fmt.Sprintf("since=%d&epoch=%s", n, onA.msgs[0].Epoch)), nil)
	resumed.readUntil(last)
	if resumed.msgs[0].Type != "resume" {
		t.Fatalf("first message %+v, want resume", resumed.msgs[0])
	}
	if got := resumed.events(); !slices.Equal(got, seq(n+1, last)) {
		t.Errorf("on B got %v, want exactly %d..%d", got, n+1, last)
	}
}
