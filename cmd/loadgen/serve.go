package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fanout"
	"github.com/backchannel/backchannel/fold"
)

// publishReq is what POST /publish takes: one post, handed to the sink as
// the rehearsal source hands its posts (the web form's posts are always
// held for a moderator, so they would never reach a public wall in auto mode).
type publishReq struct {
	URI  string `json:"uri"`
	Text string `json:"text"`
}

func serve(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:8089", "loopback address to listen on")
	dir := fs.String("dir", "", "data directory of the embedded log (default: a new temporary directory)")
	interval := fs.Duration("public-interval", 0, "public flush interval (0: the hub's default)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := raiseNoFile(); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*addr)
	if err != nil {
		return err
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %s: loopback only", *addr)
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "loadgen-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	store, err := disklog.Open(*dir)
	if err != nil {
		return err
	}
	defer store.Close()
	l, err := store.Log(ctx, "loadtest")
	if err != nil {
		return err
	}
	live := fold.NewLive(l, fold.SettingsView{Title: "load test", Moderation: event.ModeAuto})
	liveDone := make(chan error, 1)
	go func() { liveDone <- live.Run(ctx) }()

	reg := prometheus.NewRegistry()
	hub, err := fanout.New(ctx, fanout.LiveFeed{Live: live}, l, fanout.Options{
		Event: "loadtest", PublicInterval: *interval, Registerer: reg,
	})
	if err != nil {
		return err
	}
	defer hub.Close()

	sink := newSink(l)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) { hub.ServeWS(w, r, fanout.Public) })
	mux.HandleFunc("GET /debug/pprof/", pprof.Index) // heap, goroutine, allocs
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /pid", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strconv.Itoa(os.Getpid()))
	})
	mux.HandleFunc("POST /publish", publishHandler(sink))
	srv := &http.Server{Addr: *addr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	slog.Info("loadgen serve: listening", slog.String("addr", *addr), slog.Int("pid", os.Getpid()), slog.String("dir", *dir))
	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	case err := <-liveDone:
		return fmt.Errorf("fold stopped: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hub.Close()
	return srv.Shutdown(sctx)
}
