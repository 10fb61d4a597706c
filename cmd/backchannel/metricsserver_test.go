package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestMetricsListener: with --metrics-listen, /metrics answers on that
// address and 404 on the main listener, which still serves the rest; the
// metrics listener serves nothing else. Without it, /metrics stays on the
// main listener. Before, there was no such flag and /metrics was public.
func TestMetricsListener(t *testing.T) {
	p1 := start(t, "serve", "--tag", "OurDay", "--listen", "127.0.0.1:0",
		"--metrics-listen", "127.0.0.1:0", "--data", t.TempDir())
	var maddr string
	waitFor(t, "the metrics listener in the log", 30*time.Second, func() bool {
		p1.mu.Lock()
		defer p1.mu.Unlock()
		for _, m := range p1.lines {
			if m["msg"] == "metrics listening" {
				maddr, _ = m["addr"].(string)
			}
		}
		return maddr != ""
	})
	code, body := get(t, "http://"+maddr+"/metrics")
	if code != 200 || !strings.Contains(body, "backchannel_") {
		t.Errorf("metrics listener /metrics: %d, %.200q", code, body)
	}
	if code, _ := get(t, "http://"+p1.addr+"/metrics"); code != 404 {
		t.Errorf("main listener /metrics = %d with --metrics-listen, want 404", code)
	}
	if code, _ := get(t, "http://"+p1.addr+"/healthz"); code != 200 {
		t.Errorf("main listener /healthz = %d, want 200", code)
	}
	for _, path := range []string{"/healthz", "/api/events/ourday", "/"} {
		if code, _ := get(t, "http://"+maddr+path); code != 404 {
			t.Errorf("metrics listener %s = %d, want 404: it serves /metrics and the profiles only", path, code)
		}
	}
	// Go's profiles on the private listener, never on the public one.
	if code, body := get(t, "http://"+maddr+"/debug/pprof/heap?debug=1"); code != 200 || !strings.Contains(body, "HeapAlloc") {
		t.Errorf("metrics listener /debug/pprof/heap: %d, %.100q", code, body)
	}
	for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/profile?seconds=1"} {
		if code, _ := get(t, "http://"+p1.addr+path); code == 200 {
			t.Errorf("main listener %s = 200: a profile on the public listener", path)
		}
	}
	if code := p1.stop(t); code != 0 {
		t.Errorf("exit code = %d", code)
	}

	p := start(t, "serve", "--tag", "OurDay", "--listen", "127.0.0.1:0", "--data", t.TempDir())
	if code, body := get(t, "http://"+p.addr+"/metrics"); code != 200 || !strings.Contains(body, "backchannel_") {
		t.Errorf("without --metrics-listen, /metrics = %d on the main listener, want 200", code)
	}
	if p.logged("metrics listening") {
		t.Error("a metrics listener was opened without --metrics-listen")
	}
	if code, _ := get(t, "http://"+p.addr+"/debug/pprof/"); code == 200 {
		t.Error("without --metrics-listen, /debug/pprof/ = 200 on the main listener: profiles are for the private listener only")
	}
	p.stop(t)
}
