// Package logtest is the one conformance suite every engine of
// eventlog.Store passes. An engine's test calls Run with an Engine that opens
// fresh stores of that engine; the suite then checks each guarantee written
// beside the methods of eventlog.Store and eventlog.Log.
package logtest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
)

// Engine is what the suite needs of an engine.
type Engine struct {
	// Open returns a store over fresh, empty data (a new directory, a new key prefix...).
	Open func(t *testing.T) eventlog.Store
	// Reopen closes s and returns a store over the same data, as after the process restarted.
	Reopen func(t *testing.T, s eventlog.Store) eventlog.Store
	// RestartServer, when not nil, restarts the server under the open stores (Redis);
	// their tails must resume by themselves with no gap and no repeat. The
	// server must keep its data across the restart.
	RestartServer func(t *testing.T)
}

// waitTimeout bounds every wait of the suite: long enough for a loaded CI
// machine running with -race, short enough that a hang fails quickly.
const waitTimeout = 20 * time.Second

// Run runs the whole suite as subtests of t.
func Run(t *testing.T, e Engine) {
	tests := []struct {
		name string
		fn   func(*testing.T, Engine)
	}{
		{"AppendThenRead", testAppendThenRead},
		{"ReadAfterLimit", testReadAfterLimit},
		{"AppendSetsTime", testAppendSetsTime},
		{"IdempotentAppend", testIdempotentAppend},
		{"IdempotentAppendAfterReopen", testIdempotentAfterReopen},
		{"ConcurrentCollidingKeys", testConcurrentCollidingKeys},
		{"TailFromPosition", testTailFromPosition},
		{"TailWhileAppending", testTailWhileAppending},
		{"TailCancel", testTailCancel},
		{"TailFnError", testTailFnError},
		{"TailAcrossReopen", testTailAcrossReopen},
		{"TailAcrossServerRestart", testTailAcrossServerRestart},
		{"EpochStable", testEpoch},
		{"Meta", testMeta},
		{"SlugsIsolated", testSlugsIsolated},
		{"ConcurrentFirstUse", testConcurrentFirstUse},
		{"AppendRejectsInvalid", testAppendRejectsInvalid},
		{"Lease", testLease},
		{"Ping", testPing},
		{"Closed", testClosed},
		{"CloseDuringAppends", testCloseDuringAppends},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, e) })
	}
}

// open opens a fresh store and closes it when the test ends. Closing a store
// twice (after Reopen closed it already) may fail; that is not what the
// suite checks, so the error is ignored.
func open(t *testing.T, e Engine) eventlog.Store {
	t.Helper()
	s := e.Open(t)
	if s == nil {
		t.Fatal("Engine.Open returned nil")
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func reopen(t *testing.T, e Engine, s eventlog.Store) eventlog.Store {
	t.Helper()
	s2 := e.Reopen(t, s)
	if s2 == nil {
		t.Fatal("Engine.Reopen returned nil")
	}
	t.Cleanup(func() { _ = s2.Close() })
	return s2
}

func logOf(t *testing.T, s eventlog.Store, slug string) eventlog.Log {
	t.Helper()
	l, err := s.Log(context.Background(), slug)
	if err != nil {
		t.Fatalf("Log(%q): %v", slug, err)
	}
	return l
}

// Post returns a valid post.received event for a post with this URI. The
// suite appends it under Key(e), so the URI is the idempotency key, as in
// ingest.
func Post(uri string) event.Entry {
	return event.Entry{
		Kind:    event.PostReceived,
		Actor:   event.Actor{Role: event.RoleSource, Name: "rehearsal"},
		PostID:  event.PostID(uri),
		Post:    &event.Post{ID: event.PostID(uri), URI: uri, Source: "rehearsal", Text: "text of " + uri, HTML: "<p>text of " + uri + "</p>"},
		Verdict: &event.Verdict{Decision: event.DecisionHold, Rule: "pre-moderation"},
	}
}

// Message returns a valid stage.message event, appended with no key.
func Message(text string) event.Entry {
	return event.Entry{
		Kind:    event.StageMessage,
		Actor:   event.Actor{Role: event.RoleModerator, Name: "mod"},
		Message: text,
	}
}

func appendOK(t *testing.T, l eventlog.Log, key string, e event.Entry) eventlog.Appended {
	t.Helper()
	a, err := l.Append(context.Background(), key, e)
	if err != nil {
		t.Fatalf("Append(%q, %s): %v", key, e.Kind, err)
	}
	return a
}

func readOK(t *testing.T, l eventlog.Log, after uint64, limit int) []event.Entry {
	t.Helper()
	evs, err := l.Read(context.Background(), after, limit)
	if err != nil {
		t.Fatalf("Read(%d, %d): %v", after, limit, err)
	}
	return evs
}

func headOK(t *testing.T, l eventlog.Log) eventlog.Head {
	t.Helper()
	h, err := l.Head(context.Background())
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	return h
}

// checkPositions fails unless evs hold exactly positions from, from+1, ....
func checkPositions(t *testing.T, evs []event.Entry, from uint64, n int) {
	t.Helper()
	if len(evs) != n {
		t.Fatalf("got %d events, want %d", len(evs), n)
	}
	for i, e := range evs {
		if want := from + uint64(i); e.Pos != want {
			t.Fatalf("event %d has pos %d, want %d", i, e.Pos, want)
		}
	}
}

func testAppendThenRead(t *testing.T, e Engine) {
	s := open(t, e)
	l := logOf(t, s, "append-read")
	if h := headOK(t, l); h.Last != 0 {
		t.Fatalf("empty log: Head().Last = %d, want 0", h.Last)
	}
	if evs := readOK(t, l, 0, 0); len(evs) != 0 {
		t.Fatalf("empty log: Read returned %d events", len(evs))
	}
	var want []event.Entry
	for i := range 5 {
		var ev event.Entry
		if i%2 == 0 {
			ev = Post(fmt.Sprintf("https://example.org/@ada/%d", i))
		} else {
			ev = Message(fmt.Sprintf("message %d", i))
		}
		ev.Time = time.Date(2026, 3, 14, 9, 30, i, 123456789, time.UTC)
		key := ev.IdempotencyKey()
		a := appendOK(t, l, key, ev)
		if a.Pos != uint64(i+1) || a.Duplicate {
			t.Fatalf("append %d: got %+v, want pos %d, not duplicate", i, a, i+1)
		}
		ev.Pos = a.Pos
		want = append(want, ev)
	}
	if h := headOK(t, l); h.Last != 5 {
		t.Fatalf("Head().Last = %d, want 5", h.Last)
	}
	got := readOK(t, l, 0, 0)
	checkPositions(t, got, 1, 5)
	for i := range got {
		if !got[i].Time.Equal(want[i].Time) {
			t.Errorf("event %d: time %v, want %v", i+1, got[i].Time, want[i].Time)
		}
		if got[i].Kind != want[i].Kind || got[i].Actor != want[i].Actor || got[i].Message != want[i].Message ||
			got[i].PostID != want[i].PostID {
			t.Errorf("event %d: read %+v, want %+v", i+1, got[i], want[i])
		}
		if want[i].Post != nil {
			if got[i].Post == nil || got[i].Post.URI != want[i].Post.URI || got[i].Post.HTML != want[i].Post.HTML ||
				got[i].Verdict == nil || !reflect.DeepEqual(*got[i].Verdict, *want[i].Verdict) {
				t.Errorf("event %d: post or verdict did not survive: %+v", i+1, got[i])
			}
		}
	}
}

func testReadAfterLimit(t *testing.T, e Engine) {
	s := open(t, e)
	l := logOf(t, s, "read-limit")
	for i := range 10 {
		appendOK(t, l, "", Message(fmt.Sprintf("m%d", i+1)))
	}
	cases := []struct {
		after uint64
		limit int
		from  uint64
		n     int
	}{
		{0, 0, 1, 10},
		{0, -1, 1, 10},
		{0, 3, 1, 3},
		{3, 4, 4, 4},
		{8, 10, 9, 2},
		{9, 1, 10, 1},
		{10, 5, 0, 0},
		{10, 0, 0, 0},
		{1000, 0, 0, 0},
	}
	for _, c := range cases {
		evs := readOK(t, l, c.after, c.limit)
		if len(evs) != c.n {
			t.Fatalf("Read(%d, %d): %d events, want %d", c.after, c.limit, len(evs), c.n)
		}
		for i, ev := range evs {
			if want := c.from + uint64(i); ev.Pos != want || ev.Message != fmt.Sprintf("m%d", want) {
				t.Fatalf("Read(%d, %d)[%d]: pos %d message %q, want pos %d", c.after, c.limit, i, ev.Pos, ev.Message, want)
			}
		}
	}
}

func testAppendSetsTime(t *testing.T, e Engine) {
	s := open(t, e)
	l := logOf(t, s, "time")
	before := time.Now().Add(-time.Minute)
	appendOK(t, l, "", Message("no time"))
	after := time.Now().Add(time.Minute)
	evs := readOK(t, l, 0, 0)
	if len(evs) != 1 {
		t.Fatalf("got %d events, want 1", len(evs))
	}
	if tm := evs[0].Time; tm.Before(before) || tm.After(after) {
		t.Fatalf("zero time was set to %v, want about now", tm)
	}
}

func testIdempotentAppend(t *testing.T, e Engine) {
	s := open(t, e)
	l := logOf(t, s, "idem")
	p := Post("https://example.org/@ada/1")
	key := p.IdempotencyKey()
	if a := appendOK(t, l, key, p); a.Pos != 1 || a.Duplicate {
		t.Fatalf("first append: %+v", a)
	}
	appendOK(t, l, "", Message("between"))
	changed := p
	changed.Post = &event.Post{ID: p.Post.ID, URI: p.Post.URI, Source: "rehearsal", Text: "second copy"}
	if a := appendOK(t, l, key, changed); a.Pos != 1 || !a.Duplicate {
		t.Fatalf("duplicate append: got %+v, want pos 1, duplicate", a)
	}
	if h := headOK(t, l); h.Last != 2 {
		t.Fatalf("a duplicate wrote something: Head().Last = %d, want 2", h.Last)
	}
	if evs := readOK(t, l, 0, 1); evs[0].Post.Text != p.Post.Text {
		t.Fatalf("the duplicate replaced the first event: %q", evs[0].Post.Text)
	}
	// Events with no key are never de-duplicated.
	if a := appendOK(t, l, "", Message("between")); a.Pos != 3 || a.Duplicate {
		t.Fatalf("keyless append of an equal event: %+v, want pos 3", a)
	}
}

func testIdempotentAfterReopen(t *testing.T, e Engine) {
	s := open(t, e)
	l := logOf(t, s, "idem-reopen")
	for i := range 3 {
		p := Post(fmt.Sprintf("https://example.org/@ada/%d", i))
		appendOK(t, l, p.IdempotencyKey(), p)
	}
	s = reopen(t, e, s)
	l = logOf(t, s, "idem-reopen")
	p := Post("https://example.org/@ada/1")
	if a := appendOK(t, l, p.IdempotencyKey(), p); a.Pos != 2 || !a.Duplicate {
		t.Fatalf("duplicate after reopen: got %+v, want pos 2, duplicate", a)
	}
	p = Post("https://example.org/@ada/new")
	if a := appendOK(t, l, p.IdempotencyKey(), p); a.Pos != 4 || a.Duplicate {
		t.Fatalf("new key after reopen: got %+v, want pos 4", a)
	}
}

func testConcurrentCollidingKeys(t *testing.T, e Engine) {
	const (
		appenders = 16
		keys      = 40
	)
	s := open(t, e)
	l := logOf(t, s, "collide")
	type result struct {
		a   eventlog.Appended
		err error
	}
	results := make([][keys]result, appenders)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range appenders {
		wg.Go(func() {
			<-start
			// Each appender walks the keys from a different starting point,
			// so collisions happen at different moments.
			for j := range keys {
				k := (j + g*7) % keys
				p := Post(fmt.Sprintf("https://example.org/@ada/%d", k))
				a, err := l.Append(context.Background(), p.IdempotencyKey(), p)
				results[g][k] = result{a, err}
			}
		})
	}
	close(start)
	wg.Wait()

	seen := make(map[uint64]int)
	for k := range keys {
		winners := 0
		var pos uint64
		for g := range appenders {
			r := results[g][k]
			if r.err != nil {
				t.Fatalf("appender %d key %d: %v", g, k, r.err)
			}
			if !r.a.Duplicate {
				winners++
			}
			if g == 0 {
				pos = r.a.Pos
			} else if r.a.Pos != pos {
				t.Fatalf("key %d: appender %d got pos %d, appender 0 got %d", k, g, r.a.Pos, pos)
			}
		}
		if winners != 1 {
			t.Fatalf("key %d: %d appends wrote, want exactly 1", k, winners)
		}
		if other, dup := seen[pos]; dup {
			t.Fatalf("keys %d and %d share pos %d", other, k, pos)
		}
		seen[pos] = k
	}
	if h := headOK(t, l); h.Last != keys {
		t.Fatalf("Head().Last = %d, want %d", h.Last, keys)
	}
	evs := readOK(t, l, 0, 0)
	checkPositions(t, evs, 1, keys)
	for _, ev := range evs {
		k := seen[ev.Pos]
		if want := fmt.Sprintf("https://example.org/@ada/%d", k); ev.Post == nil || ev.Post.URI != want {
			t.Fatalf("pos %d holds %+v, want the post of key %d", ev.Pos, ev.Post, k)
		}
	}
}

// tailer runs Tail in a goroutine and records what it delivers. It checks
// the no-gap, no-repeat guarantee itself: a batch that does not continue
// exactly where the last one stopped ends the tail with an error.
type tailer struct {
	mu      sync.Mutex
	events  []event.Entry
	changed chan struct{} // closed and replaced whenever events grows
	done    chan error    // receives Tail's result
	cancel  context.CancelFunc
}

func startTail(t *testing.T, l eventlog.Log, after uint64) *tailer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tl := &tailer{changed: make(chan struct{}), done: make(chan error, 1), cancel: cancel}
	next := after + 1
	go func() {
		tl.done <- l.Tail(ctx, after, func(evs []event.Entry) error {
			if len(evs) == 0 {
				return errors.New("logtest: fn called with no events")
			}
			for _, ev := range evs {
				if ev.Pos != next {
					return fmt.Errorf("logtest: tail delivered pos %d, want %d (gap or repeat)", ev.Pos, next)
				}
				next++
			}
			tl.mu.Lock()
			tl.events = append(tl.events, evs...)
			close(tl.changed)
			tl.changed = make(chan struct{})
			tl.mu.Unlock()
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-tl.done:
		case <-time.After(waitTimeout):
			t.Error("Tail did not return after its context was cancelled")
		}
	})
	return tl
}

// waitLen waits until the tail delivered at least n events, failing if the
// tail ends or the deadline passes first.
func (tl *tailer) waitLen(t *testing.T, n int) []event.Entry {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		tl.mu.Lock()
		evs, changed := tl.events, tl.changed
		tl.mu.Unlock()
		if len(evs) >= n {
			return evs
		}
		select {
		case <-changed:
		case err := <-tl.done:
			tl.done <- err // for the cleanup
			t.Fatalf("Tail returned after %d of %d events: %v", len(evs), n, err)
		case <-deadline:
			t.Fatalf("tail delivered %d events, want %d, within %v", len(evs), n, waitTimeout)
		}
	}
}

// stop cancels the tail and returns what Tail returned.
func (tl *tailer) stop(t *testing.T) error {
	t.Helper()
	tl.cancel()
	select {
	case err := <-tl.done:
		tl.done <- err // for the cleanup
		return err
	case <-time.After(waitTimeout):
		t.Fatal("Tail did not return after its context was cancelled")
		return nil
	}
}

func testTailFromPosition(t *testing.T, e Engine) {
	s := open(t, e)
	l := logOf(t, s, "tail-from")
	for i := range 5 {
		appendOK(t, l, "", Message(fmt.Sprintf("m%d", i+1)))
	}
	tl := startTail(t, l, 3)
	evs := tl.waitLen(t, 2)
	checkPositions(t, evs, 4, 2)
	appendOK(t, l, "", Message("m6"))
	evs = tl.waitLen(t, 3)
	checkPositions(t, evs, 4, 3)
	if evs[2].Message != "m6" {
		t.Fatalf("tail delivered %q, want m6", evs[2].Message)
	}
	// A tail from the end sees only what comes next.
	tl2 := startTail(t, l, 6)
	appendOK(t, l, "", Message("m7"))
	checkPositions(t, tl2.waitLen(t, 1), 7, 1)
}

func testTailWhileAppending(t *testing.T, e Engine) {
	const (
		appenders = 4
		each      = 100
		total     = appenders * each
	)
	s := open(t, e)
	l := logOf(t, s, "tail-live")
	for i := range 10 {
		appendOK(t, l, "", Message(fmt.Sprintf("early %d", i)))
	}
	var wg sync.WaitGroup
	started := make(chan struct{})
	var once sync.Once
	errs := make(chan error, appenders)
	for g := range appenders {
		wg.Go(func() {
			for i := range each {
				if _, err := l.Append(context.Background(), "", Message(fmt.Sprintf("g%d-%d", g, i))); err != nil {
					errs <- err
					return
				}
				if i == 5 {
					once.Do(func() { close(started) })
				}
			}
		})
	}
	<-started
	// Two tails start while the appends are under way: one from the
	// beginning, one from wherever the log is now.
	tl := startTail(t, l, 0)
	mid := headOK(t, l).Last
	tl2 := startTail(t, l, mid)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("append: %v", err)
	}
	checkPositions(t, tl.waitLen(t, 10+total), 1, 10+total)
	checkPositions(t, tl2.waitLen(t, 10+total-int(mid)), mid+1, 10+total-int(mid))
	if h := headOK(t, l); h.Last != 10+total {
		t.Fatalf("Head().Last = %d, want %d", h.Last, 10+total)
	}
}

func testTailCancel(t *testing.T, e Engine) {
	s := open(t, e)
	l := logOf(t, s, "tail-cancel")
	appendOK(t, l, "", Message("one"))
	tl := startTail(t, l, 0)
	tl.waitLen(t, 1)
	if err := tl.stop(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Tail returned %v, want context.Canceled", err)
	}
	// A context already done stops Tail at once, too.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	done := make(chan error, 1)
	go func() { done <- l.Tail(ctx, 1, func([]event.Entry) error { return nil }) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Tail with a done context returned %v, want context.Canceled", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Tail with a done context did not return")
	}
	// A deadline ends it with DeadlineExceeded.
	ctx, cancel = context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := l.Tail(ctx, 1, func([]event.Entry) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Tail past its deadline returned %v, want context.DeadlineExceeded", err)
	}
}

func testTailFnError(t *testing.T, e Engine) {
	s := open(t, e)
	l := logOf(t, s, "tail-fn-error")
	for i := range 3 {
		appendOK(t, l, "", Message(fmt.Sprintf("m%d", i)))
	}
	stop := errors.New("enough")
	calls := 0
	err := l.Tail(context.Background(), 0, func(evs []event.Entry) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) {
		t.Fatalf("Tail returned %v, want fn's error", err)
	}
	if calls != 1 {
		t.Fatalf("fn called %d times after returning an error, want 1", calls)
	}
}

func testTailAcrossReopen(t *testing.T, e Engine) {
	s := open(t, e)
	l := logOf(t, s, "tail-reopen")
	for i := range 20 {
		appendOK(t, l, "", Message(fmt.Sprintf("m%d", i+1)))
	}
	tl := startTail(t, l, 0)
	tl.waitLen(t, 20)
	// Closing the store under a running tail ends it with ErrClosed.
	s = reopen(t, e, s)
	select {
	case err := <-tl.done:
		tl.done <- err // for the cleanup
		if !errors.Is(err, eventlog.ErrClosed) {
			t.Fatalf("Tail under a closed store returned %v, want ErrClosed", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("Tail did not return when its store was closed")
	}
	tl.mu.Lock()
	last := tl.events[len(tl.events)-1].Pos
	tl.mu.Unlock()

	// The process restarted: a new tail resumes after the last delivered position.
	l = logOf(t, s, "tail-reopen")
	tl2 := startTail(t, l, last)
	for i := range 10 {
		appendOK(t, l, "", Message(fmt.Sprintf("m%d", 21+i)))
	}
	evs := tl2.waitLen(t, 10)
	checkPositions(t, evs, last+1, 10)
	if evs[0].Message != "m21" {
		t.Fatalf("resumed tail starts at %q, want m21", evs[0].Message)
	}
}

func testTailAcrossServerRestart(t *testing.T, e Engine) {
	if e.RestartServer == nil {
		t.Skip("the engine has no server to restart")
	}
	s := open(t, e)
	l := logOf(t, s, "tail-restart")
	for i := range 10 {
		appendOK(t, l, "", Message(fmt.Sprintf("m%d", i+1)))
	}
	tl := startTail(t, l, 0)
	tl.waitLen(t, 10)
	e.RestartServer(t)
	// The engine may need a moment to reconnect; an append either fails
	// cleanly or succeeds, and the ones that succeed are what the tail must
	// see, in order, with nothing missing or repeated.
	deadline := time.Now().Add(waitTimeout)
	appended := 0
	for appended < 10 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d appends succeeded after the server restarted", appended)
		}
		_, err := l.Append(context.Background(), fmt.Sprintf("after-%d", appended), Message(fmt.Sprintf("m%d", 11+appended)))
		if err == nil {
			appended++
		}
	}
	evs := tl.waitLen(t, 20)
	checkPositions(t, evs, 1, 20)
	for i, ev := range evs {
		if want := fmt.Sprintf("m%d", i+1); ev.Message != want {
			t.Fatalf("pos %d holds %q, want %q", ev.Pos, ev.Message, want)
		}
	}
}

func testEpoch(t *testing.T, e Engine) {
	s := open(t, e)
	l := logOf(t, s, "epoch")
	h := headOK(t, l)
	if h.Epoch == "" {
		t.Fatal("Head().Epoch is empty")
	}
	appendOK(t, l, "", Message("one"))
	if h2 := headOK(t, l); h2.Epoch != h.Epoch {
		t.Fatalf("epoch changed on append: %q then %q", h.Epoch, h2.Epoch)
	}
	s = reopen(t, e, s)
	l = logOf(t, s, "epoch")
	if h2 := headOK(t, l); h2.Epoch != h.Epoch || h2.Last != 1 {
		t.Fatalf("after reopen: %+v, want epoch %q last 1", h2, h.Epoch)
	}
	other := open(t, e)
	if h2 := headOK(t, logOf(t, other, "epoch")); h2.Epoch == h.Epoch {
		t.Fatalf("two fresh stores share epoch %q", h.Epoch)
	}
	if h2 := headOK(t, logOf(t, s, "epoch-other-slug")); h2.Epoch == h.Epoch {
		t.Fatalf("two logs of one store share epoch %q", h.Epoch)
	}
}

func testMeta(t *testing.T, e Engine) {
	ctx := context.Background()
	s := open(t, e)
	l := logOf(t, s, "meta")
	if v, err := l.GetMeta(ctx, "cursor"); err != nil || v != "" {
		t.Fatalf("GetMeta of a missing name: %q, %v; want \"\", nil", v, err)
	}
	for _, kv := range [][2]string{{"cursor", "1"}, {"cursor", "109876543210"}, {"other", "x y\nz ✓"}} {
		if err := l.SetMeta(ctx, kv[0], kv[1]); err != nil {
			t.Fatalf("SetMeta(%q): %v", kv[0], err)
		}
	}
	check := func(l eventlog.Log, name, want string) {
		t.Helper()
		if v, err := l.GetMeta(ctx, name); err != nil || v != want {
			t.Fatalf("GetMeta(%q) = %q, %v; want %q", name, v, err, want)
		}
	}
	check(l, "cursor", "109876543210")
	check(l, "other", "x y\nz ✓")
	check(logOf(t, s, "meta-elsewhere"), "cursor", "")
	s = reopen(t, e, s)
	l = logOf(t, s, "meta")
	check(l, "cursor", "109876543210")
	check(l, "other", "x y\nz ✓")
	// Meta lives beside the log, not in it.
	if h := headOK(t, l); h.Last != 0 {
		t.Fatalf("SetMeta appended to the log: Last = %d", h.Last)
	}
}

func testSlugsIsolated(t *testing.T, e Engine) {
	s := open(t, e)
	a, b := logOf(t, s, "event-a"), logOf(t, s, "event-b")
	p := Post("https://example.org/@ada/shared")
	appendOK(t, a, "", Message("a1"))
	if r := appendOK(t, a, p.IdempotencyKey(), p); r.Pos != 2 {
		t.Fatalf("event-a: pos %d, want 2", r.Pos)
	}
	if r := appendOK(t, b, p.IdempotencyKey(), p); r.Pos != 1 || r.Duplicate {
		t.Fatalf("event-b: a key of event-a was seen as a duplicate: %+v", r)
	}
	if got := readOK(t, b, 0, 0); len(got) != 1 || got[0].Post == nil {
		t.Fatalf("event-b holds %d events, want its 1 post", len(got))
	}
	if h := headOK(t, a); h.Last != 2 {
		t.Fatalf("event-a: Last = %d, want 2", h.Last)
	}
	// The same slug gives a log over the same data.
	if h := headOK(t, logOf(t, s, "event-a")); h.Last != 2 {
		t.Fatalf("Log(event-a) again: Last = %d, want 2", h.Last)
	}
}

// testConcurrentFirstUse: several goroutines (nodes) asking for a new log at
// once all get the same log, with one epoch.
func testConcurrentFirstUse(t *testing.T, e Engine) {
	const (
		users = 8
		each  = 5
	)
	s := open(t, e)
	heads := make([]eventlog.Head, users)
	errs := make([]error, users)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := range users {
		wg.Go(func() {
			<-start
			l, err := s.Log(context.Background(), "first-use")
			if err != nil {
				errs[g] = err
				return
			}
			for i := range each {
				if _, err := l.Append(context.Background(), "", Message(fmt.Sprintf("g%d-%d", g, i))); err != nil {
					errs[g] = err
					return
				}
			}
			heads[g], errs[g] = l.Head(context.Background())
		})
	}
	close(start)
	wg.Wait()
	for g, err := range errs {
		if err != nil {
			t.Fatalf("user %d: %v", g, err)
		}
		if heads[g].Epoch != heads[0].Epoch {
			t.Fatalf("users 0 and %d see epochs %q and %q", g, heads[0].Epoch, heads[g].Epoch)
		}
	}
	l := logOf(t, s, "first-use")
	checkPositions(t, readOK(t, l, 0, 0), 1, users*each)
	if h := headOK(t, l); h.Epoch != heads[0].Epoch {
		t.Fatalf("epoch changed from %q to %q", heads[0].Epoch, h.Epoch)
	}
}

func testAppendRejectsInvalid(t *testing.T, e Engine) {
	s := open(t, e)
	l := logOf(t, s, "invalid")
	bad := []event.Entry{
		{Kind: "no.such.kind", Actor: event.Actor{Role: event.RoleSystem}},
		{Kind: event.StageMessage, Actor: event.Actor{Role: event.RoleModerator}},
		{Kind: event.PostReceived, Actor: event.Actor{Role: event.RoleSource}, Post: &event.Post{URI: "x", ID: "wrong", Source: "form"}},
	}
	for _, ev := range bad {
		_, err := l.Append(context.Background(), "k-"+string(ev.Kind), ev)
		var eerr *event.Error
		if !errors.As(err, &eerr) || eerr.Code != event.EINVALID {
			t.Fatalf("Append(%s) = %v, want an *event.Error with code EINVALID", ev.Kind, err)
		}
	}
	if h := headOK(t, l); h.Last != 0 {
		t.Fatalf("invalid appends wrote %d events", h.Last)
	}
	// A rejected key was not taken.
	if a := appendOK(t, l, "k-"+string(event.StageMessage), Message("fine")); a.Pos != 1 || a.Duplicate {
		t.Fatalf("append after rejects: %+v", a)
	}
}

func testLease(t *testing.T, e Engine) {
	ctx := context.Background()
	s := open(t, e)
	lease := func(name, holder string, ttl time.Duration) bool {
		t.Helper()
		ok, err := s.Lease(ctx, name, holder, ttl)
		if err != nil {
			t.Fatalf("Lease(%q, %q): %v", name, holder, err)
		}
		return ok
	}
	if !lease("source:mastodon", "node-a", time.Minute) {
		t.Fatal("node-a could not take a free lease")
	}
	if lease("source:mastodon", "node-b", time.Minute) {
		t.Fatal("node-b took a lease node-a holds")
	}
	if !lease("source:mastodon", "node-a", time.Minute) {
		t.Fatal("node-a could not renew its lease")
	}
	if !lease("source:bluesky", "node-b", time.Minute) {
		t.Fatal("another lease's holder blocked node-b")
	}
	// node-a renews for a short time and then stops renewing: node-b gets
	// the lease once it runs out, not before.
	const ttl = 300 * time.Millisecond
	renewed := time.Now()
	if !lease("source:mastodon", "node-a", ttl) {
		t.Fatal("node-a could not renew with a short ttl")
	}
	deadline := time.Now().Add(waitTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !lease("source:mastodon", "node-b", time.Minute) {
		if time.Now().After(deadline) {
			t.Fatalf("node-b did not get the lease within %v of its ttl running out", waitTimeout)
		}
		<-tick.C
	}
	if held := time.Since(renewed); held < ttl {
		t.Fatalf("node-b took the lease after %v, before node-a's ttl of %v ran out", held, ttl)
	}
	if lease("source:mastodon", "node-a", time.Minute) {
		t.Fatal("node-a took back a lease node-b holds")
	}
}

func testPing(t *testing.T, e Engine) {
	s := open(t, e)
	if err := s.Ping(context.Background()); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func testClosed(t *testing.T, e Engine) {
	ctx := context.Background()
	s := open(t, e)
	l := logOf(t, s, "closed")
	appendOK(t, l, "", Message("before close"))
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, eventlog.ErrClosed) {
			t.Errorf("%s after Close: %v, want ErrClosed", what, err)
		}
	}
	_, err := s.Log(ctx, "closed")
	check("Log", err)
	check("Ping", s.Ping(ctx))
	_, err = s.Lease(ctx, "x", "y", time.Minute)
	check("Lease", err)
	_, err = l.Append(ctx, "", Message("after close"))
	check("Append", err)
	_, err = l.Read(ctx, 0, 0)
	check("Read", err)
	_, err = l.Head(ctx)
	check("Head", err)
	_, err = l.GetMeta(ctx, "x")
	check("GetMeta", err)
	check("SetMeta", l.SetMeta(ctx, "x", "y"))
	check("Tail", l.Tail(ctx, 0, func([]event.Entry) error { return nil }))
}

// testCloseDuringAppends closes the store while appends are under way: every
// append that was acknowledged is in the log after a reopen, at its
// position, and once Close has returned appends fail with ErrClosed.
func testCloseDuringAppends(t *testing.T, e Engine) {
	const appenders = 8
	s := open(t, e)
	l := logOf(t, s, "close-busy")
	type ack struct {
		pos uint64
		msg string
	}
	var (
		mu     sync.Mutex
		acks   []ack
		enough = make(chan struct{})
		once   sync.Once
		stop   = make(chan struct{}) // closed if the test gives up
	)
	lastErr := make([]error, appenders)
	var wg sync.WaitGroup
	for g := range appenders {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				msg := fmt.Sprintf("g%d-%d", g, i)
				a, err := l.Append(context.Background(), "", Message(msg))
				if err != nil {
					lastErr[g] = err
					if errors.Is(err, eventlog.ErrClosed) {
						return
					}
					continue // an append caught in the middle of Close may fail otherwise
				}
				mu.Lock()
				acks = append(acks, ack{a.Pos, msg})
				if len(acks) >= 50 {
					once.Do(func() { close(enough) })
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-enough:
	case <-time.After(waitTimeout):
		close(stop)
		wg.Wait()
		t.Fatal("appenders did not get 50 appends acknowledged")
	}
	s = reopen(t, e, s)
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(waitTimeout):
		close(stop)
		<-finished
		t.Fatal("appends kept succeeding after Close")
	}
	for g, err := range lastErr {
		if !errors.Is(err, eventlog.ErrClosed) {
			t.Fatalf("appender %d: last error %v, want ErrClosed", g, err)
		}
	}
	l = logOf(t, s, "close-busy")
	evs := readOK(t, l, 0, 0)
	checkPositions(t, evs, 1, len(evs))
	mu.Lock()
	defer mu.Unlock()
	for _, a := range acks {
		if a.pos > uint64(len(evs)) || evs[a.pos-1].Message != a.msg {
			t.Fatalf("acknowledged append %s at pos %d is not in the log after Close (%d events)", a.msg, a.pos, len(evs))
		}
	}
}
