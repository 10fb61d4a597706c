package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/internal/backoff"
)

// Defaults for RunnerConfig's zero fields.
const (
	// DefaultLeaseTTL is how long a source's lease lasts unrenewed: a
	// process that dies stops holding its sources this long after its last
	// renewal.
	// 7 s leaves the holder three renewals before it lapses.
	DefaultLeaseTTL = 7 * time.Second
	// DefaultLeaseRenew is how often the holder renews, and how often a
	// standing-by process asks for the lease. TTL + Renew with its jitter
	// (about 9.4 s) bounds the takeover after a holder dies, well inside the
	// 15 s the operators are promised even on a loaded machine.
	DefaultLeaseRenew = 2 * time.Second
	// DefaultBackoffMin and DefaultBackoffMax bound the wait before a
	// source whose Run failed is started again.
	DefaultBackoffMin = time.Second
	DefaultBackoffMax = time.Minute
)

// errLeaseLost and errWindowClosed are why the runner stopped a source it
// was running (the cause of the source's context).
var (
	errLeaseLost    = errors.New("ingest: lease lost")
	errWindowClosed = errors.New("ingest: time window closed")
	// ErrPanicked wraps the value a source's Run panicked with.
	ErrPanicked = errors.New("ingest: source panicked")
	// ErrReturnedEarly is reported when a source's Run returned nil before
	// it was asked to stop; the runner starts it again after a backoff.
	ErrReturnedEarly = errors.New("ingest: source returned before it was stopped")
)

// EventSources are the sources of one event, as a Runner runs them.
type EventSources struct {
	// Slug names the event; leases and metrics carry it.
	Slug string
	// Log is the event's log; when nil the runner opens Store.Log(Slug).
	Log eventlog.Log
	// Rules decide what happens to arriving posts; nil leaves them pending.
	Rules Evaluator
	// Window is when the sources run; the zero Window is always open.
	Window Window
	// Sources have names unique within the event.
	Sources []Source
}

// RunnerConfig configures a Runner. Only Store is required.
type RunnerConfig struct {
	// Store holds the leases (and the logs of events given without one).
	Store eventlog.Store
	// Holder names this process in leases; default host-pid-random, which
	// is unique even for two runners in one process.
	Holder string
	// Registerer receives the sources' metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// LeaseTTL and LeaseRenew default to DefaultLeaseTTL and DefaultLeaseRenew.
	LeaseTTL, LeaseRenew time.Duration
	// BackoffMin and BackoffMax default to DefaultBackoffMin and DefaultBackoffMax.
	BackoffMin, BackoffMax time.Duration
	// Clock defaults to time.Now; it stamps appends and health. Waits are
	// real time.
	Clock func() time.Time
}

// Runner runs the sources of one or more events: each source in its own
// goroutine, only while this process holds the source's lease in the Store
// and the event's time window is open; a failing or panicking source is
// restarted with backoff without disturbing the others.
type Runner struct {
	cfg     RunnerConfig
	log     *slog.Logger
	metrics *metrics
	events  []*eventRun
	bySlug  map[string]*eventRun

	mu      sync.Mutex
	running bool
}

type eventRun struct {
	EventSources
	sources []*sourceRun
}

// NewRunner returns a Runner for these events. It fails on a missing store,
// a duplicate event slug or source name, or a metrics registration clash.
func NewRunner(cfg RunnerConfig, events ...EventSources) (*Runner, error) {
	if cfg.Store == nil {
		return nil, event.Errorf(event.EINVALID, "ingest: runner needs a store")
	}
	if cfg.Holder == "" {
		cfg.Holder = defaultHolder()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.LeaseTTL <= 0 {
		cfg.LeaseTTL = DefaultLeaseTTL
	}
	if cfg.LeaseRenew <= 0 {
		cfg.LeaseRenew = DefaultLeaseRenew
	}
	if cfg.LeaseRenew >= cfg.LeaseTTL {
		return nil, event.Errorf(event.EINVALID, "ingest: lease renewal every %v must be shorter than its ttl %v", cfg.LeaseRenew, cfg.LeaseTTL)
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = DefaultBackoffMin
	}
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = max(DefaultBackoffMax, cfg.BackoffMin)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("ingest: register metrics: %w", err)
	}
	r := &Runner{cfg: cfg, log: cfg.Logger, metrics: m, bySlug: make(map[string]*eventRun)}
	for _, es := range events {
		if es.Slug == "" {
			return nil, event.Errorf(event.EINVALID, "ingest: an event has no slug")
		}
		if r.bySlug[es.Slug] != nil {
			return nil, event.Errorf(event.EINVALID, "ingest: event %q given twice", es.Slug)
		}
		ev := &eventRun{EventSources: es}
		names := make(map[string]bool)
		for _, src := range es.Sources {
			if names[src.Name()] {
				return nil, event.Errorf(event.EINVALID, "ingest: event %q: two sources are called %q", es.Slug, src.Name())
			}
			names[src.Name()] = true
			if ms, ok := src.(MetricsSource); ok && cfg.Registerer != nil {
				if err := ms.RegisterMetrics(cfg.Registerer); err != nil {
					return nil, fmt.Errorf("ingest: event %q: source %s: register metrics: %w", es.Slug, src.Name(), err)
				}
			}
			ev.sources = append(ev.sources, r.newSourceRun(ev, src))
		}
		r.events = append(r.events, ev)
		r.bySlug[es.Slug] = ev
	}
	return r, nil
}

func defaultHolder() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Holder is the name this runner holds leases under.
func (r *Runner) Holder() string { return r.cfg.Holder }

// Health returns the health of every source of the event, in the order
// they were given, or nil for an event this runner does not run. It is
// what GET /api/events/{slug}/sources shows.
func (r *Runner) Health(slug string) []HealthSnapshot {
	ev := r.bySlug[slug]
	if ev == nil {
		return nil
	}
	out := make([]HealthSnapshot, len(ev.sources))
	for i, s := range ev.sources {
		out[i] = s.health.Snapshot()
	}
	return out
}

// Run runs every source until ctx is done, then stops them, releases their
// leases and returns nil once every source has returned. It returns an
// error without running anything if an event's log cannot be opened, or if
// the runner is already running.
func (r *Runner) Run(ctx context.Context) error {
	r.mu.Lock()
	if r.running {
		r.mu.Unlock()
		return event.Errorf(event.ECONFLICT, "ingest: runner is already running")
	}
	r.running = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running = false
		r.mu.Unlock()
	}()

	for _, ev := range r.events {
		if ev.Log != nil {
			continue
		}
		l, err := r.cfg.Store.Log(ctx, ev.Slug)
		if err != nil {
			return fmt.Errorf("ingest: open the log of %q: %w", ev.Slug, err)
		}
		ev.Log = l
	}
	var wg sync.WaitGroup
	for _, ev := range r.events {
		for _, s := range ev.sources {
			s.sink = NewLogSink(ev.Log, ev.Rules, s.health, event.Actor{Role: event.RoleSource, Name: s.src.Name()}, r.cfg.Clock)
			s.sink.onAppend = s.counted
			wg.Go(func() { s.loop(ctx) })
		}
	}
	r.log.Info("ingest runner started", slog.String("holder", r.cfg.Holder), slog.Int("events", len(r.events)))
	wg.Wait()
	r.log.Info("ingest runner stopped", slog.String("holder", r.cfg.Holder))
	return nil
}

// sourceRun is one source of one event, as the runner runs it.
type sourceRun struct {
	r      *Runner
	ev     *eventRun
	src    Source
	health *Health
	sink   *LogSink
	lease  string
	logger *slog.Logger

	mu      sync.Mutex
	prev    HealthSnapshot
	errKind string // the kind of the next error reported, set by the runner
	leader  bool
	// mayHold is set when the lease was last taken and cleared when it is
	// released, so stopping a source that never ran costs no store call.
	mayHold bool
	// shared: the lease is the deployment's, not this event's (SharedSource).
	shared bool
}

func (r *Runner) newSourceRun(ev *eventRun, src Source) *sourceRun {
	s := &sourceRun{
		r:      r,
		ev:     ev,
		src:    src,
		health: NewHealth(src.Name(), src.Kind()),
		lease:  "source:" + ev.Slug + ":" + src.Name(),
		logger: r.log.With(slog.String("event", ev.Slug), slog.String("source", src.Name()), slog.String("kind", src.Kind())),
	}
	if ss, ok := src.(SharedSource); ok {
		s.lease, s.shared = "source:"+ss.SharedLease(), true
	}
	s.prev = s.health.Snapshot()
	s.health.OnChange = s.observe
	s.observe(s.prev) // so every series exists from the start
	s.zeroCounters()
	return s
}

// zeroCounters exports every counter of the source, and its leader gauge,
// at 0 before anything happens: a series that appears only with its first
// increase leaves panels empty and increase() blind to that first one, and
// a standby that exported no leader series would hide that nobody runs
// the source.
func (s *sourceRun) zeroCounters() {
	m, ev, name := s.r.metrics, s.ev.Slug, s.src.Name()
	for _, k := range []event.Kind{event.PostReceived, event.PostEdited, event.PostDeleted} {
		m.appended.WithLabelValues(ev, name, strings.TrimPrefix(string(k), "post."))
	}
	for _, k := range []string{ErrorKindFetch, ErrorKindExit, ErrorKindPanic, ErrorKindLease} {
		m.errors.WithLabelValues(ev, name, k)
	}
	m.duplicates.WithLabelValues(ev, name)
	m.rateLimited.WithLabelValues(ev, name)
	m.leader.WithLabelValues(ev, name).Set(0)
}

// loop runs the source until ctx is done: waiting for the window, standing
// by while another process holds the lease, running it while this one does,
// and backing off after a failure.
func (s *sourceRun) loop(ctx context.Context) {
	cfg := &s.r.cfg
	defer func() {
		s.setLeader(false)
		s.release() // also when backing off: the lease may still be ours
		s.health.SetState(StateStopped)
	}()
	bo := backoff.Backoff{Min: cfg.BackoffMin, Max: cfg.BackoffMax}
	for ctx.Err() == nil {
		now := cfg.Clock()
		if !s.ev.Window.Open(now) {
			s.setLeader(false)
			s.health.SetState(StateWaiting)
			if s.ev.Window.Over(now) {
				<-ctx.Done()
				return
			}
			backoff.Sleep(ctx, s.ev.Window.Opens().Sub(now))
			continue
		}

		held, err := s.takeLease(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.setLeader(false)
			s.fail(ErrorKindLease, fmt.Errorf("lease %s: %w", s.lease, err), cfg.LeaseRenew)
			backoff.Sleep(ctx, backoff.Spread(cfg.LeaseRenew, cfg.LeaseRenew/5))
			continue
		}
		if !held {
			s.setLeader(false)
			s.health.SetState(StateStandby)
			backoff.Sleep(ctx, backoff.Spread(cfg.LeaseRenew, cfg.LeaseRenew/5))
			continue
		}

		s.mu.Lock()
		s.mayHold = true
		s.mu.Unlock()
		s.setLeader(true)
		started := cfg.Clock()
		err, cause := s.runOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		switch {
		case errors.Is(cause, errLeaseLost):
			s.setLeader(false)
			s.logger.Warn("source stopped: lease lost", slog.Any("cause", cause))
			continue
		case errors.Is(cause, errWindowClosed):
			s.setLeader(false)
			s.release()
			continue
		}
		s.setLeader(false)
		kind := ErrorKindExit
		switch {
		case errors.Is(err, ErrPanicked):
			kind = ErrorKindPanic
		case err == nil:
			err = ErrReturnedEarly
		}
		if cfg.Clock().Sub(started) > cfg.BackoffMax {
			bo.Reset() // it ran well for a while: this is a new failure
		}
		d := bo.Next()
		s.fail(kind, err, d)
		// The lease is not renewed while backing off: if the wait outlasts
		// it, another process may take the source over, which is fine.
		backoff.Sleep(ctx, d)
	}
}

// runOnce runs the source once while renewing its lease, and returns Run's
// error and why its context ended (nil when Run returned by itself).
func (s *sourceRun) runOnce(ctx context.Context) (err error, cause error) {
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { s.keepLease(runCtx, cancel, done) })
	wg.Go(func() { s.watchStop(runCtx, done) })
	err = s.safeRun(runCtx)
	close(done)
	wg.Wait()
	if runCtx.Err() == nil {
		return err, nil
	}
	return err, context.Cause(runCtx)
}

// keepLease renews the lease every LeaseRenew until done, and cancels the
// run when a renewal fails or is refused (so the source stops well before
// the lease runs out and another process may start it) or when the window
// closes.
func (s *sourceRun) keepLease(ctx context.Context, cancel context.CancelCauseFunc, done <-chan struct{}) {
	cfg := &s.r.cfg
	var closes <-chan time.Time
	if end := s.ev.Window.End; !end.IsZero() {
		t := time.NewTimer(end.Sub(cfg.Clock()))
		defer t.Stop()
		closes = t.C
	}
	tick := time.NewTicker(cfg.LeaseRenew)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-ctx.Done():
			return
		case <-closes:
			s.logger.Info("source stopping: time window closed", slog.Time("end", s.ev.Window.End))
			cancel(errWindowClosed)
			return
		case <-tick.C:
			held, err := s.takeLease(ctx)
			if ctx.Err() != nil {
				return
			}
			if err != nil {
				s.countError(ErrorKindLease)
				cancel(fmt.Errorf("%w: renewal failed: %w", errLeaseLost, err))
				return
			}
			if !held {
				cancel(fmt.Errorf("%w: another process holds it", errLeaseLost))
				return
			}
		}
	}
}

// stopGrace is how long a source may take to return once its context is
// done before the runner logs that it does not stop.
const stopGrace = 10 * time.Second

// watchStop logs, once, a source that has not returned stopGrace after its
// context ended: the runner (and so the process's shutdown) waits for it,
// and while it runs after losing its lease two processes may run it.
func (s *sourceRun) watchStop(ctx context.Context, done <-chan struct{}) {
	select {
	case <-done:
		return
	case <-ctx.Done():
	}
	t := time.NewTimer(stopGrace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		s.logger.Error("source has not returned since it was asked to stop; waiting for it",
			slog.Duration("waited", stopGrace), slog.Any("cause", context.Cause(ctx)))
	}
}

// takeLease asks for the lease, bounded by the renewal interval so a hung
// store cannot keep a source running past its lease.
func (s *sourceRun) takeLease(ctx context.Context) (bool, error) {
	cfg := &s.r.cfg
	lctx, cancel := context.WithTimeout(ctx, cfg.LeaseRenew)
	defer cancel()
	return cfg.Store.Lease(lctx, s.lease, cfg.Holder, cfg.LeaseTTL)
}

// release gives the lease up on a graceful stop, so a standing-by process
// takes the source over at its next try instead of after the ttl. The
// Store has no release: renewing for a millisecond has the same effect, and
// changes nothing if another process holds the lease by now.
func (s *sourceRun) release() {
	s.mu.Lock()
	may := s.mayHold && !s.shared
	s.mayHold = false
	s.mu.Unlock()
	if !may {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.r.cfg.LeaseRenew)
	defer cancel()
	if _, err := s.r.cfg.Store.Lease(ctx, s.lease, s.r.cfg.Holder, time.Millisecond); err != nil {
		s.logger.Warn("could not release the source's lease; it runs out by itself", slog.Any("err", err))
	}
}

// safeRun runs the source, turning a panic into an error so one broken
// source cannot take the process and the other sources down.
func (s *sourceRun) safeRun(ctx context.Context) (err error) {
	defer func() {
		if v := recover(); v != nil {
			s.logger.Error("source panicked", slog.Any("panic", v), slog.String("stack", string(debug.Stack())))
			err = fmt.Errorf("%w: %v", ErrPanicked, v)
		}
	}()
	return s.src.Run(ctx, s.sink)
}

// fail reports a failure of the given kind on the source's health, to be
// retried after d.
func (s *sourceRun) fail(kind string, err error, d time.Duration) {
	s.mu.Lock()
	s.errKind = kind
	s.mu.Unlock()
	now := s.r.cfg.Clock()
	s.health.Failed(now, err, now.Add(d))
}

func (s *sourceRun) countError(kind string) {
	s.r.metrics.errors.WithLabelValues(s.ev.Slug, s.src.Name(), kind).Inc()
}

func (s *sourceRun) setLeader(on bool) {
	s.mu.Lock()
	changed := s.leader != on
	s.leader = on
	s.mu.Unlock()
	if !changed {
		return
	}
	v := 0.0
	if on {
		v = 1
		s.logger.Info("source lease taken: running it here", slog.String("holder", s.r.cfg.Holder))
	} else {
		s.logger.Info("source lease given up", slog.String("holder", s.r.cfg.Holder))
	}
	s.r.metrics.leader.WithLabelValues(s.ev.Slug, s.src.Name()).Set(v)
}

// counted is the sink's hook: appends by kind, and duplicates.
func (s *sourceRun) counted(kind event.Kind, dup bool) {
	if dup {
		s.r.metrics.duplicates.WithLabelValues(s.ev.Slug, s.src.Name()).Inc()
		return
	}
	s.r.metrics.appended.WithLabelValues(s.ev.Slug, s.src.Name(), strings.TrimPrefix(string(kind), "post.")).Inc()
}

// observe is the health's OnChange: it logs state changes (not every poll)
// and keeps the gauges and error counters in step with the snapshot.
func (s *sourceRun) observe(snap HealthSnapshot) {
	s.mu.Lock()
	prev := s.prev
	s.prev = snap
	newErr := snap.LastError != "" && (!snap.LastErrorAt.Equal(prev.LastErrorAt) || snap.LastError != prev.LastError)
	kind := ErrorKindFetch
	if newErr && s.errKind != "" {
		kind, s.errKind = s.errKind, ""
	}
	s.mu.Unlock()

	m, ev, name := s.r.metrics, s.ev.Slug, s.src.Name()
	if newErr {
		if snap.State == StateRateLimited {
			m.rateLimited.WithLabelValues(ev, name).Inc()
		} else {
			m.errors.WithLabelValues(ev, name, kind).Inc()
		}
	}
	up := 1.0
	if snap.State == StateBackingOff || snap.State == StateStopped {
		up = 0
	}
	m.up.WithLabelValues(ev, name).Set(up)
	m.remaining.WithLabelValues(ev, name).Set(float64(snap.RateLimitRemaining))
	m.lag.WithLabelValues(ev, name).Set(snap.Lag.Seconds())
	if !snap.LastSuccess.IsZero() {
		m.lastSuccess.WithLabelValues(ev, name).Set(float64(snap.LastSuccess.UnixNano()) / 1e9)
	}

	if snap.State == prev.State {
		return
	}
	if outage(snap.State) || outage(prev.State) {
		s.recordHealth(snap)
	}
	// Once per change of state, never per retry: a source that cannot
	// reach its server for an hour logs when the trouble began and when
	// it ended (the sources log each retry at debug level only).
	attrs := []any{slog.String("from", prev.State), slog.String("to", snap.State)}
	level := slog.LevelInfo
	if snap.State == StateBackingOff || snap.State == StateRateLimited {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("error", snap.LastError), slog.Time("since", snap.TroubleSince), slog.Time("retry_at", snap.RetryAt))
	}
	s.logger.Log(context.Background(), level, "source state", attrs...)
}

// outage reports the states the report draws as outages.
func outage(state string) bool { return state == StateBackingOff || state == StateRateLimited }

// recordHealth appends the source's new state to the event's log when it
// enters or leaves an outage, so the report after the event draws the
// outages from the log like every other figure. It waits for the append
// at most LeaseRenew: the source is failing or recovering, and a log that
// does not answer loses the record, not the source's time.
func (s *sourceRun) recordHealth(snap HealthSnapshot) {
	l := s.ev.Log
	if l == nil {
		return // not running yet
	}
	e := event.Entry{
		Time: s.r.cfg.Clock().UTC(), Kind: event.SourceHealth,
		Actor:        event.Actor{Role: event.RoleSource, Name: s.src.Name()},
		SourceHealth: &event.SourceHealthChange{SourceKind: s.src.Kind(), State: snap.State, RetryAt: snap.RetryAt},
	}
	if outage(snap.State) {
		e.SourceHealth.Error = snap.LastError
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.r.cfg.LeaseRenew)
	defer cancel()
	if _, err := l.Append(ctx, "", e); err != nil {
		s.logger.Warn("could not record the source's state in the log", slog.String("state", snap.State), slog.Any("err", err))
	}
}
