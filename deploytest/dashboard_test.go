package deploytest

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"gopkg.in/yaml.v3"
)

// metricName matches backchannel's series names in a PromQL expression.
var metricName = regexp.MustCompile(`\bbackchannel_[a-z0-9_]+\b`)

// selector matches a backchannel series with label matchers, and
// labelMatch one exact matcher (label="value") within them.
var (
	selector   = regexp.MustCompile(`\b(backchannel_[a-z0-9_]+)\{([^}]*)\}`)
	labelMatch = regexp.MustCompile(`([a-z_]+)="([^"]*)"`)
)

type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string `json:"name"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	Title      string `json:"title"`
	Type       string `json:"type"`
	Datasource struct {
		UID string `json:"uid"`
	} `json:"datasource"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
}

func readDashboard(t *testing.T) dashboard {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "dashboards", "backchannel.json"))
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(b)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("the dashboard is not valid JSON: %v", err)
	}
	return d
}

// The dashboard shows what the issue asks for, from the provisioned data source.
func TestDashboardPanels(t *testing.T) {
	d := readDashboard(t)
	if d.UID == "" || d.Title == "" || len(d.Panels) == 0 {
		t.Fatalf("dashboard without uid, title or panels: %+v", d)
	}
	var ds struct {
		Datasources []struct {
			UID string `yaml:"uid"`
			URL string `yaml:"url"`
		} `yaml:"datasources"`
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "grafana", "provisioning", "datasources", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &ds); err != nil || len(ds.Datasources) != 1 {
		t.Fatalf("data source provisioning: %v %+v", err, ds)
	}
	all := ""
	for _, p := range d.Panels {
		if p.Datasource.UID != ds.Datasources[0].UID {
			t.Errorf("panel %q uses data source %q, not the provisioned %q", p.Title, p.Datasource.UID, ds.Datasources[0].UID)
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, q := range p.Targets {
			all += q.Expr + "\n"
		}
	}
	for what, metric := range map[string]string{
		"posts in per source":    "backchannel_source_posts_appended_total",
		"queue depth":            "backchannel_moderation_queue_depth",
		"connections per node":   "backchannel_fanout_connections",
		"delivery latency":       "backchannel_fanout_delivery_delay_seconds_bucket",
		"slow-client cut-offs":   "backchannel_fanout_slow_cutoffs_total",
		"Redis lag (tail delay)": "backchannel_log_tail_delay_seconds_bucket",
	} {
		if !strings.Contains(all, metric) {
			t.Errorf("no panel shows %s (%s)", what, metric)
		}
	}
}

// Every metric the dashboard and the alert rules name is one the real
// binary exports: the binary is built and run (rehearsal source, a
// Mastodon source whose server answers 429, a websocket client), and its
// /metrics scraped until every named series is there.
func TestQueriedMetricsAreExported(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	want := map[string][]string{} // metric -> where it is named
	d := readDashboard(t)
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			for _, m := range metricName.FindAllString(q.Expr, -1) {
				want[m] = append(want[m], "panel "+p.Title)
			}
		}
	}
	for _, v := range d.Templating.List {
		for _, m := range metricName.FindAllString(v.Definition, -1) {
			want[m] = append(want[m], "variable "+v.Name)
		}
	}
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	b, err := os.ReadFile(filepath.Join(root, "deploy", "prometheus", "alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &rules); err != nil {
		t.Fatal(err)
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			for _, m := range metricName.FindAllString(r.Expr, -1) {
				want[m] = append(want[m], "alert "+r.Alert)
			}
		}
	}
	if len(want) < 10 {
		t.Fatalf("only %d metrics named; the extraction is broken", len(want))
	}

	// The label values they match on exactly, e.g. kind="received": a
	// value the binary never exports leaves the panel empty for ever.
	wantLabels := map[string][]string{} // `metric{label="value"}` -> where
	addSelectors := func(expr, where string) {
		for _, m := range selector.FindAllStringSubmatch(expr, -1) {
			for _, lm := range labelMatch.FindAllStringSubmatch(m[2], -1) {
				if strings.Contains(lm[2], "$") {
					continue // a dashboard variable
				}
				k := m[1] + "{" + lm[1] + "=\"" + lm[2] + "\"}"
				wantLabels[k] = append(wantLabels[k], where)
			}
		}
	}
	for _, p := range d.Panels {
		for _, q := range p.Targets {
			addSelectors(q.Expr, "panel "+p.Title)
		}
	}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			addSelectors(r.Expr, "alert "+r.Alert)
		}
	}

	addr := startBinary(t)
	// A wall's socket makes the fan-out series for the public audience.
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/api/events/deploytest/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	go func() {
		for {
			if _, _, err := ws.ReadMessage(); err != nil {
				return
			}
		}
	}()

	var missing []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := scrape(addr)
		if err != nil {
			t.Fatal(err)
		}
		missing = missing[:0]
		for m := range want {
			if !got[m] {
				missing = append(missing, m)
			}
		}
		for sel := range wantLabels {
			if !got[sel] {
				missing = append(missing, sel)
			}
		}
		if len(missing) == 0 {
			break
		}
		if time.Now().After(deadline) {
			slices.Sort(missing)
			for _, m := range missing {
				where := want[m]
				if where == nil {
					where = wantLabels[m]
				}
				t.Errorf("%s is named by %s but the binary does not export it", m, strings.Join(where, ", "))
			}
			return
		}
		<-time.After(100 * time.Millisecond) // the polling interval
	}
	t.Logf("all %d metrics named by the dashboard and the alerts are exported", len(want))
}

// scrape returns the names of the samples on addr's /metrics.
func scrape(addr string) (map[string]bool, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	got := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			name := line[:i]
			got[name] = true
			// And each of its labels, as name{label="value"}.
			if line[i] == '{' {
				if end := strings.LastIndexByte(line, '}'); end > i {
					for _, lm := range labelMatch.FindAllStringSubmatch(line[i+1:end], -1) {
						got[name+"{"+lm[1]+"=\""+lm[2]+"\"}"] = true
					}
				}
			}
		}
	}
	return got, sc.Err()
}

// startBinary builds cmd/backchannel and runs it all-in-one on the
// embedded log with a rehearsal source and a Mastodon source whose server
// fails once and then answers 429, so the error and rate-limit series
// exist too. It
// returns the address it listens on.
func startBinary(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	bin := staticBinary(t)
	// The first request fails (a fetch error), the others are throttled.
	var requests atomic.Int64
	throttled := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 1 {
			http.Error(w, "broken", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Retry-After", "1")
		http.Error(w, "slow down", http.StatusTooManyRequests)
	}))
	t.Cleanup(throttled.Close)

	cmd := exec.Command(bin, "serve", "--tag", "DeployTest", "--rehearse", "--mastodon", throttled.URL,
		"--moderation", "pre", "--listen", "127.0.0.1:0", "--data", filepath.Join(dir, "data"), "--log-format", "json")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	addr := make(chan string, 1)
	var logLines []string
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logLines = append(logLines, sc.Text())
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "listening" {
				addr <- rec.Addr
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	select {
	case a := <-addr:
		return a
	case <-exited:
		t.Fatalf("the binary exited: %s", strings.Join(logLines, "\n"))
	case <-ctx.Done():
		t.Fatal("the binary did not listen within 20s")
	}
	return ""
}
