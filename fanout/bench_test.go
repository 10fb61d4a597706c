package fanout

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// stubFeed is a Feed the benchmark drives by hand, so it measures the hub
// and the sockets, not the log or the fold.
type stubFeed struct {
	mu  sync.Mutex
	fn  func(event.Entry, fold.Effect)
	pos atomic.Uint64
}

func (f *stubFeed) Subscribe(fn func(event.Entry, fold.Effect)) func() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fn = fn
	return func() {}
}
func (f *stubFeed) Pos() uint64 { return f.pos.Load() }
func (f *stubFeed) Snapshot(Audience) Snapshot {
	return Snapshot{Pos: f.pos.Load(), Wall: &fold.Wall{Posts: []fold.PublicPost{}}}
}
func (f *stubFeed) emit(e event.Entry, eff fold.Effect) {
	f.pos.Store(e.Pos)
	f.fn(e, eff)
}

// BenchmarkBroadcast measures the hub delivering one ~600-byte post to
// 1,000 public sockets over loopback (reported per post, and as
// messages/s across all sockets), with the default batching.
func BenchmarkBroadcast(b *testing.B) {
	const clients = 1000
	_, l := openLog(b)
	feed := &stubFeed{}
	h, err := New(context.Background(), feed, l, Options{Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.ServeWS(w, r, Public) }))
	defer srv.Close()
	u := "ws" + strings.TrimPrefix(srv.URL, "http")

	var received atomic.Int64
	var wg sync.WaitGroup
	for range clients {
		ws, _, err := websocket.DefaultDialer.Dial(u, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer ws.Close()
		// The upgrade answers before the hub attaches the socket: wait for
		// the snapshot, or the first events would be in it, not counted.
		if _, _, err := ws.ReadMessage(); err != nil {
			b.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				_, data, err := ws.ReadMessage()
				if err != nil {
					return
				}
				received.Add(int64(bytes.Count(data, []byte(`"type":"event"`))))
			}
		}()
	}
	p := testPost("p", strings.Repeat("x", 600))
	pp := fold.PublicPost{Post: p}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		pos := uint64(i + 1)
		feed.emit(event.Entry{Pos: pos, Time: time.Now(), Kind: event.PostReceived},
			fold.Effect{Pos: pos, Applied: true, Wall: &fold.WallDelta{Upsert: []fold.PublicPost{pp}}})
	}
	want := int64(b.N) * clients
	deadline := time.Now().Add(time.Minute)
	for received.Load() < want && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond) // polling a counter against a deadline
	}
	b.StopTimer()
	if got := received.Load(); got != want {
		b.Fatalf("received %d messages, want %d", got, want)
	}
	b.ReportMetric(float64(want)/time.Since(start).Seconds(), "msgs/s")
}
