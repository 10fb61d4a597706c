package wall_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fanout"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/metrics"
	"github.com/backchannel/backchannel/wall"
)

type fixture struct {
	store eventlog.Store
	srv   *wall.Server
	http  *httptest.Server
	ev    *wall.Event
}

// newFixture serves one event, "ev", over a real disklog store and a
// running fold.
func newFixture(t testing.TB, configure ...func(*config.Event)) *fixture {
	t.Helper()
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	reg := prometheus.NewRegistry()
	instrumented := metrics.New(reg, "test").Store(store)
	ctx, cancel := context.WithCancel(context.Background())
	log, err := instrumented.Log(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Event{
		Slug: "ev", Title: "#Ev", Hashtags: []string{"Ev"}, Place: "Hall",
		Start: time.Date(2026, 3, 12, 9, 0, 0, 0, time.UTC), End: time.Date(2026, 3, 12, 17, 0, 0, 0, time.UTC),
		LeadIn:     time.Hour,
		Moderation: config.Moderation{Mode: event.ModePre},
		Display:    config.Display{Theme: "dark"},
		Roles:      config.Roles{Moderator: config.Role{Passphrase: "secret-passphrase"}},
	}
	for _, c := range configure {
		c(cfg)
	}
	live := fold.NewLive(log, fold.SettingsView{Title: cfg.Title, Moderation: cfg.Moderation.Mode, Display: cfg.Display.Map()})
	done := make(chan struct{})
	go func() { defer close(done); _ = live.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	srv := wall.New(wall.Options{
		Store: instrumented, Gatherer: reg, HTTPMetrics: metrics.NewHTTP(reg),
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:    func() time.Time { return time.Date(2026, 3, 12, 8, 30, 0, 0, time.UTC) },
	})
	ev := &wall.Event{Config: cfg, Log: log, Live: live}
	if err := srv.AddEvent(ev); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &fixture{store: store, srv: srv, http: hs, ev: ev}
}

func (f *fixture) get(t *testing.T, path string, wantStatus int, into any) *http.Response {
	t.Helper()
	res, err := http.Get(f.http.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != wantStatus {
		t.Fatalf("GET %s = %d %s, want %d", path, res.StatusCode, body, wantStatus)
	}
	if into != nil {
		if err := json.Unmarshal(body, into); err != nil {
			t.Fatalf("GET %s: %v in %s", path, err, body)
		}
	}
	return res
}

// appendAll appends the events and waits until the fold reflects them.
func (f *fixture) appendAll(t *testing.T, evs ...event.Entry) {
	t.Helper()
	ctx := context.Background()
	var last uint64
	for _, e := range evs {
		a, err := f.ev.Log.Append(ctx, e.IdempotencyKey(), e)
		if err != nil {
			t.Fatal(err)
		}
		last = a.Pos
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := f.ev.Live.WaitFor(ctx, last); err != nil {
		t.Fatal(err)
	}
}

func received(uri, text string) event.Entry {
	return event.Entry{
		Kind: event.PostReceived, Actor: event.Actor{Role: event.RoleSource, Name: "rehearsal"},
		Post:    &event.Post{ID: event.PostID(uri), URI: uri, Source: "rehearsal", Text: text, HTML: "<p>" + text + "</p>"},
		Verdict: &event.Verdict{Decision: event.DecisionHold, Rule: "pre-moderation"},
	}
}

func decided(kind event.Kind, uri string) event.Entry {
	return event.Entry{Kind: kind, Actor: event.Actor{Role: event.RoleModerator, Name: "ada"}, PostID: event.PostID(uri)}
}

func TestHealthAndReadiness(t *testing.T) {
	f := newFixture(t)
	var body map[string]string
	f.get(t, "/healthz", 200, &body)
	if body["status"] != "ok" {
		t.Errorf("healthz body %v", body)
	}
	f.get(t, "/readyz", 200, &body)
	if body["status"] != "ready" {
		t.Errorf("readyz body %v", body)
	}

	// A store that no longer answers makes the node unready, not dead.
	if err := f.store.Close(); err != nil {
		t.Fatal(err)
	}
	var eb wall.ErrorBody
	res := f.get(t, "/readyz", 503, &eb)
	if eb.Error.Code != event.EUNAVAILABLE || res.Header.Get("Retry-After") == "" {
		t.Errorf("readyz after close: %+v retry-after %q", eb, res.Header.Get("Retry-After"))
	}
	f.get(t, "/healthz", 200, nil)
}

func TestSecurityHeadersOnEveryResponse(t *testing.T) {
	f := newFixture(t)
	f.srv.HandleFunc("GET /later/{x}", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.PathValue("x")) })
	for _, p := range []string{"/healthz", "/api/events", "/api/events/nope", "/api/nothing", "/metrics", "/later/mounted", "/not-routed"} {
		res, err := http.Get(f.http.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		h := res.Header
		csp := h.Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP %q", p, csp)
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") != "no-referrer" {
			t.Errorf("%s: headers %v", p, h)
		}
	}
}

func TestAllowFraming(t *testing.T) {
	f := newFixture(t)
	f.srv.HandleFunc("GET /overlay", func(w http.ResponseWriter, r *http.Request) {
		wall.AllowFraming(w, "https://studio.example")
	})
	res := f.get(t, "/overlay", 200, nil)
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.HasSuffix(csp, "frame-ancestors https://studio.example") || strings.Contains(csp, "'none'; frame") || res.Header.Get("X-Frame-Options") != "" {
		t.Errorf("overlay headers: CSP %q XFO %q", csp, res.Header.Get("X-Frame-Options"))
	}
}

func TestEventsAPI(t *testing.T) {
	f := newFixture(t)
	var list wall.EventList
	f.get(t, "/api/events", 200, &list)
	if len(list.Events) != 1 {
		t.Fatalf("events = %+v", list)
	}
	e := list.Events[0]
	if e.Slug != "ev" || e.Title != "#Ev" || e.Place != "Hall" || e.Hashtags[0] != "Ev" || !e.Live || e.Moderation != event.ModePre || e.LeadInSeconds != 3600 {
		t.Errorf("event info = %+v", e)
	}
	if e.Display["theme"] != "dark" {
		t.Errorf("display = %v", e.Display)
	}

	// Settings changed at run time show through the API.
	title := "Leaders for Leeds"
	f.appendAll(t, event.Entry{Kind: event.SettingsChanged, Actor: event.Actor{Role: event.RoleModerator}, Settings: &event.Settings{Title: &title}})
	var one wall.EventInfo
	f.get(t, "/api/events/ev", 200, &one)
	if one.Title != title || one.Pos != 1 {
		t.Errorf("after settings change: %+v", one)
	}

	// Never a credential in a public response.
	res, err := http.Get(f.http.URL + "/api/events/ev")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if strings.Contains(string(raw), "secret-passphrase") || strings.Contains(string(raw), "roles") {
		t.Errorf("event info leaks credentials: %s", raw)
	}

	var eb wall.ErrorBody
	f.get(t, "/api/events/nope", 404, &eb)
	if eb.Error.Code != event.ENOTFOUND || !strings.Contains(eb.Error.Message, "nope") {
		t.Errorf("unknown event error = %+v", eb)
	}
	f.get(t, "/api/events/ev/nothing/here", 404, &eb)
	if eb.Error.Code != event.ENOTFOUND {
		t.Errorf("unknown path error = %+v", eb)
	}
}

func TestWallShowsApprovedOnly(t *testing.T) {
	f := newFixture(t)
	f.appendAll(t,
		received("urn:1", "approved first"),
		received("urn:2", "still pending"),
		received("urn:3", "rejected"),
		received("urn:4", "approved second"),
		decided(event.PostApproved, "urn:1"),
		decided(event.PostRejected, "urn:3"),
		decided(event.PostApproved, "urn:4"),
	)
	var w fold.Wall
	f.get(t, "/api/events/ev/wall", 200, &w)
	var texts []string
	for _, p := range w.Posts {
		texts = append(texts, p.Text)
	}
	if strings.Join(texts, "|") != "approved second|approved first" {
		t.Errorf("wall posts = %q, want the two approved, newest first", texts)
	}
	if w.Pos != 7 {
		t.Errorf("wall pos = %d, want 7", w.Pos)
	}
	f.get(t, "/api/events/ev/wall?limit=1", 200, &w)
	if len(w.Posts) != 1 || w.Posts[0].Text != "approved second" {
		t.Errorf("limit=1: %+v", w.Posts)
	}
	for _, bad := range []string{"0", "-1", "501", "ten"} {
		var eb wall.ErrorBody
		f.get(t, "/api/events/ev/wall?limit="+bad, 400, &eb)
		if eb.Error.Code != event.EINVALID {
			t.Errorf("limit=%s: %+v", bad, eb)
		}
	}
	f.get(t, "/api/events/nope/wall", 404, nil)
}

func TestMetricsEndpoint(t *testing.T) {
	f := newFixture(t)
	f.appendAll(t, received("urn:m", "counted"))
	f.get(t, "/api/events/nope", 404, nil)
	f.get(t, "/api/events/ev", 200, nil)
	f.get(t, "/random/scan/path", 404, nil)
	res, err := http.Get(f.http.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`backchannel_build_info{goversion="go`,
		`backchannel_log_appends_total{event="ev",kind="post.received",result="appended"} 1`,
		`backchannel_log_length{event="ev"} 1`,
		`backchannel_http_requests_total{code="404",method="GET",route="GET /api/events/{slug}"} 1`,
		`backchannel_http_requests_total{code="200",method="GET",route="GET /api/events/{slug}"} 1`,
		`backchannel_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
		`backchannel_http_request_seconds_count{route="GET /api/events/{slug}"} 2`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

func TestErrorMapping(t *testing.T) {
	for code, want := range map[string]int{
		event.EINVALID: 400, event.ENOTFOUND: 404, event.EUNAUTHORIZED: 401, event.EFORBIDDEN: 403,
		event.ECONFLICT: 409, event.ERATELIMIT: 429, event.EUNAVAILABLE: 503, event.EINTERNAL: 500, "": 500, "odd": 500,
	} {
		if got := wall.StatusOf(code); got != want {
			t.Errorf("StatusOf(%q) = %d, want %d", code, got, want)
		}
	}

	// A wrapped domain error keeps its code; any other error is a 500
	// whose detail never reaches the caller.
	for _, c := range []struct {
		err      error
		status   int
		code     string
		message  string
		notInMsg string
	}{
		{fmt.Errorf("approve: %w", event.Errorf(event.ECONFLICT, "post was deleted")), 409, event.ECONFLICT, "post was deleted", ""},
		{errors.New("open /var/secret/path: permission denied"), 500, event.EINTERNAL, "internal error", "/var/secret"},
	} {
		rec := httptest.NewRecorder()
		wall.WriteError(rec, httptest.NewRequest("GET", "/x", nil), c.err)
		var eb wall.ErrorBody
		if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil {
			t.Fatal(err)
		}
		if rec.Code != c.status || eb.Error.Code != c.code || eb.Error.Message != c.message {
			t.Errorf("WriteError(%v) = %d %+v", c.err, rec.Code, eb)
		}
		if c.notInMsg != "" && strings.Contains(rec.Body.String(), c.notInMsg) {
			t.Errorf("internal detail leaked: %s", rec.Body.String())
		}
	}
}

func TestPanicBecomesJSON500(t *testing.T) {
	f := newFixture(t)
	f.srv.HandleFunc("GET /boom", func(http.ResponseWriter, *http.Request) { panic("boom") })
	var eb wall.ErrorBody
	f.get(t, "/boom", 500, &eb)
	if eb.Error.Code != event.EINTERNAL {
		t.Errorf("panic answered %+v", eb)
	}
	f.get(t, "/healthz", 200, nil) // the server lives on
}

// Websocket handlers mounted later (the fan-out) must be able to hijack
// the connection through the logging middleware.
func TestMountedWebsocketUpgrades(t *testing.T) {
	f := newFixture(t)
	up := websocket.Upgrader{}
	f.srv.HandleFunc("GET /ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		mt, msg, err := c.ReadMessage()
		if err == nil {
			_ = c.WriteMessage(mt, append([]byte("echo "), msg...))
		}
	})
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(f.http.URL, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.ReadMessage()
	if err != nil || string(msg) != "echo hi" {
		t.Fatalf("echo = %q, %v", msg, err)
	}
}

func TestAddEventRefusesDuplicates(t *testing.T) {
	f := newFixture(t)
	if err := f.srv.AddEvent(&wall.Event{Config: f.ev.Config, Log: f.ev.Log, Live: f.ev.Live}); err == nil {
		t.Error("second event with the same slug accepted")
	}
	if err := f.srv.AddEvent(&wall.Event{Config: &config.Event{Slug: "x"}}); err == nil {
		t.Error("event without log and live accepted")
	}
	if e, ok := f.srv.Event("ev"); !ok || e != f.ev {
		t.Error("Event(ev) not found")
	}
}

// The public socket carries the wall's snapshot: approved posts only.
func TestPublicSocket(t *testing.T) {
	f := newFixture(t)
	f.appendAll(t, received("urn:ok", "shown"), received("urn:wait", "held back"), decided(event.PostApproved, "urn:ok"))
	url := "ws" + strings.TrimPrefix(f.http.URL, "http") + "/api/events/ev/ws"

	// Before a hub is attached the socket is unavailable, in JSON.
	res, err := http.Get(f.http.URL + "/api/events/ev/ws")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 503 {
		t.Errorf("socket without hub = %d, want 503", res.StatusCode)
	}

	hub, err := fanout.New(context.Background(), fanout.LiveFeed{Live: f.ev.Live}, f.ev.Log, fanout.Options{Event: "ev"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(hub.Close)
	f.ev.Hub = hub
	c, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, msg, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	s := string(msg)
	if !strings.Contains(s, `"type":"snapshot"`) || !strings.Contains(s, "shown") || strings.Contains(s, "held back") {
		t.Errorf("public snapshot = %s", s)
	}
	if _, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(f.http.URL, "http")+"/api/events/nope/ws", nil); err == nil {
		t.Error("socket of an unknown event upgraded")
	}
}

// A fan-out node (ReadyWithoutStore) stays ready, degraded, while its store
// fails: its walls and pages are served from the fold.
func TestReadyWithoutStoreStaysReadyDegraded(t *testing.T) {
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv := wall.New(wall.Options{Store: store, ReadyWithoutStore: true})
	hs := httptest.NewServer(srv)
	defer hs.Close()
	status := func() (int, string) {
		res, err := http.Get(hs.URL + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]string
		_ = json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body["status"]
	}
	if code, st := status(); code != 200 || st != "ready" {
		t.Errorf("with the store up: %d %q, want 200 ready", code, st)
	}
	_ = store.Close()
	if code, st := status(); code != 200 || st != "degraded" {
		t.Errorf("with the store down: %d %q, want 200 degraded", code, st)
	}
}
