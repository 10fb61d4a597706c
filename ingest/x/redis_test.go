package x

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/internal/redistest"
)

// markProcess names the process on every request, so the fake server can
// tell connections from two processes apart.
type markProcess struct {
	name string
	base http.RoundTripper
}

func (m markProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Test-Process", m.name)
	return m.base.RoundTrip(r)
}

// Two ingest processes over one Redis, each with two events with an X
// source: only the process holding the "source:x" lease connects, and it
// carries both events' rules and routes posts to each; when it stops, the
// other takes over, and never are the two connected at once.
func TestOneStreamConnectionAcrossProcesses(t *testing.T) {
	srv := redistest.Start(t)
	f := newFakeX(t)
	ctx := context.Background()
	type proc struct {
		runner *ingest.Runner
		hub    *Hub
		stop   context.CancelFunc
		done   chan error
	}
	start := func(name string) *proc {
		st, err := redislog.Open(ctx, srv.URL, redislog.WithLogger(quiet()))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		c := f.client()
		c.HTTP = &http.Client{Timeout: 5 * time.Second, Transport: markProcess{name, http.DefaultTransport}}
		hub := fastHub(c)
		var events []ingest.EventSources
		for _, slug := range []string{"leaders4leeds", "ourday"} {
			src := newSource(t, Config{Client: c, Hub: hub, Slug: slug, PollInterval: time.Hour})
			events = append(events, ingest.EventSources{Slug: slug, Rules: holdAll{}, Sources: []ingest.Source{src}})
		}
		r, err := ingest.NewRunner(ingest.RunnerConfig{Store: st, Holder: name, Registerer: prometheus.NewRegistry(), Logger: quiet(),
			LeaseTTL: 1500 * time.Millisecond, LeaseRenew: 300 * time.Millisecond}, events...)
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		p := &proc{runner: r, hub: hub, stop: cancel, done: make(chan error, 1)}
		go func() { p.done <- r.Run(rctx) }()
		t.Cleanup(func() { cancel(); <-p.done })
		return p
	}
	// As if process-b had won one event's lease in a race: were leases per
	// event, the two processes would split the events and both connect.
	pre, err := redislog.Open(ctx, srv.URL, redislog.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := pre.Lease(ctx, "source:ourday:x", "process-b", time.Minute); err != nil || !ok {
		t.Fatal(ok, err)
	}
	pre.Close()
	a := start("process-a")
	wait(t, "process-a connects", func() bool { return a.hub.Connected() })
	b := start("process-b")
	wait(t, "one process connects", func() bool { _, active, _ := f.streamCounts(); return active == 1 })
	holder, other := a, b
	if b.hub.Connected() {
		holder, other = b, a
	}
	wait(t, "the other stands by", func() bool {
		h := other.runner.Health("ourday")
		return len(h) == 1 && h[0].State == ingest.StateStandby
	})
	wait(t, "both events' rules are in force", func() bool { return len(f.ruleTags()) == 2 })

	// One line matching both events reaches both logs.
	f.lines <- lineOf(t, map[string]any{"id": "1991600000000000000", "text": "#Leaders4Leeds #OurDay hello", "author_id": "1",
		"created_at": "2026-11-19T12:00:00.000Z", "edit_history_tweet_ids": []string{"1991600000000000000"}},
		map[string]any{"users": []map[string]string{{"id": "1", "name": "Ada", "username": "ada_demo"}}},
		"event:leaders4leeds", "event:ourday")
	st, err := redislog.Open(ctx, srv.URL, redislog.WithLogger(quiet()))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, _, maxActive := f.streamCounts(); maxActive != 1 {
		t.Errorf("%d processes connected at once, want 1", maxActive)
	}
	for _, slug := range []string{"leaders4leeds", "ourday"} {
		l, err := st.Log(ctx, slug)
		if err != nil {
			t.Fatal(err)
		}
		wait(t, "the post reaches "+slug, func() bool {
			es, err := l.Read(ctx, 0, 100)
			if err != nil {
				return false
			}
			for _, e := range es {
				if e.Kind == event.PostReceived && e.Post.URI == PostURI("1991600000000000000") {
					return true
				}
			}
			return false
		})
	}

	// The holder stops: the other takes the lease over and connects.
	holder.stop()
	<-holder.done
	holder.done <- nil // for the cleanup
	wait(t, "the other process connects", func() bool { return other.hub.Connected() })
	if accepted, _, maxActive := f.streamCounts(); maxActive != 1 || accepted < 2 {
		t.Errorf("%d connections accepted, at most %d processes connected at once; want 1", accepted, maxActive)
	}
}
