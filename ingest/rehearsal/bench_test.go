package rehearsal

import (
	"testing"
	"time"
)

// BenchmarkPost measures making one rehearsal post (pick, render, escape).
func BenchmarkPost(b *testing.B) {
	s := New(Config{Rate: 60, Tags: []string{"OurDay", "Leaders4Leeds"}, Seed: 1})
	now := time.Now()
	var n uint64
	b.ReportAllocs()
	for b.Loop() {
		n++
		_ = s.Post(n, now)
	}
}
