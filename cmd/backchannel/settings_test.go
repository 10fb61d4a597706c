package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/internal/redistest"
)

// Two fan-out nodes and an ingest node over one Redis, as behind a load
// balancer with no sticky sessions: a moderator on one fan-out node sees
// the post another has open on the other, and a switch of the moderation
// mode made through one node's API is what the ingest node evaluates the
// next posts with.
func TestSettingsAndPresenceAcrossRoles(t *testing.T) {
	rs := redistest.Start(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "events.yaml")
	yml := `events:
  - slug: ev
    hashtags: [OurDay]
    moderation: {mode: pre}
    sources:
      - {type: rehearsal, rate: 600}
    roles:
      moderator: {tokens_env: BCTEST_MOD_TOKENS}
      facilitator: {tokens_env: BCTEST_FAC_TOKENS}
`
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	const ada, bob, fay = "ada-token-0123456789abcdef", "bob-token-0123456789abcdef", "fay-token-0123456789abcdef"
	t.Setenv("BCTEST_MOD_TOKENS", ada+","+bob)
	t.Setenv("BCTEST_FAC_TOKENS", fay)
	common := []string{"serve", "--config", cfg, "--redis", rs.URL, "--listen", "127.0.0.1:0"}
	in := start(t, append(common, "--role", "ingest", "--data", t.TempDir())...)
	a := start(t, append(common, "--role", "fanout", "--data", t.TempDir())...)
	b := start(t, append(common, "--role", "fanout", "--data", t.TempDir())...)

	call := func(p *proc, method, path, token string, body any, into any) int {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, method, "http://"+p.addr+path, rd)
		req.Header.Set("Authorization", "Bearer "+token)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		if into != nil && res.StatusCode < 300 {
			if err := json.Unmarshal(raw, into); err != nil {
				t.Fatalf("%s %s: %v in %s", method, path, err, raw)
			}
		}
		return res.StatusCode
	}

	// Presence: ada opens a post on node A, bob sees it on node B.
	var queue struct {
		Posts []struct {
			ID string `json:"id"`
		} `json:"posts"`
	}
	waitFor(t, "a post in node A's queue", 30*time.Second, func() bool {
		return call(a, "GET", "/api/events/ev/queue", ada, nil, &queue) == 200 && len(queue.Posts) > 0
	})
	id := queue.Posts[0].ID
	if code := call(a, "POST", "/api/events/ev/posts/"+id+"/open", ada, nil, nil); code != 200 {
		t.Fatalf("open on node A = %d", code)
	}
	waitFor(t, "node B's fold to have the post", 10*time.Second, func() bool {
		return call(b, "GET", "/api/events/ev/posts/"+id, bob, nil, nil) == 200
	})
	var open struct {
		Others []struct {
			PostID string `json:"post_id"`
		} `json:"others"`
	}
	if code := call(b, "POST", "/api/events/ev/posts/"+id+"/open", bob, nil, &open); code != 200 || len(open.Others) != 1 || open.Others[0].PostID != id {
		t.Fatalf("bob on node B = %d, others %+v; want ada's open post from node A", code, open.Others)
	}

	// Settings: a facilitator may not; a moderator on node B switches to auto.
	if code := call(b, "POST", "/api/events/ev/settings", fay, map[string]string{"moderation": "auto"}, nil); code != 403 {
		t.Fatalf("facilitator POST settings = %d, want 403", code)
	}
	type audit struct {
		Entries []struct {
			Pos     uint64 `json:"pos"`
			Kind    string `json:"kind"`
			Summary string `json:"summary"`
		} `json:"entries"`
		Pos uint64 `json:"pos"`
	}
	// received lists the decisions taken on arrival after pos as node A's
	// audit has them.
	received := func(after uint64) []string {
		var au audit
		if call(a, "GET", "/api/events/ev/audit?limit=500", ada, nil, &au) != 200 {
			return nil
		}
		var out []string
		for _, e := range au.Entries {
			if e.Pos > after && e.Kind == "post.received" {
				out = append(out, e.Summary)
			}
		}
		return out
	}
	switchTo := func(mode string) uint64 {
		t.Helper()
		var sv struct {
			Moderation string `json:"moderation"`
		}
		if code := call(b, "POST", "/api/events/ev/settings", bob, map[string]string{"moderation": mode}, &sv); code != 200 || sv.Moderation != mode {
			t.Fatalf("switch to %s = %d %+v", mode, code, sv)
		}
		var au audit
		call(b, "GET", "/api/events/ev/audit?limit=1", bob, nil, &au)
		return au.Pos
	}
	p := switchTo("auto")
	waitFor(t, "a post approved on arrival after the switch to auto", 30*time.Second, func() bool {
		for _, s := range received(p) {
			if strings.Contains(s, "auto-approve") {
				return true
			}
		}
		return false
	})
	p = switchTo("pre")
	// Holds are not in the audit (only decisions are); the queue has them.
	type queued struct {
		ReceivedPos uint64 `json:"received_pos"`
		Rule        string `json:"rule"`
	}
	var held []queued
	waitFor(t, "three posts held by pre-moderation after the switch back", 30*time.Second, func() bool {
		var q struct {
			Posts []queued `json:"posts"`
		}
		if call(a, "GET", "/api/events/ev/queue", ada, nil, &q) != 200 {
			return false
		}
		held = held[:0]
		for _, x := range q.Posts {
			if x.ReceivedPos > p && x.Rule == "pre-moderation" {
				held = append(held, x)
			}
		}
		return len(held) >= 3
	})
	// The ingest node may have evaluated a post before it read the switch;
	// none after the first one it held.
	first := held[0].ReceivedPos
	for _, x := range held {
		first = min(first, x.ReceivedPos)
	}
	var au audit
	call(a, "GET", "/api/events/ev/audit?limit=500", ada, nil, &au)
	for _, e := range au.Entries {
		if e.Pos > first && e.Kind == "post.received" && strings.Contains(e.Summary, "auto-approve") {
			t.Errorf("auto-approved at %d, after the switch back to pre was in effect at %d", e.Pos, first)
		}
	}
	for _, pr := range []*proc{a, b, in} {
		if code := pr.stop(t); code != 0 {
			t.Errorf("exit code = %d", code)
		}
	}
}
