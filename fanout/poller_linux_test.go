//go:build linux

package fanout

import (
	"runtime"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Idle public connections cost no goroutine each (they used to cost a
// reader each), and leave no trace in the poller once they close.
func TestIdlePublicConnsCostNoGoroutine(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	const conns = 200
	before := runtime.NumGoroutine()
	var cs []*websocket.Conn
	for range conns {
		ws, _, err := websocket.DefaultDialer.Dial(n.url(Public, ""), nil)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, ws)
	}
	// Writers and the HTTP server's goroutines end soon after the
	// upgrades; what stays is what each connection costs for good. (The
	// poller registers a connection just after the hub counts it.)
	p, _ := n.hub.public.(*poller)
	for deadline := time.Now().Add(5 * time.Second); ; {
		added, open := runtime.NumGoroutine()-before, n.hub.Conns()[Public]
		if added < conns/10 && open == conns && (p == nil || watched(p) == conns) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d idle public connections (%d open) added %d goroutines, want fewer than %d", conns, open, added, conns/10)
		}
		time.Sleep(10 * time.Millisecond) // polling counts against a deadline
	}
	for _, ws := range cs {
		ws.Close()
	}
	waitConns(t, n.hub, Public, 0)
	if p == nil {
		t.Fatal("public clients are not read by a poller")
	}
	if got := watched(p); got != 0 {
		t.Errorf("poller still holds %d connections after all closed", got)
	}
}

func watched(p *poller) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns)
}

// A message written one byte at a time, each byte read by the poller on
// its own, is put together and answered.
func TestMessageOneByteAtATime(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	c, nc, _ := dialRaw(t, n.url(Public, ""))
	wakeups := func() float64 { return counter(t, n.reg, "backchannel_fanout_poller_wakeups_total", nil) }
	for _, b := range clientFrame(finText, pingMsg, false) {
		seen := wakeups()
		write(t, nc, []byte{b})
		// Wait for the poller to have read this byte, so the next one
		// is a read of its own.
		for deadline := time.Now().Add(5 * time.Second); wakeups() == seen; {
			if time.Now().After(deadline) {
				t.Fatal("the poller did not wake for a byte written")
			}
			time.Sleep(time.Millisecond) // polling a counter against a deadline
		}
	}
	c.wantPong()
}
