package bluesky

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// Profile is what a wall shows of a Bluesky author.
type Profile struct {
	Did         string `json:"did"`
	Handle      string `json:"handle"`
	DisplayName string `json:"displayName"`
	Avatar      string `json:"avatar"`
}

// profiles resolves authors through the AppView's app.bsky.actor.getProfile,
// off the path that delivers posts: the reader asks for a profile and goes
// on; a few workers fetch from a bounded queue, each lookup bounded by its
// own timeout, one lookup in flight per DID, and a failure is remembered for
// a while so a hanging AppView is not asked again for every post. Matched
// posts are few, but one author often posts many times during an event,
// and the AppView has its own rate limit, so profiles are cached.
//
// It also keeps the handles Jetstream's identity frames carry, so a post
// from an author whose profile is not known yet shows the handle.
type profiles struct {
	appView string
	client  *http.Client
	timeout time.Duration // one lookup
	ttl     time.Duration // a profile is fresh this long
	failTTL time.Duration // a failed lookup is not retried for this long
	max     int           // bound of each map
	now     func() time.Time
	log     *slog.Logger
	stats   *Stats

	queue chan string

	mu      sync.Mutex
	cache   map[string]cachedProfile
	failed  map[string]time.Time // DID -> when a lookup may be tried again
	handles map[string]string    // DID -> handle, from identity frames
	pending map[string]bool      // DIDs queued or being looked up
}

type cachedProfile struct {
	p  Profile
	at time.Time
}

func newProfiles(appView string, client *http.Client, timeout, failTTL time.Duration, queue int, now func() time.Time, log *slog.Logger, stats *Stats) *profiles {
	return &profiles{
		appView: appView, client: client, timeout: timeout, ttl: time.Hour, failTTL: failTTL, max: 10000,
		now: now, log: log, stats: stats,
		queue: make(chan string, queue),
		cache: map[string]cachedProfile{}, failed: map[string]time.Time{}, handles: map[string]string{}, pending: map[string]bool{},
	}
}

// cached returns the profile known for did, and whether one is known at
// all and whether it is fresh. A stale profile beats none.
func (ps *profiles) cached(did string) (p Profile, known, fresh bool) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	c, ok := ps.cache[did]
	if !ok {
		return Profile{Did: did, Handle: ps.handles[did]}, false, false
	}
	return c.p, true, ps.now().Sub(c.at) < ps.ttl
}

// store caches a profile fetched or found in a search result.
func (ps *profiles) store(p Profile) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.cache) >= ps.max {
		// Drop everything rather than track recency: the cache refills from
		// the few authors who are posting now.
		clear(ps.cache)
	}
	ps.cache[p.Did] = cachedProfile{p: p, at: ps.now()}
	delete(ps.failed, p.Did)
}

// setHandle records the handle an identity frame carries for did ("" when
// the frame has none: the handle may have changed, so the cached profile
// is dropped and the next post looks it up again).
func (ps *profiles) setHandle(did, handle string) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if handle == "" || handle == "handle.invalid" {
		delete(ps.handles, did)
		delete(ps.cache, did)
		return
	}
	if len(ps.handles) >= ps.max {
		clear(ps.handles)
	}
	ps.handles[did] = handle
	if c, ok := ps.cache[did]; ok {
		c.p.Handle = handle
		ps.cache[did] = c
	}
}

// request asks for did's profile without waiting. It reports false when
// no lookup was queued: one is already queued or in flight, a recent one
// failed, or the queue is full (the next post from did asks again).
func (ps *profiles) request(did string) bool {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.pending[did] {
		return false
	}
	if until, ok := ps.failed[did]; ok && ps.now().Before(until) {
		return false
	}
	select {
	case ps.queue <- did:
		ps.pending[did] = true
		return true
	default:
		ps.stats.ProfileDropped.Add(1)
		return false
	}
}

// work looks up queued DIDs until ctx is done, calling resolved after each
// success (outside any lock).
func (ps *profiles) work(ctx context.Context, resolved func(Profile)) {
	for {
		select {
		case <-ctx.Done():
			return
		case did := <-ps.queue:
			ps.stats.ProfileLookups.Add(1)
			p, err := ps.fetch(ctx, did)
			ps.mu.Lock()
			delete(ps.pending, did)
			if err != nil {
				if len(ps.failed) >= ps.max {
					clear(ps.failed)
				}
				ps.failed[did] = ps.now().Add(ps.failTTL)
			}
			ps.mu.Unlock()
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				ps.stats.ProfileFailures.Add(1)
				ps.log.Debug("profile not resolved; the post shows what the stream carries",
					slog.String("did", did), slog.Any("err", err), slog.Duration("retry_after", ps.failTTL))
				continue
			}
			if h := ps.handleOf(did); h != "" && (p.Handle == "" || p.Handle == "handle.invalid") {
				p.Handle = h
			}
			ps.store(p)
			resolved(p)
		}
	}
}

func (ps *profiles) handleOf(did string) string {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	return ps.handles[did]
}

func (ps *profiles) fetch(ctx context.Context, did string) (Profile, error) {
	ctx, cancel := context.WithTimeout(ctx, ps.timeout)
	defer cancel()
	u := ps.appView + "/xrpc/app.bsky.actor.getProfile?actor=" + url.QueryEscape(did)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Profile{}, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := ps.client.Do(req)
	if err != nil {
		return Profile{}, fmt.Errorf("bluesky: get profile %s: %w", did, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return Profile{}, fmt.Errorf("bluesky: get profile %s: %w", did, err)
	}
	if resp.StatusCode != http.StatusOK {
		return Profile{}, fmt.Errorf("bluesky: get profile %s: %s", did, resp.Status)
	}
	var p Profile
	if err := json.Unmarshal(body, &p); err != nil {
		return Profile{}, fmt.Errorf("bluesky: get profile %s: %w", did, err)
	}
	if p.Did != did {
		return Profile{}, fmt.Errorf("bluesky: get profile %s: answer is for %q", did, p.Did)
	}
	if u, err := url.Parse(p.Avatar); err != nil || u.Scheme != "https" {
		p.Avatar = ""
	}
	return p, nil
}
