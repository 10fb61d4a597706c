package wall_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
)

func benchNode(b *testing.B) *staffNode {
	b.Helper()
	store, err := disklog.Open(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = store.Close() })
	return startNode(b, store, newClock(), nil)
}

// fill appends n posts with the given verdict from 32 goroutines, so the
// embedded log's group commit makes the set-up quick, and waits for the fold.
func fill(b *testing.B, n *staffNode, count int, d event.Decision) []string {
	b.Helper()
	ids := make([]string, count)
	var wg sync.WaitGroup
	var next atomic.Int64
	var last atomic.Uint64
	for range 32 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= count {
					return
				}
				p := textPost(fmt.Sprintf("https://a.example/%d", i), fmt.Sprintf("post number %d, about as long as a post on a wall usually is, with a #hashtag", i), "@ada@a.example")
				p.ID, p.Source = event.PostID(p.URI), "rehearsal"
				e := event.Entry{Kind: event.PostReceived, Actor: event.Actor{Role: event.RoleSource, Name: "bench"},
					Post: &p, Verdict: &event.Verdict{Decision: d, Rule: "bench"}}
				a, err := n.log.Append(context.Background(), e.IdempotencyKey(), e)
				if err != nil {
					b.Error(err)
					return
				}
				ids[i] = p.ID
				for {
					cur := last.Load()
					if a.Pos <= cur || last.CompareAndSwap(cur, a.Pos) {
						break
					}
				}
			}
		})
	}
	wg.Wait()
	n.waitPos(b, last.Load())
	return ids
}

func benchGet(b *testing.B, n *staffNode, path string) {
	b.Helper()
	req, _ := http.NewRequest("GET", n.http.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+modToken)
	b.ReportAllocs()
	b.ResetTimer()
	var size int64
	for b.Loop() {
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		size, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("GET %s = %d", path, res.StatusCode)
		}
	}
	b.ReportMetric(float64(size), "bytes/resp")
}

// BenchmarkStaffAction is one moderator decision through the API, as the
// moderator page sends it: HTTP over loopback, credentials, a durable
// append to the embedded log (fsync), the wait for the fold, the answer.
func BenchmarkStaffAction(b *testing.B) {
	n := benchNode(b)
	ids := fill(b, n, 1, event.DecisionHold)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		action := "approve"
		if i%2 == 1 {
			action = "reject" // alternate, so every action changes the post
		}
		i++
		if status, body := n.do(b, "POST", "/api/events/ev/posts/"+ids[0]+"/"+action, modCred, nil); status != 200 {
			b.Fatalf("%s = %d %s", action, status, body)
		}
	}
}

// BenchmarkStaffActionParallel is many moderators deciding at once, each
// on its own post: the embedded log commits their appends together.
func BenchmarkStaffActionParallel(b *testing.B) {
	n := benchNode(b)
	ids := fill(b, n, 64, event.DecisionHold)
	var next atomic.Int64
	b.ReportAllocs()
	b.SetParallelism(8) // 16 moderators on 2 cores
	b.RunParallel(func(pb *testing.PB) {
		id := ids[int(next.Add(1)-1)%len(ids)]
		i := 0
		for pb.Next() {
			action := "approve"
			if i%2 == 1 {
				action = "reject"
			}
			i++
			if status, body := n.do(b, "POST", "/api/events/ev/posts/"+id+"/"+action, modCred, nil); status != 200 {
				b.Errorf("%s = %d %s", action, status, body)
				return
			}
		}
	})
}

// BenchmarkStaffQueue is the moderator page's queue with 500 posts held.
func BenchmarkStaffQueue(b *testing.B) {
	n := benchNode(b)
	fill(b, n, 500, event.DecisionHold)
	benchGet(b, n, "/api/events/ev/queue")
}

// BenchmarkExportPostsCSV exports 2,000 approved posts as CSV.
func BenchmarkExportPostsCSV(b *testing.B) {
	n := benchNode(b)
	fill(b, n, 2000, event.DecisionApprove)
	benchGet(b, n, "/api/events/ev/export/posts.csv")
}

// BenchmarkExportPostsJSON exports the same posts as JSON.
func BenchmarkExportPostsJSON(b *testing.B) {
	n := benchNode(b)
	fill(b, n, 2000, event.DecisionApprove)
	benchGet(b, n, "/api/events/ev/export/posts.json")
}
