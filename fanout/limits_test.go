package fanout

import (
	"bytes"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
)

// dialFrom dials url from the loopback address ip (all of 127.0.0.0/8 is
// loopback on Linux), so one test can be several client addresses.
func dialFrom(ip, url string) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{
		HandshakeTimeout: 5 * time.Second,
		NetDialContext:   (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext,
	}
	return d.Dial(url, nil)
}

// syncBuffer is a log destination the test reads while the hub writes.
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

// Two events' hubs share one node's limits: the per-address cap counts an
// address's public sockets across both and answers 429; the public total
// answers 503 with Retry-After; staff sockets have their own pool, so a
// full public pool never keeps a moderator out; a closed socket gives its
// place back; refusals are counted and logged once per interval.
func TestSocketLimitsRefuseBeforeUpgrade(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs syncBuffer
	lim := NewSocketLimits(LimitOptions{
		PerAddress: 3, Public: 5, Staff: 2, RetryAfter: 7 * time.Second, LogEvery: time.Hour,
		Registerer: reg, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	})
	_, la := openLog(t)
	_, lb := openLog(t)
	a := startNode(t, la, Options{PublicInterval: 10 * time.Millisecond, Limits: lim}, nil)
	b := startNode(t, lb, Options{PublicInterval: 10 * time.Millisecond, Limits: lim}, nil)

	open := func(ip, url string) *websocket.Conn {
		t.Helper()
		ws, resp, err := dialFrom(ip, url)
		if err != nil {
			t.Fatalf("%s: dial from %s refused: %v (%v)", url, ip, err, resp)
		}
		t.Cleanup(func() { ws.Close() })
		return ws
	}
	refused := func(ip, url string, status int) *http.Response {
		t.Helper()
		ws, resp, err := dialFrom(ip, url)
		if err == nil {
			ws.Close()
			t.Fatalf("%s: dial from %s accepted; want %d", url, ip, status)
		}
		if resp == nil || resp.StatusCode != status {
			t.Fatalf("%s: dial from %s: %v (%v); want %d", url, ip, err, resp, status)
		}
		return resp
	}

	// Requests that are not upgrades fail at the upgrader and must give
	// their places back at once.
	for _, aud := range []Audience{Public, Moderator} {
		res, err := http.Get(strings.Replace(a.url(aud, ""), "ws://", "http://", 1))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("plain GET of a socket: %d, want 400 from the upgrader", res.StatusCode)
		}
	}
	if pub, staff := lim.Open(); pub != 0 || staff != 0 {
		t.Fatalf("failed upgrades hold places: open = %d, %d", pub, staff)
	}

	first := open("127.0.0.1", a.url(Public, ""))
	open("127.0.0.1", a.url(Public, ""))
	open("127.0.0.1", b.url(Public, ""))
	refused("127.0.0.1", b.url(Public, ""), http.StatusTooManyRequests)
	refused("127.0.0.1", a.url(Public, ""), http.StatusTooManyRequests)

	open("127.0.0.2", a.url(Public, ""))
	open("127.0.0.2", b.url(Public, ""))
	resp := refused("127.0.0.3", a.url(Public, ""), http.StatusServiceUnavailable)
	if got := resp.Header.Get("Retry-After"); got != "7" {
		t.Errorf("Retry-After = %q, want 7", got)
	}

	// The public pool is full; staff, from the flooded address too, is not.
	open("127.0.0.1", a.url(Moderator, ""))
	open("127.0.0.1", b.url(Facilitator, ""))
	refused("127.0.0.3", a.url(Moderator, ""), http.StatusServiceUnavailable)

	if pub, staff := lim.Open(); pub != 5 || staff != 2 {
		t.Fatalf("open = %d public, %d staff; want 5 and 2", pub, staff)
	}

	// A closed socket gives its place back, for its address and the total.
	first.Close()
	deadline := time.Now().Add(5 * time.Second)
	for pub, _ := lim.Open(); pub != 4; pub, _ = lim.Open() {
		if time.Now().After(deadline) {
			t.Fatalf("public sockets open = %d after a close, want 4", pub)
		}
		time.Sleep(10 * time.Millisecond) // polling interval, not synchronisation
	}
	open("127.0.0.3", b.url(Public, ""))

	for reason, want := range map[string]float64{refusedPerAddress: 2, refusedPublicTotal: 1, refusedStaffTotal: 1} {
		if got := counter(t, reg, "backchannel_fanout_sockets_refused_total", map[string]string{"reason": reason}); got != want {
			t.Errorf("sockets_refused_total{reason=%s} = %v, want %v", reason, got, want)
		}
	}
	if got := counter(t, reg, "backchannel_fanout_sockets_open", map[string]string{"pool": "public"}); got != 5 {
		t.Errorf("sockets_open{pool=public} = %v, want 5", got)
	}
	if got := counter(t, reg, "backchannel_fanout_sockets_limit", map[string]string{"cap": "per_address"}); got != 3 {
		t.Errorf("sockets_limit{cap=per_address} = %v, want 3", got)
	}
	// Two per-address refusals within LogEvery make one line, naming the client.
	out := logs.String()
	if n := strings.Count(out, "reason="+refusedPerAddress); n != 1 {
		t.Errorf("%d log lines for per-address refusals, want 1:\n%s", n, out)
	}
	if !strings.Contains(out, "client=127.0.0.1") {
		t.Errorf("refusal log does not name the client:\n%s", out)
	}
}

// Closing the hub gives every place back: a node's limits outlive no hub's
// sockets.
func TestSocketLimitsReleasedOnHubClose(t *testing.T) {
	lim := NewSocketLimits(LimitOptions{PerAddress: 10, Logger: quiet()})
	_, l := openLog(t)
	n := startNode(t, l, Options{PublicInterval: 10 * time.Millisecond, Limits: lim}, nil)
	for _, a := range []Audience{Public, Public, Moderator} {
		c := dial(t, n.url(a, ""), nil)
		if _, err := c.next(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if pub, staff := lim.Open(); pub != 2 || staff != 1 {
		t.Fatalf("open = %d, %d; want 2, 1", pub, staff)
	}
	n.hub.Close()
	if pub, staff := lim.Open(); pub != 0 || staff != 0 {
		t.Errorf("after the hub closed: open = %d, %d; want 0, 0", pub, staff)
	}
}
