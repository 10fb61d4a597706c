// Package itest runs the compose topology without containers: a real
// redis-server, two ingest processes and two fan-out processes of the real
// binary on loopback, and websocket clients on both fan-out nodes. It
// crashes a fan-out node, the ingest process holding the sources and Redis
// itself, and checks that no client misses or repeats anything, no post
// is lost or doubled, and nothing acknowledged is lost.
package itest

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest/rehearsal"
	"github.com/backchannel/backchannel/internal/redistest"
)

const (
	slug = "itest"
	// leaderSeries is the rehearsal source's lease gauge as exposed.
	leaderSeries = `backchannel_source_leader{event="itest",source="rehearsal"}`
	// takeoverBound is what the issue promises: a standing-by ingest
	// process runs the sources within 15 s of the holder dying.
	takeoverBound = 15 * time.Second
	// modToken is the moderators' API token every node accepts.
	modToken = "itest-moderator-token-0123456789abcdef"
)

// eventsYAML is the config every process reads: one event fed by the
// rehearsal source at 10 posts a second, approved automatically, with the
// shared secrets from the environment as a multi-node deployment has them.
const eventsYAML = `session_key_env: ITEST_SESSION_KEY
events:
  - slug: itest
    title: Integration test
    hashtags: [ITest]
    sources:
      - type: rehearsal
        rate: 600
    moderation:
      mode: auto
    roles:
      moderator:
        passphrase_env: ITEST_MODERATOR
        tokens_env: ITEST_MODERATOR_TOKENS
      facilitator:
        passphrase_env: ITEST_FACILITATOR
`

func TestTopology(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs five processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	rs := redistest.Start(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "events.yaml")
	if err := os.WriteFile(cfgPath, []byte(eventsYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"ITEST_SESSION_KEY=" + strings.Repeat("k", 40),
		"ITEST_MODERATOR=mod-pass-phrase",
		"ITEST_MODERATOR_TOKENS=" + modToken,
		"ITEST_FACILITATOR=fac-pass-phrase",
	}
	start := func(name, role string) *proc {
		return startProc(t, name, env, "--role", role, "--config", cfgPath, "--redis", rs.URL,
			"--data", filepath.Join(dir, name))
	}

	// The test reads the log itself, as a third party, to know the truth.
	store, err := redislog.Open(ctx, rs.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	log, err := store.Log(ctx, slug)
	if err != nil {
		t.Fatal(err)
	}
	head := func() uint64 {
		h, err := log.Head(ctx)
		if err != nil {
			return 0 // Redis restarting; callers poll
		}
		return h.Last
	}

	// Fan-out nodes first, and their clients, so every post reaches the
	// clients as a live event (the snapshot of an empty log is empty).
	var fanA, fanB *proc
	var wg sync.WaitGroup
	wg.Go(func() { fanA = start("fanout-a", "fanout") })
	wg.Go(func() { fanB = start("fanout-b", "fanout") })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	if code, err := fanA.get(ctx, "/readyz"); err != nil || code != 200 {
		t.Fatalf("fanout-a /readyz = %d, %v", code, err)
	}

	clientCtx, stopClients := context.WithCancel(ctx)
	defer stopClients()
	var clients []*wallClient
	var running sync.WaitGroup
	for i := range 6 {
		nodes := []string{fanA.addr, fanB.addr}
		if i%2 == 1 {
			nodes = []string{fanB.addr, fanA.addr}
		}
		c := newWallClient(fmt.Sprintf("client-%d", i), slug, nodes...)
		clients = append(clients, c)
		running.Go(func() { c.run(clientCtx) })
	}
	waitFor(t, "every client connected", 10*time.Second, func() (bool, error) {
		for _, c := range clients {
			if _, n := c.connectedTo(); n == 0 {
				return false, nil
			}
		}
		return true, nil
	})

	// One ingest process runs the source; the second stands by.
	ingA := start("ingest-a", "ingest")
	waitFor(t, "ingest-a holds the source's lease", 15*time.Second, func() (bool, error) {
		v, err := ingA.metric(ctx, leaderSeries)
		return v == 1, err
	})
	ingB := start("ingest-b", "ingest")
	if v, err := ingB.metric(ctx, leaderSeries); err != nil || v == 1 {
		t.Fatalf("ingest-b holds the lease too (%v, %v)", v, err)
	}
	// An ingest process serves no screen.
	if code, err := ingA.get(ctx, "/api/events/"+slug); err != nil || code != 404 {
		t.Errorf("ingest-a GET /api/events/%s = %d, %v; want 404", slug, code, err)
	}
	waitFor(t, "posts flowing", 15*time.Second, func() (bool, error) { return head() >= 30, nil })

	// Actions on a fan-out node go to the shared log: a web form post
	// sent to one node is approved through the other.
	formActions(t, ctx, log, fanA, fanB)

	// A fan-out node crashes while posts flow: its clients go to the
	// other node and resume.
	fanA.kill9(t)
	t.Logf("killed fanout-a at log position %d", head())
	waitFor(t, "every client on fanout-b", 10*time.Second, func() (bool, error) {
		for _, c := range clients {
			if node, _ := c.connectedTo(); node != fanB.addr {
				return false, nil
			}
		}
		return true, nil
	})
	mark := head()
	waitFor(t, "posts flowing after the fan-out crash", 10*time.Second, func() (bool, error) { return head() >= mark+20, nil })

	// The ingest process holding the source crashes: the one standing by
	// takes it over.
	ingA.kill9(t)
	killedAt, killedHead := time.Now(), head()
	waitFor(t, "ingest-b appends after ingest-a's crash", takeoverBound+5*time.Second, func() (bool, error) {
		return head() > killedHead+1, nil
	})
	takeover := time.Since(killedAt)
	t.Logf("ingest-b took the source over %v after ingest-a's kill -9 (log at %d then)", takeover.Round(time.Millisecond), killedHead)
	if takeover > takeoverBound {
		t.Errorf("takeover took %v; the bound is %v", takeover, takeoverBound)
	}
	if v, err := ingB.metric(ctx, leaderSeries); err != nil || v != 1 {
		t.Errorf("ingest-b's %s = %v, %v; want 1", leaderSeries, v, err)
	}

	// Redis crashes and restarts from its append-only file.
	before, err := log.Read(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	rs.Kill(t)
	rs.Restart(t)
	after := readAll(t, ctx, log)
	if len(after) < len(before) {
		t.Fatalf("after the Redis restart the log has %d events; %d before", len(after), len(before))
	}
	for i, e := range before {
		if a := after[i]; a.Pos != e.Pos || a.Kind != e.Kind || a.PostID != e.PostID || !a.Time.Equal(e.Time) {
			t.Fatalf("event %d changed across the Redis restart: %+v, was %+v", e.Pos, a, e)
		}
	}
	if lost := missing(approvedIDs(before), approvedIDs(after)); len(lost) > 0 {
		t.Errorf("approved posts lost by the Redis restart: %v", lost)
	}
	mark = head()
	waitFor(t, "posts flowing after the Redis restart", 20*time.Second, func() (bool, error) { return head() >= mark+20, nil })

	// Stop the source so the log holds still, then wait for every client
	// to have everything public the log holds.
	ingB.stop(t)
	events := readAll(t, ctx, log)
	final := uint64(len(events))
	want, wantUpserts, wantRemoves := publicChanges(events)
	lastPublic := want[len(want)-1]
	waitFor(t, "every client caught up", 10*time.Second, func() (bool, error) {
		for _, c := range clients {
			if c.lastPos() < lastPublic {
				return false, nil
			}
		}
		return true, nil
	})
	stopClients()
	running.Wait()

	checkLog(t, events)
	checkBackup(t, rs.URL, events)
	t.Logf("log: %d events, %d public changes, %d posts on the wall at some point", final, len(want), len(wantUpserts))
	for i, c := range clients {
		c.mu.Lock()
		if len(c.problems) > 0 {
			t.Errorf("%s: %s", c.name, strings.Join(c.problems, "; "))
		}
		if !slices.Equal(c.positions, want) {
			t.Errorf("%s: got %d public events, want %d (first difference at %d)", c.name, len(c.positions), len(want), firstDiff(c.positions, want))
		}
		if !maps.Equal(c.upserts, wantUpserts) || !maps.Equal(c.removes, wantRemoves) {
			t.Errorf("%s: upserts/removes per post differ from the log's", c.name)
		}
		if len(c.snapshotAt) != 1 || c.snapPosts != 0 {
			t.Errorf("%s: snapshots at %v carrying %d posts; want one empty snapshot, then only resumes", c.name, c.snapshotAt, c.snapPosts)
		}
		for j, f := range c.firsts[1:] {
			if f != "resume" {
				t.Errorf("%s: reconnect %d began with %q, not resume", c.name, j+1, f)
			}
		}
		// Clients that started on fanout-a moved once; those on fanout-b never.
		if wantConnects := 1 + (1 - i%2); c.connects != wantConnects {
			t.Errorf("%s: connected %d times, want %d", c.name, c.connects, wantConnects)
		}
		c.mu.Unlock()
	}
}

// readAll reads the whole log, retrying while Redis is still loading.
func readAll(t *testing.T, ctx context.Context, log eventlog.Log) []event.Entry {
	t.Helper()
	var events []event.Entry
	waitFor(t, "read the log", 15*time.Second, func() (bool, error) {
		var err error
		events, err = log.Read(ctx, 0, 0)
		return err == nil, err
	})
	return events
}

// checkLog checks the log holds every rehearsal post exactly once, with no
// gap in the sequence: neither crash lost one nor made one twice.
func checkLog(t *testing.T, events []event.Entry) {
	t.Helper()
	seen := map[string]uint64{}
	var maxN uint64
	for _, e := range events {
		if e.Kind != event.PostReceived {
			continue
		}
		if first, dup := seen[e.Post.URI]; dup {
			t.Errorf("post %s received twice, at %d and %d", e.Post.URI, first, e.Pos)
		}
		seen[e.Post.URI] = e.Pos
		if e.Post.Source != rehearsal.Kind {
			continue // the web form's post
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(e.Post.URI, "urn:backchannel:rehearsal:"), 10, 64)
		if err != nil {
			t.Fatalf("unexpected rehearsal post %s", e.Post.URI)
		}
		maxN = max(maxN, n)
	}
	for n := uint64(1); n <= maxN; n++ {
		if _, ok := seen[rehearsal.URI(n)]; !ok {
			t.Errorf("rehearsal post %d is missing from the log (the last is %d)", n, maxN)
		}
	}
	if maxN < 50 {
		t.Errorf("only %d posts made it to the log; the test meant to see more", maxN)
	}
}

// publicChanges folds the log as every node does and returns the
// positions of the events that changed the public wall, and how many times
// each post was upserted and removed: exactly what every wall must see.
func publicChanges(events []event.Entry) (positions []uint64, upserts, removes map[string]int) {
	s := fold.New(fold.SettingsView{Title: "Integration test", Moderation: event.ModeAuto})
	upserts, removes = map[string]int{}, map[string]int{}
	for _, e := range events {
		eff := s.Apply(e)
		if eff.Wall == nil {
			continue
		}
		positions = append(positions, e.Pos)
		for _, p := range eff.Wall.Upsert {
			upserts[p.ID]++
		}
		for _, id := range eff.Wall.Remove {
			removes[id]++
		}
	}
	return positions, upserts, removes
}

// approvedIDs are the posts on the wall after the events.
func approvedIDs(events []event.Entry) []string {
	s := fold.New(fold.SettingsView{Moderation: event.ModeAuto})
	for _, e := range events {
		s.Apply(e)
	}
	var ids []string
	for _, p := range s.Approved() {
		ids = append(ids, p.ID)
	}
	return ids
}

func missing(want, got []string) []string {
	var out []string
	for _, id := range want {
		if !slices.Contains(got, id) {
			out = append(out, id)
		}
	}
	return out
}

func firstDiff(a, b []uint64) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// formActions posts through the web form on one node, waits for the post
// in the shared log, and approves it with the moderators' token on the
// other node.
func formActions(t *testing.T, ctx context.Context, log eventlog.Log, formNode, modNode *proc) {
	t.Helper()
	const text = "A question from the web form: who runs the wall?"
	form := url.Values{"name": {"Web form"}, "text": {text}}
	resp, err := http.PostForm("http://"+formNode.addr+"/e/"+slug+"/form", form)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("web form on %s: %s", formNode.name, resp.Status)
	}
	var id string
	waitFor(t, "the web form post in the log", 5*time.Second, func() (bool, error) {
		events, err := log.Read(ctx, 0, 0)
		for _, e := range events {
			if e.Kind == event.PostReceived && e.Post.Text == text {
				id = e.PostID
				return true, nil
			}
		}
		return false, err
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+modNode.addr+"/api/events/"+slug+"/posts/"+id+"/approve", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+modToken)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("approve on %s: %s", modNode.name, resp.Status)
	}
	waitFor(t, "the approval in the log", 5*time.Second, func() (bool, error) {
		events, err := log.Read(ctx, 0, 0)
		for _, e := range events {
			if e.Kind == event.PostApproved && e.PostID == id && e.Actor.Role == event.RoleModerator {
				return true, nil
			}
		}
		return false, err
	})
}

// checkBackup exports the event's log from Redis with the binary, imports
// it into an embedded log, and exports that again: the two files are the
// same (positions, times, everything). A second import into the now
// non-empty log is refused.
func checkBackup(t *testing.T, redisURL string, events []event.Entry) {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	run := func(wantOK bool, args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if (err == nil) != wantOK {
			t.Fatalf("backchannel %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	fromRedis, fromDisk := filepath.Join(dir, "redis.jsonl"), filepath.Join(dir, "disk.jsonl")
	data := filepath.Join(dir, "data")
	run(true, "export-log", "--redis", redisURL, "--event", slug, "--file", fromRedis)
	run(true, "import-log", "--data", data, "--event", slug, "--file", fromRedis)
	run(false, "import-log", "--data", data, "--event", slug, "--file", fromRedis)
	run(true, "export-log", "--data", data, "--event", slug, "--file", fromDisk)
	a, err := os.ReadFile(fromRedis)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(fromDisk)
	if err != nil {
		t.Fatal(err)
	}
	if lines := bytes.Count(a, []byte("\n")); lines != len(events) {
		t.Errorf("the export has %d lines; the log %d events", lines, len(events))
	}
	if !bytes.Equal(a, b) {
		t.Error("the log exported from Redis and the one restored into the embedded log differ")
	}
}
