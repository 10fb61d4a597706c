package redislog_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/logtest"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/internal/redistest"
)

// benchPrefix gives every benchmark run keys of its own on the shared server.
var benchPrefix atomic.Int64

func benchLog(b *testing.B, srv *redistest.Server) (*redislog.Store, eventlog.Log) {
	b.Helper()
	s, err := redislog.Open(context.Background(), srv.URL,
		redislog.WithPrefix(fmt.Sprintf("bench%d", benchPrefix.Add(1))), redislog.WithLogger(quiet))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	l, err := s.Log(context.Background(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	return s, l
}

// BenchmarkAppend measures keyed post appends (as ingest makes them) with 1
// and 16 concurrent writers against a local redis-server with appendonly yes,
// appendfsync everysec.
func BenchmarkAppend(b *testing.B) {
	srv := redistest.Start(b)
	logtest.BenchmarkAppend(b, func(b *testing.B) eventlog.Log {
		_, l := benchLog(b, srv)
		return l
	}, func(i int64) event.Entry {
		return logtest.Post(fmt.Sprintf("https://example.org/@ada/%d", i))
	})
}

// BenchmarkTailLatency measures the time from the start of an Append to the
// moment a running Tail hands the event to its callback: with 1 writer
// appending back to back, with 16 writers together paced at 2,000
// appends/s (a busy event, far above any real hashtag), and with 16 writers
// as fast as they can (saturation, where queueing dominates).
func BenchmarkTailLatency(b *testing.B) {
	srv := redistest.Start(b)
	for _, c := range []struct {
		writers int
		rate    int // appends/s over all writers; 0 for unpaced
	}{{1, 0}, {16, 2000}, {16, 0}} {
		name := fmt.Sprintf("writers=%d/rate=%d", c.writers, c.rate)
		if c.rate == 0 {
			name = fmt.Sprintf("writers=%d/rate=max", c.writers)
		}
		writers := c.writers
		b.Run(name, func(b *testing.B) {
			_, l := benchLog(b, srv)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			lat := make([]time.Duration, 0, b.N)
			got := make(chan struct{})
			var mu sync.Mutex
			tailDone := make(chan error, 1)
			go func() {
				tailDone <- l.Tail(ctx, 0, func(evs []event.Entry) error {
					now := time.Now()
					mu.Lock()
					defer mu.Unlock()
					for _, e := range evs {
						lat = append(lat, now.Sub(e.Time))
					}
					if len(lat) >= b.N {
						close(got)
						return context.Canceled
					}
					return nil
				})
			}()
			// pace hands out one permit per 1/rate s, when the case is paced.
			var pace chan struct{}
			if c.rate > 0 {
				pace = make(chan struct{})
				go func() {
					tick := time.NewTicker(time.Second / time.Duration(c.rate))
					defer tick.Stop()
					for {
						select {
						case <-tick.C:
							select {
							case pace <- struct{}{}:
							case <-ctx.Done():
								return
							}
						case <-ctx.Done():
							return
						}
					}
				}()
			}
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range writers {
				wg.Go(func() {
					for next.Add(1) <= int64(b.N) {
						if pace != nil {
							<-pace
						}
						m := event.Entry{Kind: event.StageMessage, Actor: event.Actor{Role: event.RoleModerator}, Message: "m", Time: time.Now()}
						if _, err := l.Append(ctx, "", m); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			select {
			case <-got:
			case <-time.After(30 * time.Second):
				b.Fatal("tail did not deliver every event within 30s")
			}
			b.StopTimer()
			if err := <-tailDone; err != context.Canceled {
				b.Fatalf("tail ended with %v", err)
			}
			mu.Lock()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
			mu.Unlock()
		})
	}
}

// BenchmarkAppendReplicated measures what waiting for a replica costs: a
// primary with one replica on loopback, appends acknowledged without
// waiting (wait_replicas=0) and after the replica confirmed them (WAIT 1,
// the default when the primary has replicas). It reports appends/s for 1
// and 16 writers, and the p50/p99 latency of one writer's appends.
func BenchmarkAppendReplicated(b *testing.B) {
	primary := redistest.Start(b)
	redistest.StartReplica(b, primary)
	for _, c := range []struct{ name, query string }{{"wait=none", "?wait_replicas=0"}, {"wait=replica", ""}} {
		open := func(b *testing.B) *redislog.Store {
			s, err := redislog.Open(context.Background(), primary.URL+c.query,
				redislog.WithPrefix(fmt.Sprintf("bench%d", benchPrefix.Add(1))), redislog.WithLogger(quiet))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}
		b.Run(c.name, func(b *testing.B) {
			logtest.BenchmarkAppend(b, func(b *testing.B) eventlog.Log {
				l, err := open(b).Log(context.Background(), "bench")
				if err != nil {
					b.Fatal(err)
				}
				return l
			}, func(i int64) event.Entry {
				return logtest.Post(fmt.Sprintf("https://example.org/@ada/%d", i))
			})
			b.Run("latency", func(b *testing.B) {
				s := open(b)
				l, err := s.Log(context.Background(), "bench")
				if err != nil {
					b.Fatal(err)
				}
				lat := make([]time.Duration, 0, b.N)
				b.ResetTimer()
				for i := range b.N {
					p := logtest.Post(fmt.Sprintf("https://example.org/@ada/l%d", i))
					start := time.Now()
					if _, err := l.Append(context.Background(), p.IdempotencyKey(), p); err != nil {
						b.Fatal(err)
					}
					lat = append(lat, time.Since(start))
				}
				b.StopTimer()
				slices.Sort(lat)
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
				if n := s.Unreplicated(); n > 0 {
					b.Errorf("%d appends acknowledged without the replica", n)
				}
			})
		})
	}
}
