// Command loadgen measures the fan-out: it opens N public websocket
// connections to an event, publishes posts at a rate through the ingest
// path, and reports delivered messages/s, publish→receive latency, lost and
// duplicated posts per connection, and the server's RSS per connection.
//
//	loadgen serve -addr 127.0.0.1:8089 -dir /tmp/loadgen   # the server under test
//	loadgen run -server http://127.0.0.1:8089 -conns 1000 -rate 100 -duration 20s
//
// serve runs what a backchannel node runs for one event (the embedded log,
// the live fold, the fanout hub) with moderation in auto mode, and takes
// posts on POST /publish through ingest.LogSink and the moderation rules,
// the same path a source's posts take. relay takes the same POST /publish
// and appends to an event's Redis log, for measuring backchannel --role
// fanout (cmd/loadgen/bench-redis.sh). Everything is loopback only and
// bounded in time and count.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: loadgen serve|run|relay [flags]  (loadgen run -h for flags)")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch os.Args[1] {
	case "serve":
		err = serve(ctx, os.Args[2:])
	case "run":
		err = run(ctx, os.Args[2:], os.Stdout)
	case "relay":
		err = relay(ctx, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q: want serve, run or relay", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}
