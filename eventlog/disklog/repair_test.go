package disklog_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/eventlog/logtest"
)

// An event's log as a live event leaves it: 70 posts, then 30 approvals of
// the first 30 posts, so that damage a third of the way in has every
// approval after it.
const (
	damagedPosts     = 70
	damagedApprovals = 30
)

func damagedURI(i int) string { return fmt.Sprintf("https://example.org/@ada/%d", i) }

func fillWithApprovals(t *testing.T, dir, slug string) {
	t.Helper()
	s, err := disklog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	l, err := s.Log(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	for i := range damagedPosts {
		p := logtest.Post(damagedURI(i))
		if _, err := l.Append(ctx, p.IdempotencyKey(), p); err != nil {
			t.Fatal(err)
		}
	}
	for i := range damagedApprovals {
		a := event.Entry{Kind: event.PostApproved, Actor: event.Actor{Role: event.RoleModerator, Name: "mo"}, PostID: event.PostID(damagedURI(i))}
		if _, err := l.Append(ctx, "", a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// frames returns where each record of a log file starts, and its length,
// read from the frames' length fields.
func frames(t *testing.T, b []byte) (offs []int64, lens []int64) {
	t.Helper()
	for off := int64(0); off < int64(len(b)); {
		n := 8 + int64(binary.LittleEndian.Uint32(b[off:]))
		offs, lens = append(offs, off), append(lens, n)
		off += n
	}
	return offs, lens
}

// recordAt returns the index of the record holding byte at.
func recordAt(offs []int64, at int64) int {
	i := len(offs) - 1
	for i > 0 && offs[i] > at {
		i--
	}
	return i
}

// TestMidLogDamage: damage a third of the way into a log of 100 events,
// with 30 approvals after it. Opening the log fails, naming the file and
// the offset (before, it was truncated there with a warning, and the
// approvals were gone). Repair saves the damaged bytes in a file named
// after the offset, keeps every intact record after the damage, and
// leaves a log that opens, with dense positions under a new epoch.
func TestMidLogDamage(t *testing.T) {
	cases := []struct {
		name   string
		damage func(b []byte, offs []int64) (from, to int64) // the bytes changed
	}{
		{"one flipped byte", func(b []byte, _ []int64) (int64, int64) {
			at := int64(len(b) / 3)
			b[at] ^= 0x01
			return at, at + 1
		}},
		{"a zeroed range across three records", func(b []byte, offs []int64) (int64, int64) {
			i := recordAt(offs, int64(len(b)/3))
			from, to := offs[i]+20, offs[i+2]+5
			clear(b[from:to])
			return from, to
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			const slug = "damaged"
			fillWithApprovals(t, dir, slug)
			path := filepath.Join(dir, slug, "events.log")
			whole, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			offs, lens := frames(t, whole)
			if len(offs) != damagedPosts+damagedApprovals {
				t.Fatalf("%d frames, want %d", len(offs), damagedPosts+damagedApprovals)
			}
			damaged := bytes.Clone(whole)
			from, to := c.damage(damaged, offs)
			first, last := recordAt(offs, from), recordAt(offs, to-1)
			cutFrom, cutTo := offs[first], offs[last]+lens[last]
			if err := os.WriteFile(path, damaged, 0o644); err != nil {
				t.Fatal(err)
			}
			epochBefore, _ := os.ReadFile(filepath.Join(dir, slug, "epoch"))

			// Opening refuses the log, naming the file and the offset.
			s, err := disklog.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Log(context.Background(), slug)
			var de *disklog.DamageError
			if !errors.As(err, &de) {
				t.Fatalf("opening a log damaged in the middle: %v, want a *DamageError", err)
			}
			if de.File != path || de.Offset != cutFrom || de.Pos != uint64(first+1) || de.Next != cutTo {
				t.Errorf("DamageError = %+v, want file %s, offset %d, pos %d, next %d", de, path, cutFrom, first+1, cutTo)
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "offset "+strconv.FormatInt(cutFrom, 10)) {
				t.Errorf("error %q does not name the file and the offset", msg)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, damaged) {
				t.Fatal("refusing the log changed the file")
			}

			// Repair.
			rep, err := s.Repair(context.Background(), slug)
			if err != nil {
				t.Fatalf("Repair: %v", err)
			}
			lost := uint64(last - first + 1)
			want := uint64(damagedPosts+damagedApprovals) - lost
			if rep.Kept != want || len(rep.Cuts) != 1 || !rep.Renumbered {
				t.Fatalf("report: %+v, want %d kept, one cut, renumbered", rep, want)
			}
			cut := rep.Cuts[0]
			if cut.Offset != cutFrom || cut.Bytes != cutTo-cutFrom || cut.Lost != lost || cut.FirstLost != uint64(first+1) || cut.Tail {
				t.Errorf("cut %+v, want offset %d, %d bytes, %d lost from %d", cut, cutFrom, cutTo-cutFrom, lost, first+1)
			}
			if cut.Before.IsZero() || cut.After.IsZero() || cut.After.Before(cut.Before) {
				t.Errorf("cut between %v and %v", cut.Before, cut.After)
			}
			wantName := path + ".cut-" + strconv.FormatInt(cutFrom, 10)
			saved, err := os.ReadFile(cut.SavedAs)
			if cut.SavedAs != wantName || err != nil || !bytes.Equal(saved, damaged[cutFrom:cutTo]) {
				t.Errorf("cut saved as %q (%v), want %q holding the %d damaged bytes", cut.SavedAs, err, wantName, cutTo-cutFrom)
			}
			if epoch, _ := os.ReadFile(filepath.Join(dir, slug, "epoch")); bytes.Equal(epoch, epochBefore) || strings.TrimSpace(string(epoch)) != rep.Epoch {
				t.Errorf("epoch %q after repair (report %q), was %q: renumbered positions need a new one", epoch, rep.Epoch, epochBefore)
			}

			// The repaired log opens, dense, with every intact record.
			ctx := context.Background()
			l, err := s.Log(ctx, slug)
			if err != nil {
				t.Fatalf("the repaired log does not open: %v", err)
			}
			evs, err := l.Read(ctx, 0, 0)
			if err != nil || uint64(len(evs)) != want {
				t.Fatalf("read after repair: %d events, %v; want %d", len(evs), err, want)
			}
			var wantIDs []string
			for i := range damagedPosts {
				if i < first || i > last {
					wantIDs = append(wantIDs, "received "+event.PostID(damagedURI(i)))
				}
			}
			for i := range damagedApprovals {
				wantIDs = append(wantIDs, "approved "+event.PostID(damagedURI(i)))
			}
			for i, e := range evs {
				if e.Pos != uint64(i+1) {
					t.Fatalf("event %d has position %d: not dense", i, e.Pos)
				}
				got := strings.TrimPrefix(string(e.Kind), "post.") + " " + e.PostID
				if got != wantIDs[i] {
					t.Fatalf("event at %d is %q, want %q", e.Pos, got, wantIDs[i])
				}
			}
			h, _ := l.Head(ctx)
			if h.Epoch != rep.Epoch || h.Last != want {
				t.Errorf("head %+v, want epoch %s, last %d", h, rep.Epoch, want)
			}
			// Keys went with their records; the lost post's key is free.
			p := logtest.Post(damagedURI(last + 1))
			if a, err := l.Append(ctx, p.IdempotencyKey(), p); err != nil || !a.Duplicate || a.Pos != uint64(first+1) {
				t.Errorf("re-append of the post after the cut: %+v, %v; want a duplicate at %d", a, err, first+1)
			}
			p = logtest.Post(damagedURI(first))
			if a, err := l.Append(ctx, p.IdempotencyKey(), p); err != nil || a.Duplicate || a.Pos != want+1 {
				t.Errorf("re-append of a lost post: %+v, %v; want a new event at %d", a, err, want+1)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRepairWholeLog: a log with nothing wrong is left as it is.
func TestRepairWholeLog(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, "whole", 10)
	path := filepath.Join(dir, "whole", "events.log")
	before, _ := os.ReadFile(path)
	s, err := disklog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Repair(context.Background(), "whole")
	if err != nil || len(rep.Cuts) != 0 || rep.Kept != 10 || rep.Renumbered {
		t.Fatalf("repair of a whole log: %+v, %v", rep, err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("repair changed a whole log")
	}
}

// TestRepairTornTail: a torn tail is cut too, and saved, with no positions
// lost and the epoch kept (opening the log would have truncated it anyway).
func TestRepairTornTail(t *testing.T) {
	dir := t.TempDir()
	fill(t, dir, "torn", 10)
	path := filepath.Join(dir, "torn", "events.log")
	whole, _ := os.ReadFile(path)
	tail := bytes.Clone(whole[:len(whole)/10-5])
	if err := os.WriteFile(path, append(bytes.Clone(whole), tail...), 0o644); err != nil {
		t.Fatal(err)
	}
	epoch, _ := os.ReadFile(filepath.Join(dir, "torn", "epoch"))
	s, err := disklog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	rep, err := s.Repair(context.Background(), "torn")
	if err != nil || len(rep.Cuts) != 1 || !rep.Cuts[0].Tail || rep.Cuts[0].Offset != int64(len(whole)) || rep.Renumbered || rep.Kept != 10 {
		t.Fatalf("repair of a torn tail: %+v, %v", rep, err)
	}
	if saved, _ := os.ReadFile(rep.Cuts[0].SavedAs); !bytes.Equal(saved, tail) {
		t.Error("the torn tail was not saved as it was")
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, whole) {
		t.Error("the repaired log is not the intact prefix")
	}
	if e, _ := os.ReadFile(filepath.Join(dir, "torn", "epoch")); !bytes.Equal(e, epoch) {
		t.Error("cutting a tail changed the epoch")
	}
}
