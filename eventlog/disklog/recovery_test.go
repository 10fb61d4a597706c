package disklog_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/eventlog/logtest"
)

// fill appends n posts to slug in a fresh store in dir and closes it.
func fill(t *testing.T, dir, slug string, n int) {
	t.Helper()
	s, err := disklog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.Log(context.Background(), slug)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		p := logtest.Post(fmt.Sprintf("https://example.org/@ada/%d", i))
		if _, err := l.Append(context.Background(), p.IdempotencyKey(), p); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestTornTail writes what a crash in the middle of a commit can leave at
// the end of the file, and checks that recovery keeps every whole record,
// drops the torn one, and appends after them.
func TestTornTail(t *testing.T) {
	const n = 10
	cases := []struct {
		name string
		tail func(whole []byte) []byte // whole is the file as written by fill
	}{
		{"part of a header", func([]byte) []byte { return []byte{0x40, 0} }},
		{"header without its body", func(whole []byte) []byte { return bytes.Clone(whole[:8]) }},
		{"a record cut short", func(whole []byte) []byte { return bytes.Clone(whole[:len(whole)/n-5]) }},
		{"a whole record with a bad checksum", func(whole []byte) []byte {
			r := bytes.Clone(whole[:len(whole)/n])
			r[len(r)-3] ^= 0xff
			return r
		}},
		{"zeros", func([]byte) []byte { return make([]byte, 4096) }},
		{"an absurd length", func([]byte) []byte { return []byte{0xff, 0xff, 0xff, 0x7f, 1, 2, 3, 4, 5} }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			fill(t, dir, "torn", n)
			path := filepath.Join(dir, "torn", "events.log")
			whole, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write(c.tail(whole)); err != nil {
				t.Fatal(err)
			}
			f.Close()

			s, err := disklog.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			l, err := s.Log(ctx, "torn")
			if err != nil {
				t.Fatalf("recovery refused the log: %v", err)
			}
			evs, err := l.Read(ctx, 0, 0)
			if err != nil || len(evs) != n {
				t.Fatalf("after recovery: %d events, %v; want %d", len(evs), err, n)
			}
			if st, _ := os.Stat(path); st.Size() != int64(len(whole)) {
				t.Fatalf("torn tail not truncated: file is %d bytes, want %d", st.Size(), len(whole))
			}
			a, err := l.Append(ctx, "", logtest.Message("after recovery"))
			if err != nil || a.Pos != n+1 {
				t.Fatalf("append after recovery: %+v, %v", a, err)
			}
			evs, err = l.Read(ctx, n, 0)
			if err != nil || len(evs) != 1 || evs[0].Message != "after recovery" {
				t.Fatalf("read after recovery: %+v, %v", evs, err)
			}
			p := logtest.Post("https://example.org/@ada/3")
			if a, err := l.Append(ctx, p.IdempotencyKey(), p); err != nil || !a.Duplicate || a.Pos != 4 {
				t.Fatalf("the key index was not rebuilt: %+v, %v", a, err)
			}
		})
	}
}

// TestOutOfOrderRecordRefused: a whole record holding the wrong position is
// not something a crash leaves; the log is refused rather than silently
// renumbered.
func TestOutOfOrderRecordRefused(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, "dup", 3)
	path := filepath.Join(dir, "dup", "events.log")
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// Append the whole file again: records 1..3 after record 3.
	if err := os.WriteFile(path, append(whole, whole...), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := disklog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Log(context.Background(), "dup"); err == nil {
		t.Fatal("a log with positions 1,2,3,1,2,3 was accepted")
	}
}

// TestDirectoryLocked: two stores over one directory would interleave
// their writes; the second Open is refused while the first is open.
func TestDirectoryLocked(t *testing.T) {
	dir := t.TempDir()
	s, err := disklog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s2, err := disklog.Open(dir); err == nil {
		s2.Close()
		t.Fatal("a second store opened a directory in use")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, err := disklog.Open(dir)
	if err != nil {
		t.Fatalf("open after the first store closed: %v", err)
	}
	s2.Close()
}

// TestBadSlug: a slug names a directory, so one that could escape the data
// directory is refused as invalid.
func TestBadSlug(t *testing.T) {
	s, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, slug := range []string{"", "..", "../x", "a/b", ".tmp-x", "LOCK\x00"} {
		_, err := s.Log(context.Background(), slug)
		var e *event.Error
		if !errors.As(err, &e) || e.Code != event.EINVALID {
			t.Errorf("Log(%q) = %v, want EINVALID", slug, err)
		}
	}
}
