package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/fanout"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/webform"
	"github.com/backchannel/backchannel/metrics"
	"github.com/backchannel/backchannel/moderation"
	"github.com/backchannel/backchannel/presence/redispresence"
	"github.com/backchannel/backchannel/wall"
)

// shutdownTimeout bounds a graceful shutdown: requests in flight get this
// long to finish, then sources and folds stop and the log is closed.
const shutdownTimeout = 10 * time.Second

// Roles a process can take. "ingest" and "fanout" split "all" for running
// at scale: any number of ingest processes (the sources' leases make each
// source run in one of them) and fan-out processes (the screens, the API
// and the sockets) share one Redis.
const (
	roleAll    = "all"
	roleIngest = "ingest"
	roleFanout = "fanout"
)

func serve(ctx context.Context, args []string, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var flags config.Flags
	flags.Register(fs)
	role := fs.String("role", roleAll, "what this process runs: all (sources, screens and API), ingest (the sources only) or fanout (screens, API and sockets only); ingest and fanout need --redis (env BACKCHANNEL_ROLE)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error (env BACKCHANNEL_LOG_LEVEL)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "backchannel serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg, err := flags.Build(getenv)
	if err != nil {
		fmt.Fprintf(stderr, "backchannel: %v\n", err)
		return 2
	}
	if v := getenv("BACKCHANNEL_LOG_LEVEL"); v != "" && !flagSet(fs, "log-level") {
		*logLevel = v
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "backchannel: --log-level: %v\n", err)
		return 2
	}
	if v := getenv("BACKCHANNEL_ROLE"); v != "" && !flagSet(fs, "role") {
		*role = v
	}
	switch *role {
	case roleAll:
	case roleIngest, roleFanout:
		if cfg.Redis == "" {
			fmt.Fprintf(stderr, "backchannel: --role %s needs --redis: the embedded log serves one process only\n", *role)
			return 2
		}
	default:
		fmt.Fprintf(stderr, "backchannel: --role %q: use %s, %s or %s\n", *role, roleAll, roleIngest, roleFanout)
		return 2
	}
	logger := newLogger(cfg.LogFormat, stderr, level)
	slog.SetDefault(logger)
	routeRedisLogs(logger)

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := runAll(ctx, cfg, *role, logger, stop); err != nil {
		logger.Error("backchannel stopped with an error", "err", err)
		return 1
	}
	return 0
}

func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// openStore opens the log engine the config names: Redis Streams when a
// Redis URL is given, otherwise the embedded log in the data directory.
func openStore(ctx context.Context, cfg *config.Config) (eventlog.Store, string, error) {
	if cfg.Redis != "" {
		s, err := redislog.Open(ctx, cfg.Redis)
		if err != nil {
			return nil, "", fmt.Errorf("open redis log: %w", err)
		}
		return s, "redis", nil
	}
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return nil, "", fmt.Errorf("create data directory: %w", err)
	}
	s, err := disklog.Open(cfg.Data)
	if err != nil {
		return nil, "", fmt.Errorf("open embedded log: %w", err)
	}
	return s, "embedded", nil
}

// runAll runs every part in this process until ctx is done, then shuts
// down in order: stop accepting requests and finish those under way, stop
// the sources, stop the folds, close the store (which makes every
// acknowledged append durable).
//
// stopSignals restores the default handling of SIGINT and SIGTERM.
func runAll(ctx context.Context, cfg *config.Config, role string, logger *slog.Logger, stopSignals func()) error {
	screens, sourcesOn := role != roleIngest, role != roleFanout
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg, buildVersion())

	raw, engine, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	storeClosed := false
	defer func() {
		if !storeClosed {
			_ = raw.Close()
		}
	}()
	store := m.Store(raw)
	logger.Info("event log open", "engine", engine, "data", cfg.Data, "redis", redacted(cfg.Redis))

	var (
		authn *auth.Authenticator
		form  *webform.Handler
	)
	if screens {
		if path, generated, err := config.EnsurePassphrases(cfg.Data, cfg); err != nil {
			return err
		} else if generated {
			logger.Warn("no credentials configured for some roles: their passphrases are in this file (readable by you only)", "file", path)
		}
		if path, generated, err := config.EnsureSessionKey(cfg.Data, cfg); err != nil {
			return err
		} else if generated {
			logger.Info("generated the key that signs login sessions", "file", path)
		}
		if authn, err = newAuthenticator(cfg, logger); err != nil {
			return err
		}
		form = webform.New(webform.Options{TrustedProxies: cfg.Proxies, Logger: logger})
	}

	srv := wall.New(wall.Options{Store: store, Gatherer: reg, HTTPMetrics: metrics.NewHTTP(reg), Logger: logger})

	// Folds and sources run under their own contexts, stopped in order at
	// shutdown rather than all at once by the signal.
	foldCtx, stopFolds := context.WithCancel(context.WithoutCancel(ctx))
	defer stopFolds()
	var folds sync.WaitGroup
	// The first failure of a part that should run until shutdown stops
	// the process; later ones are logged and dropped, never blocking.
	failed := make(chan error, 1)
	fail := func(err error) {
		select {
		case failed <- err:
		default:
			logger.Error("failure during shutdown", "err", err)
		}
	}

	var sources []ingest.EventSources
	var hubs []*fanout.Hub
	defer func() {
		for _, h := range hubs {
			h.Close()
		}
	}()
	for i := range cfg.Events {
		ec := &cfg.Events[i]
		log, err := store.Log(ctx, ec.Slug)
		if err != nil {
			return fmt.Errorf("open the log of %q: %w", ec.Slug, err)
		}
		// Every role keeps the event's fold: screens draw from it, and the
		// sources read from it the moderation mode moderators set (a switch
		// through the settings API applies to the next post) and which posts
		// are on the wall (the Mastodon delete check visits those first).
		live := fold.NewLive(log, fold.SettingsView{Title: ec.Title, Moderation: ec.Moderation.Mode, Display: ec.Display.Map()})
		folds.Go(func() {
			if err := live.Run(foldCtx); err != nil {
				fail(fmt.Errorf("fold of %q: %w", ec.Slug, err))
			}
		})
		es, err := eventSources(ec, log, live.OnWall, logger)
		if err != nil {
			return err
		}
		es.Rules = moderation.NewModeRules(rulesOf(&ec.Moderation), live.Mode)
		if sourcesOn {
			sources = append(sources, es)
		}
		if !screens {
			logger.Info("running the sources of event", "event", ec.Slug, "sources", len(es.Sources))
			continue
		}
		form.SetEvent(ec.Slug, webform.Event{Sink: formSink(log, es.Rules), Notice: ec.PrivacyNotice})
		hub, err := fanout.New(ctx, fanout.LiveFeed{Live: live}, log, fanout.Options{Event: ec.Slug, Registerer: reg, Logger: logger})
		if err != nil {
			return fmt.Errorf("fan-out of %q: %w", ec.Slug, err)
		}
		hubs = append(hubs, hub)
		we := &wall.Event{Config: ec, Log: log, Live: live, Hub: hub}
		if err := srv.AddEvent(we); err != nil {
			return err
		}
		logger.Info("serving event", "event", ec.Slug, "title", ec.Title, "hashtags", ec.Hashtags,
			"sources", len(es.Sources), "sources_here", sourcesOn, "moderation", string(ec.Moderation.Mode))
	}

	if screens {
		opts := wall.StaffOptions{Auth: authn, Form: form}
		if cfg.Redis != "" {
			// Several nodes share one Redis: share presence there too, so
			// moderators on different nodes see each other (issue 7).
			ps, err := redispresence.Open(ctx, cfg.Redis, presenceTTL)
			if err != nil {
				return err
			}
			defer ps.Close()
			opts.Presence, opts.PresenceTTL = ps, presenceTTL
		}
		if err := srv.MountStaff(opts); err != nil {
			return err
		}
	}
	var views []metrics.EventFold
	for _, we := range srv.Events() {
		views = append(views, metrics.EventFold{Slug: we.Slug(), Live: we.Live})
	}
	if err := metrics.RegisterViews(reg, store, views); err != nil {
		return err
	}

	sourceCtx, stopSources := context.WithCancel(context.WithoutCancel(ctx))
	defer stopSources()
	sourcesDone := make(chan struct{})
	if sourcesOn {
		runner, err := ingest.NewRunner(ingest.RunnerConfig{Store: store, Registerer: reg, Logger: logger}, sources...)
		if err != nil {
			return fmt.Errorf("sources: %w", err)
		}
		for _, we := range srv.Events() {
			slug := we.Slug()
			we.Health = func() []ingest.HealthSnapshot { return runner.Health(slug) }
		}
		go func() {
			defer close(sourcesDone)
			if err := runner.Run(sourceCtx); err != nil {
				fail(fmt.Errorf("sources: %w", err))
			}
		}()
	} else {
		close(sourcesDone)
	}

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	httpSrv := &http.Server{
		Handler:           roleHandler(role, srv),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := httpSrv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fail(fmt.Errorf("http: %w", err))
		}
	}()
	logger.Info("listening", "addr", ln.Addr().String(), "role", role, "version", buildVersion())

	var runErr error
	select {
	case <-ctx.Done():
		logger.Info("shutting down", "cause", context.Cause(ctx), "deadline", shutdownTimeout)
	case runErr = <-failed:
		logger.Error("shutting down after a failure", "err", runErr)
	}
	// A second Ctrl-C during the shutdown kills the process at once.
	stopSignals()

	deadline, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	var errs []error
	if runErr != nil {
		errs = append(errs, runErr)
	}
	if err := httpSrv.Shutdown(deadline); err != nil {
		errs = append(errs, fmt.Errorf("http shutdown: %w", err))
		_ = httpSrv.Close()
	}
	// Websockets were hijacked from the HTTP server, so Shutdown did not
	// wait for them: tell those clients we are going away.
	for _, h := range hubs {
		h.Close()
	}
	hubs = nil
	stopSources()
	select {
	case <-sourcesDone:
	case <-deadline.Done():
		errs = append(errs, errors.New("sources did not stop before the shutdown deadline"))
	}
	stopFolds()
	foldsDone := make(chan struct{})
	go func() { folds.Wait(); close(foldsDone) }()
	select {
	case <-foldsDone:
	case <-deadline.Done():
		errs = append(errs, errors.New("folds did not stop before the shutdown deadline"))
	}
	storeClosed = true
	if err := raw.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close the log: %w", err))
	}
	if len(errs) == 0 {
		logger.Info("stopped cleanly")
	}
	return errors.Join(errs...)
}

// redacted hides a Redis URL's password from the logs.
func redacted(u string) string {
	if u == "" {
		return ""
	}
	if p, err := url.Parse(u); err == nil {
		return p.Redacted()
	}
	return "(unparseable)"
}
