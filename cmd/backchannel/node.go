package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/fanout"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/webform"
	"github.com/backchannel/backchannel/internal/clientaddr"
	"github.com/backchannel/backchannel/metrics"
	"github.com/backchannel/backchannel/moderation"
	"github.com/backchannel/backchannel/presence/redispresence"
	"github.com/backchannel/backchannel/wall"
)

// shutdownTimeout bounds a graceful shutdown: requests in flight get this
// long to finish, then sources and folds stop and the log is closed.
const shutdownTimeout = 10 * time.Second

// presenceTTL is how long a post a moderator opened counts as open
// without being opened again (wall.StaffOptions.PresenceTTL's default).
const presenceTTL = 30 * time.Second

// node is one process in its role: the log store and every event's fold
// (all roles), the sources (all and ingest), the screens, API and sockets
// (all and fanout), and the HTTP listener (all roles; an ingest process
// serves health and metrics only). openNode builds it, Run runs it until
// shutdown, Close stops it in order.
type node struct {
	cfg    *config.Config
	role   string
	logger *slog.Logger

	raw      eventlog.Store // the engine, closed by Close once nothing uses it
	store    eventlog.Store // raw, recording the log metrics
	reg      *prometheus.Registry
	srv      *wall.Server
	hubs     []*fanout.Hub
	limits   *fanout.SocketLimits // shared by the hubs; nil in a role with no sockets
	presence *redispresence.Store // nil unless screens share presence in Redis
	runner   *ingest.Runner       // nil in a role that runs no sources
	ln       net.Listener
	httpSrv  *http.Server   // set by Run
	metrics  *metricsServer // nil unless /metrics has a listener of its own

	// Folds and sources run under contexts of their own, stopped in order
	// by Close rather than all at once by the signal.
	stopFolds   context.CancelFunc
	folds       sync.WaitGroup
	stopSources context.CancelFunc
	sourcesDone chan struct{} // closed when the runner returns; nil until Run starts it

	// failed holds the first failure of a part that should run until
	// shutdown; later ones are logged and dropped, never blocking.
	failed chan error
}

// screens reports whether the node serves the screens, API and sockets.
func (n *node) screens() bool { return n.role != roleIngest }

// sourcesOn reports whether the node runs the events' sources.
func (n *node) sourcesOn() bool { return n.role != roleFanout }

// fail reports err as the failure that stops the node, if it is the first.
func (n *node) fail(err error) {
	select {
	case n.failed <- err:
	default:
		n.logger.Error("failure during shutdown", "err", err)
	}
}

// openNode opens the store and builds every part that role runs for the
// events of cfg, and listens on cfg.Listen. Each event's fold starts
// catching up with its log at once; the sources and the HTTP server wait
// for Run. On an error, what was opened is closed again.
func openNode(ctx context.Context, cfg *config.Config, role string, logger *slog.Logger) (_ *node, err error) {
	n := &node{cfg: cfg, role: role, logger: logger, failed: make(chan error, 1)}
	defer func() {
		if err != nil {
			_ = n.Close()
		}
	}()
	n.reg = prometheus.NewRegistry()
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(n.reg, buildVersion())

	raw, engine, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	n.raw, n.store = raw, m.Store(raw)
	logger.Info("event log open", "engine", engine, "data", cfg.Data, "redis", redacted(cfg.Redis))

	files, err := applyFileLimit(cfg.Server, logger)
	if err != nil {
		return nil, err
	}

	var (
		authn *auth.Authenticator
		form  *webform.Handler
	)
	if n.screens() {
		proxies := cfg.Proxies
		n.limits = fanout.NewSocketLimits(fanout.LimitOptions{
			PerAddress: files.PerAddress, Public: files.Public, Staff: files.Staff,
			// The same client address as the login and web form limits:
			// behind a trusted proxy, its X-Forwarded-For.
			ClientKey:  func(r *http.Request) string { return clientaddr.Key(clientaddr.From(r, proxies)) },
			Registerer: n.reg, Logger: logger,
		})
		if authn, err = staffAuth(ctx, cfg, raw, logger, n.reg); err != nil {
			return nil, err
		}
		form = webform.New(webform.Options{TrustedProxies: cfg.Proxies, Logger: logger, Key: cfg.SessionKey, Registerer: n.reg})
	}

	n.srv = wall.New(wall.Options{Store: n.store, Gatherer: mainGatherer(cfg, n.reg), HTTPMetrics: metrics.NewHTTP(n.reg), Logger: logger,
		MapTiles: cfg.MapTiles.TileURL(), MapAttribution: cfg.MapTiles.Credit(), BodyTimeout: cfg.Server.BodyTimeout,
		ReadyWithoutStore: role == roleFanout})
	foldCtx, stopFolds := context.WithCancel(context.WithoutCancel(ctx))
	n.stopFolds = stopFolds
	var sources []ingest.EventSources
	for i := range cfg.Events {
		es, err := n.openEvent(ctx, foldCtx, &cfg.Events[i], form)
		if err != nil {
			return nil, err
		}
		if n.sourcesOn() {
			sources = append(sources, es)
		}
	}

	if n.screens() {
		opts := wall.StaffOptions{Auth: authn, Form: form}
		if cfg.Redis != "" {
			// Several nodes share one Redis: share presence there too, so
			// moderators on different nodes see each other (issue 7).
			if n.presence, err = redispresence.Open(ctx, cfg.Redis, presenceTTL); err != nil {
				return nil, err
			}
			opts.Presence, opts.PresenceTTL = n.presence, presenceTTL
		}
		if err := n.srv.MountStaff(opts); err != nil {
			return nil, err
		}
	}
	var views []metrics.EventFold
	for _, we := range n.srv.Events() {
		views = append(views, metrics.EventFold{Slug: we.Slug(), Live: we.Live})
	}
	if err := metrics.RegisterViews(n.reg, n.store, views); err != nil {
		return nil, err
	}

	if n.sourcesOn() {
		if n.runner, err = ingest.NewRunner(ingest.RunnerConfig{Store: n.store, Registerer: n.reg, Logger: logger}, sources...); err != nil {
			return nil, fmt.Errorf("sources: %w", err)
		}
		for _, we := range n.srv.Events() {
			slug := we.Slug()
			we.Health = func() []ingest.HealthSnapshot { return n.runner.Health(slug) }
		}
	}

	if n.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if n.metrics, err = listenMetrics(cfg, n.reg, logger); err != nil {
		return nil, err
	}
	return n, nil
}

// openEvent opens ec's log, starts its fold under foldCtx and returns its
// sources. In a role with screens it also gives the event its web form,
// its fan-out hub and its place on the HTTP server.
func (n *node) openEvent(ctx, foldCtx context.Context, ec *config.Event, form *webform.Handler) (ingest.EventSources, error) {
	log, err := n.store.Log(ctx, ec.Slug)
	if err != nil {
		return ingest.EventSources{}, fmt.Errorf("open the log of %q: %w", ec.Slug, err)
	}
	// Every role keeps the event's fold: screens draw from it, and the
	// sources read from it the moderation mode moderators set (a switch
	// through the settings API applies to the next post) and which posts
	// are on the wall (the Mastodon delete check visits those first).
	live := fold.NewLive(log, fold.SettingsView{Title: ec.Title, Moderation: ec.Moderation.Mode, Display: ec.Display.Map()})
	n.folds.Go(func() {
		if err := live.Run(foldCtx); err != nil {
			n.fail(fmt.Errorf("fold of %q: %w", ec.Slug, err))
		}
	})
	if err := goLiveOnStart(ctx, log, live, ec, n.logger); err != nil {
		return ingest.EventSources{}, err
	}
	es, err := eventSources(ec, log, live.OnWall, n.logger)
	if err != nil {
		return es, err
	}
	// The spam rules' window of recent posts: this node's own, and every
	// post any node's sources appended, as the fold reads them.
	base := rulesOf(&ec.Moderation)
	base.Recent = moderation.NewRecent(0, 0)
	live.Subscribe(func(e event.Entry, _ fold.Effect) {
		if e.Kind == event.PostReceived && e.Post != nil {
			base.Recent.Observe(*e.Post, e.Time)
		}
	})
	es.Rules = moderation.NewModeRules(base, live.Mode)
	if !n.screens() {
		n.logger.Info("running the sources of event", "event", ec.Slug, "sources", len(es.Sources))
		return es, nil
	}
	form.SetEvent(ec.Slug, formEvent(ec, formSink(log, es.Rules)))
	hub, err := fanout.New(ctx, fanout.LiveFeed{Live: live}, log, fanout.Options{Event: ec.Slug, Limits: n.limits, Registerer: n.reg, Logger: n.logger,
		AllowedOrigins: n.cfg.AllowedOrigins, MaxConnAge: n.cfg.SocketMaxAge})
	if err != nil {
		return es, fmt.Errorf("fan-out of %q: %w", ec.Slug, err)
	}
	n.hubs = append(n.hubs, hub)
	// How many screens were connected, for the report after the event.
	n.folds.Go(func() { hub.RecordConnections(foldCtx, fanout.SampleOptions{}) })
	if err := n.srv.AddEvent(&wall.Event{Config: ec, Log: log, Live: live, Hub: hub}); err != nil {
		return es, err
	}
	n.logger.Info("serving event", "event", ec.Slug, "title", ec.Title, "hashtags", ec.Hashtags,
		"sources", len(es.Sources), "sources_here", n.sourcesOn(), "moderation", string(ec.Moderation.Mode))
	return es, nil
}

// Run starts the sources (in the roles that run them) and serves HTTP on
// the node's listener, then waits until ctx is done or a part that should
// run until shutdown fails. It returns that failure, or nil when ctx
// ended; it stops nothing, which is Close's work. Call Run once.
func (n *node) Run(ctx context.Context) error {
	sourceCtx, stopSources := context.WithCancel(context.WithoutCancel(ctx))
	n.stopSources = stopSources
	if n.runner != nil {
		n.sourcesDone = make(chan struct{})
		go func() {
			defer close(n.sourcesDone)
			if err := n.runner.Run(sourceCtx); err != nil {
				n.fail(fmt.Errorf("sources: %w", err))
			}
		}()
	}

	// No ReadTimeout: it would hold the websockets too. The body timeout
	// is the wall server's, per request (wall.Options.BodyTimeout).
	n.httpSrv = &http.Server{
		Handler:           roleHandler(n.role, n.srv),
		ReadHeaderTimeout: n.cfg.Server.HeaderTimeout,
		IdleTimeout:       n.cfg.Server.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(n.logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := n.httpSrv.Serve(n.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.fail(fmt.Errorf("http: %w", err))
		}
	}()
	n.logger.Info("listening", "addr", n.ln.Addr().String(), "role", n.role, "version", buildVersion())
	if n.metrics != nil {
		n.metrics.serve(n.logger, n.fail)
	}

	select {
	case <-ctx.Done():
		n.logger.Info("shutting down", "cause", context.Cause(ctx), "deadline", shutdownTimeout)
		return nil
	case err := <-n.failed:
		n.logger.Error("shutting down after a failure", "err", err)
		return err
	}
}

// Close stops the node in this order, within shutdownTimeout in all:
//
//  1. stop accepting HTTP requests and finish those under way;
//  2. close the fan-out hubs: websockets were hijacked from the HTTP
//     server, so its shutdown did not wait for them, and their clients
//     are told the node is going away;
//  3. stop the sources and wait for them;
//  4. stop the folds and wait for them;
//  5. close the store, which makes every acknowledged append durable;
//  6. close the Redis presence store, if the screens share one.
//
// Close also undoes an openNode that failed half way, skipping the parts
// never opened. It returns every error met on the way.
func (n *node) Close() error {
	deadline, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	switch {
	case n.httpSrv != nil:
		if err := n.httpSrv.Shutdown(deadline); err != nil {
			errs = append(errs, fmt.Errorf("http shutdown: %w", err))
			_ = n.httpSrv.Close()
		}
	case n.ln != nil:
		_ = n.ln.Close() // never served
	}
	if n.metrics != nil {
		if err := n.metrics.close(deadline, n.httpSrv != nil); err != nil {
			errs = append(errs, err)
		}
	}
	for _, h := range n.hubs {
		h.Close()
	}
	n.hubs = nil
	if n.stopSources != nil {
		n.stopSources()
	}
	if n.sourcesDone != nil {
		select {
		case <-n.sourcesDone:
		case <-deadline.Done():
			errs = append(errs, errors.New("sources did not stop before the shutdown deadline"))
		}
	}
	if n.stopFolds != nil {
		n.stopFolds()
		foldsDone := make(chan struct{})
		go func() { n.folds.Wait(); close(foldsDone) }()
		select {
		case <-foldsDone:
		case <-deadline.Done():
			errs = append(errs, errors.New("folds did not stop before the shutdown deadline"))
		}
	}
	if n.raw != nil {
		if err := n.raw.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close the log: %w", err))
		}
	}
	if n.presence != nil {
		_ = n.presence.Close()
	}
	return errors.Join(errs...)
}
