package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/backchannel/backchannel/event"
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

	results := map[bool]map[string]any{}
	for _, deflate := range []bool{false, true} {
		var out bytes.Buffer
		args := []string{"-server", "http://" + addr, "-conns", "20", "-rate", "20", "-duration", "1s", "-drain", "5s", "-size", "600", "-settle", "0",
			"-corpus", "testdata/mastodon_public_timeline_2020_tootkit.json", "-deflate=" + strconv.FormatBool(deflate)}
		if err := run(ctx, args, &out); err != nil {
			t.Fatalf("run: %v\n%s", err, out.String())
		}
		report := out.String()
		for _, want := range []string{"published 21 posts", "delivered 420 post-messages", "bytes per delivered post in the frames", "bytes read off the sockets per delivered post", "lost 0", "duplicated 0"} {
			if !strings.Contains(report, want) {
				t.Errorf("report lacks %q:\n%s", want, report)
			}
		}
		_, line, _ := strings.Cut(report, "RESULT ")
		var res map[string]any
		if err := json.Unmarshal([]byte(strings.TrimSpace(line)), &res); err != nil {
			t.Fatalf("RESULT line: %v\n%s", err, report)
		}
		results[deflate] = res
	}
	// Compression shows in the bytes read off the sockets, not in the
	// frames as decoded.
	plain, z := results[false]["socket_bytes_per_post"].(float64), results[true]["socket_bytes_per_post"].(float64)
	if plain < 600 || z >= plain*0.8 {
		t.Errorf("socket bytes per post: %.0f plain, %.0f compressed; want the compressed under 0.8 × the plain", plain, z)
	}
}

// A corpus post's text is the size asked for at most, whole characters,
// and not the same from one post to the next.
func TestPostTextFromCorpus(t *testing.T) {
	corpus, err := loadCorpus("testdata/mastodon_public_timeline_2020_tootkit.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(corpus) < 2000 || strings.Contains(corpus, "<p>") {
		t.Fatalf("corpus: %d bytes, want the statuses' plain text: %.200s", len(corpus), corpus)
	}
	seen := map[string]bool{}
	for seq := range 50 {
		text := postText(corpus, seq, 600)
		if len(text) > 600 || len(text) < 590 || !utf8.ValidString(text) {
			t.Fatalf("post %d: %d bytes, valid UTF-8 %v", seq, len(text), utf8.ValidString(text))
		}
		seen[text] = true
		if v := loadRules().Evaluate(loadPost("urn:loadgen:test", text, time.Now()), time.Now()); v.Decision != event.DecisionApprove {
			t.Errorf("post %d would be held (%s), and never reach a wall: %q", seq, v.Rule, text)
		}
	}
	if len(seen) < 45 {
		t.Errorf("%d different texts in 50 posts", len(seen))
	}
}
