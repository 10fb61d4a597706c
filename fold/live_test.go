package fold

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
	"github.com/backchannel/backchannel/eventlog/disklog"
)

// openLog opens a real embedded log in a fresh directory.
func openLog(t *testing.T, dir string) (*disklog.Store, eventlog.Log) {
	t.Helper()
	st, err := disklog.Open(dir)
	if err != nil {
		t.Fatalf("open disklog: %v", err)
	}
	l, err := st.Log(context.Background(), "leaders4leeds")
	if err != nil {
		st.Close()
		t.Fatalf("open log: %v", err)
	}
	return st, l
}

func appendAll(t *testing.T, l eventlog.Log, events ...event.Entry) uint64 {
	t.Helper()
	var last uint64
	for _, e := range events {
		e.Pos, e.Time = 0, time.Time{}
		a, err := l.Append(context.Background(), e.IdempotencyKey(), e)
		if err != nil {
			t.Fatalf("append %s: %v", e.String(), err)
		}
		last = a.Pos
	}
	return last
}

// runLive starts lv.Run and returns a function that stops it and returns
// what Run returned.
func runLive(t *testing.T, lv *Live) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- lv.Run(ctx) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(10 * time.Second):
				err = errors.New("Run did not return within 10s of cancel")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func waitFor(t *testing.T, lv *Live, pos uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := lv.WaitFor(ctx, pos); err != nil {
		t.Fatalf("WaitFor(%d): %v", pos, err)
	}
}

// TestLiveFollowsLog: events appended to a real log reach the live state,
// subscribers hear them in order after the state reflects them, and a
// restarted node rebuilds the same state from the log.
func TestLiveFollowsLog(t *testing.T) {
	dir := t.TempDir()
	st, log := openLog(t, dir)
	defer st.Close()
	lv := NewLive(log, SettingsView{Title: "Leaders for Leeds", Moderation: event.ModePre})

	type heard struct {
		e   event.Entry
		eff Effect
	}
	var mu sync.Mutex
	var got []heard
	var problems []string
	cancelSub := lv.Subscribe(func(e event.Entry, eff Effect) {
		var statePos uint64
		lv.View(func(s *State) { statePos = s.Pos() })
		mu.Lock()
		defer mu.Unlock()
		if statePos < e.Pos {
			problems = append(problems, fmt.Sprintf("told of #%d while the state was at #%d", e.Pos, statePos))
		}
		got = append(got, heard{e, eff})
	})
	defer cancelSub()
	stop := runLive(t, lv)

	last := appendAll(t, log,
		pending("p1", ada),
		received("p2", ada, event.DecisionApprove, "trusted domain mastodon.social"),
		act(event.PostApproved, moderator, "p1"),
		act(event.PostPinned, moderator, "p2"),
		act(event.QuestionFlagged, moderator, "p1"),
		qstep(event.QuestionReading, id("p1")),
		pending("p3", bob),
		blockAuthor(bob, time.Time{}),
	)
	waitFor(t, lv, last)
	if lv.Pos() != last {
		t.Errorf("Pos = %d, want %d", lv.Pos(), last)
	}
	var wall Wall
	lv.View(func(s *State) { wall = s.Wall(0) })
	if ids := publicIDs(wall); len(ids) != 2 || ids[0] != id("p2") || ids[1] != id("p1") {
		t.Errorf("wall = %q", ids)
	}
	if wall.NowReading == nil || wall.NowReading.ID != id("p1") || wall.Pos != last {
		t.Errorf("now reading = %+v at #%d", wall.NowReading, wall.Pos)
	}

	mu.Lock()
	for _, p := range problems {
		t.Error(p)
	}
	if uint64(len(got)) != last {
		t.Errorf("subscriber heard %d events, want %d", len(got), last)
	}
	for i, h := range got {
		if h.e.Pos != uint64(i+1) || h.eff.Pos != h.e.Pos {
			t.Errorf("call %d: event #%d, effect #%d", i, h.e.Pos, h.eff.Pos)
		}
	}
	if len(got) == int(last) {
		if w := got[1].eff.Wall; w == nil || len(w.Upsert) != 1 {
			t.Errorf("approved arrival effect = %+v", got[1].eff)
		}
		if g := got[7].eff; len(g.Posts) != 1 || g.Posts[0].State != StateRejected {
			t.Errorf("block effect = %+v", g)
		}
	}
	mu.Unlock()

	if err := stop(); err != nil {
		t.Fatalf("Run after cancel returned %v, want nil", err)
	}

	// A restarted node (a new Live on the reopened store) rebuilds the
	// same views, decisions and blocks included.
	st.Close()
	st2, log2 := openLog(t, dir)
	defer st2.Close()
	lv2 := NewLive(log2, SettingsView{Title: "Leaders for Leeds", Moderation: event.ModePre})
	runLive(t, lv2)
	waitFor(t, lv2, last)
	var again Wall
	var blocked bool
	var audit int
	lv2.View(func(s *State) {
		again = s.Wall(0)
		blocked, _ = s.Blocked(bob, t0.Add(1000*time.Hour))
		audit = len(s.Audit(0))
	})
	if !reflect.DeepEqual(again, wall) || !blocked || audit != 6 {
		t.Errorf("after restart: wall %+v (was %+v), blocked %v, %d audit entries", again, wall, blocked, audit)
	}
}

func publicIDs(w Wall) []string {
	var out []string
	for _, p := range w.Posts {
		out = append(out, p.ID)
	}
	return out
}

// TestLiveConcurrent appends from several writers while readers view the
// state: every event is applied once, in order, with no race.
func TestLiveConcurrent(t *testing.T) {
	st, log := openLog(t, t.TempDir())
	defer st.Close()
	lv := NewLive(log, SettingsView{})
	var mu sync.Mutex
	var lastHeard uint64
	var gaps int
	cancelSub := lv.Subscribe(func(e event.Entry, _ Effect) {
		mu.Lock()
		defer mu.Unlock()
		if e.Pos != lastHeard+1 {
			gaps++
		}
		lastHeard = e.Pos
	})
	defer cancelSub()
	runLive(t, lv)

	const writers, each = 4, 25
	var wg sync.WaitGroup
	var maxPos sync.Map
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				key := fmt.Sprintf("w%d-%d", w, i)
				e := received(key, ada, event.DecisionApprove, "auto")
				a, err := log.Append(context.Background(), e.IdempotencyKey(), e)
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				// Read-your-writes: the state reflects the append once WaitFor returns.
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				err = lv.WaitFor(ctx, a.Pos)
				cancel()
				if err != nil {
					t.Errorf("WaitFor: %v", err)
					return
				}
				var ok bool
				lv.View(func(s *State) { _, ok = s.Post(id(key)) })
				if !ok {
					t.Errorf("post %s not in the state after WaitFor(%d)", key, a.Pos)
				}
				maxPos.Store(w, a.Pos)
			}
		}()
	}
	wg.Wait()
	var last uint64
	maxPos.Range(func(_, v any) bool { last = max(last, v.(uint64)); return true })
	waitFor(t, lv, last)
	var c Counts
	lv.View(func(s *State) { c = s.Counts() })
	if c.Received != writers*each || c.Approved != writers*each {
		t.Errorf("counts = %+v, want %d received and approved", c, writers*each)
	}
	mu.Lock()
	defer mu.Unlock()
	if gaps != 0 || lastHeard != last {
		t.Errorf("subscriber: %d gaps, last heard #%d, want #%d", gaps, lastHeard, last)
	}
}

// TestLiveWaitForTimesOut: waiting for a position the log never reaches
// ends with the context's error.
func TestLiveWaitForTimesOut(t *testing.T) {
	st, log := openLog(t, t.TempDir())
	defer st.Close()
	lv := NewLive(log, SettingsView{})
	runLive(t, lv)
	last := appendAll(t, log, pending("p1", ada))
	waitFor(t, lv, last)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := lv.WaitFor(ctx, last+1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitFor(past the end) = %v, want DeadlineExceeded", err)
	}
}

// TestLiveUnsubscribe: after cancel returns, events appended later are not
// delivered to the cancelled subscriber.
func TestLiveUnsubscribe(t *testing.T) {
	st, log := openLog(t, t.TempDir())
	defer st.Close()
	lv := NewLive(log, SettingsView{})
	var mu sync.Mutex
	var heard []uint64
	cancelSub := lv.Subscribe(func(e event.Entry, _ Effect) {
		mu.Lock()
		heard = append(heard, e.Pos)
		mu.Unlock()
	})
	runLive(t, lv)
	first := appendAll(t, log, pending("p1", ada))
	waitFor(t, lv, first)
	cancelSub()
	second := appendAll(t, log, pending("p2", ada))
	waitFor(t, lv, second)
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != 1 || heard[0] != first {
		t.Fatalf("heard %v, want only #%d", heard, first)
	}
}

// TestLiveRunEndsWhenStoreCloses: a closed store ends Run with its error.
func TestLiveRunEndsWhenStoreCloses(t *testing.T) {
	st, log := openLog(t, t.TempDir())
	lv := NewLive(log, SettingsView{})
	errc := make(chan error, 1)
	go func() { errc <- lv.Run(context.Background()) }()
	waitFor(t, lv, appendAll(t, log, pending("p1", ada)))
	st.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, eventlog.ErrClosed) {
			t.Fatalf("Run = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after the store closed")
	}
}
