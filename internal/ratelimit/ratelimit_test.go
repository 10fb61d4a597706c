package ratelimit

import (
	"testing"
	"time"
)

// clock is a clock tests move by hand.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time      { return c.t }
func (c *clock) Add(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiterRefills(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	l := NewLimiter(Rate{Burst: 2, Every: time.Second}, c.Now)
	for i := range 2 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("request %d refused within the burst", i+1)
		}
	}
	if ok, retry := l.Allow("a"); ok || retry != time.Second {
		t.Fatalf("third request: %v %v, want refused for 1s", ok, retry)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key shares a's bucket")
	}
	c.Add(time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("no token back after Every")
	}
}

func TestLimiterBoundsMemory(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	l := NewLimiter(Rate{Burst: 2, Every: time.Second}, c.Now)
	l.maxKeys = 10
	for i := 0; i < 100; i++ {
		l.Allow(string(rune('a' + i)))
		if n := len(l.buckets); n > 10 {
			t.Fatalf("%d buckets", n)
		}
	}
	// A bucket in use survives a sweep when others have refilled.
	l = NewLimiter(Rate{Burst: 1, Every: time.Hour}, c.Now)
	l.maxKeys = 3
	l.Allow("busy")
	l.Allow("a")
	l.Allow("b")
	c.Add(2 * time.Hour)
	l.Allow("busy") // takes the refilled token
	l.Allow("c")    // sweeps a and b; busy is empty again so it stays
	if ok, retry := l.Allow("busy"); ok || retry != time.Hour {
		t.Errorf("busy bucket forgotten: %v %v", ok, retry)
	}
}

func TestRetryAfterSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int{0: 1, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, time.Minute: 60} {
		if got := RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

// Reserve lends tokens still to come, up to maxWait ahead, in order, and
// Empty looks without taking.
func TestLimiterReserve(t *testing.T) {
	c := &clock{t: time.Unix(0, 0)}
	l := NewLimiter(Rate{Burst: 2, Every: time.Second}, c.Now)
	if l.Empty("a") {
		t.Fatal("a new key is empty")
	}
	var waits []time.Duration
	for range 5 {
		w, ok := l.Reserve("a", 2*time.Second)
		if !ok {
			break
		}
		waits = append(waits, w)
	}
	want := []time.Duration{0, 0, time.Second, 2 * time.Second}
	if len(waits) != len(want) {
		t.Fatalf("waits %v, want %v", waits, want)
	}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("waits %v, want %v", waits, want)
		}
	}
	if w, ok := l.Reserve("a", 2*time.Second); ok || w != 3*time.Second {
		t.Fatalf("over maxWait: %v %v", w, ok)
	}
	if !l.Empty("a") {
		t.Fatal("a is not empty after lending")
	}
	c.Add(3 * time.Second) // repays the two lent tokens and gives one back
	if l.Empty("a") {
		t.Fatal("a still empty after the loans were repaid")
	}
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("no token after the loans were repaid")
	}
	if ok, _ := l.Allow("a"); ok {
		t.Fatal("a second token appeared from nowhere")
	}
}
