// Package redistest starts a real redis-server for a test: on a free loopback
// port, in the test's temporary directory, with append-only persistence on,
// and stops it when the test ends.
//
//	srv := redistest.Start(t)
//	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
//	...
//	srv.Restart(t) // same port, same data: acknowledged writes survive
//	srv.Kill(t)    // SIGKILL; the server stays down until Restart
//
// When redis-server is not installed the test is skipped, except when the
// environment has CI=true: there a missing server fails the test, so CI can
// never pass by skipping every Redis test. REDISTEST_SERVER, when set, is
// the redis-server binary to run.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// readyTimeout bounds how long Start and Restart wait for the server to
// answer PING (it may be replaying a large AOF after a restart).
const readyTimeout = 15 * time.Second

// Server is one redis-server process run for a test. Its methods may be
// called from any goroutine.
type Server struct {
	// Addr is the server's host:port on loopback, e.g. "127.0.0.1:40123".
	Addr string
	// URL is Addr as a redis URL for database 0, e.g. "redis://127.0.0.1:40123/0".
	URL string
	// Dir is the server's working directory; the append-only files live in
	// Dir/appendonlydir and the server's log in Dir/redis.log.
	Dir string

	bin  string
	port int
	// extra are more arguments for redis-server (a replica's --replicaof);
	// sentinelConf, when set, makes the process a Sentinel with that file.
	extra        []string
	sentinelConf string

	mu   sync.Mutex
	proc *process // nil while the server is down
}

// process is one run of redis-server.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has exited and been reaped
}

// EnvServer names an environment variable that, when set, is the path of
// the redis-server to run instead of the one on PATH.
const EnvServer = "REDISTEST_SERVER"

// Binary returns the path of redis-server, or an error saying how to install it.
func Binary() (string, error) {
	if p := os.Getenv(EnvServer); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("redis-server not found at %s=%s; install it with apt-get install redis-server", EnvServer, p)
		}
		return p, nil
	}
	if p, err := exec.LookPath("redis-server"); err == nil {
		return p, nil
	}
	const debian = "/usr/bin/redis-server"
	if _, err := os.Stat(debian); err == nil {
		return debian, nil
	}
	return "", errors.New("redis-server not found; install it with apt-get install redis-server")
}

// Start starts a redis-server with appendonly yes and appendfsync everysec
// on a free 127.0.0.1 port in a new temporary directory, waits until it
// answers PING, and registers its stop with t.Cleanup.
//
// If redis-server is missing, Start skips the test, or fails it when the
// environment variable CI is "true".
func Start(t testing.TB) *Server {
	t.Helper()
	return startServer(t, nil, "")
}

// startServer starts a server with extra arguments, or a Sentinel when
// sentinelConf (the body of its config file) is not empty.
func startServer(t testing.TB, extra []string, sentinelConf string) *Server {
	t.Helper()
	bin, err := Binary()
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redistest: %v (CI=true, so this is a failure, not a skip)", err)
		}
		t.Skipf("redistest: %v", err)
	}
	s := &Server{bin: bin, Dir: t.TempDir(), extra: extra}
	t.Cleanup(s.stopQuietly)

	// The free port is found by binding :0 and releasing it; another process
	// may take it before redis-server binds, so a failed start is retried on
	// a new port a few times.
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			t.Fatalf("redistest: find a free port: %v", err)
		}
		s.port = port
		s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		s.URL = "redis://" + s.Addr + "/0"
		if sentinelConf != "" {
			// Sentinel rewrites its config file, so each run gets a fresh one.
			s.sentinelConf = filepath.Join(s.Dir, "sentinel.conf")
			if err := os.WriteFile(s.sentinelConf, []byte(sentinelConf), 0o600); err != nil {
				t.Fatalf("redistest: %v", err)
			}
		}
		if lastErr = s.start(); lastErr == nil {
			return s
		}
	}
	t.Fatalf("redistest: start redis-server: %v", lastErr)
	return nil
}

// Restart stops the server if it is running (gracefully: SIGTERM, on which
// Redis fsyncs its append-only file) and starts it again on the same port
// and data directory, so every write it acknowledged is there again. It
// returns when the server answers PING. Clients see their connections drop.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.stop(syscall.SIGTERM)
	// The port was just released; an unrelated process could grab it in
	// between, which is not worth more than a clear failure.
	if err := s.start(); err != nil {
		t.Fatalf("redistest: restart redis-server on %s: %v", s.Addr, err)
	}
}

// Kill stops the server with SIGKILL, as a crash of the Redis process
// would. Redis writes the AOF (to the kernel) before it answers, so every
// acknowledged write is still there after Restart; only a crash of the whole
// machine can lose the last second of them (appendfsync everysec), which
// this cannot simulate. The server stays down until Restart.
func (s *Server) Kill(t testing.TB) {
	t.Helper()
	s.stop(syscall.SIGKILL)
}

// Running reports whether the server process is up.
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc != nil
}

// start runs redis-server and waits for it to answer PING.
func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc != nil {
		return errors.New("already running")
	}
	logPath := filepath.Join(s.Dir, "redis.log")
	var args []string
	if s.sentinelConf != "" {
		args = []string{s.sentinelConf, "--sentinel"}
	}
	args = append(args,
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--protected-mode", "yes",
		"--dir", s.Dir,
		"--logfile", logPath,
		"--daemonize", "no",
	)
	if s.sentinelConf == "" {
		args = append(args,
			"--appendonly", "yes",
			"--appendfsync", "everysec",
			"--save", "", // AOF only: no RDB snapshots forking in the middle of a test
		)
	}
	cmd := exec.Command(s.bin, append(args, s.extra...)...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	if err := waitReady(s.Addr, p.exited); err != nil {
		_ = cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%w\n%s", err, logTail(logPath))
	}
	s.proc = p
	return nil
}

// stop signals the process and waits until it has exited. Stopping a server
// that is down does nothing.
func (s *Server) stop(sig syscall.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.cmd.Process.Signal(sig)
	select {
	case <-s.proc.exited:
	case <-time.After(readyTimeout):
		// A graceful shutdown that hangs is not the test's business: kill it.
		_ = s.proc.cmd.Process.Kill()
		<-s.proc.exited
	}
	s.proc = nil
}

// stopQuietly is the t.Cleanup hook: the data directory is about to be
// removed, so nothing needs to be flushed.
func (s *Server) stopQuietly() { s.stop(syscall.SIGKILL) }

// waitReady polls PING until the server answers +PONG, the process exits,
// or readyTimeout passes. While Redis replays its AOF it answers -LOADING,
// which counts as not ready.
func waitReady(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var lastErr error
	for {
		if lastErr = ping(addr); lastErr == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w", readyTimeout, lastErr)
		}
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited before answering PING: %w", lastErr)
		case <-tick.C:
		}
	}
}

// ping sends one inline PING and checks the reply.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line = strings.TrimSpace(line); line != "+PONG" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// freePort asks the kernel for a free loopback port.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// logTail returns the last lines of the server's log, to explain a failed start.
func logTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no redis log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	return "redis log:\n" + strings.Join(lines, "\n")
}
