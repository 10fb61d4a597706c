package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fold"
)

var src = event.Actor{Role: event.RoleSource, Name: "mastodon:mastodon.social"}
var mod = event.Actor{Role: event.RoleModerator, Name: "mo"}

func testPost(key, text string) event.Post {
	u := "https://mastodon.social/users/ada/statuses/" + key
	return event.Post{
		ID: event.PostID(u), URI: u, Source: "mastodon", SourceName: "mastodon.social",
		Author: event.Author{ID: "https://mastodon.social/users/ada", Name: "Ada", Handle: "@ada@mastodon.social"},
		HTML:   "<p>" + text + "</p>", Text: text,
		CreatedAt: time.Date(2026, 11, 28, 14, 0, 0, 0, time.UTC),
	}
}

// openLog returns a fresh disklog log for one event.
func openLog(t testing.TB) (eventlog.Store, eventlog.Log) {
	t.Helper()
	st, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	l, err := st.Log(context.Background(), "leaders4leeds")
	if err != nil {
		t.Fatal(err)
	}
	return st, l
}

// appendPost appends a received post with decision d and returns its position.
func appendPost(t *testing.T, l eventlog.Log, key, text string, d event.Decision) uint64 {
	t.Helper()
	p := testPost(key, text)
	e := event.Entry{Kind: event.PostReceived, Actor: src, PostID: p.ID, Post: &p,
		Verdict: &event.Verdict{Decision: d, Rule: "test"}}
	a, err := l.Append(context.Background(), e.IdempotencyKey(), e)
	if err != nil {
		t.Fatal(err)
	}
	return a.Pos
}

func appendDecision(t *testing.T, l eventlog.Log, k event.Kind, key string) uint64 {
	t.Helper()
	e := event.Entry{Kind: k, Actor: mod, PostID: testPost(key, "").ID}
	a, err := l.Append(context.Background(), "", e)
	if err != nil {
		t.Fatal(err)
	}
	return a.Pos
}

// node is one fan-out node: a fold.Live tailing the log, a hub over it and
// an HTTP server whose /ws/{audience} stands in for the auth middleware.
type node struct {
	live *fold.Live
	hub  *Hub
	srv  *httptest.Server
	reg  *prometheus.Registry
}

func startNode(t *testing.T, l eventlog.Log, opts Options, ln net.Listener) *node {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	live := fold.NewLive(l, fold.SettingsView{Title: "Leaders4Leeds", Moderation: event.ModePre})
	done := make(chan struct{})
	go func() { defer close(done); _ = live.Run(ctx) }()
	n := &node{live: live, reg: prometheus.NewRegistry()}
	opts.Registerer = n.reg
	opts.Event = "leaders4leeds"
	hub, err := New(ctx, LiveFeed{Live: live}, l, opts)
	if err != nil {
		t.Fatal(err)
	}
	n.hub = hub
	mux := http.NewServeMux()
	for _, a := range []Audience{Public, Moderator, Facilitator} {
		mux.HandleFunc("/ws/"+a.String(), func(w http.ResponseWriter, r *http.Request) { hub.ServeWS(w, r, a) })
	}
	n.srv = httptest.NewUnstartedServer(mux)
	if ln != nil {
		n.srv.Listener.Close()
		n.srv.Listener = ln
	}
	n.srv.Start()
	t.Cleanup(func() {
		hub.Close()
		n.srv.Close()
		cancel()
		<-done
	})
	return n
}

// waitPos waits until the node's fold reflects pos.
func (n *node) waitPos(t *testing.T, pos uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := n.live.WaitFor(ctx, pos); err != nil {
		t.Fatal(err)
	}
}

func (n *node) url(a Audience, query string) string {
	u := "ws" + strings.TrimPrefix(n.srv.URL, "http") + "/ws/" + a.String()
	if query != "" {
		u += "?" + query
	}
	return u
}

// wireMsg is a server message as a client decodes it.
type wireMsg struct {
	Type  string `json:"type"`
	Pos   uint64 `json:"pos"`
	Epoch string `json:"epoch"`
	Kind  string `json:"kind"`
	Wall  *struct {
		Upsert []struct {
			ID string `json:"id"`
		} `json:"upsert"`
		Posts []struct {
			ID string `json:"id"`
		} `json:"posts"`
	} `json:"wall"`
	Queue []struct {
		ID string `json:"id"`
	} `json:"queue"`
	Effect *struct {
		Posts []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"posts"`
	} `json:"effect"`
}

// client is a test websocket client that records everything it reads.
type client struct {
	t    *testing.T
	ws   *websocket.Conn
	raw  []string
	msgs []wireMsg
}

func dial(t *testing.T, url string, hdr http.Header) *client {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err != nil {
		t.Fatalf("dial %s: %v (resp %v)", url, err, resp)
	}
	t.Cleanup(func() { ws.Close() })
	return &client{t: t, ws: ws}
}

// next reads one frame and returns its messages.
func (c *client) next(timeout time.Duration) ([]wireMsg, error) {
	_ = c.ws.SetReadDeadline(time.Now().Add(timeout))
	_, data, err := c.ws.ReadMessage()
	if err != nil {
		return nil, err
	}
	c.raw = append(c.raw, string(data))
	var ms []wireMsg
	if err := json.Unmarshal(data, &ms); err != nil {
		return nil, fmt.Errorf("frame is not a JSON array of messages: %w: %s", err, data)
	}
	c.msgs = append(c.msgs, ms...)
	return ms, nil
}

// readUntil reads until a message at pos >= pos arrived.
func (c *client) readUntil(pos uint64) {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for len(c.msgs) == 0 || c.msgs[len(c.msgs)-1].Pos < pos {
		if time.Now().After(deadline) {
			c.t.Fatalf("no message at pos %d within 5s; got %d messages", pos, len(c.msgs))
		}
		if _, err := c.next(time.Until(deadline)); err != nil {
			c.t.Fatalf("reading until pos %d: %v", pos, err)
		}
	}
}

// closeCode reads until the server closes and returns its close code and reason.
func (c *client) closeCode() (int, string) {
	c.t.Helper()
	for {
		_, err := c.next(5 * time.Second)
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code, ce.Text
		}
		c.t.Fatalf("want a close frame, got %v", err)
	}
}

// events returns the positions of the "event" messages read so far.
func (c *client) events() []uint64 {
	var out []uint64
	for _, m := range c.msgs {
		if m.Type == "event" {
			out = append(out, m.Pos)
		}
	}
	return out
}

func seq(from, to uint64) []uint64 {
	var out []uint64
	for p := from; p <= to; p++ {
		out = append(out, p)
	}
	return out
}

// smallBufListener shrinks each accepted socket's send buffer so that a
// client that never reads blocks the server's writes after a few frames,
// as a phone on a bad network does after megabytes.
type smallBufListener struct {
	net.Listener
}

func (l *smallBufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		_ = c.(*net.TCPConn).SetWriteBuffer(4096)
	}
	return c, err
}

func counter(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metric:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if v, ok := labels[lp.GetName()]; ok && v != lp.GetValue() {
					continue metric
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
