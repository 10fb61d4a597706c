// Package presencetest is the conformance suite every presence.Store
// passes: run it from each implementation's tests.
package presencetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/presence"
)

// Run tests the stores newStore returns. Each call of newStore must return
// a store with no entries for the slugs the suite uses and the given TTL;
// two calls may share the same backing data (two nodes over one Redis),
// and the suite checks that they see each other only if shared is true.
func Run(t *testing.T, newStore func(t *testing.T, ttl time.Duration) (a, b presence.Store), shared bool) {
	ctx := context.Background()
	t0 := time.Date(2026, 3, 12, 10, 0, 0, 0, time.UTC)
	ada := event.Actor{Role: event.RoleModerator, Name: "ada"}
	bob := event.Actor{Role: event.RoleModerator, Name: "bob"}

	t.Run("open renew move close expire", func(t *testing.T) {
		a, _ := newStore(t, 30*time.Second)
		if a.TTL() != 30*time.Second {
			t.Fatalf("TTL = %v", a.TTL())
		}
		must(t, a.Open(ctx, "ev", "v1", ada, "p1", t0))
		must(t, a.Open(ctx, "ev", "v2", bob, "p1", t0.Add(time.Second)))
		must(t, a.Open(ctx, "other", "v1", ada, "p9", t0))
		l := list(t, a, "ev", t0.Add(2*time.Second))
		if len(l) != 2 || l[0].Viewer != "v1" || l[0].By != ada || l[0].PostID != "p1" || l[1].Viewer != "v2" ||
			!l[0].Since.Equal(t0) || !l[0].Expires.Equal(t0.Add(30*time.Second)) {
			t.Fatalf("list = %+v", l)
		}
		// A renewal keeps since and moves expires.
		must(t, a.Open(ctx, "ev", "v1", ada, "p1", t0.Add(20*time.Second)))
		l = list(t, a, "ev", t0.Add(35*time.Second))
		if len(l) != 1 || l[0].Viewer != "v1" || !l[0].Since.Equal(t0) || !l[0].Expires.Equal(t0.Add(50*time.Second)) {
			t.Fatalf("after renewal and v2's expiry = %+v", l)
		}
		// Opening another post lets go of the first, with a new since.
		must(t, a.Open(ctx, "ev", "v1", ada, "p2", t0.Add(40*time.Second)))
		l = list(t, a, "ev", t0.Add(41*time.Second))
		if len(l) != 1 || l[0].PostID != "p2" || !l[0].Since.Equal(t0.Add(40*time.Second)) {
			t.Fatalf("after moving on = %+v", l)
		}
		// Closing a post the viewer no longer has open changes nothing.
		must(t, a.Release(ctx, "ev", "v1", "p1"))
		if l = list(t, a, "ev", t0.Add(41*time.Second)); len(l) != 1 {
			t.Fatalf("a stale close removed the entry: %+v", l)
		}
		must(t, a.Release(ctx, "ev", "v1", "p2"))
		if l = list(t, a, "ev", t0.Add(41*time.Second)); len(l) != 0 {
			t.Fatalf("after close = %+v", l)
		}
		if l = list(t, a, "other", t0.Add(29*time.Second)); len(l) != 1 || l[0].PostID != "p9" {
			t.Fatalf("the other event = %+v", l)
		}
		if l = list(t, a, "other", t0.Add(30*time.Second)); len(l) != 0 {
			t.Fatalf("an entry outlived its TTL: %+v", l)
		}
	})

	t.Run("bounded", func(t *testing.T) {
		a, _ := newStore(t, time.Minute)
		for i := range presence.MaxViewers {
			must(t, a.Open(ctx, "crowd", fmt.Sprint("v", i), ada, "p", t0))
		}
		err := a.Open(ctx, "crowd", "one too many", ada, "p", t0)
		if event.ErrorCode(err) != event.ERATELIMIT {
			t.Fatalf("open past the bound = %v", err)
		}
		// A viewer already in may still move on.
		must(t, a.Open(ctx, "crowd", "v0", ada, "q", t0.Add(time.Second)))
		// Once the entries expire there is room again.
		must(t, a.Open(ctx, "crowd", "one too many", ada, "p", t0.Add(time.Minute)))
		if l := list(t, a, "crowd", t0.Add(time.Minute)); len(l) != 2 {
			t.Fatalf("after expiry %d entries, want 2 (v0's renewal and the newcomer)", len(l))
		}
	})

	t.Run("two nodes", func(t *testing.T) {
		a, b := newStore(t, 30*time.Second)
		must(t, a.Open(ctx, "ev", "va", ada, "p1", t0))
		must(t, b.Open(ctx, "ev", "vb", bob, "p1", t0))
		la, lb := list(t, a, "ev", t0), list(t, b, "ev", t0)
		if shared {
			if len(la) != 2 || len(lb) != 2 {
				t.Fatalf("two nodes over one store: a sees %+v, b sees %+v", la, lb)
			}
			must(t, b.Release(ctx, "ev", "va", "p1"))
			if la = list(t, a, "ev", t0); len(la) != 1 || la[0].Viewer != "vb" {
				t.Fatalf("after b closed va's post, a sees %+v", la)
			}
		} else if len(la) != 1 || len(lb) != 1 {
			t.Fatalf("separate stores: a sees %+v, b sees %+v", la, lb)
		}
	})

	t.Run("cancelled context", func(t *testing.T) {
		a, _ := newStore(t, 30*time.Second)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		// A store that does no I/O may ignore the context; one that does
		// must report the cancellation as such.
		if err := a.Open(cctx, "ev", "v", ada, "p", t0); err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("open with a cancelled context = %v", err)
		}
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func list(t *testing.T, s presence.Store, slug string, now time.Time) []presence.Entry {
	t.Helper()
	l, err := s.List(context.Background(), slug, now)
	if err != nil {
		t.Fatal(err)
	}
	return l
}
