package bluesky

import (
	"context"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/moderation"
)

// testSink is the runner's real sink (rules, idempotent append, counting on
// health) over a real embedded log in a temporary directory.
type testSink struct {
	*ingest.LogSink
	log    eventlog.Log
	health *ingest.Health
}

func newTestSink(t testing.TB) *testSink {
	t.Helper()
	st, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := st.Log(context.Background(), "ev")
	if err != nil {
		t.Fatal(err)
	}
	rules := moderation.Default()
	h := ingest.NewHealth("bluesky", "bluesky")
	return &testSink{LogSink: ingest.NewLogSink(l, &rules, h, event.Actor{Role: event.RoleSource, Name: "bluesky"}, nil), log: l, health: h}
}

// snapshot returns every event in the log, in order.
func (s *testSink) snapshot() []event.Entry {
	events, err := s.log.Read(context.Background(), 0, 0)
	if err != nil {
		panic(err)
	}
	return events
}

func (s *testSink) count(kind event.Kind) int {
	n := 0
	for _, e := range s.snapshot() {
		if e.Kind == kind {
			n++
		}
	}
	return n
}

// waitUntil polls cond until it holds or the deadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
