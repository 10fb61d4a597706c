package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"gopkg.in/yaml.v3"
)

// Issue 13: after rehearsing in auto mode and starting for real on the
// same data, the wall showed the made-up posts. The real binary rehearses,
// stops, starts without the rehearsal source, and no rehearsal post is on
// the wall, the public socket, the moderators' queue or the exports; the
// real post sent during the rehearsal stays, and the audit keeps the
// record.
func TestStartForRealEndsTheRehearsal(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	event := func(rehearse bool) string {
		cfg := filepath.Join(dir, fmt.Sprintf("events-%v.yaml", rehearse))
		src := "    sources: []\n"
		if rehearse {
			src = "    sources:\n      - type: rehearsal\n        rate: 1200\n"
		}
		body := "events:\n  - slug: day\n    title: Day\n    hashtags: [Leaders4Leeds]\n" + src + "    moderation:\n      mode: auto\n      profanity: false\n"
		if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	rehearsal := start(t, "serve", "--config", event(true), "--listen", "127.0.0.1:0", "--data", data)
	base := "http://" + rehearsal.addr
	var wall wallBody
	waitFor(t, "20 rehearsal posts on the wall", 60*time.Second, func() bool {
		code, err := getJSON(base+"/api/events/day/wall?limit=500", &wall)
		return err == nil && code == 200 && len(wall.Posts) >= 20
	})
	res, err := http.Post(base+"/e/day/form", "application/json", strings.NewReader(`{"text":"A real question from outside"}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("web form: %v %v", err, res)
	}
	res.Body.Close()
	if code := rehearsal.stop(t); code != 0 {
		t.Fatalf("rehearsal exit code %d", code)
	}

	real := start(t, "serve", "--config", event(false), "--listen", "127.0.0.1:0", "--data", data)
	base = "http://" + real.addr
	if !real.logged("started without --rehearse: the rehearsal is over, its posts leave every screen") {
		t.Error("the start did not say it ended the rehearsal")
	}
	if code, err := getJSON(base+"/api/events/day/wall?limit=500", &wall); err != nil || code != 200 || len(wall.Posts) != 0 {
		t.Fatalf("public wall after the real start: %d %v, %d posts; want none", code, err, len(wall.Posts))
	}
	// The public socket's snapshot: what a wall that connects now shows.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+real.addr+"/api/events/day/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, frame, err := ws.ReadMessage()
	ws.Close()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(frame), `"source":"rehearsal"`) {
		t.Errorf("the public socket's snapshot carries a rehearsal post: %.300s", frame)
	}

	raw, err := os.ReadFile(filepath.Join(data, "passphrases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pass map[string]map[string]string
	if err := yaml.Unmarshal(raw, &pass); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	staff := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	res, err = staff.Post(base+"/e/day/login", "application/json", strings.NewReader(fmt.Sprintf(`{"passphrase":%q,"name":"host"}`, pass["day"]["moderator"])))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("login: %v %v", err, res)
	}
	res.Body.Close()
	get := func(path string) string {
		t.Helper()
		res, err := staff.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := res.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		if res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, res.StatusCode, b.String())
		}
		return b.String()
	}
	var queue struct {
		Posts []struct {
			Text   string `json:"text"`
			Source string `json:"source"`
		} `json:"posts"`
	}
	if err := json.Unmarshal([]byte(get("/api/events/day/queue")), &queue); err != nil {
		t.Fatal(err)
	}
	if len(queue.Posts) != 1 || queue.Posts[0].Source != "form" {
		t.Errorf("the moderators' queue: %+v, want the form post only", queue.Posts)
	}
	for _, path := range []string{"/api/events/day/export/posts.csv?state=all", "/api/events/day/export/questions.json", "/api/events/day/posts?state=rejected", "/api/events/day/posts?state=approved"} {
		if body := get(path); strings.Contains(body, "rehearsal") {
			t.Errorf("%s still holds the rehearsal: %.300s", path, body)
		}
	}
	var counts struct {
		Received, Approved, Rehearsal int
		Live                          bool
	}
	if err := json.Unmarshal([]byte(get("/api/events/day/counts")), &counts); err != nil {
		t.Fatal(err)
	}
	if counts.Received != 1 || counts.Approved != 0 || counts.Rehearsal != 0 || !counts.Live {
		t.Errorf("counts %+v, want the form post alone, live", counts)
	}
	if audit := get("/api/events/day/audit"); !strings.Contains(audit, "went live") {
		t.Errorf("the audit does not record going live: %.300s", audit)
	}
	if code := real.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}

	// Started again for real: nothing more to end, nothing appended.
	again := start(t, "serve", "--config", event(false), "--listen", "127.0.0.1:0", "--data", data)
	if again.logged("started without --rehearse: the rehearsal is over, its posts leave every screen") {
		t.Error("a second real start went live again")
	}
	again.stop(t)
}
