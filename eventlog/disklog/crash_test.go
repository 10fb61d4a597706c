package disklog_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/eventlog/logtest"
)

// The child process of TestKillNine is this test binary run with
// -test.run=^TestCrashChild$ and these variables set.
const (
	childDirEnv   = "DISKLOG_CRASH_CHILD_DIR"
	childRoundEnv = "DISKLOG_CRASH_CHILD_ROUND"
	crashWriters  = 8
	crashSlug     = "crash"
)

func crashURI(round, writer, i int) string {
	return fmt.Sprintf("urn:crash:%d:%d:%d", round, writer, i)
}

// TestCrashChild appends from several goroutines until it is killed and
// prints "ack POS URI" for each acknowledged append. It bounds itself in
// count and time so it stops even if its parent died without killing it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(childDirEnv)
	if dir == "" {
		t.Skip("run by TestKillNine as a child process")
	}
	round, _ := strconv.Atoi(os.Getenv(childRoundEnv))
	s, err := disklog.Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		os.Exit(2)
	}
	l, err := s.Log(context.Background(), crashSlug)
	if err != nil {
		fmt.Fprintln(os.Stderr, "log:", err)
		os.Exit(2)
	}
	stop := time.Now().Add(30 * time.Second)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range crashWriters {
		wg.Go(func() {
			for i := 0; i < 100000 && time.Now().Before(stop); i++ {
				p := logtest.Post(crashURI(round, w, i))
				a, err := l.Append(context.Background(), p.IdempotencyKey(), p)
				if err != nil {
					fmt.Fprintln(os.Stderr, "append:", err)
					os.Exit(2)
				}
				// One write per line, so the parent never reads half of one.
				mu.Lock()
				fmt.Fprintf(os.Stdout, "ack %d %s\n", a.Pos, p.Post.URI)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	os.Exit(3) // the parent should have killed us long before
}

// runAndKill runs the child over dir, SIGKILLs it once it has acknowledged
// killAfter appends, and returns every append it acknowledged (pos -> URI).
func runAndKill(t *testing.T, dir string, round, killAfter int) map[uint64]string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), childDirEnv+"="+dir, childRoundEnv+"="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Whatever happens below, the child does not outlive the test.
	guard := time.AfterFunc(60*time.Second, func() { _ = cmd.Process.Kill() })
	defer guard.Stop()

	acked := make(map[uint64]string)
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "ack" {
			continue // go test's own output
		}
		pos, err := strconv.ParseUint(f[1], 10, 64)
		if err != nil {
			t.Fatalf("bad line from child: %q", sc.Text())
		}
		if prev, dup := acked[pos]; dup {
			t.Fatalf("child acknowledged pos %d twice: %s and %s", pos, prev, f[2])
		}
		acked[pos] = f[2]
		if !killed && len(acked) >= killAfter {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatalf("kill child: %v", err)
			}
			killed = true
		}
	}
	// Lines printed before the kill are acknowledgements too; the scan
	// above read them all, up to EOF.
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("child: %v (stderr: %s)", err, stderr.String())
	}
	if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("child ended with %v before it was killed (stderr: %s)", err, stderr.String())
	}
	if !killed {
		t.Fatalf("child stopped after %d acks, before the kill", len(acked))
	}
	return acked
}

// TestKillNine kills a process appending to the log with SIGKILL at several
// moments, each time over the same directory, and checks after each that
// every acknowledged append is there, in order, and that the log still
// takes appends.
func TestKillNine(t *testing.T) {
	if os.Getenv(childDirEnv) != "" {
		t.Skip("this is the child")
	}
	if testing.Short() {
		t.Skip("starts child processes")
	}
	dir := t.TempDir()
	all := make(map[uint64]string) // every acknowledged append of every round
	for round, killAfter := range []int{1, 120, 333, 500} {
		acked := runAndKill(t, dir, round, killAfter)
		for pos, uri := range acked {
			all[pos] = uri
		}
		s, err := disklog.Open(dir)
		if err != nil {
			t.Fatalf("round %d: reopen after kill: %v", round, err)
		}
		ctx := context.Background()
		l, err := s.Log(ctx, crashSlug)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		evs, err := l.Read(ctx, 0, 0)
		if err != nil {
			t.Fatalf("round %d: read after kill: %v", round, err)
		}
		for i, ev := range evs {
			if ev.Pos != uint64(i+1) {
				t.Fatalf("round %d: event %d has pos %d", round, i, ev.Pos)
			}
		}
		for pos, uri := range all {
			if pos > uint64(len(evs)) {
				t.Fatalf("round %d: acknowledged pos %d (%s) lost: the log ends at %d", round, pos, uri, len(evs))
			}
			if got := evs[pos-1].Post; got == nil || got.URI != uri {
				t.Fatalf("round %d: pos %d holds %+v, acknowledged as %s", round, pos, got, uri)
			}
		}
		// Each writer appends its i-th post only after its (i-1)-th was
		// acknowledged, so each writer's posts are in the log as 0, 1, 2, ...
		// with no hole, in order.
		next := make(map[string]int)
		for _, ev := range evs {
			if ev.Post == nil {
				continue // a message appended after an earlier round
			}
			var r, w, i int
			if _, err := fmt.Sscanf(ev.Post.URI, "urn:crash:%d:%d:%d", &r, &w, &i); err != nil {
				t.Fatalf("round %d: unexpected event %s", round, ev.Post.URI)
			}
			k := fmt.Sprintf("%d:%d", r, w)
			if i != next[k] {
				t.Fatalf("round %d: writer %s: post %d at pos %d, want post %d", round, k, i, ev.Pos, next[k])
			}
			next[k]++
		}
		// The log takes appends, and still knows the acknowledged keys.
		a, err := l.Append(ctx, "", logtest.Message(fmt.Sprintf("after round %d", round)))
		if err != nil || a.Pos != uint64(len(evs))+1 {
			t.Fatalf("round %d: append after recovery: %+v, %v; want pos %d", round, a, err, len(evs)+1)
		}
		for pos, uri := range acked {
			p := logtest.Post(uri)
			if a, err := l.Append(ctx, p.IdempotencyKey(), p); err != nil || !a.Duplicate || a.Pos != pos {
				t.Fatalf("round %d: re-append of %s: %+v, %v; want duplicate of pos %d", round, uri, a, err, pos)
			}
			break // one is enough; the index is rebuilt for all or none
		}
		if err := s.Close(); err != nil {
			t.Fatalf("round %d: close: %v", round, err)
		}
		t.Logf("round %d: killed after %d acks; log holds %d events", round, len(acked), len(evs)+1)
	}
}
