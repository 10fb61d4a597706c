package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"gopkg.in/yaml.v3"

	"github.com/backchannel/backchannel/internal/redistest"
)

// buildBinary builds the real binary once per test run.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "backchannel-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "backchannel")
		cmd := exec.Command("go", "build", "-ldflags", "-X main.version=v0.0.0-test", "-o", binPath, ".")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// proc is a running backchannel process.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	mu     sync.Mutex
	lines  []map[string]any
	stderr bytes.Buffer
	exited chan struct{}
	err    error
}

// start runs the binary with args, its logs in JSON, and waits until it
// logs the address it listens on.
func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startCommand(t, exec.Command(binary(t), args...))
}

// startCommand runs cmd, which runs the binary (perhaps through a
// wrapper such as prlimit that execs it), as start does.
func startCommand(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{exited: make(chan struct{}), cmd: cmd}
	p.cmd.Env = append(os.Environ(), "BACKCHANNEL_LOG_FORMAT=json", "BACKCHANNEL_LOG_LEVEL=debug")
	pipe, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addrc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Bytes()
			var m map[string]any
			p.mu.Lock()
			p.stderr.Write(line)
			p.stderr.WriteByte('\n')
			if json.Unmarshal(line, &m) == nil {
				p.lines = append(p.lines, m)
				if m["msg"] == "listening" {
					addrc <- m["addr"].(string)
				}
			}
			p.mu.Unlock()
		}
		p.err = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("backchannel's log:\n%s", p.log())
		}
	})
	select {
	case p.addr = <-addrc:
	case <-p.exited:
		t.Fatalf("backchannel exited before listening: %v\n%s", p.err, p.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("backchannel did not listen within 60s\n%s", p.log())
	}
	return p
}

func (p *proc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *proc) logged(msg string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.ContainsFunc(p.lines, func(m map[string]any) bool { return m["msg"] == msg })
}

// stop sends SIGTERM and returns the exit code.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("backchannel did not exit within 30s of SIGTERM\n%s", p.log())
	}
	return p.cmd.ProcessState.ExitCode()
}

// waitFor polls fn until it reports done, failing at the deadline.
func waitFor(t *testing.T, what string, d time.Duration, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond) // polling interval, not synchronisation
	}
}

func getJSON(url string, into any) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return res.StatusCode, err
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			return res.StatusCode, fmt.Errorf("%w in %s", err, b)
		}
	}
	return res.StatusCode, nil
}

type eventInfo struct {
	Slug  string `json:"slug"`
	Title string `json:"title"`
	Pos   uint64 `json:"pos"`
}

type wallBody struct {
	Posts []struct {
		ID string `json:"id"`
	} `json:"posts"`
	Pos uint64 `json:"pos"`
}

// The real binary, with a rehearsal source, on a loopback port: it becomes
// ready, posts arrive in the log, SIGTERM stops it cleanly, and a restart
// over the same data directory serves the same log.
func TestServeRehearsalRestart(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "events.yaml")
	if err := os.WriteFile(cfg, []byte(`events:
  - slug: rehearsal-day
    title: "Rehearsal"
    hashtags: [Leaders4Leeds]
    sources:
      - type: rehearsal
        rate: 1200
    moderation:
      mode: auto
      profanity: false
`), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--data", data}

	p := start(t, args...)
	base := "http://" + p.addr
	waitFor(t, "/readyz 200", 30*time.Second, func() bool {
		code, _ := getJSON(base+"/readyz", nil)
		return code == 200
	})
	var info eventInfo
	waitFor(t, "10 events in the log", 30*time.Second, func() bool {
		code, err := getJSON(base+"/api/events/rehearsal-day", &info)
		return err == nil && code == 200 && info.Pos >= 10
	})
	var before wallBody
	waitFor(t, "posts on the wall", 30*time.Second, func() bool {
		code, err := getJSON(base+"/api/events/rehearsal-day/wall?limit=500", &before)
		return err == nil && code == 200 && len(before.Posts) > 0
	})
	if !p.logged("no credentials configured for some roles: their passphrases are in this file (readable by you only)") {
		t.Error("first run did not log where the generated passphrases are")
	}
	pass1, err := os.ReadFile(filepath.Join(data, "passphrases.yaml"))
	if err != nil {
		t.Fatalf("generated passphrases: %v", err)
	}

	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code after SIGTERM = %d, want 0", code)
	}
	if !p.logged("stopped cleanly") {
		t.Error(`no "stopped cleanly" in the log`)
	}

	// Restart over the same data: the fold replays the same log.
	p2 := start(t, args...)
	base2 := "http://" + p2.addr
	waitFor(t, "/readyz 200 after restart", 30*time.Second, func() bool {
		code, _ := getJSON(base2+"/readyz", nil)
		return code == 200
	})
	var after wallBody
	waitFor(t, "the old log replayed", 30*time.Second, func() bool {
		code, err := getJSON(base2+"/api/events/rehearsal-day/wall?limit=500", &after)
		return err == nil && code == 200 && after.Pos >= before.Pos
	})
	seen := map[string]bool{}
	for _, p := range after.Posts {
		seen[p.ID] = true
	}
	for _, p := range before.Posts {
		// The wall keeps the newest 500; anything shown before that is
		// still among them must be there.
		if len(after.Posts) < 500 && !seen[p.ID] {
			t.Errorf("post %s on the wall before the restart is missing after it", p.ID)
		}
	}
	pass2, _ := os.ReadFile(filepath.Join(data, "passphrases.yaml"))
	if !bytes.Equal(pass1, pass2) {
		t.Error("passphrases changed across a restart")
	}
	var metrics string
	waitFor(t, "metrics", 10*time.Second, func() bool {
		res, err := http.Get(base2 + "/metrics")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		metrics = string(b)
		return res.StatusCode == 200
	})
	for _, want := range []string{`backchannel_build_info{goversion="go`, `version="v0.0.0-test"`, `backchannel_log_length{event="rehearsal-day"}`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if code := p2.stop(t); code != 0 {
		t.Fatalf("second exit code = %d, want 0", code)
	}
}

// A first run from flags alone: --tag names the event; the generated
// moderator passphrase logs in; a web form post reaches the moderators'
// queue; the sources' health is served.
func TestServeFromFlags(t *testing.T) {
	data := t.TempDir()
	p := start(t, "serve", "--tag", "Leaders4Leeds", "--rehearse", "--listen", "127.0.0.1:0", "--data", data)
	base := "http://" + p.addr
	if !p.logged("addresses to open") {
		t.Error("the addresses to open are not announced at start")
	}
	var list struct{ Events []eventInfo }
	waitFor(t, "the event listed", 30*time.Second, func() bool {
		code, err := getJSON(base+"/api/events", &list)
		return err == nil && code == 200 && len(list.Events) == 1
	})
	if e := list.Events[0]; e.Slug != "leaders4leeds" || e.Title != "#Leaders4Leeds" {
		t.Errorf("event = %+v", e)
	}

	raw, err := os.ReadFile(filepath.Join(data, "passphrases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pass map[string]map[string]string
	if err := yaml.Unmarshal(raw, &pass); err != nil {
		t.Fatal(err)
	}
	mod := pass["leaders4leeds"]["moderator"]
	if mod == "" || pass["leaders4leeds"]["facilitator"] == "" {
		t.Fatalf("passphrases file = %s", raw)
	}

	post := func(c *http.Client, path, body string) int {
		t.Helper()
		res, err := c.Post(base+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post(http.DefaultClient, "/e/leaders4leeds/form", `{"text":"Hello from outside the room"}`); code != 200 {
		t.Fatalf("web form post = %d", code)
	}
	if code, _ := getJSON(base+"/api/events/leaders4leeds/queue", nil); code != 401 {
		t.Errorf("queue without credentials = %d, want 401", code)
	}
	jar, _ := cookiejar.New(nil)
	staff := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	if code := post(staff, "/e/leaders4leeds/login", `{"passphrase":"wrong-passphrase"}`); code != 401 {
		t.Errorf("wrong passphrase = %d, want 401", code)
	}
	if code := post(staff, "/e/leaders4leeds/login", fmt.Sprintf(`{"passphrase":%q,"name":"host"}`, mod)); code != 200 {
		t.Fatalf("login with the generated passphrase = %d", code)
	}
	getStaff := func(path string, into any) int {
		res, err := staff.Get(base + path)
		if err != nil {
			return 0
		}
		defer res.Body.Close()
		if into != nil {
			_ = json.NewDecoder(res.Body).Decode(into)
		}
		return res.StatusCode
	}
	var queue struct {
		Posts []struct {
			Text   string `json:"text"`
			Source string `json:"source"`
			Rule   string `json:"rule"`
		} `json:"posts"`
	}
	waitFor(t, "the form post in the queue", 30*time.Second, func() bool {
		if getStaff("/api/events/leaders4leeds/queue", &queue) != 200 {
			return false
		}
		return slices.ContainsFunc(queue.Posts, func(p struct {
			Text   string `json:"text"`
			Source string `json:"source"`
			Rule   string `json:"rule"`
		}) bool {
			return p.Text == "Hello from outside the room" && p.Source == "form"
		})
	})
	var sources struct {
		Sources []struct {
			Source string `json:"source"`
			State  string `json:"state"`
		} `json:"sources"`
	}
	if code := getStaff("/api/events/leaders4leeds/sources", &sources); code != 200 || len(sources.Sources) != 1 || sources.Sources[0].Source != "rehearsal" {
		t.Errorf("sources = %d %+v", code, sources)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code = %d", code)
	}
}

// Every kind of source shows in the moderators' source health, failing
// ones with their error: each here points at a loopback port nobody
// listens on, as a source does when the venue's network is down.
func TestSourceHealthListsEveryKind(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "events.yaml")
	yml := `events:
  - slug: ev
    hashtags: [OurDay]
    sources:
      - {type: mastodon, server: "http://127.0.0.1:1"}
      - {type: bluesky, jetstream: ["ws://127.0.0.1:1/subscribe"]}
      - {type: rss, url: "http://127.0.0.1:1/tags/OurDay.rss"}
      - {type: rehearsal, rate: 600}
`
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--data", dir)
	base := "http://" + p.addr
	raw, err := os.ReadFile(filepath.Join(dir, "passphrases.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pass map[string]map[string]string
	if err := yaml.Unmarshal(raw, &pass); err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	staff := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	res, err := staff.Post(base+"/e/ev/login", "application/json", strings.NewReader(fmt.Sprintf(`{"passphrase":%q}`, pass["ev"]["moderator"])))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("login = %s", res.Status)
	}
	type health struct {
		Source    string `json:"source"`
		Kind      string `json:"kind"`
		State     string `json:"state"`
		LastError string `json:"last_error"`
		Appended  int    `json:"appended"`
	}
	var got map[string]health
	waitFor(t, "every source's health, the unreachable ones failing", 30*time.Second, func() bool {
		res, err := staff.Get(base + "/api/events/ev/sources")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		var body struct{ Sources []health }
		if res.StatusCode != 200 || json.NewDecoder(res.Body).Decode(&body) != nil {
			return false
		}
		got = map[string]health{}
		for _, h := range body.Sources {
			got[h.Kind] = h
		}
		for _, k := range []string{"mastodon", "bluesky", "rss"} {
			if h := got[k]; h.LastError == "" || h.State == "ok" {
				return false
			}
		}
		return got["rehearsal"].State == "ok" && got["rehearsal"].Appended > 0
	})
	for k, h := range got {
		t.Logf("%s: %+v", k, h)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code = %d", code)
	}
}

func TestServeRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "events.yaml")
	if err := os.WriteFile(cfg, []byte("events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: mastodon\n        server: mastodon.social\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	code := run(context.Background(), []string{"serve", "--config", cfg}, io.Discard, &stderr, func(string) string { return "" })
	if code != 2 {
		t.Errorf("exit code = %d, want 2", code)
	}
	if want := cfg + ":6: events[0].sources[0].server: not a URL"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q lacks %q", stderr.String(), want)
	}
}

func TestCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errb, os.Getenv); code != 0 || !strings.HasPrefix(out.String(), "backchannel ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errb, os.Getenv); code != 2 || !strings.Contains(errb.String(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: %d %q", code, errb.String())
	}
	errb.Reset()
	for _, c := range []struct{ role, want string }{
		{"fanout", "--role fanout needs --redis"},
		{"ingest", "--role ingest needs --redis"},
		{"everything", `--role "everything": use all, ingest or fanout`},
	} {
		errb.Reset()
		if code := run(context.Background(), []string{"serve", "--tag", "T", "--role", c.role}, &out, &errb, func(string) string { return "" }); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("--role %s: %d %q", c.role, code, errb.String())
		}
	}
}

// With --redis the logs live in Redis; /readyz follows Redis: 503 while it
// is down, 200 again once it is back, and the process keeps running.
func TestServeOnRedis(t *testing.T) {
	rs := redistest.Start(t)
	dir := t.TempDir()
	p := start(t, "serve", "--tag", "OurDay", "--rehearse", "--moderation", "auto",
		"--redis", rs.URL, "--listen", "127.0.0.1:0", "--data", dir)
	base := "http://" + p.addr
	ready := func(want int) func() bool {
		return func() bool { code, _ := getJSON(base+"/readyz", nil); return code == want }
	}
	waitFor(t, "/readyz 200", 30*time.Second, ready(200))
	var info eventInfo
	waitFor(t, "posts in the Redis log", 30*time.Second, func() bool {
		code, err := getJSON(base+"/api/events/ourday", &info)
		return err == nil && code == 200 && info.Pos >= 1
	})
	rs.Kill(t)
	waitFor(t, "/readyz 503 with Redis down", 30*time.Second, ready(503))
	if code, _ := getJSON(base+"/healthz", nil); code != 200 {
		t.Errorf("/healthz = %d with Redis down, want 200", code)
	}
	rs.Restart(t)
	waitFor(t, "/readyz 200 with Redis back", 30*time.Second, ready(200))
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code = %d", code)
	}
}

// While Redis is away, go-redis's own complaints (failed dials) reach the
// process's structured log like every other line, not as plain text in the
// middle of JSON.
func TestRedisClientLogsAreStructured(t *testing.T) {
	rs := redistest.Start(t)
	p := start(t, "serve", "--tag", "OurDay", "--redis", rs.URL, "--listen", "127.0.0.1:0", "--data", t.TempDir())
	base := "http://" + p.addr
	waitFor(t, "/readyz 200", 30*time.Second, func() bool { code, _ := getJSON(base+"/readyz", nil); return code == 200 })
	rs.Kill(t)
	waitFor(t, "go-redis to report a failed dial", 30*time.Second, func() bool {
		getJSON(base+"/readyz", nil) // makes the client dial
		return strings.Contains(p.log(), "failed to dial")
	})
	for _, line := range strings.Split(strings.TrimSpace(p.log()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("not a JSON log line: %s", line)
		}
	}
	rs.Restart(t)
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code = %d", code)
	}
}

// The scaled-out shape: an ingest process runs the sources, a fan-out
// process serves the screens, both over one Redis: what one appends, the
// other shows.
func TestServeRolesShareRedis(t *testing.T) {
	rs := redistest.Start(t)
	common := []string{"serve", "--tag", "OurDay", "--rehearse", "--moderation", "auto", "--redis", rs.URL, "--listen", "127.0.0.1:0"}
	ingestData, fanoutData := t.TempDir(), t.TempDir()
	in := start(t, append(common, "--role", "ingest", "--data", ingestData)...)
	out := start(t, append(common, "--role", "fanout", "--data", fanoutData)...)

	var info eventInfo
	waitFor(t, "the fan-out node to show posts the ingest node appended", 30*time.Second, func() bool {
		code, err := getJSON("http://"+out.addr+"/api/events/ourday", &info)
		return err == nil && code == 200 && info.Pos >= 1
	})
	// An ingest node serves health and metrics only (roles.go).
	if code, _ := getJSON("http://"+in.addr+"/api/events", nil); code != 404 {
		t.Errorf("ingest node GET /api/events = %d, want 404", code)
	}
	if code, _ := getJSON("http://"+in.addr+"/readyz", nil); code != 200 {
		t.Errorf("ingest node /readyz = %d", code)
	}
	res, err := http.Get("http://" + out.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`backchannel_fold_position{event="ourday"}`, `backchannel_moderation_queue_depth{event="ourday"}`, "backchannel_ready 1"} {
		if !strings.Contains(string(m), want) {
			t.Errorf("fan-out /metrics lacks %s", want)
		}
	}
	// The container image's health check: 0 for a node that answers, 1
	// for one that does not (checked after the stop below).
	var discard bytes.Buffer
	if code := run(context.Background(), []string{"healthcheck", "http://" + in.addr + "/readyz"}, &discard, &discard, os.Getenv); code != 0 {
		t.Errorf("healthcheck of a ready node = %d: %s", code, discard.String())
	}
	// Nodes sharing Redis never invent credentials of their own: none is
	// written to a data directory; the first fan-out node stores them in
	// Redis and a second one, started after it, uses the same, so a login
	// on one works on the other.
	for _, dir := range []string{ingestData, fanoutData} {
		if _, err := os.Stat(filepath.Join(dir, "passphrases.yaml")); !os.IsNotExist(err) {
			t.Errorf("a node wrote passphrases into its data directory: %v", err)
		}
	}
	out2 := start(t, append(common, "--role", "fanout", "--data", t.TempDir())...)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	defer rdb.Close()
	mod, err := rdb.Get(context.Background(), "bc:shared:{passphrase:ourday:moderator}").Result()
	if err != nil {
		t.Fatalf("the moderators' shared passphrase: %v", err)
	}
	jar, _ := cookiejar.New(nil)
	staff := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	login, err := staff.Post("http://"+out.addr+"/e/ourday/login", "application/json", strings.NewReader(fmt.Sprintf(`{"passphrase":%q}`, mod)))
	if err != nil {
		t.Fatal(err)
	}
	login.Body.Close()
	if login.StatusCode != 200 {
		t.Fatalf("login on the first fan-out node with the passphrase in Redis = %s", login.Status)
	}
	for _, node := range []*proc{out, out2} {
		// The cookie of the login on the first node, sent to each node.
		req, _ := http.NewRequest("GET", "http://"+node.addr+"/api/events/ourday/queue", nil)
		for _, c := range jar.Cookies(login.Request.URL) {
			req.AddCookie(c)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Errorf("the queue on %s with the session from the first node = %s", node.addr, res.Status)
		}
	}
	// The fan-out node ran no source: its log of the run says so.
	if out.logged("source lease taken: running it here") {
		t.Error("the fan-out node ran a source")
	}
	for _, p := range []*proc{out2, out, in} {
		if code := p.stop(t); code != 0 {
			t.Errorf("exit code = %d", code)
		}
	}
	if code := run(context.Background(), []string{"healthcheck", "http://" + in.addr + "/readyz"}, &discard, &discard, os.Getenv); code != 1 {
		t.Errorf("healthcheck of a stopped node = %d, want 1", code)
	}
}
