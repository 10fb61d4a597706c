package redispresence_test

import (
	"context"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/internal/redistest"
	"github.com/backchannel/backchannel/presence"
	"github.com/backchannel/backchannel/presence/presencetest"
	"github.com/backchannel/backchannel/presence/redispresence"
)

func open(t *testing.T, url string, ttl time.Duration) *redispresence.Store {
	t.Helper()
	s, err := redispresence.Open(context.Background(), url, ttl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	rs := redistest.Start(t)
	n := 0
	presencetest.Run(t, func(t *testing.T, ttl time.Duration) (presence.Store, presence.Store) {
		// Each subtest gets a database of its own, so none sees another's
		// entries; the two stores of one subtest share it, as two nodes do.
		n++
		url := rs.URL[:len(rs.URL)-1] + string(rune('0'+n))
		return open(t, url, ttl), open(t, url, ttl)
	}, true)
}

// The hash goes away by itself a while after the last open, so an event
// nobody moderates leaves no key behind.
func TestKeyExpires(t *testing.T) {
	rs := redistest.Start(t)
	s := open(t, rs.URL, 100*time.Millisecond)
	ctx := context.Background()
	if err := s.Open(ctx, "ev", "v", event.Actor{Role: event.RoleModerator}, "p", time.Now()); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := s.List(ctx, "ev", time.Time{}) // the zero time: nothing counts as expired
		if err != nil {
			t.Fatal(err)
		}
		if len(l) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the presence hash was still there 5s after a 200ms key TTL: %+v", l)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// With Redis away, the store says so with EUNAVAILABLE (the API's 503).
func TestUnavailable(t *testing.T) {
	rs := redistest.Start(t)
	s := open(t, rs.URL, time.Minute)
	rs.Kill(t)
	_, err := s.List(context.Background(), "ev", time.Now())
	if event.ErrorCode(err) != event.EUNAVAILABLE {
		t.Fatalf("list with Redis down = %v", err)
	}
	err = s.Open(context.Background(), "ev", "v", event.Actor{Role: event.RoleModerator}, "p", time.Now())
	if event.ErrorCode(err) != event.EUNAVAILABLE {
		t.Fatalf("open with Redis down = %v", err)
	}
}
