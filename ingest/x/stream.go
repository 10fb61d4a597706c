package x

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Reconnect schedule (x-api.md, "Consuming the stream"): the first retry
// at once, then network errors back off linearly, HTTP errors and 429s
// exponentially.
const (
	DefaultNetworkStep  = 250 * time.Millisecond
	DefaultNetworkMax   = 16 * time.Second
	DefaultHTTPMin      = 5 * time.Second
	DefaultHTTPMax      = 320 * time.Second
	DefaultRateMin      = time.Minute
	DefaultRateMax      = 16 * time.Minute
	DefaultStallTimeout = 30 * time.Second
)

// HubConfig configures the one stream connection of a process.
type HubConfig struct {
	Client *Client
	// StallTimeout: a connection silent this long (X sends a keep-alive at
	// least every 20 s) is taken as stalled and reconnected. Zero means
	// DefaultStallTimeout (30 s: an exact 20 s deadline misfires).
	StallTimeout time.Duration
	// The reconnect schedule; zeros mean the Default values above.
	NetworkStep, NetworkMax time.Duration
	HTTPMin, HTTPMax        time.Duration
	RateMin, RateMax        time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Hub is the process's one connection to X's filtered stream, shared by
// every event: X allows one connection per app. Each event's Source
// registers its rule (tagged "event:<slug>") while it runs; the Hub keeps
// X's rules equal to the registered ones and hands every post to the
// sources its matching rules' tags name. Sources run only in the process
// holding the deployment's "source:x" lease (SharedSource), so only that
// process's Hub has registrations and connects; a Hub with none holds no
// connection. Create it with NewHub; safe for concurrent use.
type Hub struct {
	cfg HubConfig
	log *slog.Logger
	m   *metrics

	// life serialises starting and stopping the connection, so a
	// registration that comes while the last connection is closing waits
	// for it to close: never two connections, even for a moment.
	life      sync.Mutex
	mu        sync.Mutex
	regs      map[string]*registration // by tag
	cancel    context.CancelFunc
	done      chan struct{}
	changed   chan struct{} // the registered rules changed
	connected bool
	// unavailable is set when X refuses the stream to this app (403: the
	// plan has no filtered stream); the sources then poll search instead.
	unavailable bool
}

// registration is one event's source as the Hub knows it.
type registration struct {
	tag, rule string
	// deliver hands a stream line that matched the rule to the source.
	deliver func(ctx context.Context, pg *page)
	// state tells the source how the stream is: connected or not, and the
	// error in words ("" when none); ruleErr is X's refusal of its rule.
	state   func(connected bool, err error, retryAt time.Time)
	ruleErr func(msg string)
	// connected is signalled at every (re)connection: the source searches
	// for what the gap missed.
	connected chan struct{}
}

// NewHub returns the Hub; it connects only once a source registers.
func NewHub(cfg HubConfig) *Hub {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.StallTimeout, DefaultStallTimeout)
	def(&cfg.NetworkStep, DefaultNetworkStep)
	def(&cfg.NetworkMax, DefaultNetworkMax)
	def(&cfg.HTTPMin, DefaultHTTPMin)
	def(&cfg.HTTPMax, DefaultHTTPMax)
	def(&cfg.RateMin, DefaultRateMin)
	def(&cfg.RateMax, DefaultRateMax)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Hub{cfg: cfg, log: cfg.Logger.With(slog.String("source", "x:stream")), m: newMetrics(),
		regs: map[string]*registration{}, changed: make(chan struct{}, 1)}
}

// Connected reports whether the stream is connected now.
func (h *Hub) Connected() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.connected
}

// Unavailable reports that X refused this app the stream (its plan has
// none): sources poll search instead.
func (h *Hub) Unavailable() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.unavailable
}

func (h *Hub) poke() {
	select {
	case h.changed <- struct{}{}:
	default:
	}
}

// register adds an event's rule; the first registration starts the
// connection.
func (h *Hub) register(r *registration) {
	h.life.Lock()
	defer h.life.Unlock()
	h.mu.Lock()
	h.regs[r.tag] = r
	if h.cancel == nil {
		ctx, cancel := context.WithCancel(context.Background())
		h.cancel, h.done = cancel, make(chan struct{})
		done := h.done
		go func() {
			defer close(done)
			h.run(ctx)
		}()
	}
	h.mu.Unlock()
	h.poke()
}

// unregister removes an event's rule; the last one closes the connection,
// and unregister returns only once it is closed, so a process that loses
// the lease holds no connection when its sources have returned.
func (h *Hub) unregister(r *registration) {
	h.life.Lock()
	defer h.life.Unlock()
	h.mu.Lock()
	if h.regs[r.tag] == r {
		delete(h.regs, r.tag)
	}
	var done chan struct{}
	if len(h.regs) == 0 && h.cancel != nil {
		h.cancel()
		done = h.done
		h.cancel, h.done = nil, nil
	}
	h.mu.Unlock()
	if done != nil {
		<-done
		return
	}
	h.poke()
}

func (h *Hub) snapshot() map[string]*registration {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := make(map[string]*registration, len(h.regs))
	for k, v := range h.regs {
		m[k] = v
	}
	return m
}

func (h *Hub) tell(connected bool, err error, retryAt time.Time) {
	h.mu.Lock()
	h.connected = connected
	h.mu.Unlock()
	v := 0.0
	if connected {
		v = 1
	}
	h.m.streamConnected.Set(v)
	for _, r := range h.snapshot() {
		r.state(connected, err, retryAt)
	}
}

// ruleTagPrefix marks the rules this program manages; others are left alone.
const ruleTagPrefix = "event:"

// reconcile makes X's rules the registered ones: rules of ours no longer
// wanted (or changed) are deleted; missing ones validated with dry_run,
// and the valid added. A refused rule is reported to its event's source in
// X's words. It returns how many of our rules are in force.
func (h *Hub) reconcile(ctx context.Context) (int, error) {
	c := h.cfg.Client
	want := map[string]*registration{}
	for tag, r := range h.snapshot() {
		want[tag] = r
	}
	have, err := c.rules(ctx)
	if err != nil {
		return 0, fmt.Errorf("read stream rules: %w", err)
	}
	var del []string
	inForce := 0
	present := map[string]bool{}
	for _, r := range have {
		w := want[r.Tag]
		switch {
		case !strings.HasPrefix(r.Tag, ruleTagPrefix):
			h.log.Warn("the app has a stream rule this program does not manage; its posts are paid for and dropped",
				slog.String("rule", r.Value), slog.String("tag", r.Tag))
		case w == nil || w.rule != r.Value || present[r.Tag]:
			del = append(del, r.ID)
		default:
			present[r.Tag] = true
			inForce++
		}
	}
	if len(del) > 0 {
		if err := c.deleteRules(ctx, del); err != nil {
			return 0, fmt.Errorf("delete stream rules: %w", err)
		}
		h.log.Info("stream rules deleted", slog.Int("rules", len(del)))
	}
	var add []Rule
	for tag, r := range want {
		if !present[tag] {
			add = append(add, Rule{Value: r.rule, Tag: tag})
		}
	}
	sort.Slice(add, func(i, j int) bool { return add[i].Tag < add[j].Tag })
	if len(add) > 0 {
		refused, err := c.addRules(ctx, add, true)
		if err != nil {
			return inForce, fmt.Errorf("validate stream rules: %w", err)
		}
		valid := add[:0]
		for _, r := range add {
			if msg, bad := refused[r.Value]; bad {
				h.m.ruleErrors.Inc()
				h.log.Error("X refused an event's stream rule", slog.String("tag", r.Tag), slog.String("rule", r.Value), slog.String("why", msg))
				want[r.Tag].ruleErr(fmt.Sprintf("X refused the stream rule %q: %s", r.Value, msg))
				continue
			}
			valid = append(valid, r)
		}
		if len(valid) > 0 {
			refused, err := c.addRules(ctx, valid, false)
			if err != nil {
				return inForce, fmt.Errorf("add stream rules: %w", err)
			}
			for _, r := range valid {
				if msg, bad := refused[r.Value]; bad {
					want[r.Tag].ruleErr(fmt.Sprintf("X refused the stream rule %q: %s", r.Value, msg))
					continue
				}
				want[r.Tag].ruleErr("")
				inForce++
			}
			h.log.Info("stream rules added", slog.Int("rules", len(valid)))
		}
	}
	h.m.rules.Set(float64(inForce))
	return inForce, nil
}

// streamEnd is why a connection ended, for the reconnect schedule.
type streamEnd int

const (
	endNetwork streamEnd = iota // a network error, a stall, a disconnect message
	endHTTP                     // X refused the connection
	endRate                     // 429
	endCapped                   // the usage cap: never again
	endNoRules                  // nothing to stream
)

// run keeps the connection while sources are registered.
func (h *Hub) run(ctx context.Context) {
	var netN, httpN, rateN int // attempts since the last good connection, per kind
	dirty := true              // rules to reconcile
	for ctx.Err() == nil {
		if e := h.cfg.Client.Capped(); e != nil {
			h.tell(false, fmt.Errorf("%w; not retrying: %w", errCappedWords, e), time.Time{})
			<-ctx.Done()
			return
		}
		if dirty {
			n, err := h.reconcile(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				kind, wait := h.classify(err, &netN, &httpN, &rateN)
				if kind == endCapped {
					continue
				}
				h.fail(ctx, err, wait)
				continue
			}
			dirty = false
			if n == 0 {
				h.tell(false, nil, time.Time{})
				select {
				case <-ctx.Done():
					return
				case <-h.changed:
					dirty = true
				}
				continue
			}
		}
		end, err, good := h.connect(ctx)
		if ctx.Err() != nil {
			return
		}
		if good {
			netN, httpN, rateN = 0, 0, 0
		}
		if end == endNoRules {
			dirty = true
			continue
		}
		var wait time.Duration
		switch end {
		case endCapped:
			continue
		case endNetwork:
			wait = min(time.Duration(netN)*h.cfg.NetworkStep, h.cfg.NetworkMax)
			netN++
		default:
			_, wait = h.classify(err, &netN, &httpN, &rateN)
		}
		if err == nil {
			err = errors.New("stream ended")
		}
		h.m.reconnects.WithLabelValues(endLabel(end)).Inc()
		if !h.fail(ctx, err, wait) {
			return
		}
		select {
		case <-h.changed:
			dirty = true
		default:
		}
	}
}

var errCappedWords = errors.New("x: usage cap reached: the operator must raise the cap or wait for the next billing cycle, then restart")

func endLabel(e streamEnd) string {
	switch e {
	case endHTTP:
		return "http"
	case endRate:
		return "rate_limit"
	case endCapped:
		return "usage_cap"
	default:
		return "network"
	}
}

// classify gives the kind of err and the wait before the next try.
func (h *Hub) classify(err error, netN, httpN, rateN *int) (streamEnd, time.Duration) {
	var ae *APIError
	if !errors.As(err, &ae) {
		w := min(time.Duration(*netN)*h.cfg.NetworkStep, h.cfg.NetworkMax)
		*netN++
		return endNetwork, w
	}
	switch {
	case ae.UsageCapped:
		return endCapped, 0
	case ae.Status == http.StatusTooManyRequests:
		w := expo(h.cfg.RateMin, h.cfg.RateMax, *rateN)
		*rateN++
		if d := time.Until(ae.Reset); d > w {
			w = d
		}
		return endRate, w
	default:
		w := expo(h.cfg.HTTPMin, h.cfg.HTTPMax, *httpN)
		*httpN++
		return endHTTP, w
	}
}

func expo(lo, hi time.Duration, n int) time.Duration {
	d := lo
	for i := 0; i < n && d < hi; i++ {
		d *= 2
	}
	return min(d, hi)
}

// fail reports err to the sources and waits; false when ctx ended.
func (h *Hub) fail(ctx context.Context, err error, wait time.Duration) bool {
	retry := time.Now().Add(wait)
	h.tell(false, err, retry)
	h.log.Warn("stream down", slog.String("err", err.Error()), slog.Duration("retry_in", wait))
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// connect holds one connection until it ends, and reports why; good
// reports that it delivered something (the backoff starts over).
func (h *Hub) connect(ctx context.Context) (end streamEnd, err error, delivered bool) {
	var good atomic.Bool
	c := h.cfg.Client
	if e := c.waitForLimit(epStream); e != nil {
		return endRate, e, false
	}
	q := url.Values{}
	c.fieldValues(q)
	cctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, c.base()+epStream+"?"+q.Encode(), nil)
	if err != nil {
		return endHTTP, err, false
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("User-Agent", "backchannel")
	// No overall timeout: the response is endless. The stall timer bounds
	// every wait for bytes, including the wait for the headers.
	hc := &http.Client{Transport: c.httpc().Transport}
	stall := time.AfterFunc(h.cfg.StallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()
	h.m.connects.Inc()
	resp, err := hc.Do(req)
	if err != nil {
		if errors.Is(context.Cause(cctx), errStalled) {
			err = errStalled
		}
		return endNetwork, fmt.Errorf("x: connect to the stream: %w", err), false
	}
	defer resp.Body.Close()
	c.record(epStream, resp.Header)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		ae := c.refused(classify(epStream, resp.StatusCode, resp.Header, b))
		switch {
		case ae.UsageCapped:
			return endCapped, ae, false
		case resp.StatusCode == http.StatusConflict:
			return endNoRules, ae, false
		case resp.StatusCode == http.StatusForbidden:
			h.mu.Lock()
			h.unavailable = true
			h.mu.Unlock()
			return endHTTP, fmt.Errorf("%w (this app's plan has no filtered stream: polling recent search instead)", ae), false
		case resp.StatusCode == http.StatusTooManyRequests:
			return endRate, ae, false
		}
		return endHTTP, ae, false
	}
	h.mu.Lock()
	h.unavailable = false
	h.mu.Unlock()
	stall.Reset(h.cfg.StallTimeout)
	h.log.Info("stream connected")
	h.tell(true, nil, time.Time{})
	for _, r := range h.snapshot() {
		select {
		case r.connected <- struct{}{}:
		default:
		}
	}

	// Reading is decoupled from handling by a queue, as X asks: a slow
	// sink must not make X's buffer fill and drop the connection.
	lines := make(chan []byte, 1024)
	var wg sync.WaitGroup
	wg.Go(func() {
		for ln := range lines {
			h.route(ctx, ln)
		}
	})
	defer wg.Wait()
	defer close(lines)

	type result struct {
		end streamEnd
		err error
	}
	readDone := make(chan result, 1)
	go func() {
		br := bufio.NewReaderSize(resp.Body, 64<<10)
		for {
			ln, err := br.ReadBytes('\n')
			if len(ln) > 0 {
				stall.Reset(h.cfg.StallTimeout)
				good.Store(true)
			}
			ln = []byte(strings.TrimRight(string(ln), "\r\n"))
			if len(strings.TrimSpace(string(ln))) == 0 {
				if err == nil {
					h.m.keepAlives.Inc()
				}
			} else if end, derr, stop := h.inStreamError(ln); stop {
				readDone <- result{end, derr}
				return
			} else {
				select {
				case lines <- ln:
				case <-cctx.Done():
				}
			}
			if err != nil {
				if errors.Is(context.Cause(cctx), errStalled) {
					err = errStalled
				}
				readDone <- result{endNetwork, fmt.Errorf("x: stream: %w", err)}
				return
			}
		}
	}()
	for {
		select {
		case r := <-readDone:
			h.tell(false, r.err, time.Time{})
			return r.end, r.err, good.Load()
		case <-h.changed:
			// Rules change while connected: X applies them to the open
			// connection, so no reconnect.
			if _, err := h.reconcile(ctx); err != nil {
				h.log.Warn("could not update the stream rules", slog.String("err", err.Error()))
				if ae := (*APIError)(nil); errors.As(err, &ae) && ae.UsageCapped {
					cancel(nil)
				}
			}
		}
	}
}

var errStalled = errors.New("stalled: no data or keep-alive within the stall timeout")

// inStreamError reads a line that carries only errors: X's operational
// disconnect and its kin end the connection.
func (h *Hub) inStreamError(ln []byte) (streamEnd, error, bool) {
	var msg struct {
		Data   json.RawMessage `json:"data"`
		Errors []problem       `json:"errors"`
	}
	if json.Unmarshal(ln, &msg) != nil || len(msg.Data) > 0 || len(msg.Errors) == 0 {
		return 0, nil, false
	}
	p := msg.Errors[0]
	switch p.kind() {
	case "operational-disconnect", "streaming-connection", "ConnectionException":
		h.m.disconnects.Inc()
		return endNetwork, fmt.Errorf("x: stream disconnected by X: %s", p.words()), true
	}
	h.log.Warn("stream message with errors only", slog.String("error", p.words()))
	return 0, nil, false
}

// route hands a stream line to every registered source its rules' tags
// name.
func (h *Hub) route(ctx context.Context, ln []byte) {
	var pg page
	if err := json.Unmarshal(ln, &pg); err != nil {
		h.log.Warn("unreadable stream line", slog.String("err", err.Error()))
		return
	}
	regs := h.snapshot()
	seen := map[string]bool{}
	for _, mr := range pg.MatchingRules {
		r := regs[mr.Tag]
		if r == nil || seen[mr.Tag] {
			continue
		}
		seen[mr.Tag] = true
		r.deliver(ctx, &pg)
	}
	if len(seen) == 0 {
		h.m.unrouted.Inc()
	}
}
