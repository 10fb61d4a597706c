package itest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/redislog"
	"github.com/backchannel/backchannel/internal/redistest"
)

// sentinelYAML is eventsYAML pre-moderated, so that the wall only moves
// on moderators' decisions.
var sentinelYAML = strings.Replace(eventsYAML, "mode: auto", "mode: pre", 1)

// TestSentinelFailover runs the topology over a Redis primary, a replica
// and three Sentinels on loopback, every process reaching Redis through
// the Sentinels (redis-sentinel://). While the rehearsal source posts and
// a moderator approves posts on both fan-out nodes, the primary is killed
// with SIGKILL. The Sentinels promote the replica; the walls keep going;
// every approval a moderator was told succeeded (200) is in the log;
// nothing reaches a wall twice. It logs how long the walls froze.
func TestSentinelFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs eight processes")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	primary := redistest.Start(t)
	replica := redistest.StartReplica(t, primary)
	var sentinels []string
	for range 3 {
		sentinels = append(sentinels, redistest.StartSentinel(t, "bc", primary, 2).Addr)
	}
	redisURL := "redis-sentinel://" + strings.Join(sentinels, ",") + "/bc"

	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "events.yaml")
	if err := os.WriteFile(cfgPath, []byte(sentinelYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"ITEST_SESSION_KEY=" + strings.Repeat("k", 40),
		"ITEST_MODERATOR=mod-pass-phrase",
		"ITEST_MODERATOR_TOKENS=" + modToken,
		"ITEST_FACILITATOR=fac-pass-phrase",
	}
	start := func(name, role string) *proc {
		return startProc(t, name, env, "--role", role, "--config", cfgPath, "--redis", redisURL, "--data", filepath.Join(dir, name))
	}
	store, err := redislog.Open(ctx, redisURL, redislog.WithRetryFor(20*time.Second))
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
			return 0
		}
		return h.Last
	}

	var fanA, fanB *proc
	var wg sync.WaitGroup
	wg.Go(func() { fanA = start("fanout-a", "fanout") })
	wg.Go(func() { fanB = start("fanout-b", "fanout") })
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	clientCtx, stopClients := context.WithCancel(ctx)
	defer stopClients()
	var clients []*wallClient
	var running sync.WaitGroup
	for i := range 4 {
		nodes := []string{fanA.addr, fanB.addr}
		if i%2 == 1 {
			nodes = []string{fanB.addr, fanA.addr}
		}
		c := newWallClient(fmt.Sprintf("client-%d", i), slug, nodes...)
		clients = append(clients, c)
		running.Go(func() { c.run(clientCtx) })
	}
	start("ingest", "ingest")
	waitFor(t, "posts flowing", 15*time.Second, func() (bool, error) { return head() >= 20, nil })

	// A moderator approves the oldest pending post every 50 ms, on the two
	// nodes in turn; acked holds the posts whose approval answered 200.
	var (
		ackMu sync.Mutex
		acked []string
	)
	modCtx, stopMod := context.WithCancel(ctx)
	var modDone sync.WaitGroup
	modDone.Go(func() {
		nodes := []*proc{fanA, fanB}
		for i := 0; modCtx.Err() == nil; i++ {
			node := nodes[i%2]
			var q struct {
				Posts []struct {
					ID string `json:"id"`
				} `json:"posts"`
			}
			if code := api(modCtx, "GET", node.addr, "/api/events/"+slug+"/queue", &q); code == 200 && len(q.Posts) > 0 {
				id := q.Posts[0].ID
				if api(modCtx, "POST", node.addr, "/api/events/"+slug+"/posts/"+id+"/approve", nil) == 200 {
					ackMu.Lock()
					acked = append(acked, id)
					ackMu.Unlock()
				}
			}
			select {
			case <-modCtx.Done():
			case <-time.After(50 * time.Millisecond): // the moderator's pace
			}
		}
	})
	ackedN := func() int { ackMu.Lock(); defer ackMu.Unlock(); return len(acked) }
	waitFor(t, "approvals flowing", 15*time.Second, func() (bool, error) { return ackedN() >= 20, nil })

	// The primary dies.
	killedAt, ackedAtKill := time.Now(), ackedN()
	primary.Kill(t)
	waitFor(t, "approvals acknowledged after the failover", 30*time.Second, func() (bool, error) { return ackedN() >= ackedAtKill+20, nil })
	t.Logf("approvals resumed %v after the kill -9 of the primary", time.Since(killedAt).Round(time.Millisecond))
	promoted, err := redisRole(ctx, replica.Addr)
	if err != nil || promoted != "master" {
		t.Errorf("the replica's role after the failover is %q (%v), want master", promoted, err)
	}
	stopMod()
	modDone.Wait()

	// Let the walls catch up with everything public in the log.
	events := readAll(t, ctx, log)
	want, wantUpserts, wantRemoves := publicChanges(events)
	if len(want) == 0 {
		t.Fatal("nothing public in the log")
	}
	waitFor(t, "every wall caught up", 15*time.Second, func() (bool, error) {
		for _, c := range clients {
			if c.lastPos() < want[len(want)-1] {
				return false, nil
			}
		}
		return true, nil
	})
	stopClients()
	running.Wait()

	inLog := map[string]bool{}
	for _, e := range events {
		if e.Kind == event.PostApproved {
			inLog[e.PostID] = true
		}
	}
	ackMu.Lock()
	for _, id := range acked {
		if !inLog[id] {
			t.Errorf("approval of %s was acknowledged but is not in the log after the failover", id)
		}
	}
	t.Logf("%d approvals acknowledged, all checked in the log of %d events", len(acked), len(events))
	ackMu.Unlock()

	var worst time.Duration
	for _, c := range clients {
		c.mu.Lock()
		if len(c.problems) > 0 {
			t.Errorf("%s: %s", c.name, strings.Join(c.problems, "; "))
		}
		if !slices.Equal(c.positions, want) {
			t.Errorf("%s: got %d public events, want %d (first difference at %d)", c.name, len(c.positions), len(want), firstDiff(c.positions, want))
		}
		if !maps.Equal(c.upserts, wantUpserts) || !maps.Equal(c.removes, wantRemoves) {
			t.Errorf("%s: posts shown a different number of times than the log says", c.name)
		}
		// The longest wait between two wall updates around the kill.
		for i := 1; i < len(c.times); i++ {
			if c.times[i].After(killedAt) && c.times[i-1].Before(killedAt.Add(30*time.Second)) {
				worst = max(worst, c.times[i].Sub(c.times[i-1]))
			}
		}
		c.mu.Unlock()
	}
	t.Logf("walls froze for at most %v across the failover (Sentinel down-after %v)", worst.Round(time.Millisecond), redistest.DownAfter)
	if worst > 20*time.Second {
		t.Errorf("walls froze for %v", worst)
	}
}

// api calls a fan-out node's API as the moderator (bearer token) and
// decodes a JSON answer into into; it returns the status, 0 on failure.
func api(ctx context.Context, method, addr, path string, into any) int {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+modToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if into != nil {
		_ = json.NewDecoder(resp.Body).Decode(into)
	}
	return resp.StatusCode
}

// redisRole is the first element of ROLE on the server at addr: "master"
// or "slave".
func redisRole(ctx context.Context, addr string) (string, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	v, err := rdb.Do(ctx, "ROLE").Slice()
	if err != nil || len(v) == 0 {
		return "", err
	}
	s, _ := v[0].(string)
	return s, nil
}
