package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/event"
)

// pausedSource is rate-limited once, then fine, then waits to be stopped.
type pausedSource struct{}

func (pausedSource) Name() string { return "paused" }
func (pausedSource) Kind() string { return "mastodon" }
func (pausedSource) Run(ctx context.Context, sink Sink) error {
	h := sink.Health()
	now := time.Now()
	h.Succeeded(now)
	h.RateLimited(now, "429 Too Many Requests", now.Add(time.Second))
	h.RateLimited(now, "429 Too Many Requests", now.Add(2*time.Second)) // the same pause
	h.Succeeded(now)
	h.Succeeded(now)
	<-ctx.Done()
	return nil
}

// The report draws outages from the log: a source entering and leaving an
// outage appends its state, once per change, not once per retry.
func TestRunnerRecordsOutagesInTheLog(t *testing.T) {
	st := newMemStore()
	failing := &brokenSource{name: "failing"}
	r, err := NewRunner(fastConfig(st, "node-a", prometheus.NewRegistry()), EventSources{
		Slug: "ev", Sources: []Source{failing, pausedSource{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	stop := started(t, r)
	l, _ := st.Log(context.Background(), "ev")
	states := func() map[string][]event.Entry {
		evs, err := l.Read(context.Background(), 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]event.Entry{}
		for _, e := range evs {
			if e.Kind == event.SourceHealth {
				out[e.Actor.Name] = append(out[e.Actor.Name], e)
			}
		}
		return out
	}
	waitFor(t, 10*time.Second, "the failing source restarted three times and the paused one recovered", func() bool {
		return failing.starts.Load() >= 3 && len(states()["paused"]) >= 2
	})
	stop()

	got := states()
	f := got["failing"]
	if len(f) != 2 || f[0].SourceHealth.State != StateBackingOff || f[0].SourceHealth.Error == "" ||
		f[1].SourceHealth.State != StateStopped {
		t.Errorf("failing source's entries %+v; want one backing_off with its error (not one per restart), then stopped", f)
	}
	p := got["paused"]
	if len(p) != 2 || p[0].SourceHealth.State != StateRateLimited || p[0].SourceHealth.Error != "429 Too Many Requests" ||
		p[0].SourceHealth.SourceKind != "mastodon" || p[1].SourceHealth.State != StateOK || p[1].Time.Before(p[0].Time) {
		t.Errorf("paused source's entries %+v; want rate_limited with its reason, then ok", p)
	}
	for _, e := range append(f, p...) {
		if err := e.Validate(); err != nil || e.Actor.Role != event.RoleSource {
			t.Errorf("%s: %v (actor %+v)", e.String(), err, e.Actor)
		}
	}
}
