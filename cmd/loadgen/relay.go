package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"time"
)

// relay takes posts on POST /publish, as serve does, and appends them to
// an event's Redis log through the ingest path: the ingest process of a
// measurement of backchannel --role fanout, for any load client that
// publishes over HTTP (loadgen run, cmd/wsprobe).
func relay(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("relay", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8090", "loopback address to listen on")
	redisURL := fs.String("redis", "redis://127.0.0.1:6379/0", "the Redis holding the event's log (loopback)")
	slug := fs.String("event", "loadtest", "the event's slug")
	pid := fs.Int("pid", 0, "the fan-out node's pid, answered on GET /pid")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return err
	}
	ru, err := url.Parse(*redisURL)
	if err != nil {
		return err
	}
	for _, h := range []string{host, ru.Hostname()} {
		if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
			return fmt.Errorf("%s: loopback only", h)
		}
	}
	sink, closeSink, err := redisSink(ctx, *redisURL, *slug)
	if err != nil {
		return err
	}
	defer closeSink()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /pid", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, strconv.Itoa(*pid)) })
	mux.HandleFunc("POST /publish", publishHandler(sink))
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("loadgen relay: listening", slog.String("addr", *addr), slog.Int("pid", os.Getpid()), slog.String("event", *slug))
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(sctx)
}
