package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A small run end to end: the server mode and the run mode in one process,
// over loopback. Every post must reach every connection once.
func TestServeAndRun(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // serve listens itself; the port was free a moment ago

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, []string{"-addr", addr, "-dir", t.TempDir()}) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/pid")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not up: %v", err)
		}
		time.Sleep(20 * time.Millisecond) // polling for the listener against a deadline
	}

	var out bytes.Buffer
	err = run(ctx, []string{"-server", "http://" + addr, "-conns", "20", "-rate", "20", "-duration", "1s", "-drain", "5s", "-size", "600", "-settle", "0"}, &out)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	report := out.String()
	for _, want := range []string{"published 21 posts", "delivered 420 post-messages", "bytes on the wire per delivered post", "lost 0", "duplicated 0"} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
}
