package wall_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/internal/ratelimit"
	"github.com/backchannel/backchannel/wall"
)

// TestVoteBurstLoad is the votes' load run (docs/BENCHMARKS.md): 1,000
// votes a second through the real vote handler over loopback HTTP, the
// disklog log, the fold and the fan-out hub, for BC_VOTE_LOAD_SECONDS
// (default 60), while a moderator approves two posts a second; it measures
// how long an approval takes to reach a public socket, without votes
// first and then during the burst. It runs only with BC_VOTE_LOAD=1.
func TestVoteBurstLoad(t *testing.T) {
	if os.Getenv("BC_VOTE_LOAD") != "1" {
		t.Skip("a minute-long load run: set BC_VOTE_LOAD=1")
	}
	seconds := 60
	if v, err := strconv.Atoi(os.Getenv("BC_VOTE_LOAD_SECONDS")); err == nil && v > 0 {
		seconds = v
	}
	const rate, questions = 1000, 20
	n, _ := startVoteNode(t, wall.VoteLimits{
		PerDevice:  ratelimit.Rate{Burst: 1000, Every: time.Millisecond},
		PerAddress: ratelimit.Rate{Burst: 1 << 20, Every: time.Microsecond},
	})
	qids := make([]string, questions)
	for i := range qids {
		var r wall.ActionResult
		n.call(t, "POST", "/api/events/ev/questions", facCred, map[string]string{"text": fmt.Sprintf("Question %d?", i)}, 200, &r)
		qids[i] = r.Question.ID
	}
	// Devices enough for every vote: each votes once for each question.
	devices := make([]cred, rate*seconds/questions+1)
	for i := range devices {
		devices[i] = deviceOf(t, n)
	}

	// The public socket, as a wall: when did each approved post arrive?
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(n.http.URL, "http")+"/api/events/ev/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	var mu sync.Mutex
	arrived := map[string]time.Time{}
	var frames, voteMsgs atomic.Int64
	go func() {
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			at := time.Now()
			frames.Add(1)
			var ms []struct {
				Wall *struct {
					Upsert []struct {
						ID string `json:"id"`
					} `json:"upsert"`
					Votes map[string]int `json:"votes"`
				} `json:"wall"`
			}
			if json.Unmarshal(data, &ms) != nil {
				continue
			}
			mu.Lock()
			for _, m := range ms {
				if m.Wall == nil {
					continue
				}
				if m.Wall.Votes != nil {
					voteMsgs.Add(1)
				}
				for _, p := range m.Wall.Upsert {
					if _, ok := arrived[p.ID]; !ok {
						arrived[p.ID] = at
					}
				}
			}
			mu.Unlock()
		}
	}()

	// approveFor approves two posts a second for d and returns the delays.
	seq := 0
	approveFor := func(d time.Duration) []time.Duration {
		var delays []time.Duration
		tick := time.NewTicker(500 * time.Millisecond)
		defer tick.Stop()
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			<-tick.C
			seq++
			ids := n.receive(t, textPost(fmt.Sprintf("https://mastodon.example/s/%d", seq), fmt.Sprintf("post %d", seq), "@ada@mastodon.example"))
			start := time.Now()
			n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/approve", modCred, nil, 200, nil)
			deadline := time.Now().Add(10 * time.Second)
			for {
				mu.Lock()
				at, ok := arrived[ids[0]]
				mu.Unlock()
				if ok {
					delays = append(delays, at.Sub(start))
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("approved post %d never reached the wall", seq)
				}
				time.Sleep(time.Millisecond) // polling the reader's map, not synchronising the server
			}
		}
		return delays
	}

	quiet := approveFor(15 * time.Second)

	// The burst: rate votes a second, paced, from 256 workers (phones in flight at once).
	var sent, ok, refused atomic.Int64
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds)*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	jobs := make(chan int, rate)
	// One client for every phone: the device is in the cookie; keep-alive
	// connections, as phones on a venue's Wi-Fi keep theirs.
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				d := devices[k/questions]
				req, _ := http.NewRequest("POST", n.http.URL+"/e/ev/questions/"+qids[k%questions]+"/vote", nil)
				req.AddCookie(d.cookie)
				req.Header.Set("Origin", n.http.URL)
				res, err := c.Do(req)
				sent.Add(1)
				if err != nil {
					refused.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body) // so the connection is kept
				res.Body.Close()
				if res.StatusCode == 200 {
					ok.Add(1)
				} else {
					refused.Add(1)
				}
			}
		}()
	}
	startBurst := time.Now()
	go func() {
		defer close(jobs)
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for k := 0; ; {
			// Catch up to rate×elapsed, a millisecond at a time.
			for k < int(time.Since(startBurst).Seconds()*rate) {
				if k >= rate*seconds {
					return // every device has voted for every question
				}
				select {
				case jobs <- k:
				case <-ctx.Done():
					return
				}
				k++
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	busy := approveFor(time.Duration(seconds) * time.Second)
	cancel()
	wg.Wait()
	took := time.Since(startBurst)

	pct := func(ds []time.Duration, p float64) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[min(len(s)-1, int(float64(len(s))*p))]
	}
	t.Logf("votes: %d sent in %v (%.0f/s), %d counted, %d refused; public frames %d, vote messages %d",
		sent.Load(), took.Round(time.Millisecond), float64(sent.Load())/took.Seconds(), ok.Load(), refused.Load(), frames.Load(), voteMsgs.Load())
	t.Logf("approval to public socket, no votes: n=%d p50=%v p99=%v max=%v", len(quiet), pct(quiet, 0.5), pct(quiet, 0.99), pct(quiet, 1))
	t.Logf("approval to public socket, during the burst: n=%d p50=%v p99=%v max=%v", len(busy), pct(busy, 0.5), pct(busy, 0.99), pct(busy, 1))
	if refused.Load() > 0 {
		t.Errorf("%d votes refused", refused.Load())
	}
	if got := float64(sent.Load()) / took.Seconds(); got < 0.95*rate {
		t.Errorf("the votes went in at %.0f/s, want %d/s", got, rate)
	}
	// Bounds loose enough for a shared 2-core machine; the figures, not
	// these bounds, go in docs/BENCHMARKS.md.
	if pct(busy, 0.5) > 250*time.Millisecond || pct(busy, 0.99) > 2*time.Second {
		t.Errorf("the burst delays the wall: p50 %v p99 %v", pct(busy, 0.5), pct(busy, 0.99))
	}
	var counted int
	n.live.View(func(s *fold.State) {
		for _, id := range qids {
			q, _ := s.Question(id)
			counted += q.Votes
		}
	})
	if int64(counted) != ok.Load() {
		t.Errorf("the fold counts %d votes, the handler took %d", counted, ok.Load())
	}
}
