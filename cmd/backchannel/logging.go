package main

import (
	"io"
	"log/slog"
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
