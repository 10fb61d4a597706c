package fold

import (
	"fmt"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// benchLog is a busy event's log: n posts arrive held, and moderators
// approve three in four, reject the rest, pin one in fifty and flag one in
// twenty as a question, which a facilitator reads and answers; the last
// 200 still wait in the queue.
func benchLog(n int) []event.Entry {
	var evs []event.Entry
	for i := range n {
		key := fmt.Sprintf("b%d", i)
		a := event.Author{ID: fmt.Sprintf("https://mastodon.social/users/u%d", i%500), Handle: fmt.Sprintf("@u%d@mastodon.social", i%500)}
		evs = append(evs, pending(key, a))
		switch {
		case i >= n-200:
		case i%4 == 3:
			evs = append(evs, act(event.PostRejected, moderator, key))
		case i%20 == 0:
			evs = append(evs, act(event.QuestionFlagged, moderator, key), qstep(event.QuestionReading, id(key)), qstep(event.QuestionAnswered, id(key)))
		case i%50 == 1:
			evs = append(evs, act(event.PostPinned, moderator, key))
		default:
			evs = append(evs, act(event.PostApproved, moderator, key))
		}
	}
	for i := range evs {
		evs[i].Pos = uint64(i + 1)
		evs[i].Time = t0.Add(time.Duration(i) * time.Second)
	}
	return evs
}

// BenchmarkApply measures one event folded into a state that grows to the
// size of a busy event (the mix of benchLog, 10,000 posts).
func BenchmarkApply(b *testing.B) {
	evs := benchLog(10000)
	b.ReportAllocs()
	b.ResetTimer()
	s := New(SettingsView{})
	j := 0
	for b.Loop() {
		if j == len(evs) {
			b.StopTimer()
			s, j = New(SettingsView{}), 0
			b.StartTimer()
		}
		s.Apply(evs[j])
		j++
	}
}

// BenchmarkFold measures rebuilding the state of a 10,000-post event from
// its log, as a node does on start.
func BenchmarkFold(b *testing.B) {
	evs := benchLog(10000)
	b.ReportAllocs()
	for b.Loop() {
		Fold(SettingsView{}, evs)
	}
	b.ReportMetric(float64(len(evs)), "events/op")
}

// BenchmarkViews measures the reads a screen makes on connect, on the
// state of a 10,000-post event.
func BenchmarkViews(b *testing.B) {
	s := Fold(SettingsView{}, benchLog(10000))
	for _, v := range []struct {
		name string
		fn   func()
	}{
		{"Wall50", func() { s.Wall(50) }},
		{"Queue", func() { s.Queue() }},
		{"Counts", func() { s.Counts() }},
		{"Audit50", func() { s.Audit(50) }},
	} {
		b.Run(v.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v.fn()
			}
		})
	}
}
