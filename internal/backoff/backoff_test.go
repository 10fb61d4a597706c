package backoff

import (
	"testing"
	"time"
)

// lowest and highest make the draw deterministic: the wait at the bottom or
// the top of its range.
func lowest(int64) int64    { return 0 }
func highest(n int64) int64 { return n }

func TestBackoffGrowsAndCaps(t *testing.T) {
	ceilings := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second}
	for _, c := range []struct {
		name string
		draw func(int64) int64
		want func(ceiling time.Duration) time.Duration
	}{
		{"top", highest, func(c time.Duration) time.Duration { return c }},
		{"bottom", lowest, func(c time.Duration) time.Duration { return c / 2 }},
	} {
		b := Backoff{Min: time.Second, Max: 10 * time.Second, draw: c.draw}
		for i, ceiling := range ceilings {
			if b.Attempt() != i {
				t.Fatalf("%s: Attempt() = %d, want %d", c.name, b.Attempt(), i)
			}
			if got := b.Ceiling(); got != ceiling {
				t.Fatalf("%s: attempt %d: Ceiling() = %v, want %v", c.name, i, got, ceiling)
			}
			if got, want := b.Next(), c.want(ceiling); got != want {
				t.Fatalf("%s: attempt %d: Next() = %v, want %v", c.name, i, got, want)
			}
		}
	}
}

// TestBackoff is the runner's schedule (it came from package ingest): every
// wait within [ceiling/2, ceiling], the ceiling doubling from 1s to a 10s cap.
func TestBackoff(t *testing.T) {
	b := Backoff{Min: time.Second, Max: 10 * time.Second}
	for attempt, want := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second, 10 * time.Second} {
		for range 50 {
			b.attempt = attempt
			d := b.Next()
			if d < want/2 || d > want {
				t.Fatalf("Backoff(%d) = %v, want within [%v, %v]", attempt, d, want/2, want)
			}
		}
	}
}

func TestBackoffBoundsHold(t *testing.T) {
	b := Backoff{Min: 25 * time.Millisecond, Max: time.Second}
	for i := range 200 {
		ceiling := b.Ceiling()
		d := b.Next()
		if d < ceiling/2 || d > ceiling {
			t.Fatalf("attempt %d: Next() = %v, want within [%v, %v]", i, d, ceiling/2, ceiling)
		}
		if d > time.Second {
			t.Fatalf("attempt %d: Next() = %v, beyond Max", i, d)
		}
	}
}

func TestBackoffResets(t *testing.T) {
	b := Backoff{Min: time.Second, Max: time.Minute, draw: highest}
	for range 5 {
		b.Next()
	}
	b.Reset()
	if b.Attempt() != 0 {
		t.Fatalf("Attempt() after Reset = %d", b.Attempt())
	}
	if got := b.Next(); got != time.Second {
		t.Fatalf("Next() after Reset = %v, want %v", got, time.Second)
	}
}

func TestBackoffEdges(t *testing.T) {
	var zero Backoff
	if d := zero.Next(); d != 0 {
		t.Errorf("zero Backoff: Next() = %v, want 0", d)
	}
	// A Max below Min caps nothing below Min.
	b := Backoff{Min: time.Second, Max: time.Millisecond, draw: highest}
	for range 3 {
		if d := b.Next(); d != time.Second {
			t.Errorf("Max < Min: Next() = %v, want %v", d, time.Second)
		}
	}
	// Doubling a huge ceiling does not overflow into a negative wait.
	h := Backoff{Min: time.Duration(1 << 61), Max: time.Duration(1<<63 - 1)}
	for range 5 {
		if c := h.Ceiling(); c < h.Min {
			t.Fatalf("huge Backoff: Ceiling() = %v", c)
		}
		if d := h.Next(); d < h.Min/2 {
			t.Fatalf("huge Backoff: Next() = %v", d)
		}
	}
}

func TestJitter(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 2, 3, time.Second, 10 * time.Minute} {
		for range 100 {
			if j := Jitter(d); j < d/2 || j > d {
				t.Fatalf("Jitter(%v) = %v, want within [%v, %v]", d, j, d/2, d)
			}
		}
	}
	if got := equal(time.Second, lowest); got != time.Second/2 {
		t.Errorf("lowest draw = %v, want %v", got, time.Second/2)
	}
}

func TestSpread(t *testing.T) {
	d := 10 * time.Second
	for range 200 {
		if s := Spread(d, d/5); s < 8*time.Second || s > 12*time.Second {
			t.Fatalf("Spread(%v, %v) = %v", d, d/5, s)
		}
	}
	if got := spread(d, d/10, lowest); got != 9*time.Second {
		t.Errorf("lowest spread = %v, want 9s", got)
	}
	if got := spread(d, d/10, highest); got != 11*time.Second {
		t.Errorf("highest spread = %v, want 11s", got)
	}
	if got := Spread(d, 0); got != d {
		t.Errorf("Spread(d, 0) = %v, want %v", got, d)
	}
}
