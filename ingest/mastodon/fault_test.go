package mastodon

import (
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/ingesttest"
)

// TestFaults runs two sources on one log: server A misbehaves, server B is
// healthy. Each fault must be backed off and reported on A's health while
// B keeps appending, and when A recovers its posts arrive once each.
func TestFaults(t *testing.T) {
	tests := []struct {
		name    string
		times   int // how many timeline requests the fault hits; -1: all
		timeout time.Duration
		fault   func(w http.ResponseWriter, r *http.Request, retryAt *time.Time)
		state   string
		errPart string
		// noEarlyRetry: the next request must not come before *retryAt.
		noEarlyRetry bool
	}{
		{
			name: "429 with reset", times: 1, state: ingest.StateRateLimited, errPart: "429", noEarlyRetry: true,
			fault: func(w http.ResponseWriter, r *http.Request, retryAt *time.Time) {
				*retryAt = time.Now().Add(400 * time.Millisecond)
				w.Header().Set("X-RateLimit-Limit", "300")
				w.Header().Set("X-RateLimit-Remaining", "0")
				w.Header().Set("X-RateLimit-Reset", retryAt.UTC().Format("2006-01-02T15:04:05.000000Z"))
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte(`{"error":"Too many requests"}`))
			},
		},
		{
			name: "503 with Retry-After", times: 1, state: ingest.StateRateLimited, errPart: "503", noEarlyRetry: true,
			fault: func(w http.ResponseWriter, r *http.Request, retryAt *time.Time) {
				*retryAt = time.Now().Add(time.Second)
				w.Header().Set("Retry-After", "1")
				w.WriteHeader(http.StatusServiceUnavailable)
			},
		},
		{
			name: "500s", times: 3, state: ingest.StateBackingOff, errPart: "500",
			fault: func(w http.ResponseWriter, r *http.Request, _ *time.Time) {
				w.WriteHeader(http.StatusInternalServerError)
				_, _ = w.Write([]byte(`<html>oops</html>`))
			},
		},
		{
			name: "hang past the timeout", times: 2, timeout: 150 * time.Millisecond, state: ingest.StateBackingOff, errPart: "timed out",
			fault: func(w http.ResponseWriter, r *http.Request, _ *time.Time) {
				<-r.Context().Done() // until the client gives up
			},
		},
		{
			name: "truncated JSON", times: 2, state: ingest.StateBackingOff, errPart: "unexpected EOF",
			fault: func(w http.ResponseWriter, r *http.Request, _ *time.Time) {
				body := string(readFixture(t, "mastodon_tag_timeline_hoot.body.json"))
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body[:len(body)/2]))
			},
		},
		{
			name: "401 without a token", times: -1, state: ingest.StateBackingOff, errPart: "server refuses anonymous reads; set a token",
			fault: func(w http.ResponseWriter, r *http.Request, _ *time.Time) {
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"error":"The access token is invalid"}`))
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			base := time.Now().Add(-time.Hour)
			a, b := newFakeServer(t), newFakeServer(t)
			var mu sync.Mutex
			hits := 0
			var retryAt, faultAt time.Time
			var after []time.Time // A's timeline requests after the fault
			a.setFault(func(w http.ResponseWriter, r *http.Request) bool {
				if !strings.HasPrefix(r.URL.Path, "/api/v1/timelines/tag/") {
					return false
				}
				mu.Lock()
				if tt.times >= 0 && hits >= tt.times {
					if hits > 0 {
						after = append(after, time.Now())
					}
					mu.Unlock()
					return false
				}
				hits++
				mu.Unlock()
				var ra time.Time
				tt.fault(w, r, &ra)
				mu.Lock()
				retryAt, faultAt = ra, time.Now()
				mu.Unlock()
				return true
			})
			for n := 1; n <= 5; n++ {
				a.add(numbered(t, n, "OurDay", base))
				b.add(numbered(t, 100+n, "OurDay", base))
			}
			log := ingesttest.NewLog()
			cfgA := fastConfig(a.srv.URL, "OurDay")
			if tt.timeout > 0 {
				cfgA.HTTPClient = &http.Client{Timeout: tt.timeout}
			}
			srcA, srcB := mustNew(t, cfgA), mustNew(t, fastConfig(b.srv.URL, "OurDay"))
			sinkA, sinkB := newMemSink(log, srcA.Name()), newMemSink(log, srcB.Name())
			run(t, srcA, sinkA)
			run(t, srcB, sinkB)

			ingesttest.WaitUntil(t, "the fault reported", func() bool { return sinkA.SawState(tt.state, tt.errPart) })
			ingesttest.WaitUntil(t, "B's posts", func() bool {
				for n := 101; n <= 105; n++ {
					if log.CountOf(event.PostReceived, uriOf(n)) != 1 {
						return false
					}
				}
				return true
			})
			h := sinkA.Health().Snapshot()
			if h.LastError == "" || h.LastErrorAt.IsZero() {
				t.Errorf("A's health lacks the error: %+v", h)
			}

			if tt.times < 0 {
				// A person must act: A appends nothing and does not hammer.
				ingesttest.WaitUntil(t, "B polling on", func() bool { return b.requestCount("/api/v1/timelines/tag/") >= 10 })
				if n := a.requestCount("/api/v1/timelines/tag/"); n != 1 {
					t.Errorf("A made %d timeline requests, want 1 (long backoff after 401)", n)
				}
				if h.State != ingest.StateBackingOff || !h.RetryAt.After(time.Now().Add(10*time.Minute)) {
					t.Errorf("A's health = %+v, want backing off for a long while", h)
				}
				for n := 1; n <= 5; n++ {
					if log.CountOf(event.PostReceived, uriOf(n)) != 0 {
						t.Errorf("post %d appended from a refusing server", n)
					}
				}
				return
			}
			ingesttest.WaitUntil(t, "A recovered", func() bool {
				for n := 1; n <= 5; n++ {
					if log.CountOf(event.PostReceived, uriOf(n)) != 1 {
						return false
					}
				}
				return sinkA.Health().Snapshot().State == ingest.StateOK
			})
			if k := log.Kinds(); k[event.PostReceived] != 10 || len(log.Entries()) != 10 {
				t.Errorf("events = %v, want exactly 10 received", k)
			}
			if tt.noEarlyRetry {
				mu.Lock()
				defer mu.Unlock()
				if len(after) == 0 {
					t.Fatal("no request after the fault")
				}
				// The reset header carries microseconds; allow for rounding.
				if after[0].Before(retryAt.Add(-5 * time.Millisecond)) {
					t.Errorf("retried %v after the fault, before the server's time %v", after[0].Sub(faultAt), retryAt.Sub(faultAt))
				}
			}
		})
	}
}

// TestPacing: when the server says the budget is nearly used up, the
// source spreads its requests to the reset instead of spending the rest.
func TestPacing(t *testing.T) {
	f := newFakeServer(t)
	f.mu.Lock()
	f.rlRemain = 1
	f.rlReset = time.Now().Add(600 * time.Millisecond)
	reset := f.rlReset
	f.mu.Unlock()
	log := ingesttest.NewLog()
	src := mustNew(t, fastConfig(f.srv.URL, "OurDay"))
	sink := newMemSink(log, src.Name())
	run(t, src, sink)
	f.add(numbered(t, 1, "OurDay", time.Now().Add(-time.Minute)))
	ingesttest.WaitUntil(t, "slowing down reported", func() bool { return sink.SawState(ingest.StateRateLimited, "slowing down") })
	// With 1 left, the next request waits for the reset: before it, only
	// the request that learnt the budget (and one in flight beside it).
	ingesttest.WaitUntil(t, "the reset", func() bool { return time.Now().After(reset) })
	f.mu.Lock()
	n := 0
	for _, at := range f.reqTimes {
		if at.Before(reset) {
			n++
		}
	}
	f.mu.Unlock()
	if n > 2 {
		t.Errorf("%d requests before the reset with 1 left; pacing did not slow down", n)
	}
}
