package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/internal/redisurl"
)

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
	n, err := openNode(ctx, cfg, *role, logger)
	if err != nil {
		logger.Error("backchannel stopped with an error", "err", err)
		if de := (*disklog.DamageError)(nil); errors.As(err, &de) {
			logger.Error("the event log is damaged in the middle, not torn at its end by a crash: refusing to start on it, so that no decision after the damage is lost; repair it with the command below (docs/OPERATIONS.md)",
				"file", de.File, "offset", de.Offset, "repair", fmt.Sprintf("backchannel repair-log --data %s --event %s", cfg.Data, de.Slug))
		}
		return 1
	}
	if n.screens() {
		announceAddresses(stderr, logger, cfg, n.ln.Addr().String())
	}
	err = n.Run(ctx)
	// A second Ctrl-C during the shutdown kills the process at once.
	stop()
	if err = errors.Join(err, n.Close()); err != nil {
		logger.Error("backchannel stopped with an error", "err", err)
		return 1
	}
	logger.Info("stopped cleanly")
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

// redacted hides a Redis URL's passwords from the logs.
func redacted(u string) string {
	if u == "" {
		return ""
	}
	return redisurl.Redact(u)
}
