package redistest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// do sends one command in RESP and returns the first reply line.
func do(t *testing.T, addr string, args ...string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := c.Write([]byte(b.String())); err != nil {
		t.Fatalf("write: %v", err)
	}
	r := bufio.NewReader(c)
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	line = strings.TrimSpace(line)
	bulk := func(head string) string {
		if !strings.HasPrefix(head, "$") || head == "$-1" {
			return head
		}
		v, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("read bulk: %v", err)
		}
		return strings.TrimSpace(v)
	}
	if n, err := strconv.Atoi(strings.TrimPrefix(line, "*")); err == nil && strings.HasPrefix(line, "*") {
		// An array of bulk strings, joined with spaces.
		var parts []string
		for range n {
			head, err := r.ReadString('\n')
			if err != nil {
				t.Fatalf("read array: %v", err)
			}
			parts = append(parts, bulk(strings.TrimSpace(head)))
		}
		return strings.Join(parts, " ")
	}
	return bulk(line)
}

func TestStartRestartKeepsData(t *testing.T) {
	srv := Start(t)
	if !strings.HasPrefix(srv.Addr, "127.0.0.1:") || srv.URL != "redis://"+srv.Addr+"/0" {
		t.Fatalf("Addr %q URL %q: want loopback and a matching URL", srv.Addr, srv.URL)
	}
	if got := do(t, srv.Addr, "CONFIG", "GET", "appendonly"); got != "appendonly yes" {
		t.Fatalf("CONFIG GET appendonly = %q, want AOF on", got)
	}
	if got := do(t, srv.Addr, "SET", "k", "v1"); got != "+OK" {
		t.Fatalf("SET: %q", got)
	}
	srv.Restart(t)
	if got := do(t, srv.Addr, "GET", "k"); got != "v1" {
		t.Fatalf("after Restart, GET k = %q, want v1", got)
	}
}

func TestKillThenRestart(t *testing.T) {
	srv := Start(t)
	if got := do(t, srv.Addr, "SET", "k", "v"); got != "+OK" {
		t.Fatalf("SET: %q", got)
	}
	srv.Kill(t)
	if srv.Running() {
		t.Fatal("Running after Kill")
	}
	if c, err := net.DialTimeout("tcp", srv.Addr, time.Second); err == nil {
		c.Close()
		t.Fatal("dial succeeded after Kill")
	}
	srv.Restart(t)
	if !srv.Running() {
		t.Fatal("not Running after Restart")
	}
	if got := do(t, srv.Addr, "PING"); got != "+PONG" {
		t.Fatalf("PING after restart: %q", got)
	}
}

func TestTwoServersDiffer(t *testing.T) {
	a, b := Start(t), Start(t)
	if a.Addr == b.Addr || a.Dir == b.Dir {
		t.Fatalf("two servers share %q / %q", a.Addr, a.Dir)
	}
	do(t, a.Addr, "SET", "only", "a")
	if got := do(t, b.Addr, "GET", "only"); got != "$-1" {
		t.Fatalf("server b sees a's key: %q", got)
	}
}

// TestMissingServer runs this test binary again with redis-server pointed at
// a path that does not exist: without CI the test skips, with CI=true it fails.
func TestMissingServer(t *testing.T) {
	if os.Getenv("REDISTEST_CHILD") == "1" {
		Start(t)
		t.Log("Start returned with no redis-server")
		return
	}
	for _, c := range []struct {
		ci       string
		wantFail bool
		want     string
	}{
		{"", false, "--- SKIP: TestMissingServer"},
		{"true", true, "--- FAIL: TestMissingServer"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingServer$", "-test.v")
		cmd.Env = append(os.Environ(), "REDISTEST_CHILD=1", EnvServer+"=/nonexistent/redis-server", "CI="+c.ci)
		out, err := cmd.CombinedOutput()
		if failed := err != nil; failed != c.wantFail {
			t.Errorf("CI=%q: child failed=%v, want %v:\n%s", c.ci, failed, c.wantFail, out)
		}
		if !strings.Contains(string(out), c.want) || !strings.Contains(string(out), "apt-get install redis-server") {
			t.Errorf("CI=%q: child output lacks %q and the install hint:\n%s", c.ci, c.want, out)
		}
	}
}
