package wall_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// BenchmarkWallAPI measures GET /api/events/{slug}/wall?limit=50 through
// the whole handler stack (logging, headers, mux, fold view, JSON) on an
// event with 2,000 approved posts, without the network.
func BenchmarkWallAPI(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	var last uint64
	for i := range 2000 {
		uri := fmt.Sprintf("urn:bench:%d", i)
		for _, e := range []event.Entry{received(uri, fmt.Sprintf("post number %d with a few words of text", i)), decided(event.PostApproved, uri)} {
			a, err := f.ev.Log.Append(ctx, e.IdempotencyKey(), e)
			if err != nil {
				b.Fatal(err)
			}
			last = a.Pos
		}
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := f.ev.Live.WaitFor(wctx, last); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec := httptest.NewRecorder()
			f.srv.ServeHTTP(rec, httptest.NewRequest("GET", "/api/events/ev/wall?limit=50", nil))
			if rec.Code != 200 {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}
