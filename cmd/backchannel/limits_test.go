package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const limitsToken = "limits-test-token-0123456789"

// limitsConfig writes a config of one event, "ev", with no sources, a
// facilitator/moderator API token in the environment, and the server
// block given.
func limitsConfig(t *testing.T, server string) (cfg, data string) {
	t.Helper()
	dir := t.TempDir()
	cfg = filepath.Join(dir, "events.yaml")
	body := "server:\n" + server + `events:
  - slug: ev
    hashtags: [Limits]
    roles:
      moderator:
        tokens_env: BC_LIMITS_TOKENS
`
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("BC_LIMITS_TOKENS", limitsToken)
	return cfg, filepath.Join(dir, "data")
}

// entry is the first log line with message msg, or nil.
func (p *proc) entry(msg string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.lines {
		if m["msg"] == msg {
			return m
		}
	}
	return nil
}

// wsFrom dials a websocket from the loopback address ip: on Linux all of
// 127.0.0.0/8 is loopback, so one test can be many client addresses.
func wsFrom(ip, url string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{
		HandshakeTimeout: 10 * time.Second,
		NetDialContext:   (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext,
	}
	return d.Dial(url, hdr)
}

// openFiles counts the descriptors of process pid and reads its soft and
// hard open-file limits from /proc.
func openFiles(t *testing.T, pid int) (n int, soft, hard int) {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^Max open files\s+(\d+)\s+(\d+)`).FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatalf("no open-file limit in /proc/%d/limits:\n%s", pid, raw)
	}
	soft, _ = strconv.Atoi(m[1])
	hard, _ = strconv.Atoi(m[2])
	return len(ents), soft, hard
}

// One address cannot exhaust the server. The real binary runs under an
// open-file limit of 300 (soft) and 600 (hard): it raises the soft limit
// to 600 and, keeping 200 descriptors in reserve, caps public sockets at
// 400 in all and 50 per address. 60 sockets from 127.0.0.1 get 50 through
// and 10 refused with 429; seven more addresses fill the public total, and
// the next socket gets 503 with Retry-After. Through all of it /healthz,
// the staff API and a staff socket (from the flooded address) answer, and
// the process's open files stay below its limit. Closing sockets makes
// room again.
func TestSocketCapsKeepTheServerReachable(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc and all of 127.0.0.0/8 on loopback")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("needs prlimit (util-linux) to start the binary under a small open-file limit")
	}
	cfg, data := limitsConfig(t, "  max_sockets_per_address: 50\n  fd_reserve: 200\n")
	p := startCommand(t, exec.Command(prlimit, "--nofile=300:600", binary(t), "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--data", data))
	base := "http://" + p.addr
	wsURL := "ws://" + p.addr + "/api/events/ev/ws"
	staffHdr := http.Header{"Authorization": {"Bearer " + limitsToken}}

	lim := p.entry("open-file limit")
	if lim == nil {
		t.Fatal(`no "open-file limit" line in the log`)
	}
	for k, want := range map[string]float64{"soft": 600, "hard": 600, "reserve": 200, "max_public_sockets": 400, "max_staff_sockets": 100, "max_sockets_per_address": 50} {
		if lim[k] != want {
			t.Errorf("open-file limit log: %s = %v, want %v (line %v)", k, lim[k], want, lim)
		}
	}
	pid := p.cmd.Process.Pid
	if _, soft, hard := openFiles(t, pid); soft != 600 || hard != 600 {
		t.Errorf("the process's open-file limit is %d/%d, want the soft limit raised to the hard 600", soft, hard)
	}

	var open []*websocket.Conn
	t.Cleanup(func() {
		for _, ws := range open {
			ws.Close()
		}
	})
	// dialN dials n public sockets from ip and counts them by status.
	dialN := func(ip string, n int) map[int]int {
		got := map[int]int{}
		for range n {
			ws, resp, err := wsFrom(ip, wsURL, nil)
			switch {
			case err == nil:
				open = append(open, ws)
				got[http.StatusSwitchingProtocols]++
			case resp != nil:
				got[resp.StatusCode]++
				if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Retry-After") == "" {
					t.Errorf("503 from %s without Retry-After", ip)
				}
			default:
				t.Fatalf("dial from %s: %v", ip, err)
			}
		}
		return got
	}
	if got := dialN("127.0.0.1", 60); got[101] != 50 || got[429] != 10 {
		t.Fatalf("60 sockets from 127.0.0.1: %v, want 50 upgraded and 10 refused with 429", got)
	}

	// A second address is not held back by the first one's flood.
	ws2, _, err := wsFrom("127.0.0.2", wsURL, nil)
	if err != nil {
		t.Fatalf("a socket from 127.0.0.2 after 127.0.0.1's flood: %v", err)
	}
	open = append(open, ws2)
	_ = ws2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, msg, err := ws2.ReadMessage(); err != nil || !strings.Contains(string(msg), `"snapshot"`) {
		t.Fatalf("the socket from 127.0.0.2 got no snapshot: %v %.200s", err, msg)
	}

	// Fill the public total: 50 more from .2, then .3 to .8.
	filled := dialN("127.0.0.2", 49)
	for i := 3; i <= 8; i++ {
		for k, v := range dialN(fmt.Sprintf("127.0.0.%d", i), 50) {
			filled[k] += v
		}
	}
	if filled[101] != 349 {
		t.Fatalf("filling the public total: %v, want 349 upgraded", filled)
	}
	if got := dialN("127.0.0.9", 1); got[503] != 1 {
		t.Fatalf("a public socket over the total: %v, want 503", got)
	}

	// Staff, health and the API still answer, from the flooded address too.
	if code, err := getJSON(base+"/healthz", nil); err != nil || code != 200 {
		t.Errorf("/healthz = %d %v", code, err)
	}
	req, _ := http.NewRequest("GET", base+"/api/events/ev/queue", nil)
	req.Header = staffHdr.Clone()
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("staff API: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	sws, resp, err := wsFrom("127.0.0.1", "ws://"+p.addr+"/api/events/ev/ws/staff", staffHdr)
	if err != nil {
		t.Fatalf("staff socket from 127.0.0.1 with the public pool full: %v (%v)", err, resp)
	}
	open = append(open, sws)
	_ = sws.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, _, err := sws.ReadMessage(); err != nil {
		t.Errorf("staff socket read: %v", err)
	}

	n, soft, _ := openFiles(t, pid)
	t.Logf("open files of the server with 401 sockets: %d (limit %d)", n, soft)
	if n >= soft-100 {
		t.Errorf("the server holds %d open files, within 100 of its limit %d", n, soft)
	}

	var metrics string
	if res, err := http.Get(base + "/metrics"); err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		metrics = string(b)
	}
	for _, want := range []string{
		`backchannel_fanout_sockets_refused_total{reason="per_address"} 10`,
		`backchannel_fanout_sockets_refused_total{reason="public_total"} 1`,
		`backchannel_fanout_sockets_open{pool="public"} 400`,
		`backchannel_fanout_sockets_open{pool="staff"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if p.entry("fanout: websockets refused over a limit") == nil {
		t.Error("no log line for the refusals")
	}

	// Closing 127.0.0.1's sockets gives their places back.
	for _, ws := range open[:50] {
		ws.Close()
	}
	waitFor(t, "a socket from 127.0.0.9 admitted after closes", 10*time.Second, func() bool {
		ws, _, err := wsFrom("127.0.0.9", wsURL, nil)
		if err != nil {
			return false
		}
		open = append(open, ws)
		return true
	})
}

// A request body trickled one byte at a time is cut off at the body
// timeout (1s here), and its connection closed; a websocket, exempt,
// stays open well past it; an idle keep-alive connection is closed at the
// idle timeout.
func TestBodyTimeoutCutsATrickle(t *testing.T) {
	const timeout = time.Second
	cfg, data := limitsConfig(t, "  body_timeout: 1s\n  idle_timeout: 2s\n")
	p := start(t, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--data", data)

	ws, _, err := websocket.DefaultDialer.Dial("ws://"+p.addr+"/api/events/ev/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	opened := time.Now()

	conn, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	const body = `{"text":"a stage message, trickled one byte at a time, slowly enough that it never ends"}`
	head := "POST /api/events/ev/stage HTTP/1.1\r\nHost: " + p.addr + "\r\nAuthorization: Bearer " + limitsToken +
		"\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n"
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go func() {
		tick := time.NewTicker(100 * time.Millisecond) // the trickle's pace
		defer tick.Stop()
		for i := range len(body) {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			if _, err := conn.Write([]byte{body[i]}); err != nil {
				return
			}
		}
	}()
	// The body would take 9s at this pace; the server must close by the
	// timeout plus slack.
	_ = conn.SetReadDeadline(time.Now().Add(timeout + 3*time.Second))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to the trickled request within %v: %v", timeout+3*time.Second, err)
	}
	reply, _ := io.ReadAll(res.Body)
	res.Body.Close()
	_, err = conn.Read(make([]byte, 1))
	closed := time.Since(sent)
	if !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("connection not closed after the answer (%s %s): %v", res.Status, reply, err)
	}
	if closed < timeout-100*time.Millisecond || closed > timeout+2*time.Second {
		t.Errorf("trickled body cut after %v, want about %v", closed, timeout)
	}
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(reply), "did not arrive within 1s") {
		t.Errorf("answer %s %s, want 400 naming the body timeout", res.Status, reply)
	}
	t.Logf("trickled body cut after %v: %s %s", closed.Round(10*time.Millisecond), res.Status, strings.TrimSpace(string(reply)))

	// The websocket, idle since it opened, outlives the body timeout
	// three times over and still answers.
	<-time.After(time.Until(opened.Add(3 * timeout))) // the time that must pass is what is tested
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"ping"}`)); err != nil {
		t.Fatalf("websocket write after %v: %v", time.Since(opened), err)
	}
	_ = ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, msg, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("websocket closed %v after it opened: %v", time.Since(opened), err)
		}
		if strings.Contains(string(msg), `"pong"`) {
			break
		}
	}

	// An idle keep-alive connection is closed at the idle timeout (2s).
	ka, err := net.Dial("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer ka.Close()
	if _, err := io.WriteString(ka, "GET /healthz HTTP/1.1\r\nHost: "+p.addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(ka)
	if res, err := http.ReadResponse(br, nil); err != nil || res.StatusCode != 200 {
		t.Fatalf("/healthz on a raw connection: %v %v", res, err)
	} else {
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	idle := time.Now()
	_ = ka.SetReadDeadline(time.Now().Add(6 * time.Second))
	if _, err := br.ReadByte(); !errors.Is(err, io.EOF) && !isReset(err) {
		t.Fatalf("idle keep-alive connection: %v, want closed by the server", err)
	}
	if d := time.Since(idle); d < 1500*time.Millisecond || d > 4*time.Second {
		t.Errorf("idle connection closed after %v, want about 2s", d)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}
