package fanout

import (
	"testing"
	"time"
)

func TestConnSamplerPeaksOncePerMinute(t *testing.T) {
	t0 := time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)
	s := connSampler{node: "a", every: time.Minute}
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

	if _, due := s.observe(at(0), []int{0, 0, 0}); due {
		t.Fatal("a sample with nobody connected, ever")
	}
	c, due := s.observe(at(5), []int{3, 1, 0})
	if !due || c.Public != 3 || c.Moderators != 1 || c.Node != "a" {
		t.Fatalf("first connections: %+v due %v; want 3 public, 1 moderator at once", c, due)
	}
	for sec, n := range map[int]int{10: 9, 20: 4, 30: 2} {
		if _, due := s.observe(at(sec), []int{n, 1, 1}); due {
			t.Fatalf("a second sample within the minute, at %ds", sec)
		}
	}
	c, due = s.observe(at(65), []int{1, 0, 0})
	if !due || c.Public != 9 || c.Facilitators != 1 {
		t.Fatalf("after a minute: %+v due %v; want the busiest count, 9 public and 1 facilitator", c, due)
	}
	c, due = s.observe(at(130), []int{0, 0, 0})
	if !due || c.Public != 1 {
		t.Fatalf("the minute the last one left: %+v due %v; want 1 public", c, due)
	}
	c, due = s.observe(at(195), []int{0, 0, 0})
	if !due || c.Public != 0 || c.Moderators != 0 {
		t.Fatalf("nobody left: %+v due %v; want one sample of zero", c, due)
	}
	if _, due := s.observe(at(300), []int{0, 0, 0}); due {
		t.Fatal("samples go on with nobody connected")
	}
}
