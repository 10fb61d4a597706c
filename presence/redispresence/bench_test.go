package redispresence_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/internal/redistest"
	"github.com/backchannel/backchannel/presence"
	"github.com/backchannel/backchannel/presence/redispresence"
)

// What a moderator's page costs Redis: an open (renewal, every 10 s) and
// a list (every 3 s), with 10 moderators in the event.
func BenchmarkRedis(b *testing.B) {
	rs := redistest.Start(b)
	s, err := redispresence.Open(context.Background(), rs.URL, 30*time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	benchStore(b, s)
}

func BenchmarkMemory(b *testing.B) {
	benchStore(b, presence.NewMemory(30*time.Second))
}

func benchStore(b *testing.B, s presence.Store) {
	ctx := context.Background()
	by := event.Actor{Role: event.RoleModerator, Name: "ada"}
	now := time.Now()
	for i := range 10 {
		if err := s.Open(ctx, "ev", fmt.Sprint("viewer-", i), by, fmt.Sprint("post-", i), now); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("open", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := s.Open(ctx, "ev", "viewer-0", by, fmt.Sprint("post-", i%2), now); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("list", func(b *testing.B) {
		for b.Loop() {
			l, err := s.List(ctx, "ev", now)
			if err != nil || len(l) != 10 {
				b.Fatal(len(l), err)
			}
		}
	})
}
