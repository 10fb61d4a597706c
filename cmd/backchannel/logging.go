package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/redis/go-redis/v9"
)

// newLogger returns the process's logger: JSON for log collectors, text for
// a person watching a terminal.
func newLogger(format string, w io.Writer, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// routeRedisLogs sends go-redis's own messages through logger. Left alone,
// the client prints "redis: <date> pool.go:770: ..." with the standard log
// package on every failed dial while Redis is away: plain text in the middle
// of JSON logs, which log collectors cannot parse.
func routeRedisLogs(logger *slog.Logger) {
	redis.SetLogger(redisLogger{logger.With("component", "go-redis")})
}

// redisLogger adapts a *slog.Logger to go-redis's logging interface.
type redisLogger struct{ l *slog.Logger }

// Printf logs one go-redis message at warning level: the client only logs
// what went wrong (failed dials, bad replies), and redislog reports the
// outage itself.
func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.WarnContext(ctx, "redis client", "detail", fmt.Sprintf(format, v...))
}
