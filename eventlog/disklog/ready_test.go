package disklog_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/eventlog/logtest"
)

// The child of TestPingReportsFailedAppends is this test binary run with
// -test.run=^TestPingChild$ and this variable naming its directory.
const pingChildDirEnv = "DISKLOG_PING_CHILD_DIR"

// TestPingReportsFailedAppends: while the log cannot write (here: the
// file-size limit, RLIMIT_FSIZE, is reached, which fails writes with EFBIG
// as a full disk fails them with ENOSPC), Ping, which /readyz asks,
// reports it; once an append succeeds again, Ping is nil again. Before,
// Ping answered nil throughout. The limit is the process's, so the store
// runs in a child process: this test binary again.
func TestPingReportsFailedAppends(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestPingChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), pingChildDirEnv+"="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	for _, want := range []string{
		"ping before: <nil>",
		"append past the limit failed: disklog: log ready: write: ",
		"file too large",
		"ping while failing: log ready cannot take appends",
		"append after the limit was lifted: ok",
		"ping after: <nil>",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("child's output lacks %q:\n%s", want, out)
		}
	}
}

// TestPingChild is the child of TestPingReportsFailedAppends.
func TestPingChild(t *testing.T) {
	dir := os.Getenv(pingChildDirEnv)
	if dir == "" {
		t.Skip("run by TestPingReportsFailedAppends as a child process")
	}
	ctx := context.Background()
	s, err := disklog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.Log(ctx, "ready")
	if err != nil {
		t.Fatal(err)
	}
	p := logtest.Post("https://example.org/@ada/1")
	if _, err := l.Append(ctx, p.IdempotencyKey(), p); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ping before: %v\n", s.Ping(ctx))

	st, err := os.Stat(filepath.Join(dir, "ready", "events.log"))
	if err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	tight := lim
	tight.Cur = uint64(st.Size()) // no byte more may be written to the log
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &tight); err != nil {
		t.Fatal(err)
	}
	p = logtest.Post("https://example.org/@ada/2")
	if _, err := l.Append(ctx, p.IdempotencyKey(), p); err != nil {
		fmt.Printf("append past the limit failed: %v\n", err)
	} else {
		fmt.Println("append past the limit succeeded")
	}
	fmt.Printf("ping while failing: %v\n", s.Ping(ctx))

	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	if a, err := l.Append(ctx, p.IdempotencyKey(), p); err != nil || a.Pos != 2 {
		fmt.Printf("append after the limit was lifted: %+v, %v\n", a, err)
	} else {
		fmt.Println("append after the limit was lifted: ok")
	}
	fmt.Printf("ping after: %v\n", s.Ping(ctx))
}
