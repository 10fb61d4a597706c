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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fanout"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/internal/netcount"
)

type runConfig struct {
	server   string
	conns    int
	rate     float64
	duration time.Duration
	drain    time.Duration
	size     int
	dialers  int
	sources  int
	// The real binary: its public socket, its pid, and the Redis log
	// loadgen appends to as an ingest process does.
	ws, redis, event string
	pid              int
	// deflate: offer permessage-deflate, as browsers do; corpus: the
	// posts' text comes from this file of Mastodon statuses.
	deflate bool
	corpus  string
	text    string // the corpus's text, read at start
}

// bucketNs is the latency histogram's resolution; maxBuckets covers 60s.
const (
	bucketNs   = int64(100 * time.Microsecond)
	maxBuckets = 600_000
)

// stats are shared by every connection; all atomics, no locks on the
// receive path.
type stats struct {
	hist       []atomic.Int64
	maxNs      atomic.Int64
	delivered  atomic.Int64 // first deliveries of a post to a connection
	dups       atomic.Int64
	frames     atomic.Int64
	postBytes  atomic.Int64 // wire bytes (header included) of frames that carried posts, as decoded
	sockBytes  atomic.Int64 // bytes read off every socket
	reconnects atomic.Int64
	slowCuts   atomic.Int64
	snapshots  atomic.Int64
	dialFails  atomic.Int64
}

func (s *stats) observe(d time.Duration) {
	ns := int64(d)
	b := ns / bucketNs
	if b >= maxBuckets {
		b = maxBuckets - 1
	}
	if b < 0 {
		b = 0
	}
	s.hist[b].Add(1)
	for {
		m := s.maxNs.Load()
		if ns <= m || s.maxNs.CompareAndSwap(m, ns) {
			return
		}
	}
}

func (s *stats) quantile(q float64) time.Duration {
	var total int64
	for i := range s.hist {
		total += s.hist[i].Load()
	}
	if total == 0 {
		return 0
	}
	want := int64(q*float64(total) + 0.5)
	if want < 1 {
		want = 1
	}
	var n int64
	for i := range s.hist {
		n += s.hist[i].Load()
		if n >= want {
			return time.Duration(int64(i+1) * bucketNs)
		}
	}
	return time.Duration(maxBuckets * bucketNs)
}

// lgConn is one simulated wall.
type lgConn struct {
	seen  []uint64 // bitset over post seqs
	mu    sync.Mutex
	pos   uint64
	epoch string
	gone  bool // gave up reconnecting
}

func (c *lgConn) mark(seq int) bool {
	w, b := seq/64, uint64(1)<<(seq%64)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.seen[w]&b != 0 {
		return false
	}
	c.seen[w] |= b
	return true
}

func (c *lgConn) has(seq int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[seq/64]&(uint64(1)<<(seq%64)) != 0
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func run(ctx context.Context, args []string, out io.Writer) error {
	var cfg runConfig
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.StringVar(&cfg.server, "server", "http://127.0.0.1:8089", "the loadgen server (loopback)")
	fs.IntVar(&cfg.conns, "conns", 1000, "public websocket connections (at most 60000)")
	fs.Float64Var(&cfg.rate, "rate", 100, "posts published per second")
	fs.DurationVar(&cfg.duration, "duration", 20*time.Second, "how long to publish (at most 5m)")
	fs.DurationVar(&cfg.drain, "drain", 10*time.Second, "how long to wait after publishing for deliveries")
	fs.IntVar(&cfg.size, "size", 600, "bytes of text per post")
	fs.IntVar(&cfg.dialers, "dialers", 64, "connections opened at once")
	fs.IntVar(&cfg.sources, "sources", 1, "loopback source addresses to connect from, 127.0.0.1 up (one has ~28,000 ephemeral ports)")
	fs.StringVar(&cfg.ws, "ws", "", "public websocket URL (default: the loadgen server's /ws); e.g. ws://127.0.0.1:8080/api/events/loadtest/ws for backchannel")
	fs.IntVar(&cfg.pid, "pid", 0, "the server's pid (default: asked on the server's /pid)")
	fs.StringVar(&cfg.redis, "redis", "", "append the posts to this Redis log through the ingest path instead of POST /publish (with -event)")
	fs.StringVar(&cfg.event, "event", "loadtest", "the event's slug, with -redis")
	fs.BoolVar(&cfg.deflate, "deflate", false, "offer permessage-deflate (compression), as browsers do")
	fs.StringVar(&cfg.corpus, "corpus", "", "take the posts' text from this JSON array of Mastodon statuses (e.g. cmd/loadgen/testdata/mastodon_public_timeline_2020_tootkit.json) instead of a repeated word")
	cpuProfile := fs.String("cpuprofile", "", "write loadgen's own CPU profile here")
	settle := fs.Duration("settle", 3*time.Second, "pause after connecting, before measuring idle RSS")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.conns < 1 || cfg.conns > 60000 || cfg.duration <= 0 || cfg.duration > 5*time.Minute || cfg.rate <= 0 || cfg.rate > 10000 || cfg.sources < 1 || cfg.sources > 250 {
		return errors.New("bounds: 1 <= conns <= 60000, 0 < duration <= 5m, 0 < rate <= 10000, 1 <= sources <= 250")
	}
	if cfg.corpus != "" {
		var err error
		if cfg.text, err = loadCorpus(cfg.corpus); err != nil {
			return err
		}
	}
	su, err := url.Parse(cfg.server)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(su.Hostname()); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-server %s: loopback only", cfg.server)
	}
	if err := raiseNoFile(); err != nil {
		return err
	}
	wsURL := "ws://" + su.Host + "/ws"
	if cfg.ws != "" {
		wu, err := url.Parse(cfg.ws)
		if err != nil {
			return err
		}
		if ip := net.ParseIP(wu.Hostname()); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("-ws %s: loopback only", cfg.ws)
		}
		wsURL = cfg.ws
	}
	pid := cfg.pid
	if pid == 0 {
		if pid, err = serverPID(cfg.server); err != nil {
			return fmt.Errorf("asking the server's pid: %w", err)
		}
	}
	var sink *ingest.LogSink
	if cfg.redis != "" {
		ru, err := url.Parse(cfg.redis)
		if err != nil {
			return err
		}
		if ip := net.ParseIP(ru.Hostname()); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("-redis %s: loopback only", cfg.redis)
		}
		s, closeSink, err := redisSink(ctx, cfg.redis, cfg.event)
		if err != nil {
			return err
		}
		defer closeSink()
		sink = s
	}

	runID := strconv.FormatInt(time.Now().UnixNano(), 36)
	total := int(cfg.rate*cfg.duration.Seconds()) + 1
	ids := make(map[string]int, total)
	for seq := range total {
		ids[event.PostID(postURI(runID, seq))] = seq
	}
	pubTimes := make([]atomic.Int64, total)
	st := &stats{hist: make([]atomic.Int64, maxBuckets)}

	rssBase := readRSS(pid)
	fmt.Fprintf(out, "server pid %d, RSS before connecting %d KiB\n", pid, rssBase)

	// Connect.
	runCtx, cancelRun := context.WithCancel(ctx)
	defer cancelRun()
	conns := make([]*lgConn, cfg.conns)
	dialers := make([]*websocket.Dialer, cfg.sources)
	for i := range dialers {
		nd := &net.Dialer{Timeout: 30 * time.Second}
		if cfg.sources > 1 {
			// Binding the source address picks the port before the
			// destination is known, which sockets in TIME_WAIT from an
			// earlier run can exhaust: only when spreading over addresses.
			nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
		dialers[i] = &websocket.Dialer{ReadBufferSize: 4096, WriteBufferSize: 512, HandshakeTimeout: 30 * time.Second,
			EnableCompression: cfg.deflate,
			NetDialContext:    netcount.Dial(nd.DialContext, &st.sockBytes)}
	}
	var wg sync.WaitGroup
	ready := make(chan error, cfg.conns)
	sem := make(chan struct{}, cfg.dialers)
	t0 := time.Now()
	for i := range conns {
		c := &lgConn{seen: make([]uint64, (total+63)/64)}
		conns[i] = c
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.loop(runCtx, dialers[i%len(dialers)], wsURL, ids, pubTimes, st, func(err error) { <-sem; ready <- err })
		}()
	}
	var failed int
	for range conns {
		if err := <-ready; err != nil {
			failed++
			if failed == 1 {
				fmt.Fprintf(out, "first dial failure: %v\n", err)
			}
		}
	}
	connectTime := time.Since(t0)
	if failed > 0 {
		return fmt.Errorf("%d of %d connections failed to open", failed, cfg.conns)
	}
	// Let the server settle (stacks shrink, buffers return) before
	// measuring what an idle connection costs.
	time.Sleep(*settle) // a settling pause, not synchronisation
	rssIdle := readRSS(pid)
	perConn := float64(rssIdle-rssBase) / float64(cfg.conns)
	fmt.Fprintf(out, "%d connections open in %v; server RSS %d KiB idle: %.1f KiB per connection\n",
		cfg.conns, connectTime.Round(time.Millisecond), rssIdle, perConn)

	// Publish.
	cpu0, _ := readCPU(pid)
	var self0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self0)
	pubStart := time.Now()
	sock0 := st.sockBytes.Load()
	rtt := &stats{hist: make([]atomic.Int64, maxBuckets)}
	published, pubErrs, lagging := publish(runCtx, cfg, su, sink, runID, pubTimes, total, rtt)
	pubDur := time.Since(pubStart)
	cpu1, _ := readCPU(pid)
	var self1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &self1)
	rssLoad := readRSS(pid)
	deliveredDuring := st.delivered.Load()

	// Drain: wait until every connection has every published post, or the deadline.
	want := int64(0)
	for i := range published {
		if published[i] {
			want++
		}
	}
	deadline := time.Now().Add(cfg.drain)
	for time.Now().Before(deadline) && st.delivered.Load() < want*int64(cfg.conns) {
		time.Sleep(50 * time.Millisecond) // polling a counter against a deadline
	}
	sockBytes := st.sockBytes.Load() - sock0
	cancelRun()
	wg.Wait()

	var lost int64
	connsWithLoss := 0
	var lostSeqs []int // the first connection with a loss: which posts
	for _, c := range conns {
		l := int64(0)
		for seq := range published {
			if published[seq] && !c.has(seq) {
				l++
				if connsWithLoss == 0 && len(lostSeqs) < 10 {
					lostSeqs = append(lostSeqs, seq)
				}
			}
		}
		if l > 0 {
			connsWithLoss++
		}
		lost += l
	}
	ticks := float64(100) // USER_HZ
	serverCPU := float64(cpu1-cpu0) / ticks / pubDur.Seconds() * 100
	selfCPU := (tv(self1.Utime) + tv(self1.Stime) - tv(self0.Utime) - tv(self0.Stime)).Seconds() / pubDur.Seconds() * 100

	fmt.Fprintf(out, "published %d posts of %d bytes in %v (%d errors, %d ticks the publisher lagged)\n",
		want, cfg.size, pubDur.Round(time.Millisecond), pubErrs, lagging)
	fmt.Fprintf(out, "delivered %d post-messages: %.0f/s during publishing; %d frames\n",
		st.delivered.Load(), float64(deliveredDuring)/pubDur.Seconds(), st.frames.Load())
	bytesPerPost := 0.0
	if d := st.delivered.Load(); d > 0 {
		bytesPerPost = float64(st.postBytes.Load()) / float64(d)
	}
	fmt.Fprintf(out, "bytes per delivered post in the frames as decoded %.0f (websocket header included; %.2f × the post's %d-byte body)\n",
		bytesPerPost, bytesPerPost/float64(cfg.size), cfg.size)
	sockPerPost := 0.0
	if d := st.delivered.Load(); d > 0 {
		sockPerPost = float64(sockBytes) / float64(d)
	}
	fmt.Fprintf(out, "bytes read off the sockets per delivered post %.0f (%.2f × the body; compression %v; everything read from the first publish to the end of the drain)\n",
		sockPerPost, sockPerPost/float64(cfg.size), cfg.deflate)
	fmt.Fprintf(out, "latency publish->receive: p50 %v p99 %v max %v (of which the publish call, append included: p50 %v p99 %v max %v)\n",
		st.quantile(0.50), st.quantile(0.99), time.Duration(st.maxNs.Load()).Round(100*time.Microsecond),
		rtt.quantile(0.50), rtt.quantile(0.99), time.Duration(rtt.maxNs.Load()).Round(100*time.Microsecond))
	fmt.Fprintf(out, "lost %d (on %d connections), duplicated %d; reconnects %d (slow cut-offs %d), snapshots after reconnect %d\n",
		lost, connsWithLoss, st.dups.Load(), st.reconnects.Load(), st.slowCuts.Load(), st.snapshots.Load())
	if len(lostSeqs) > 0 {
		fmt.Fprintf(out, "posts lost on the first connection that lost any (at most 10): %v\n", lostSeqs)
	}
	// CPU per delivered message is the figure to compare builds by on a
	// shared machine: latency moves with what other jobs take, this less.
	cpuPerMsg := 0.0
	if deliveredDuring > 0 {
		cpuPerMsg = float64(cpu1-cpu0) / ticks / float64(deliveredDuring) * 1e6
	}
	fmt.Fprintf(out, "server RSS under load %d KiB; server CPU %.0f%%, loadgen CPU %.0f%% (of one core); server CPU per delivered message %.2f µs\n", rssLoad, serverCPU, selfCPU, cpuPerMsg)
	res := map[string]any{
		"conns": cfg.conns, "rate": cfg.rate, "duration_s": cfg.duration.Seconds(), "size": cfg.size,
		"published": want, "delivered": st.delivered.Load(), "delivered_per_s": float64(deliveredDuring) / pubDur.Seconds(),
		"p50_ms": ms(st.quantile(0.5)), "p99_ms": ms(st.quantile(0.99)), "max_ms": ms(time.Duration(st.maxNs.Load())),
		"publish_p99_ms": ms(rtt.quantile(0.99)), "bytes_per_post": bytesPerPost, "socket_bytes_per_post": sockPerPost, "deflate": cfg.deflate,
		"lost": lost, "duplicated": st.dups.Load(), "reconnects": st.reconnects.Load(), "slow_cutoffs": st.slowCuts.Load(),
		"rss_idle_kib_per_conn": perConn, "server_cpu_pct": serverCPU, "server_cpu_us_per_msg": cpuPerMsg, "loadgen_cpu_pct": selfCPU,
	}
	b, _ := json.Marshal(res)
	fmt.Fprintf(out, "RESULT %s\n", b)
	if lost > 0 || st.dups.Load() > 0 {
		return fmt.Errorf("%d lost, %d duplicated", lost, st.dups.Load())
	}
	return nil
}

// postURI is the URI of post seq of a run; its id is event.PostID of it.
func postURI(runID string, seq int) string {
	return "urn:loadgen:" + runID + ":" + strconv.Itoa(seq)
}

// wireSize is the size on the wire of a server's (unmasked) websocket
// frame with n bytes of payload.
func wireSize(n int) int {
	switch {
	case n < 126:
		return n + 2
	case n <= 0xffff:
		return n + 4
	}
	return n + 10
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func tv(t syscall.Timeval) time.Duration {
	return time.Duration(t.Sec)*time.Second + time.Duration(t.Usec)*time.Microsecond
}

// loop keeps one connection open until ctx ends, reconnecting with its
// last position after any close (a slow cut-off included), and records
// every post it receives. opened is called once, after the first frame.
func (c *lgConn) loop(ctx context.Context, d *websocket.Dialer, wsURL string, ids map[string]int, pubTimes []atomic.Int64, st *stats, opened func(error)) {
	first := true
	var fi frameInfo
	for attempt := 0; ctx.Err() == nil; attempt++ {
		u := wsURL
		if c.epoch != "" {
			u += "?since=" + strconv.FormatUint(c.pos, 10) + "&epoch=" + c.epoch
		}
		ws, _, err := d.DialContext(ctx, u, nil)
		if err != nil {
			st.dialFails.Add(1)
			if first {
				opened(err)
				return
			}
			if attempt > 50 {
				c.gone = true
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Duration(100+attempt*100) * time.Millisecond):
			}
			continue
		}
		stop := context.AfterFunc(ctx, func() { ws.Close() })
		for {
			_, r, err := ws.NextReader()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) && ce.Code == fanout.CloseSlow {
					st.slowCuts.Add(1)
				}
				break
			}
			buf := bufPool.Get().(*bytes.Buffer)
			buf.Reset()
			_, err = buf.ReadFrom(r)
			now := time.Now()
			if err != nil {
				bufPool.Put(buf)
				break
			}
			scanFrame(buf.Bytes(), ids, &fi)
			if fi.lastType == "event" && len(fi.seqs) > 0 {
				st.postBytes.Add(int64(wireSize(buf.Len())))
			}
			bufPool.Put(buf)
			st.frames.Add(1)
			if fi.epoch != "" {
				c.epoch = fi.epoch
			}
			if fi.lastType == "snapshot" && !first {
				st.snapshots.Add(1)
			}
			if fi.lastPos > c.pos || fi.lastType == "snapshot" {
				c.pos = fi.lastPos
			}
			for _, seq := range fi.seqs {
				if seq < 0 || seq >= len(pubTimes) {
					continue
				}
				if c.mark(seq) {
					st.delivered.Add(1)
					if t := pubTimes[seq].Load(); t != 0 {
						st.observe(now.Sub(time.Unix(0, t)))
					}
				} else {
					st.dups.Add(1)
				}
			}
			if first {
				first = false
				opened(nil)
			}
		}
		stop()
		ws.Close()
		if first {
			opened(errors.New("closed before the first frame"))
			return
		}
		if ctx.Err() != nil {
			return
		}
		st.reconnects.Add(1)
	}
}

// publish posts at cfg.rate for cfg.duration and reports which seqs the
// server acknowledged.
// With sink set, each post is appended through it instead of POST /publish.
func publish(ctx context.Context, cfg runConfig, su *url.URL, sink *ingest.LogSink, runID string, pubTimes []atomic.Int64, total int, rtt *stats) (published []bool, errs, lagging int) {
	published = make([]bool, total)
	texts := make([]string, total)
	for seq := range texts {
		texts[seq] = postText(cfg.text, seq, cfg.size)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	jobs := make(chan int, 256)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range jobs {
				var ok bool
				text := texts[seq]
				sent := time.Now()
				pubTimes[seq].Store(sent.UnixNano())
				if sink != nil {
					_, err := sink.Post(ctx, loadPost(postURI(runID, seq), text, sent))
					rtt.observe(time.Since(sent))
					ok = err == nil
				} else {
					body, _ := json.Marshal(publishReq{URI: postURI(runID, seq), Text: text})
					resp, err := client.Post(su.String()+"/publish", "application/json", bytes.NewReader(body))
					rtt.observe(time.Since(sent))
					ok = err == nil && resp.StatusCode == http.StatusOK
					if resp != nil {
						_, _ = io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
					}
				}
				mu.Lock()
				if ok {
					published[seq] = true
				} else {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	interval := time.Duration(float64(time.Second) / cfg.rate)
	start := time.Now()
	for seq := 0; seq < total; seq++ {
		// Publish on a schedule, not after the previous answer, so a slow
		// server shows up as latency rather than as a lower rate.
		due := start.Add(time.Duration(seq) * interval)
		if d := time.Until(due); d > 0 {
			select {
			case <-ctx.Done():
				seq = total
				continue
			case <-time.After(d):
			}
		}
		select {
		case jobs <- seq:
		default:
			lagging++
			jobs <- seq
		}
	}
	close(jobs)
	wg.Wait()
	return published, errs, lagging
}

func serverPID(server string) (int, error) {
	resp, err := http.Get(server + "/pid")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// readRSS returns the process's VmRSS in KiB, 0 if unknown.
func readRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// readCPU returns the process's user+system time in clock ticks.
func readCPU(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+2:])
	// Fields after the command: state is f[0]; utime and stime are fields 14 and 15 of the line.
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st, nil
}
