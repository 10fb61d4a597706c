package x

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest/ingesttest"
)

// fixture reads a file of testdata/.
func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// reply is one canned response.
type reply struct {
	status  int
	body    string
	headers map[string]string
	// query, for a queued search page, is a part of the query it answers
	// (another event's search gets the next page that fits it, or none).
	query string
}

// fakeX is a local server that speaks the part of X's API v2 the source
// uses, answering from the fixtures: recent search (canned pages, then
// empty), lookup by ids (from the posts it holds, resource-not-found for
// the rest), stream rules with dry_run, and the filtered stream (lines fed
// by the test, keep-alives, refusals), counting connections.
type fakeX struct {
	t   testing.TB
	srv *httptest.Server

	mu           sync.Mutex
	search       []reply // served in turn; then recent-search-empty
	searches     []string
	lookups      [][]string
	alive        map[string]string // id -> tweet JSON, for lookup
	users        string            // includes.users JSON for lookup
	rules        map[string]Rule   // by id
	nextRule     int
	ruleCalls    []string // "GET", "POST dry_run add ...", "POST add ...", "POST delete ..."
	streamRefuse []reply
	streams      int            // connections accepted (200)
	active       map[string]int // open connections by process (X-Test-Process)
	maxActive    int            // most processes connected at once
	lines        chan string
	silent       bool // accept and send nothing
	keepAlive    time.Duration
}

func newFakeX(t testing.TB) *fakeX {
	f := &fakeX{t: t, alive: map[string]string{}, active: map[string]int{}, rules: map[string]Rule{}, nextRule: 1991400000000000001,
		lines: make(chan string, 100), keepAlive: 50 * time.Millisecond}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2/tweets/search/recent", f.handleSearch)
	mux.HandleFunc("GET /2/tweets", f.handleLookup)
	mux.HandleFunc("GET /2/tweets/search/stream/rules", f.handleRulesGet)
	mux.HandleFunc("POST /2/tweets/search/stream/rules", f.handleRulesPost)
	mux.HandleFunc("GET /2/tweets/search/stream", f.handleStream)
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer test-token" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"title":"Unauthorized","type":"about:blank","status":401,"detail":"Unauthorized"}`))
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		f.srv.CloseClientConnections()
		f.srv.Close()
	})
	return f
}

func (f *fakeX) client() *Client { return &Client{BaseURL: f.srv.URL, Token: "test-token"} }

func (f *fakeX) queueSearch(r ...reply) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.search = append(f.search, r...)
}

func (f *fakeX) searchCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.searches)
}

func (f *fakeX) handleSearch(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.searches = append(f.searches, r.URL.RawQuery)
	rep := reply{status: 200, body: fixture(f.t, "recent-search-empty.json")}
	q, _ := url.QueryUnescape(r.URL.Query().Get("query"))
	for i, queued := range f.search {
		if queued.query == "" || strings.Contains(q, queued.query) {
			rep, f.search = queued, append(f.search[:i:i], f.search[i+1:]...)
			break
		}
	}
	f.mu.Unlock()
	write(w, rep)
}

func write(w http.ResponseWriter, rep reply) {
	for k, v := range rep.headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	if rep.status == 0 {
		rep.status = 200
	}
	w.WriteHeader(rep.status)
	_, _ = w.Write([]byte(rep.body))
}

func (f *fakeX) handleLookup(w http.ResponseWriter, r *http.Request) {
	ids := strings.Split(r.URL.Query().Get("ids"), ",")
	f.mu.Lock()
	f.lookups = append(f.lookups, ids)
	var data []json.RawMessage
	var errs []map[string]string
	for _, id := range ids {
		if tw, ok := f.alive[id]; ok {
			data = append(data, json.RawMessage(tw))
			continue
		}
		errs = append(errs, map[string]string{"value": id, "detail": "Could not find tweet with ids: [" + id + "].",
			"title": "Not Found Error", "resource_type": "tweet", "parameter": "ids", "resource_id": id,
			"type": "https://api.x.com/2/problems/resource-not-found"})
	}
	users := f.users
	f.mu.Unlock()
	out := map[string]any{}
	if len(data) > 0 {
		out["data"] = data
		out["includes"] = json.RawMessage(`{"users":` + users + `}`)
	}
	if len(errs) > 0 {
		out["errors"] = errs
	}
	b, _ := json.Marshal(out)
	write(w, reply{body: string(b)})
}

func (f *fakeX) handleRulesGet(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.ruleCalls = append(f.ruleCalls, "GET")
	var data []Rule
	for _, r := range f.rules {
		data = append(data, r)
	}
	f.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"data": data, "meta": map[string]any{"result_count": len(data)}})
	write(w, reply{body: string(b)})
}

// invalidRule is what the fake refuses, as X refuses a rule of
// conjunction-required operators only.
func invalidRule(v string) bool { return !strings.ContainsAny(v, "#\"") && strings.Contains(v, "has:") }

func (f *fakeX) handleRulesPost(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Add    []Rule `json:"add"`
		Delete struct {
			IDs []string `json:"ids"`
		} `json:"delete"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		write(w, reply{status: 400, body: `{"title":"Invalid Request"}`})
		return
	}
	dry := r.URL.Query().Get("dry_run") == "true"
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(req.Delete.IDs) > 0 {
		f.ruleCalls = append(f.ruleCalls, "POST delete "+strings.Join(req.Delete.IDs, ","))
		for _, id := range req.Delete.IDs {
			delete(f.rules, id)
		}
		write(w, reply{body: fmt.Sprintf(`{"meta":{"summary":{"deleted":%d,"not_deleted":0}}}`, len(req.Delete.IDs))})
		return
	}
	var tags []string
	for _, a := range req.Add {
		tags = append(tags, a.Tag)
	}
	call := "POST add "
	if dry {
		call = "POST dry_run add "
	}
	f.ruleCalls = append(f.ruleCalls, call+strings.Join(tags, ","))
	var data []Rule
	var errs []json.RawMessage
	for _, a := range req.Add {
		if invalidRule(a.Value) {
			// The fixture's refusal, for this rule's value.
			var inv struct {
				Errors []map[string]any `json:"errors"`
			}
			_ = json.Unmarshal([]byte(fixture(f.t, "rules-dry-run-invalid-response.json")), &inv)
			inv.Errors[0]["value"] = a.Value
			b, _ := json.Marshal(inv.Errors[0])
			errs = append(errs, b)
			continue
		}
		if !dry {
			f.nextRule++
			a.ID = strconv.Itoa(f.nextRule)
			f.rules[a.ID] = a
		}
		data = append(data, a)
	}
	b, _ := json.Marshal(map[string]any{"data": data, "errors": errs})
	write(w, reply{body: string(b)})
}

func (f *fakeX) ruleTags() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var tags []string
	for _, r := range f.rules {
		tags = append(tags, r.Tag)
	}
	return tags
}

func (f *fakeX) handleStream(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if len(f.streamRefuse) > 0 {
		rep := f.streamRefuse[0]
		f.streamRefuse = f.streamRefuse[1:]
		f.mu.Unlock()
		write(w, rep)
		return
	}
	if len(f.rules) == 0 {
		f.mu.Unlock()
		write(w, reply{status: 409, body: `{"title":"ConnectionException","detail":"no rules"}`})
		return
	}
	// A process's own earlier connection may not have been noticed as
	// closed yet (it closes before reconnecting); connections from two
	// processes at once are what must never happen.
	proc := r.Header.Get("X-Test-Process")
	f.streams++
	f.active[proc]++
	f.maxActive = max(f.maxActive, len(f.active))
	silent, ka := f.silent, f.keepAlive
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		if f.active[proc]--; f.active[proc] == 0 {
			delete(f.active, proc)
		}
		f.mu.Unlock()
	}()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("x-rate-limit-limit", "50")
	w.Header().Set("x-rate-limit-remaining", "49")
	w.WriteHeader(200)
	fl := w.(http.Flusher)
	fl.Flush()
	tick := time.NewTicker(ka)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if silent {
				continue
			}
			_, _ = w.Write([]byte("\r\n"))
			fl.Flush()
		case ln := <-f.lines:
			if ln == "<close>" {
				return
			}
			_, _ = w.Write([]byte(ln))
			fl.Flush()
			if strings.Contains(ln, "operational-disconnect") {
				return // X closes after saying so
			}
		}
	}
}

func (f *fakeX) streamCounts() (accepted, active, maxActive int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, v := range f.active {
		n += v
	}
	return f.streams, n, f.maxActive
}

// ---- building lines ----

// streamLine is the fixture's post line with its rule tag set to tag.
func streamLine(t testing.TB, tag string) string {
	ln := strings.SplitN(fixture(t, "filtered-stream.ndjson"), "\n", 2)[0]
	return strings.Replace(strings.TrimRight(ln, "\r"), `"tag":"event:leaders4leeds"`, `"tag":"`+tag+`"`, 1) + "\r\n"
}

// lineOf builds a stream line of one post and the users and tweets it
// names, tagged with tags.
func lineOf(t testing.TB, post map[string]any, inc map[string]any, tags ...string) string {
	var mr []map[string]string
	for i, tag := range tags {
		mr = append(mr, map[string]string{"id": strconv.Itoa(i + 1), "tag": tag})
	}
	b, err := json.Marshal(map[string]any{"data": post, "includes": inc, "matching_rules": mr})
	if err != nil {
		t.Fatal(err)
	}
	return string(b) + "\r\n"
}

// pagePosts reads the fixture page's data and includes as maps, by id.
func pagePosts(t testing.TB) (posts map[string]map[string]any, inc map[string]any) {
	var pg struct {
		Data     []map[string]any `json:"data"`
		Includes map[string]any   `json:"includes"`
	}
	if err := json.Unmarshal([]byte(fixture(t, "recent-search-page.json")), &pg); err != nil {
		t.Fatal(err)
	}
	posts = map[string]map[string]any{}
	for _, p := range pg.Data {
		posts[p["id"].(string)] = p
	}
	for _, tw := range pg.Includes["tweets"].([]any) {
		m := tw.(map[string]any)
		posts[m["id"].(string)] = m
	}
	return posts, pg.Includes
}

// ---- sinks ----

type holdAll struct{}

func (holdAll) Evaluate(event.Post, time.Time) event.Verdict {
	return event.Verdict{Decision: event.DecisionHold, Rule: "test"}
}

func newSink(l *ingesttest.Log) *ingesttest.Sink {
	s := ingesttest.NewSink(l, Kind, Kind)
	s.Rules = holdAll{}
	s.KnownOnly = true
	return s
}

// fastHub is a Hub with the reconnect schedule shrunk for tests.
func fastHub(c *Client) *Hub {
	return NewHub(HubConfig{Client: c, StallTimeout: 400 * time.Millisecond,
		NetworkStep: 5 * time.Millisecond, NetworkMax: 50 * time.Millisecond,
		HTTPMin: 20 * time.Millisecond, HTTPMax: 100 * time.Millisecond,
		RateMin: 50 * time.Millisecond, RateMax: 200 * time.Millisecond, Logger: quiet()})
}
