package metrics_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/metrics"
)

// BenchmarkAppend compares durable appends to the embedded log with 16
// concurrent writers, bare and through the metrics wrapper: the wrapper's
// cost is the difference.
func BenchmarkAppend(b *testing.B) {
	for _, wrapped := range []bool{false, true} {
		b.Run(fmt.Sprintf("instrumented=%v", wrapped), func(b *testing.B) {
			raw, err := disklog.Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer raw.Close()
			var s eventlog.Store = raw
			if wrapped {
				s = metrics.New(prometheus.NewRegistry(), "bench").Store(raw)
			}
			l, err := s.Log(context.Background(), "ev")
			if err != nil {
				b.Fatal(err)
			}
			var n atomic.Int64
			b.SetParallelism(8) // 8 x GOMAXPROCS(2) = 16 writers
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					e := post(fmt.Sprintf("urn:bench:%d", n.Add(1)))
					if _, err := l.Append(context.Background(), e.IdempotencyKey(), e); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "appends/s")
		})
	}
}
