package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/internal/redistest"
)

// TestRunnerTakeoverOnRedis runs one source from two ingest "processes",
// each with its own connection to one real Redis: one holds the lease and
// appends; when it loses its store (as a process that dies or is cut off
// does) the other takes the source over within 15 s and continues from
// the cursor stored beside the log, losing and doubling nothing; when that
// one stops gracefully, a third takes over at once.
func TestRunnerTakeoverOnRedis(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	open := func() *redislog.Store {
		st, err := redislog.Open(ctx, srv.URL, redislog.WithLogger(quietLogger()), redislog.WithRetryFor(200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	stA, stB := open(), open()
	t.Cleanup(func() { stB.Close() })
	cfg := func(st *redislog.Store, holder string) RunnerConfig {
		return RunnerConfig{
			Store: st, Holder: holder, Registerer: prometheus.NewRegistry(), Logger: quietLogger(),
			LeaseTTL: 2 * time.Second, LeaseRenew: 500 * time.Millisecond,
			BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		}
	}
	a := &counterSource{name: "src", pace: 3 * time.Millisecond}
	b := &counterSource{name: "src", pace: 3 * time.Millisecond}
	ra, err := NewRunner(cfg(stA, "process-a"), EventSources{Slug: "ourday", Sources: []Source{a}})
	if err != nil {
		t.Fatal(err)
	}
	rb, err := NewRunner(cfg(stB, "process-b"), EventSources{Slug: "ourday", Sources: []Source{b}})
	if err != nil {
		t.Fatal(err)
	}
	stopA := started(t, ra)
	waitFor(t, 10*time.Second, "process-a runs the source", func() bool { return snapshotOf(t, ra, "ourday", "src").Appended >= 20 })
	stopB := started(t, rb)
	waitFor(t, 10*time.Second, "process-b stands by", func() bool { return snapshotOf(t, rb, "ourday", "src").State == StateStandby })
	if b.starts.Load() != 0 {
		t.Fatal("process-b ran the source while process-a held the lease")
	}

	// process-a loses Redis: it can neither append nor renew, and never
	// releases its lease. process-b must wait out the ttl, then take over.
	cut := time.Now()
	stA.Close()
	waitFor(t, 15*time.Second, "process-b takes the source over", func() bool { return snapshotOf(t, rb, "ourday", "src").Appended > 0 })
	took := time.Since(cut)
	t.Logf("takeover %v after process-a lost its store (lease ttl 2s)", took)
	if took > 15*time.Second {
		t.Errorf("takeover took %v, want under 15s", took)
	}
	if a.active.Load() != 0 {
		t.Error("process-a still runs the source")
	}
	waitFor(t, 10*time.Second, "process-b appends on", func() bool { return snapshotOf(t, rb, "ourday", "src").Appended >= 20 })
	stopA()

	// A graceful stop releases the lease: process-c, standing by, takes
	// the source over at its next try rather than after the ttl.
	stC := open()
	t.Cleanup(func() { stC.Close() })
	c := &counterSource{name: "src", pace: 3 * time.Millisecond}
	rc, err := NewRunner(cfg(stC, "process-c"), EventSources{Slug: "ourday", Sources: []Source{c}})
	if err != nil {
		t.Fatal(err)
	}
	stopC := started(t, rc)
	waitFor(t, 10*time.Second, "process-c stands by", func() bool { return snapshotOf(t, rc, "ourday", "src").State == StateStandby })
	stopB()
	stopped := time.Now()
	waitFor(t, 15*time.Second, "process-c takes the source over", func() bool { return snapshotOf(t, rc, "ourday", "src").Appended >= 10 })
	t.Logf("takeover %v after process-b stopped gracefully", time.Since(stopped))
	stopC()

	l, err := stB.Log(ctx, "ourday")
	if err != nil {
		t.Fatal(err)
	}
	n := checkSequence(t, l, "src")
	na, nb, nc := snapshotOf(t, ra, "ourday", "src").Appended, snapshotOf(t, rb, "ourday", "src").Appended, snapshotOf(t, rc, "ourday", "src").Appended
	// One more than counted is possible: an append process-a's Redis
	// applied while the store was closing under it, unacknowledged.
	if sum := na + nb + nc; int64(n) < sum || int64(n) > sum+1 {
		t.Errorf("log holds %d posts; processes a, b and c appended %d, %d and %d", n, na, nb, nc)
	}
	if cur, _ := l.GetMeta(ctx, CursorKey("src", "seq")); cur == "" {
		t.Error("no cursor beside the log")
	}
}

// TestRunnerRestartOnDisklog stops a runner over the embedded log and
// starts a new one over the reopened directory: the source continues its
// sequence from the cursor.
func TestRunnerRestartOnDisklog(t *testing.T) {
	dir := t.TempDir()
	n := 0
	for round := range 2 {
		st, err := disklog.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		src := &counterSource{name: "src", pace: 2 * time.Millisecond}
		r, err := NewRunner(fastConfig(st, "node", nil), EventSources{Slug: "ev", Sources: []Source{src}})
		if err != nil {
			t.Fatal(err)
		}
		stop := started(t, r)
		waitFor(t, 10*time.Second, "the source appends", func() bool { return snapshotOf(t, r, "ev", "src").Appended >= 15 })
		stop()
		l, err := st.Log(context.Background(), "ev")
		if err != nil {
			t.Fatal(err)
		}
		got := checkSequence(t, l, "src")
		if got < n+15 {
			t.Errorf("round %d: log holds %d posts, want at least %d", round, got, n+15)
		}
		n = got
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}
