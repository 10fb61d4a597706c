package redislog_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/logtest"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/internal/redistest"
)

// quiet keeps the expected reconnect warnings out of the test output.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// prefixes hands every opened store a key prefix of its own, so the suite's
// "fresh, empty data" holds on one shared server.
var prefixes atomic.Int64

func open(t *testing.T, srv *redistest.Server, prefix string, opts ...redislog.Option) *redislog.Store {
	t.Helper()
	opts = append([]redislog.Option{redislog.WithPrefix(prefix), redislog.WithLogger(quiet)}, opts...)
	s, err := redislog.Open(context.Background(), srv.URL, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", srv.URL, err)
	}
	return s
}

// prefixOf remembers the prefix each store of the suite was opened with, so
// Reopen opens the same data.
var prefixOf sync.Map // *redislog.Store -> string

func TestConformance(t *testing.T) {
	srv := redistest.Start(t)
	logtest.Run(t, logtest.Engine{
		Open: func(t *testing.T) eventlog.Store {
			p := fmt.Sprintf("t%d", prefixes.Add(1))
			s := open(t, srv, p)
			prefixOf.Store(s, p)
			return s
		},
		Reopen: func(t *testing.T, old eventlog.Store) eventlog.Store {
			p, ok := prefixOf.Load(old)
			if !ok {
				t.Fatal("Reopen of a store Open did not make")
			}
			_ = old.Close()
			s := open(t, srv, p.(string))
			prefixOf.Store(s, p)
			return s
		},
		RestartServer: func(t *testing.T) { srv.Restart(t) },
	})
}

func message(text string) event.Entry {
	return event.Entry{Kind: event.StageMessage, Actor: event.Actor{Role: event.RoleModerator, Name: "mod"}, Message: text}
}

// TestAppendsAcrossRestart: Redis is restarted while four writers append.
// Appends wait out the restart; every acknowledged append is in the log
// exactly once at the position it was acknowledged with, and none is doubled
// by a retry. (A graceful restart fsyncs the AOF, so nothing acknowledged
// may be lost; a crash is TestTailWaitsOutAnOutage's business.)
func TestAppendsAcrossRestart(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, "kill", redislog.WithRetryFor(20*time.Second))
	defer s.Close()
	ctx := context.Background()
	l, err := s.Log(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}

	const writers, each = 4, 50
	var (
		mu    sync.Mutex
		acked = map[string]uint64{} // message -> position
	)
	halfway := make(chan struct{})
	var once sync.Once
	var count atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				msg := fmt.Sprintf("w%d-%d", w, i)
				a, err := l.Append(ctx, "", message(msg))
				if err != nil {
					continue // failed cleanly: it may or may not be in the log, but at most once
				}
				mu.Lock()
				acked[msg] = a.Pos
				mu.Unlock()
				if count.Add(1) == writers*each/4 {
					once.Do(func() { close(halfway) })
				}
			}
		})
	}
	<-halfway
	srv.Restart(t) // graceful: SIGTERM flushes the AOF, so every acked append must survive
	wg.Wait()

	evs, err := l.Read(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]uint64{}
	for _, e := range evs {
		if p, dup := seen[e.Message]; dup {
			t.Fatalf("%q is in the log twice, at %d and %d", e.Message, p, e.Pos)
		}
		seen[e.Message] = e.Pos
	}
	for msg, pos := range acked {
		if seen[msg] != pos {
			t.Fatalf("acknowledged %q at %d, the log has it at %d", msg, pos, seen[msg])
		}
	}
	if len(acked) < writers*each/2 {
		t.Fatalf("only %d of %d appends were acknowledged across one restart", len(acked), writers*each)
	}
}

// TestKeylessAppendsAreDistinct: the retry machinery must not mistake two
// equal keyless events for one; each Append call has its own token.
func TestKeylessAppendsAreDistinct(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, "distinct")
	defer s.Close()
	ctx := context.Background()
	l, _ := s.Log(ctx, "ev")
	for i := range 3 {
		a, err := l.Append(ctx, "", message("same"))
		if err != nil || a.Pos != uint64(i+1) || a.Duplicate {
			t.Fatalf("append %d of an equal keyless event: %+v, %v", i, a, err)
		}
	}
}

// TestTailWaitsOutAnOutage: a tail keeps running while Redis is down for a
// while (killed, then started again) and delivers what is appended after.
func TestTailWaitsOutAnOutage(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, "outage", redislog.WithBlock(200*time.Millisecond))
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, _ := s.Log(ctx, "ev")
	if _, err := l.Append(ctx, "k1", message("before")); err != nil {
		t.Fatal(err)
	}
	got := make(chan event.Entry, 16)
	done := make(chan error, 1)
	go func() {
		done <- l.Tail(ctx, 0, func(evs []event.Entry) error {
			for _, e := range evs {
				got <- e
			}
			return nil
		})
	}()
	if e := <-got; e.Pos != 1 || e.Message != "before" {
		t.Fatalf("first delivered %+v", e)
	}
	// SIGKILL, with no fsync forced first: Redis wrote the AOF before it
	// acknowledged "before", so "before" must survive the crash.
	srv.Kill(t)
	// Appends fail or wait while Redis is down: start Redis again while one waits.
	appended := make(chan error, 1)
	go func() {
		_, err := l.Append(ctx, "k2", message("after"))
		appended <- err
	}()
	srv.Restart(t)
	if err := <-appended; err != nil {
		t.Fatalf("append across the outage: %v", err)
	}
	select {
	case e := <-got:
		if e.Pos != 2 || e.Message != "after" {
			t.Fatalf("after the outage the tail delivered %+v, want pos 2 \"after\"", e)
		}
	case err := <-done:
		t.Fatalf("tail ended: %v", err)
	case <-ctx.Done():
		t.Fatal("tail delivered nothing after the outage")
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Tail returned %v", err)
	}
}

// TestTailDetectsLostLog: if Redis comes back without the events a tail
// already delivered (here an operator's FLUSHALL, then a restart), the tail
// says so instead of delivering different events under the same positions.
func TestTailDetectsLostLog(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, "lost", redislog.WithBlock(100*time.Millisecond))
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	l, _ := s.Log(ctx, "ev")
	for i := range 3 {
		if _, err := l.Append(ctx, "", message(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	delivered := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		var once sync.Once
		done <- l.Tail(ctx, 0, func(evs []event.Entry) error {
			if evs[len(evs)-1].Pos == 3 {
				once.Do(func() { close(delivered) })
			}
			return nil
		})
	}()
	<-delivered
	// Wipe the data and restart, so the tail sees a failure and then a log
	// with a new epoch and nothing in it.
	flushAll(t, srv)
	srv.Restart(t)
	select {
	case err := <-done:
		if !errors.Is(err, redislog.ErrDiverged) {
			t.Fatalf("Tail over a lost log returned %v, want ErrDiverged", err)
		}
	case <-ctx.Done():
		t.Fatal("Tail did not notice the log was lost")
	}
}

func TestEpochChangesWhenLogIsRecreated(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, "epoch")
	defer s.Close()
	ctx := context.Background()
	l, _ := s.Log(ctx, "ev")
	h1, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	flushAll(t, srv)
	h2, err := l.Head(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h2.Epoch == "" || h2.Epoch == h1.Epoch {
		t.Fatalf("epoch after the log was deleted: %q, before: %q; want a new one", h2.Epoch, h1.Epoch)
	}
}

func TestOpenRejects(t *testing.T) {
	ctx := context.Background()
	if _, err := redislog.Open(ctx, "http://nope"); event.ErrorCode(err) != event.EINVALID {
		t.Fatalf("Open of a non-redis URL: %v, want EINVALID", err)
	}
	// Nothing listens on port 1 of loopback.
	if _, err := redislog.Open(ctx, "redis://127.0.0.1:1/0", redislog.WithLogger(quiet)); event.ErrorCode(err) != event.EUNAVAILABLE {
		t.Fatalf("Open of an unreachable server: %v, want EUNAVAILABLE", err)
	}
	srv := redistest.Start(t)
	s := open(t, srv, "rejects")
	defer s.Close()
	for _, slug := range []string{"", "a{b", "c}"} {
		if _, err := s.Log(ctx, slug); event.ErrorCode(err) != event.EINVALID {
			t.Errorf("Log(%q): %v, want EINVALID", slug, err)
		}
	}
	if _, err := s.Lease(ctx, "x", "y", 0); event.ErrorCode(err) != event.EINVALID {
		t.Errorf("Lease with ttl 0: %v, want EINVALID", err)
	}
}

// TestUnavailableAfterRetryPeriod: with Redis down for longer than the retry
// period, calls return an EUNAVAILABLE error instead of hanging.
func TestUnavailableAfterRetryPeriod(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv, "down", redislog.WithRetryFor(300*time.Millisecond))
	defer s.Close()
	ctx := context.Background()
	l, _ := s.Log(ctx, "ev")
	srv.Kill(t)
	_, err := l.Append(ctx, "", message("x"))
	if event.ErrorCode(err) != event.EUNAVAILABLE {
		t.Fatalf("Append with Redis down: %v, want EUNAVAILABLE", err)
	}
	if err := s.Ping(ctx); event.ErrorCode(err) != event.EUNAVAILABLE {
		t.Fatalf("Ping with Redis down: %v, want EUNAVAILABLE", err)
	}
}

func flushAll(t *testing.T, srv *redistest.Server) {
	t.Helper()
	redisCmd(t, srv, "FLUSHALL")
}

// redisCmd runs one command on srv with a client of its own.
func redisCmd(t *testing.T, srv *redistest.Server, args ...any) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: srv.Addr})
	defer c.Close()
	if err := c.Do(context.Background(), args...).Err(); err != nil {
		t.Fatalf("%v: %v", args, err)
	}
}

// With a replica, an acknowledged append is already on the replica (WAIT
// ran on the append's connection); with the replica hung, the append is
// still acknowledged after the wait timeout and counted as unreplicated.
func TestAppendWaitsForAReplica(t *testing.T) {
	primary := redistest.Start(t)
	replica := redistest.StartReplica(t, primary)
	s, err := redislog.Open(context.Background(), primary.URL+"?wait_timeout=300ms", redislog.WithPrefix("wait"), redislog.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.Log(context.Background(), "ev")
	if err != nil {
		t.Fatal(err)
	}
	rep := redis.NewClient(&redis.Options{Addr: replica.Addr})
	defer rep.Close()
	for i := range 20 {
		a, err := l.Append(context.Background(), fmt.Sprint("k", i), logtest.Post(fmt.Sprint("https://example.org/@ada/", i)))
		if err != nil {
			t.Fatal(err)
		}
		// Asked right after the acknowledgement, the replica has it.
		if n, err := rep.XLen(context.Background(), "wait:{ev}:log").Result(); err != nil || uint64(n) != a.Pos {
			t.Fatalf("append %d acknowledged at %d; the replica has %d entries (%v)", i, a.Pos, n, err)
		}
	}
	if n := s.Unreplicated(); n != 0 {
		t.Errorf("%d appends acknowledged without the replica", n)
	}

	replica.Freeze(t)
	defer replica.Thaw(t)
	start := time.Now()
	if _, err := l.Append(context.Background(), "hung", logtest.Post("https://example.org/@ada/hung")); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Errorf("with the replica hung the append returned after %v, before the 300ms wait", took)
	}
	if n := s.Unreplicated(); n != 1 {
		t.Errorf("Unreplicated() = %d after an append the hung replica did not confirm, want 1", n)
	}
}
