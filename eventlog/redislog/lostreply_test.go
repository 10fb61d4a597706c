package redislog_test

import (
	"context"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/internal/redistest"
)

// cutProxy forwards loopback connections to Redis. When armed, it swallows
// the next reply Redis sends and closes that connection: the command ran,
// the client never hears so. That is the case an append retry must get
// right.
type cutProxy struct {
	ln     net.Listener
	target string
	armed  atomic.Bool
	cut    atomic.Int64 // replies swallowed
	wg     sync.WaitGroup
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Go(p.accept)
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

func (p *cutProxy) url() string { return "redis://" + p.ln.Addr().String() + "/0" }

func (p *cutProxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.wg.Go(func() {
			_, _ = io.Copy(s, c)
			s.Close()
		})
		p.wg.Go(func() {
			defer c.Close()
			defer s.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := s.Read(buf)
				if n > 0 && p.armed.CompareAndSwap(true, false) {
					p.cut.Add(1)
					return // the reply is dropped with the connection
				}
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		})
	}
}

// TestAppendRetryAfterLostReply: an append whose reply is lost is retried
// and returns the position it was written at, neither writing the event a
// second time (keyless) nor calling it a duplicate of itself (keyed).
func TestAppendRetryAfterLostReply(t *testing.T) {
	srv := redistest.Start(t)
	proxy := startCutProxy(t, srv.Addr)
	ctx := context.Background()
	s, err := redislog.Open(ctx, proxy.url(), redislog.WithPrefix("lost-reply"), redislog.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.Log(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}
	// The first append loads the script into Redis, so the armed cut below
	// swallows the script's answer and not a NOSCRIPT error.
	if _, err := l.Append(ctx, "", message("warm-up")); err != nil {
		t.Fatal(err)
	}

	proxy.armed.Store(true)
	a, err := l.Append(ctx, "", message("keyless"))
	if err != nil {
		t.Fatalf("keyless append across a lost reply: %v", err)
	}
	if proxy.cut.Load() != 1 {
		t.Fatal("the proxy did not cut the reply; the test proved nothing")
	}
	if a.Pos != 2 || a.Duplicate {
		t.Fatalf("keyless append after a lost reply: %+v, want pos 2, not duplicate", a)
	}

	proxy.armed.Store(true)
	a, err = l.Append(ctx, "post:x", message("keyed"))
	if err != nil {
		t.Fatalf("keyed append across a lost reply: %v", err)
	}
	if proxy.cut.Load() != 2 {
		t.Fatal("the proxy did not cut the second reply")
	}
	if a.Pos != 3 || a.Duplicate {
		t.Fatalf("keyed append after a lost reply: %+v, want pos 3 and not a duplicate of itself", a)
	}
	// A genuine repeat is still a duplicate.
	if a, err = l.Append(ctx, "post:x", message("keyed")); err != nil || a.Pos != 3 || !a.Duplicate {
		t.Fatalf("repeat of a keyed append: %+v, %v; want pos 3, duplicate", a, err)
	}

	evs, err := l.Read(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, e := range evs {
		msgs = append(msgs, e.Message)
	}
	if len(evs) != 3 || msgs[1] != "keyless" || msgs[2] != "keyed" {
		t.Fatalf("log holds %q, want [warm-up keyless keyed]: a retry wrote twice", msgs)
	}
}
