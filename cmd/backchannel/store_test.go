package main

import (
	"bytes"
	"context"
	le "encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/eventlog/logtest"
)

// damagedLog writes the log of event slug in data as a live event leaves
// it, 70 posts then 30 approvals of the first 30, flips one byte a third
// of the way in, and returns the log file, the damaged record's offset and
// length, and the index of the post it held.
func damagedLog(t *testing.T, data, slug string) (path string, off, n int64, post int) {
	t.Helper()
	s, err := disklog.Open(data)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := s.Log(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	uri := func(i int) string { return fmt.Sprintf("https://example.org/@ada/%d", i) }
	for i := range 70 {
		p := logtest.Post(uri(i))
		// A real event's posts: rehearsal posts would leave at the start
		// without --rehearse (event.went_live), which is not under test here.
		p.Post.Source, p.Actor.Name = "mastodon", "mastodon:example.org"
		if _, err := l.Append(ctx, p.IdempotencyKey(), p); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 30 {
		a := event.Entry{Kind: event.PostApproved, Actor: event.Actor{Role: event.RoleModerator}, PostID: event.PostID(uri(i))}
		if _, err := l.Append(ctx, "", a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(data, slug, "events.log")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at := int64(len(b) / 3)
	for i := 0; off < int64(len(b)); i++ {
		n = 8 + int64(le.LittleEndian.Uint32(b[off:]))
		if at < off+n {
			post = i
			break
		}
		off += n
	}
	if post >= 30 {
		t.Fatalf("the damaged record (%d) is not a post with an approval after it", post)
	}
	b[at] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, off, n, post
}

// runBinary runs the binary to its end, within a minute.
func runBinary(t *testing.T, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = append(os.Environ(), "BACKCHANNEL_LOG_FORMAT=json")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%v: %v\n%s", args, err, out)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// TestServeRefusesDamagedLog: the real binary, over a log with one byte
// flipped a third of the way in and 30 approvals after it, refuses to
// start, naming the file, the offset and the repair command (before, it
// started with a warning and 26 events, every approval gone). repair-log
// keeps the damaged bytes and every intact record; then serve starts and
// the wall shows every approved post whose record survived.
func TestServeRefusesDamagedLog(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	path, off, n, lost := damagedLog(t, data, "leaders4leeds")
	damaged, _ := os.ReadFile(path)
	args := []string{"serve", "--tag", "Leaders4Leeds", "--listen", "127.0.0.1:0", "--data", data}

	code, out := runBinary(t, args...)
	if code != 1 {
		t.Fatalf("serve on a damaged log exited %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		path, fmt.Sprintf(`"offset":%d`, off),
		"backchannel repair-log --data " + data + " --event leaders4leeds",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("serve's output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `"msg":"listening"`) {
		t.Error("serve listened on a damaged log")
	}

	code, out = runBinary(t, "repair-log", "--data", data, "--event", "leaders4leeds")
	if code != 0 {
		t.Fatalf("repair-log exited %d\n%s", code, out)
	}
	cutFile := path + ".cut-" + strconv.FormatInt(off, 10)
	for _, want := range []string{
		"kept 99 events", fmt.Sprintf("%d bytes at offset %d, 1 event lost (position %d); saved in %s", n, off, lost+1, cutFile),
		"new epoch", "leaders4leeds: opens with 99 events",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("repair-log's output lacks %q:\n%s", want, out)
		}
	}
	if saved, err := os.ReadFile(cutFile); err != nil || !bytes.Equal(saved, damaged[off:off+n]) {
		t.Errorf("the cut bytes were not kept in %s: %v", cutFile, err)
	}

	p := start(t, args...)
	base := "http://" + p.addr
	var info eventInfo
	waitFor(t, "the repaired log served", 30*time.Second, func() bool {
		code, err := getJSON(base+"/api/events/leaders4leeds", &info)
		return err == nil && code == 200 && info.Pos == 99
	})
	var wall wallBody
	waitFor(t, "29 approved posts on the wall", 30*time.Second, func() bool {
		code, err := getJSON(base+"/api/events/leaders4leeds/wall?limit=500", &wall)
		return err == nil && code == 200 && len(wall.Posts) == 29
	})
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code after SIGTERM = %d", code)
	}
}

// prlimitFSize sets the file-size limit (RLIMIT_FSIZE) of process pid:
// writes past cur bytes fail with EFBIG, as they fail with ENOSPC on a
// full disk. It needs no privilege over a process of the same user.
func prlimitFSize(t *testing.T, pid int, cur uint64) {
	t.Helper()
	lim := syscall.Rlimit{Cur: cur, Max: ^uint64(0)}
	if _, _, e := syscall.RawSyscall6(syscall.SYS_PRLIMIT64, uintptr(pid), syscall.RLIMIT_FSIZE,
		uintptr(unsafe.Pointer(&lim)), 0, 0, 0); e != 0 {
		t.Fatalf("prlimit: %v", e)
	}
}

// TestReadyzFollowsFailedAppends: while the embedded log cannot write
// (its file-size limit reached, as a full disk would), /readyz answers
// 503; once appends succeed again it answers 200. Before, it stayed 200.
func TestReadyzFollowsFailedAppends(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	cfg := filepath.Join(dir, "events.yaml")
	if err := os.WriteFile(cfg, []byte(`events:
  - slug: full-disk
    hashtags: [FullDisk]
    sources:
      - type: rehearsal
        rate: 600
`), 0o644); err != nil {
		t.Fatal(err)
	}
	p := start(t, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--data", data)
	base := "http://" + p.addr
	ready := func(want int) func() bool {
		return func() bool { code, _ := getJSON(base+"/readyz", nil); return code == want }
	}
	var info eventInfo
	waitFor(t, "events in the log", 30*time.Second, func() bool {
		code, err := getJSON(base+"/api/events/full-disk", &info)
		return err == nil && code == 200 && info.Pos >= 2
	})
	waitFor(t, "/readyz 200", 30*time.Second, ready(200))

	st, err := os.Stat(filepath.Join(data, "full-disk", "events.log"))
	if err != nil {
		t.Fatal(err)
	}
	prlimitFSize(t, p.cmd.Process.Pid, uint64(st.Size()))
	waitFor(t, "/readyz 503 while appends fail", 30*time.Second, ready(503))
	if code, _ := getJSON(base+"/healthz", nil); code != 200 {
		t.Errorf("/healthz = %d while appends fail, want 200: the process is alive", code)
	}
	prlimitFSize(t, p.cmd.Process.Pid, ^uint64(0))
	waitFor(t, "/readyz 200 once appends succeed", 60*time.Second, ready(200))
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code after SIGTERM = %d", code)
	}
}
