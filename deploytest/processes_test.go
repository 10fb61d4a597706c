package deploytest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/gorilla/websocket"
	"gopkg.in/yaml.v3"
)

// TestComposeAsProcesses runs the services of docker-compose.yml as local
// processes: their commands and environment and the repository's nginx
// and Prometheus files are taken from the compose file itself, and only
// addresses (service names and ports become loopback addresses, container
// paths become the files they mount) and the Prometheus scrape and rule
// intervals (15 s, too slow for a test; 1 s here) are rewritten. It runs
// Debian's real redis-server, nginx and prometheus and the real binary as
// one ingest and two fan-out processes, then:
//
//   - logs in through nginx with the port in the Origin, and acts as a
//     moderator through nginx and on each fan-out node directly with that
//     one session (the nodes share the session key);
//   - opens the wall through nginx in a real browser, whose websocket
//     carries an Origin with the port, and sees every approved post once,
//     including one approved after it loaded;
//   - checks that Prometheus has every target up, that every query of the
//     dashboard returns data, and that no alert is pending or firing with
//     a moderator connected.
func TestComposeAsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs redis, nginx, prometheus, chromium and three backchannel processes")
	}
	tools := map[string]string{}
	for _, name := range []string{"redis-server", "nginx", "prometheus", "chromium"} {
		p, err := exec.LookPath(name)
		if err != nil && name == "nginx" {
			p, err = exec.LookPath("/usr/sbin/nginx")
		}
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed (scripts/test.sh installs it): %v", name, err)
			}
			t.Skipf("%s is not installed: %v", name, err)
		}
		tools[name] = p
	}
	deadline := time.Now().Add(100 * time.Second)
	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()

	project, err := loadCompose(t, composeEnv)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bin := staticBinary(t)

	// Every address a service is reached at inside compose, and the
	// loopback address it gets here.
	addrs := map[string]string{}
	port := func(name string) string {
		a := freeAddr(t)
		addrs[name] = a
		return a
	}
	redisAddr := port("redis:6379")
	for _, s := range []string{"ingest", "fanout-a", "fanout-b"} {
		port(s + ":8080")
		port(s + ":9100")
	}
	proxyAddr := port("proxy:80")
	promAddr := port("localhost:9090")

	// Redis, with the compose command's settings.
	redisSvc := project.Services["redis"]
	redisArgs := append(slices.Clone(redisSvc.Command[1:]), "--port", portOf(redisAddr), "--bind", "127.0.0.1", "--dir", mkdir(t, dir, "redis"), "--daemonize", "no")
	startProcess(t, ctx, "redis", tools["redis-server"], redisArgs, nil)
	waitUntil(t, ctx, "redis to answer", func() bool {
		c, err := net.Dial("tcp", redisAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	// The backchannel services: the image's ENV, then the service's.
	for _, name := range []string{"ingest", "fanout-a", "fanout-b"} {
		svc := project.Services[name]
		env := map[string]string{"PATH": os.Getenv("PATH"), "HOME": dir, "BACKCHANNEL_DATA": mkdir(t, dir, name)}
		for k, v := range svc.Environment {
			if v != nil {
				env[k] = *v
			}
		}
		env["BACKCHANNEL_REDIS"] = rewrite(env["BACKCHANNEL_REDIS"], addrs)
		env["BACKCHANNEL_LISTEN"] = addrs[name+":8080"]
		env["BACKCHANNEL_METRICS_LISTEN"] = addrs[name+":9100"]
		env["BACKCHANNEL_CONFIG"] = hostPath(t, svc, env["BACKCHANNEL_CONFIG"])
		startProcess(t, ctx, name, bin, svc.Command, env)
	}
	for _, name := range []string{"ingest", "fanout-a", "fanout-b"} {
		u := "http://" + addrs[name+":8080"] + "/readyz"
		waitUntil(t, ctx, name+" to be ready", func() bool { return status(u) == 200 })
	}

	// nginx with the repository's file, addresses rewritten.
	proxy := project.Services["proxy"]
	conf, err := os.ReadFile(hostPath(t, proxy, "/etc/nginx/nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	nginxConf := regexp.MustCompile(`(?m)^(\s*listen\s+)80;`).ReplaceAllString(rewrite(string(conf), addrs), "${1}"+proxyAddr+";")
	nginxDir := mkdir(t, dir, "nginx")
	writeFile(t, filepath.Join(nginxDir, "nginx.conf"), nginxConf)
	startProcess(t, ctx, "nginx", tools["nginx"], []string{"-e", "stderr", "-p", nginxDir, "-c", filepath.Join(nginxDir, "nginx.conf"),
		"-g", "daemon off; pid " + filepath.Join(nginxDir, "nginx.pid") + ";"}, nil)
	base := "http://" + proxyAddr
	waitUntil(t, ctx, "nginx to pass /readyz on", func() bool { return status(base+"/readyz") == 200 })

	// Prometheus with the repository's config and rules.
	promSvc := project.Services["prometheus"]
	promDir := mkdir(t, dir, "prometheus")
	for _, f := range []string{"prometheus.yml", "alerts.yml"} {
		b, err := os.ReadFile(hostPath(t, promSvc, "/etc/prometheus/"+f))
		if err != nil {
			t.Fatal(err)
		}
		if f == "prometheus.yml" {
			b = promConfig(t, b, addrs)
		}
		writeFile(t, filepath.Join(promDir, f), string(b))
	}
	var promArgs []string
	for _, a := range promSvc.Command {
		switch {
		case strings.HasPrefix(a, "--config.file="):
			a = "--config.file=" + filepath.Join(promDir, "prometheus.yml")
		case strings.HasPrefix(a, "--storage.tsdb.path="):
			a = "--storage.tsdb.path=" + filepath.Join(promDir, "data")
		}
		promArgs = append(promArgs, a)
	}
	promArgs = append(promArgs, "--web.listen-address="+promAddr)
	startProcess(t, ctx, "prometheus", tools["prometheus"], promArgs, nil)

	// Log in through nginx, as a browser on the published port would.
	jar, _ := cookiejar.New(nil)
	staff := &http.Client{Jar: jar, Timeout: 5 * time.Second}
	var login struct {
		CSRF string `json:"csrf_token"`
	}
	if code := call(t, staff, "POST", base+"/e/rehearsal/login", base, "", `{"passphrase":"moderators","name":"deploytest"}`, &login); code != 200 || login.CSRF == "" {
		t.Fatalf("login through nginx = %d (csrf %q)", code, login.CSRF)
	}
	// A moderator connected through nginx, with the port in the Origin.
	hdr := http.Header{"Origin": {base}}
	for _, c := range jar.Cookies(mustURL(base)) {
		hdr.Add("Cookie", c.Name+"="+c.Value)
	}
	modWS, resp, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+proxyAddr+"/api/events/rehearsal/ws/staff", hdr)
	if err != nil {
		t.Fatalf("moderator websocket through nginx: %v (%v)", err, resp)
	}
	defer modWS.Close()
	go func() {
		for {
			if _, _, err := modWS.ReadMessage(); err != nil {
				return
			}
		}
	}()

	// Approve posts the rehearsal source made: through nginx (round robin
	// over both nodes), then on each node directly with the same session.
	type queue struct {
		Posts []struct {
			ID string `json:"id"`
		} `json:"posts"`
	}
	var q queue
	waitUntil(t, ctx, "five posts in the moderation queue", func() bool {
		return call(t, staff, "GET", base+"/api/events/rehearsal/queue", base, "", "", &q) == 200 && len(q.Posts) >= 5
	})
	var approved []string
	approve := func(host, id string) {
		t.Helper()
		if code := call(t, staff, "POST", host+"/api/events/rehearsal/posts/"+id+"/approve", host, login.CSRF, "", nil); code != 200 {
			t.Fatalf("approve %s on %s = %d", id, host, code)
		}
		approved = append(approved, id)
	}
	approve(base, q.Posts[0].ID)
	approve(base, q.Posts[1].ID)
	for i, node := range []string{"fanout-a", "fanout-b"} {
		// The cookie was set for the proxy's address; each node gets it too.
		u := "http://" + addrs[node+":8080"]
		for _, c := range jar.Cookies(mustURL(base)) {
			jar.SetCookies(mustURL(u), []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
		}
		approve(u, q.Posts[2+i].ID)
	}

	// The wall through nginx in a browser: every approved post, once, and
	// one more approved while it is open (so it came over the websocket).
	tab := browserTab(t, ctx)
	if err := chromedp.Do(tab, chromedp.Navigate(base+"/e/rehearsal/wall")); err != nil {
		t.Fatal(err)
	}
	wallIDs := func() []string {
		ids, _ := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll("article[data-id]")].map(e => e.dataset.id)`))
		return ids
	}
	waitUntil(t, ctx, "the wall to show the four approved posts", func() bool { return containsAll(wallIDs(), approved) })
	approve(base, q.Posts[4].ID)
	waitUntil(t, ctx, "the wall to show the post approved while it was open", func() bool { return containsAll(wallIDs(), approved) })
	ids := wallIDs()
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("post %s is on the wall twice: %v", id, ids)
		}
		seen[id] = true
	}

	// Prometheus: every target up.
	prom := "http://" + promAddr
	var targets struct {
		Data struct {
			ActiveTargets []struct {
				ScrapeURL string `json:"scrapeUrl"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	waitUntil(t, ctx, "every Prometheus target to be up", func() bool {
		if call(t, http.DefaultClient, "GET", prom+"/api/v1/targets", "", "", "", &targets) != 200 {
			return false
		}
		up := 0
		for _, tg := range targets.Data.ActiveTargets {
			if tg.Health == "up" {
				up++
			}
		}
		return len(targets.Data.ActiveTargets) == 4 && up == 4
	})

	// Every dashboard query returns data.
	d := readDashboard(t)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			expr := strings.ReplaceAll(tg.Expr, "$event", ".*")
			var res struct {
				Status string `json:"status"`
				Data   struct {
					Result []json.RawMessage `json:"result"`
				} `json:"data"`
			}
			ok := false
			for !ok && time.Now().Before(deadline) {
				call(t, http.DefaultClient, "GET", prom+"/api/v1/query?query="+url.QueryEscape(expr), "", "", "", &res)
				ok = res.Status == "success" && len(res.Data.Result) > 0
				if !ok {
					sleepCtx(ctx, 250*time.Millisecond)
				}
			}
			if !ok {
				t.Errorf("panel %q: %s returns no data", p.Title, expr)
			}
		}
	}

	// No alert pending or firing in this steady state, with a moderator
	// connected, after the rules have been evaluated a few times.
	var rules struct {
		Data struct {
			Groups []struct {
				Rules []struct {
					Name           string    `json:"name"`
					State          string    `json:"state"`
					Health         string    `json:"health"`
					LastEvaluation time.Time `json:"lastEvaluation"`
				} `json:"rules"`
			} `json:"groups"`
		} `json:"data"`
	}
	since := time.Now()
	waitUntil(t, ctx, "every alert rule to be evaluated after the queries", func() bool {
		if call(t, http.DefaultClient, "GET", prom+"/api/v1/rules?type=alert", "", "", "", &rules) != 200 || len(rules.Data.Groups) == 0 {
			return false
		}
		for _, g := range rules.Data.Groups {
			for _, r := range g.Rules {
				if r.LastEvaluation.Before(since.Add(time.Second)) {
					return false
				}
			}
		}
		return true
	})
	n := 0
	for _, g := range rules.Data.Groups {
		for _, r := range g.Rules {
			n++
			if r.State != "inactive" || r.Health != "ok" {
				t.Errorf("alert %s is %s (health %s) in steady state", r.Name, r.State, r.Health)
			}
		}
	}
	if n < 10 {
		t.Errorf("only %d alert rules loaded", n)
	}
}

// promConfig rewrites prometheus.yml for loopback: every target and every
// DNS name to its address here (a DNS service discovery of one compose
// service becomes the static list of that service's one process), and the
// intervals to 1 s.
func promConfig(t *testing.T, b []byte, addrs map[string]string) []byte {
	t.Helper()
	var cfg map[string]any
	if err := yaml.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	g := cfg["global"].(map[string]any)
	g["scrape_interval"], g["evaluation_interval"] = "1s", "1s"
	for _, sc := range cfg["scrape_configs"].([]any) {
		sc := sc.(map[string]any)
		var targets []any
		for _, st := range asList(sc["static_configs"]) {
			for _, tg := range asList(st.(map[string]any)["targets"]) {
				targets = append(targets, rewrite(tg.(string), addrs))
			}
		}
		for _, dc := range asList(sc["dns_sd_configs"]) {
			dc := dc.(map[string]any)
			for _, name := range asList(dc["names"]) {
				a, ok := addrs[fmt.Sprintf("%s:%v", name, dc["port"])]
				if !ok {
					t.Fatalf("prometheus.yml looks up %v, which is no compose service", name)
				}
				targets = append(targets, a)
			}
		}
		delete(sc, "dns_sd_configs")
		labels := map[string]any{}
		if st := asList(sc["static_configs"]); len(st) > 0 {
			if l, ok := st[0].(map[string]any)["labels"]; ok {
				labels = l.(map[string]any)
			}
		}
		sc["static_configs"] = []any{map[string]any{"targets": targets, "labels": labels}}
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// rewrite replaces every compose address in s by its loopback one.
func rewrite(s string, addrs map[string]string) string {
	for from, to := range addrs {
		s = strings.ReplaceAll(s, from, to)
	}
	return s
}

// hostPath is the file a service mounts at container path p.
func hostPath(t *testing.T, svc types.ServiceConfig, p string) string {
	t.Helper()
	for _, v := range svc.Volumes {
		if v.Target == p {
			return v.Source
		}
	}
	t.Fatalf("service %s mounts nothing at %s", svc.Name, p)
	return ""
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func mkdir(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(p, 0o700); err != nil {
		t.Fatal(err)
	}
	return p
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

// syncBuffer is a process's output, read by the test when it fails.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startProcess runs a process until the test ends (SIGTERM, then SIGKILL
// after 10 s); its output is logged if the test failed.
func startProcess(t *testing.T, ctx context.Context, name, bin string, args []string, env map[string]string) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for k, v := range env { // none: the test's own environment
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if t.Failed() {
			log := out.String()
			if len(log) > 6000 {
				log = "..." + log[len(log)-6000:]
			}
			t.Logf("%s's output:\n%s", name, log)
		}
	})
}

// waitUntil polls cond every 100 ms until it holds, failing the test at
// ctx's deadline.
func waitUntil(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func status(u string) int {
	c := http.Client{Timeout: 2 * time.Second}
	res, err := c.Get(u)
	if err != nil {
		return 0
	}
	res.Body.Close()
	return res.StatusCode
}

// call makes one HTTP request with an Origin and a CSRF token when given,
// decodes a JSON answer into into, and returns the status (0 on failure).
func call(t *testing.T, c *http.Client, method, u, origin, csrf, body string, into any) int {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, r)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	if csrf != "" {
		req.Header.Set("X-CSRF-Token", csrf)
	}
	res, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	if into != nil {
		_ = json.NewDecoder(res.Body).Decode(into)
	}
	return res.StatusCode
}

// browserTab starts a headless Chromium for the test and returns a tab.
func browserTab(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	actx, cancelA := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(path), chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.Headless,
		chromedp.NoSandbox, chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-extensions", true))
	tab, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return tab
}
