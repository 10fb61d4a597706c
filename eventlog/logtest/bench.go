package logtest

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
)

// BenchmarkAppend measures appends per second with 1 and 16 concurrent
// writers, each append under its own idempotency key, as ingest makes them.
// open returns a fresh log for each sub-benchmark; post builds the i-th
// event. Both engines run it, so their figures measure the same thing.
func BenchmarkAppend(b *testing.B, open func(b *testing.B) eventlog.Log, post func(i int64) event.Entry) {
	for _, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			l := open(b)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			for range writers {
				wg.Go(func() {
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						p := post(i)
						if _, err := l.Append(context.Background(), p.IdempotencyKey(), p); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}
