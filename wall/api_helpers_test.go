package wall_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/fanout"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/wall"
)

// The staff credentials of the test event "ev".
const (
	modPass  = "moderator passphrase for the test"
	facPass  = "facilitator passphrase for the test"
	modToken = "moderator-token-0123456789abcdef"
	facToken = "facilitator-token-0123456789abcdef"
	testKey  = "0123456789abcdef0123456789abcdef-test-key"
)

// clock is a settable clock shared by the API and the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 3, 12, 10, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// staffNode is one process's worth of backchannel serving "ev" over a
// store: the fold, the fan-out hub, auth and the server with the staff API.
type staffNode struct {
	store eventlog.Store
	log   eventlog.Log
	live  *fold.Live
	hub   *fanout.Hub
	srv   *wall.Server
	http  *httptest.Server
	clock *clock
	stop  func()
}

// startNode serves "ev" from store; configure, when not nil, may change
// the staff options first. stop (also registered as cleanup)
// stops the HTTP server, the hub and the fold; it does not close store.
func startNode(t testing.TB, store eventlog.Store, clk *clock, configure func(*wall.StaffOptions, *wall.Event)) *staffNode {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	log, err := store.Log(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Event{
		Slug: "ev", Title: "#Ev", Hashtags: []string{"Ev"},
		Moderation: config.Moderation{Mode: event.ModePre},
	}
	live := fold.NewLive(log, fold.SettingsView{Title: cfg.Title, Moderation: cfg.Moderation.Mode})
	done := make(chan struct{})
	go func() {
		defer close(done)
		// A test may close the store under the node: the fold then stops.
		if err := live.Run(ctx); err != nil && !errors.Is(err, eventlog.ErrClosed) {
			t.Errorf("fold: %v", err)
		}
	}()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub, err := fanout.New(ctx, fanout.LiveFeed{Live: live}, log, fanout.Options{Event: "ev", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Options{
		Key: []byte(testKey),
		Events: map[string]auth.EventCredentials{"ev": {
			Moderator:   auth.RoleCredentials{Passphrase: modPass, Tokens: []string{modToken}},
			Facilitator: auth.RoleCredentials{Passphrase: facPass, Tokens: []string{facToken}},
		}},
		LoginPerAddress: auth.Rate{Burst: 1000, Every: time.Millisecond},
		LoginPerEvent:   auth.Rate{Burst: 1000, Every: time.Millisecond},
		Logger:          quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := wall.New(wall.Options{Store: store, Logger: quiet})
	ev := &wall.Event{Config: cfg, Log: log, Live: live, Hub: hub}
	if err := srv.AddEvent(ev); err != nil {
		t.Fatal(err)
	}
	opts := wall.StaffOptions{Auth: a, Now: clk.Now, PresenceTTL: 30 * time.Second}
	if configure != nil {
		configure(&opts, ev)
	}
	if err := srv.MountStaff(opts); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	var once sync.Once
	n := &staffNode{store: store, log: log, live: live, hub: hub, srv: srv, http: hs, clock: clk}
	n.stop = func() {
		once.Do(func() {
			hs.Close()
			hub.Close()
			cancel()
			<-done
		})
	}
	t.Cleanup(n.stop)
	return n
}

// cred is how a request identifies itself.
type cred struct {
	bearer string
	authz  string // a raw Authorization header, for malformed ones
	cookie *http.Cookie
	csrf   string
	origin string
}

var (
	noCred  = cred{}
	modCred = cred{bearer: modToken}
	facCred = cred{bearer: facToken}
)

// login logs in with a passphrase and a name, as the login page does.
func (n *staffNode) login(t testing.TB, pass, name string) cred {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"password": pass, "name": name})
	res, err := http.Post(n.http.URL+"/e/ev/login", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var id struct {
		CSRF string `json:"csrf_token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&id); err != nil || res.StatusCode != 200 {
		t.Fatalf("login: %d %v", res.StatusCode, err)
	}
	for _, c := range res.Cookies() {
		if c.Name == auth.CookieName("ev") {
			return cred{cookie: c, csrf: id.CSRF}
		}
	}
	t.Fatal("login set no session cookie")
	return cred{}
}

// do sends a request and returns the status and body.
func (n *staffNode) do(t testing.TB, method, path string, c cred, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.http.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	if c.authz != "" {
		req.Header.Set("Authorization", c.authz)
	}
	if c.cookie != nil {
		req.AddCookie(c.cookie)
	}
	if c.csrf != "" {
		req.Header.Set(auth.CSRFHeader, c.csrf)
	}
	if c.origin != "" {
		req.Header.Set("Origin", c.origin)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, b
}

// call sends a request, fails the test unless the status is want, and
// decodes the JSON answer into into (when not nil).
func (n *staffNode) call(t testing.TB, method, path string, c cred, body any, want int, into any) {
	t.Helper()
	status, b := n.do(t, method, path, c, body)
	if status != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, status, strings.TrimSpace(string(b)), want)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
}

// receive appends posts as a source would, held for moderation, and waits
// until the fold has them. It returns their ids.
func (n *staffNode) receive(t testing.TB, posts ...event.Post) []string {
	t.Helper()
	ctx := context.Background()
	var ids []string
	var last uint64
	for _, p := range posts {
		p := p
		if p.ID == "" {
			p.ID = event.PostID(p.URI)
		}
		if p.Source == "" {
			p.Source = "rehearsal"
		}
		e := event.Entry{Kind: event.PostReceived, Actor: event.Actor{Role: event.RoleSource, Name: "test"},
			Time: n.clock.Now(), Post: &p, Verdict: &event.Verdict{Decision: event.DecisionHold, Rule: "pre-moderation"}}
		a, err := n.log.Append(ctx, e.IdempotencyKey(), e)
		if err != nil {
			t.Fatal(err)
		}
		ids, last = append(ids, p.ID), a.Pos
	}
	n.waitPos(t, last)
	return ids
}

func (n *staffNode) waitPos(t testing.TB, pos uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.live.WaitFor(ctx, pos); err != nil {
		t.Fatal(err)
	}
}

func (n *staffNode) head(t testing.TB) uint64 {
	t.Helper()
	h, err := n.log.Head(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return h.Last
}

// textPost is a post with plain text by an author on a server.
func textPost(uri, text, handle string) event.Post {
	authorID := "https://" + strings.SplitN(strings.TrimPrefix(handle, "@"), "@", 2)[1] + "/users/" + strings.SplitN(strings.TrimPrefix(handle, "@"), "@", 2)[0]
	return event.Post{URI: uri, Text: text, HTML: "<p>" + text + "</p>", CreatedAt: time.Date(2026, 3, 12, 9, 59, 0, 0, time.UTC),
		Author: event.Author{ID: authorID, Name: strings.SplitN(strings.TrimPrefix(handle, "@"), "@", 2)[0], Handle: handle}}
}
