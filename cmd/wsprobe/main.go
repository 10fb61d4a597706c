// Command wsprobe is a second, independent load client for backchannel's
// public websocket: its own module, another websocket library
// (github.com/coder/websocket), JSON decoding with checks, and its
// own way of knowing posts (a marker in each post's text, found in the
// HTML the wall receives), so that none of cmd/loadgen's shortcuts (the
// frame scanner, the post ids) is in what it measures.
//
//	wsprobe -ws ws://127.0.0.1:28089/ws -publish http://127.0.0.1:28089/publish \
//	        -conns 10000 -rate 10 -duration 20s -pid $(pidof loadgen)
//
// Every frame that starts a stream and one in 32 besides are decoded whole
// and checked against what the fast path finds (the markers in the raw
// frame, the last position). It opens -conns connections, publishes -rate posts/s of -size bytes by
// POST {"uri","text"} to -publish (cmd/loadgen serve's /publish, or
// cmd/loadgen relay's, which appends to a Redis log for a backchannel
// --role fanout node), and reports, over every (post, connection) pair,
// the time from the publish call to the frame's arrival (p50, p99, max),
// delivered, lost and duplicated pairs, bytes on the wire per delivered
// post and, with -pid, the server's CPU per delivery and RSS per
// connection. Loopback only; bounded in count and time.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

type msg struct {
	Type string `json:"type"`
	Pos  uint64 `json:"pos"`
	Wall *struct {
		Posts  []post `json:"posts"`
		Upsert []post `json:"upsert"`
	} `json:"wall"`
}

type post struct {
	ID string `json:"id"`
	// HTML is kept raw (still JSON-escaped): the marker has no character
	// JSON escapes, and not unescaping 600 bytes per post per connection
	// keeps the probe's own core from being what is measured.
	HTML json.RawMessage `json:"html"`
}

// result is one connection's figures: no lock between connections.
type result struct {
	lat       []time.Duration
	delivered atomic.Int64 // read by the drain loop
	dups      int64
	bytes     int64 // wire bytes of event frames that carried posts
}

func main() {
	wsURL := flag.String("ws", "ws://127.0.0.1:28089/ws", "public websocket URL (loopback)")
	pubURL := flag.String("publish", "http://127.0.0.1:28089/publish", "POST {uri,text} here to publish a post (loopback)")
	conns := flag.Int("conns", 1000, "connections (at most 60000)")
	rate := flag.Float64("rate", 10, "posts per second (at most 1000)")
	dur := flag.Duration("duration", 20*time.Second, "publishing time (at most 5m)")
	drain := flag.Duration("drain", 10*time.Second, "longest wait for deliveries after publishing")
	size := flag.Int("size", 600, "bytes of text per post")
	sources := flag.Int("sources", 1, "loopback source addresses 127.0.0.1..N")
	pid := flag.Int("pid", 0, "the server's pid, for its CPU and RSS")
	prof := flag.String("cpuprofile", "", "write wsprobe's own CPU profile here")
	flag.Parse()
	if *prof != "" {
		f, err := os.Create(*prof)
		if err == nil && pprof.StartCPUProfile(f) == nil {
			defer pprof.StopCPUProfile()
		}
	}
	if err := run(*wsURL, *pubURL, *conns, *rate, *dur, *drain, *size, *sources, *pid); err != nil {
		pprof.StopCPUProfile()
		fmt.Fprintln(os.Stderr, "wsprobe:", err)
		os.Exit(1)
	}
}

func loopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%s: loopback only", raw)
	}
	return nil
}

func run(wsURL, pubURL string, conns int, rate float64, dur, drain time.Duration, size, sources, pid int) error {
	if conns < 1 || conns > 60000 || rate <= 0 || rate > 1000 || dur <= 0 || dur > 5*time.Minute || sources < 1 || sources > 250 {
		return errors.New("bounds: 1 <= conns <= 60000, 0 < rate <= 1000, 0 < duration <= 5m, 1 <= sources <= 250")
	}
	for _, u := range []string{wsURL, pubURL} {
		if err := loopback(u); err != nil {
			return err
		}
	}
	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	total := int(rate*dur.Seconds()) + 1
	marker := "wsprobe-" + runID + "-"
	sent := make([]atomic.Int64, total)
	results := make([]*result, conns)
	seen := make([][]bool, conns)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	clients := make([]*http.Client, sources)
	for i := range clients {
		d := &net.Dialer{Timeout: 30 * time.Second}
		if sources > 1 {
			// Binding the source address picks the port before the
			// destination is known, which sockets in TIME_WAIT from an
			// earlier run can exhaust: only when spreading over addresses.
			d.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
		clients[i] = &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: -1}}
	}
	rss0 := rss(pid)
	ready := make(chan error, conns)
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for i := range conns {
		seen[i] = make([]bool, total)
		results[i] = &result{}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			reader(ctx, clients[i%sources], wsURL, marker, sent, seen[i], results[i], func(err error) { <-sem; ready <- err })
		}()
	}
	for range conns {
		if err := <-ready; err != nil {
			return fmt.Errorf("opening the connections: %w", err)
		}
	}
	time.Sleep(3 * time.Second) // a settling pause before reading idle RSS, not synchronisation
	rssIdle := rss(pid)
	fmt.Printf("%d connections open; server RSS %.1f KiB per connection\n", conns, float64(rssIdle-rss0)/float64(conns))

	delivered := func() int64 {
		var n int64
		for _, r := range results {
			n += r.delivered.Load()
		}
		return n
	}
	cpu0, self0 := cpu(pid), cpu(os.Getpid())
	t0 := time.Now()
	published := publish(ctx, pubURL, marker, size, rate, total, sent)
	pubDur := time.Since(t0)
	cpu1, self1 := cpu(pid), cpu(os.Getpid())
	delivered0 := delivered()
	want := int64(0)
	for _, ok := range published {
		if ok {
			want++
		}
	}
	deadline := time.Now().Add(drain)
	for time.Now().Before(deadline) {
		if delivered() >= want*int64(conns) {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling a counter against a deadline
	}
	cancel()
	wg.Wait()

	var lost int64
	for i := range seen {
		for seq, ok := range published {
			if ok && !seen[i][seq] {
				lost++
			}
		}
	}
	res := &result{}
	for _, r := range results {
		res.lat = append(res.lat, r.lat...)
		res.delivered.Add(r.delivered.Load())
		res.dups += r.dups
		res.bytes += r.bytes
	}
	slices.Sort(res.lat)
	q := func(f float64) time.Duration {
		if len(res.lat) == 0 {
			return 0
		}
		return res.lat[min(len(res.lat)-1, int(f*float64(len(res.lat))))].Round(100 * time.Microsecond)
	}
	fmt.Printf("published %d posts of %d bytes in %v; delivered %d of %d pairs, lost %d, duplicated %d\n",
		want, size, pubDur.Round(time.Millisecond), res.delivered.Load(), want*int64(conns), lost, res.dups)
	fmt.Printf("latency publish->receive: p50 %v p99 %v max %v\n", q(0.5), q(0.99), q(1))
	if d := res.delivered.Load(); d > 0 {
		fmt.Printf("bytes on the wire per delivered post %.0f\n", float64(res.bytes)/float64(d))
	}
	fmt.Printf("wsprobe's own CPU %.0f%% of one core while publishing\n", float64(self1-self0)/100/pubDur.Seconds()*100)
	if pid != 0 && delivered0 > 0 {
		fmt.Printf("server CPU %.0f%% of one core, %.2f µs per delivery\n",
			float64(cpu1-cpu0)/100/pubDur.Seconds()*100, float64(cpu1-cpu0)/100/float64(delivered0)*1e6)
	}
	if lost > 0 || res.dups > 0 {
		return fmt.Errorf("%d lost, %d duplicated", lost, res.dups)
	}
	return nil
}

// reader keeps one connection, resuming with since/epoch after a drop.
func reader(ctx context.Context, hc *http.Client, wsURL, marker string, sent []atomic.Int64, seen []bool, res *result, opened func(error)) {
	var pos uint64
	var epoch string
	first := true
	frames := 0
	for attempt := 0; ctx.Err() == nil && attempt < 50; attempt++ {
		u := wsURL
		if epoch != "" {
			u += "?since=" + strconv.FormatUint(pos, 10) + "&epoch=" + epoch
		}
		c, _, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPClient: hc})
		if err != nil {
			if first {
				opened(err)
				return
			}
			time.Sleep(time.Duration(100*(attempt+1)) * time.Millisecond) // reconnect backoff
			continue
		}
		c.SetReadLimit(64 << 20)
		// Reads take a context that never ends, and the run's end closes
		// the connection: a read with a cancellable context registers and
		// drops a callback on it, under its lock, and 10,000 connections
		// share the run's context.
		stop := context.AfterFunc(ctx, func() { c.CloseNow() })
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				break
			}
			now := time.Now()
			frames++
			// The whole frame is decoded when it starts a stream (snapshot,
			// resume: it carries the epoch) and one frame in 32 besides, to
			// check it is well-formed JSON whose posts are the ones the
			// fast path finds; the fast path finds the markers in the raw
			// frame and the last position in it. A full decode of every
			// frame is most of a core at 100,000 posts/s.
			var seqs []int
			if bytes.Contains(data, []byte(`"epoch"`)) || frames%32 == 0 {
				var ms []struct {
					msg
					Epoch string `json:"epoch"`
				}
				if err := json.Unmarshal(data, &ms); err != nil {
					fmt.Fprintln(os.Stderr, "wsprobe: a frame that is not a JSON array:", err)
					break
				}
				for _, m := range ms {
					if m.Epoch != "" {
						epoch = m.Epoch
					}
					if m.Pos > pos || m.Type == "snapshot" {
						pos = m.Pos
					}
					if m.Wall == nil {
						continue
					}
					for _, p := range append(m.Wall.Posts, m.Wall.Upsert...) {
						if seq, ok := markerSeq(p.HTML, marker); ok {
							seqs = append(seqs, seq)
						}
					}
				}
				if fast := markerSeqs(data, marker); !slices.Equal(fast, seqs) {
					fmt.Fprintf(os.Stderr, "wsprobe: the decoded posts %v differ from the markers found %v\n", seqs, fast)
					os.Exit(1)
				}
			} else {
				seqs = markerSeqs(data, marker)
				if i := bytes.LastIndex(data, []byte(`{"type":"`)); i >= 0 {
					if j := bytes.Index(data[i:], []byte(`"pos":`)); j >= 0 {
						if n, ok := digits(data[i+j+6:]); ok && uint64(n) > pos {
							pos = uint64(n)
						}
					}
				}
			}
			carried := false
			for _, seq := range seqs {
				if seq >= len(seen) {
					continue
				}
				if seen[seq] {
					res.dups++
				} else {
					seen[seq] = true
					res.delivered.Add(1)
					if t := sent[seq].Load(); t != 0 {
						res.lat = append(res.lat, now.Sub(time.Unix(0, t)))
					}
				}
				carried = true
			}
			if carried {
				res.bytes += int64(wire(len(data)))
			}
			if first {
				first = false
				opened(nil)
			}
		}
		stop()
		c.CloseNow()
		if first {
			opened(errors.New("closed before the first frame"))
			return
		}
	}
}

func wire(n int) int {
	switch {
	case n < 126:
		return n + 2
	case n <= 0xffff:
		return n + 4
	}
	return n + 10
}

func markerSeq(html []byte, marker string) (int, bool) {
	i := bytes.Index(html, []byte(marker))
	if i < 0 {
		return 0, false
	}
	return digits(html[i+len(marker):])
}

// markerSeqs are the seqs of the markers in a raw frame, in order.
func markerSeqs(frame []byte, marker string) []int {
	var out []int
	for rest := frame; ; {
		i := bytes.Index(rest, []byte(marker))
		if i < 0 {
			return out
		}
		rest = rest[i+len(marker):]
		if n, ok := digits(rest); ok {
			out = append(out, n)
		}
	}
}

func digits(b []byte) (int, bool) {
	j := 0
	for j < len(b) && b[j] >= '0' && b[j] <= '9' {
		j++
	}
	n, err := strconv.Atoi(string(b[:j]))
	return n, err == nil
}

// publish posts on a fixed schedule (32 at a time at most), so a slow
// server shows as latency, not as a lower rate.
func publish(ctx context.Context, pubURL, marker string, size int, rate float64, total int, sent []atomic.Int64) []bool {
	ok := make([]bool, total)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	jobs := make(chan int, 1024)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range jobs {
				text := marker + strconv.Itoa(seq) + " "
				text += strings.Repeat("Voices from outside the room. ", size/30+1)[:max(0, size-len(text))]
				body, _ := json.Marshal(map[string]string{"uri": "urn:wsprobe:" + marker + strconv.Itoa(seq), "text": text})
				sent[seq].Store(time.Now().UnixNano())
				resp, err := hc.Post(pubURL, "application/json", bytes.NewReader(body))
				good := err == nil && resp.StatusCode == http.StatusOK
				if resp != nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				ok[seq] = good
				mu.Unlock()
			}
		}()
	}
	start := time.Now()
	for seq := 0; seq < total && ctx.Err() == nil; seq++ {
		time.Sleep(time.Until(start.Add(time.Duration(float64(seq) / rate * float64(time.Second))))) // the schedule
		jobs <- seq
	}
	close(jobs)
	wg.Wait()
	return ok
}

func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// cpu is the process's user+system time in clock ticks (USER_HZ, 100).
func cpu(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}
