package backoff

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"
)

func TestSleepProbingReturnsWhenTheUpstreamComesBack(t *testing.T) {
	var n atomic.Int32
	p := Prober{Every: 2 * time.Millisecond, Timeout: time.Second, Probe: func(context.Context) error {
		if n.Add(1) <= 3 {
			return errors.New("connection refused")
		}
		return nil
	}}
	start := time.Now()
	ok, early := SleepProbing(context.Background(), time.Minute, p, false)
	if !ok || !early || time.Since(start) > 10*time.Second {
		t.Fatalf("SleepProbing = %v, %v after %v; want an early return", ok, early, time.Since(start))
	}
	if n.Load() != 4 {
		t.Errorf("probed %d times, want 4 (3 down, 1 up)", n.Load())
	}
}

// An upstream that answers the probe all along is not reconnected to
// early: its refusals of the real connection keep their backoff.
func TestSleepProbingWaitsOutAnUpstreamThatNeverWentDown(t *testing.T) {
	var n atomic.Int32
	p := Prober{Every: 2 * time.Millisecond, Timeout: time.Second, Probe: func(context.Context) error { n.Add(1); return nil }}
	d := 100 * time.Millisecond
	start := time.Now()
	ok, early := SleepProbing(context.Background(), d, p, false)
	if !ok || early || time.Since(start) < d {
		t.Fatalf("SleepProbing = %v, %v after %v; want the whole %v", ok, early, time.Since(start), d)
	}
	if n.Load() == 0 {
		t.Error("never probed")
	}
}

func TestSleepProbingAfterNoAnswerReturnsOnTheFirstAnsweringProbe(t *testing.T) {
	p := Prober{Every: 2 * time.Millisecond, Timeout: time.Second, Probe: func(context.Context) error { return nil }}
	if ok, early := SleepProbing(context.Background(), time.Minute, p, true); !ok || !early {
		t.Fatalf("SleepProbing = %v, %v; want an early return", ok, early)
	}
}

func TestSleepProbingStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	p := Prober{Every: time.Millisecond, Timeout: time.Second, Probe: func(context.Context) error {
		cancel()
		return errors.New("down")
	}}
	if ok, _ := SleepProbing(ctx, time.Minute, p, false); ok {
		t.Fatal("SleepProbing reported a whole wait after ctx was done")
	}
}

func TestDialProbe(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := DialProbe("ws://" + addr + "/subscribe")(ctx); err != nil {
		t.Fatalf("probe of a listening server: %v", err)
	}
	l.Close()
	if err := DialProbe("ws://" + addr + "/subscribe")(ctx); err == nil {
		t.Fatal("probe of a closed port succeeded")
	}
}
