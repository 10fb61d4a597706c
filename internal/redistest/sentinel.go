package redistest

import (
	"fmt"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StartReplica starts a redis-server that replicates primary (with the same
// persistence settings as Start) and waits until its initial sync is done.
func StartReplica(t testing.TB, primary *Server) *Server {
	t.Helper()
	host, port, _ := net.SplitHostPort(primary.Addr)
	r := startServer(t, []string{"--replicaof", host, port}, "")
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		info, err := command(r.Addr, "INFO replication")
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return r
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: replica %s did not sync with %s within %s: %v %s", r.Addr, primary.Addr, readyTimeout, err, info)
		}
		<-tick.C
	}
}

// Sentinel timings for tests: the primary counts as down after
// DownAfter without an answer, and a failover is retried after
// FailoverTimeout.
const (
	DownAfter       = time.Second
	FailoverTimeout = 10 * time.Second
)

// StartSentinel starts a Redis Sentinel (redis-server --sentinel) that
// monitors primary under name with the given quorum, with short timings
// (DownAfter, FailoverTimeout). Its Addr is the Sentinel's.
func StartSentinel(t testing.TB, name string, primary *Server, quorum int) *Server {
	t.Helper()
	host, port, _ := net.SplitHostPort(primary.Addr)
	conf := fmt.Sprintf(`sentinel monitor %[1]s %[2]s %[3]s %[4]d
sentinel down-after-milliseconds %[1]s %[5]d
sentinel failover-timeout %[1]s %[6]d
sentinel parallel-syncs %[1]s 1
`, name, host, port, quorum, DownAfter.Milliseconds(), FailoverTimeout.Milliseconds())
	return startServer(t, nil, conf)
}

// command sends one inline command and returns the reply as text (a bulk
// string's body, or the status line).
func command(addr, cmd string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte(cmd + "\r\n")); err != nil {
		return "", err
	}
	buf := make([]byte, 64<<10)
	n, err := c.Read(buf)
	if n == 0 {
		return "", err
	}
	return string(buf[:n]), nil
}

// Freeze stops the server process (SIGSTOP) without closing its sockets,
// as a hung machine would look; Thaw lets it run again.
func (s *Server) Freeze(t testing.TB) { t.Helper(); s.signal(t, syscall.SIGSTOP) }

// Thaw resumes a server stopped by Freeze.
func (s *Server) Thaw(t testing.TB) { t.Helper(); s.signal(t, syscall.SIGCONT) }

func (s *Server) signal(t testing.TB, sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		t.Fatalf("redistest: %s is not running", s.Addr)
	}
	if err := s.proc.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("redistest: signal %s: %v", s.Addr, err)
	}
}
