package bluesky

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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

// profiles resolves authors through the AppView's app.bsky.actor.getProfile
// and caches them: matched posts are few, but one author often posts many
// times during an event, and the AppView has its own rate limit.
type profiles struct {
	appView string
	client  *http.Client
	ttl     time.Duration
	max     int
	now     func() time.Time

	mu    sync.Mutex
	cache map[string]cachedProfile
}

type cachedProfile struct {
	p  Profile
	at time.Time
}

func (ps *profiles) get(ctx context.Context, did string) (Profile, error) {
	ps.mu.Lock()
	c, ok := ps.cache[did]
	ps.mu.Unlock()
	if ok && ps.now().Sub(c.at) < ps.ttl {
		return c.p, nil
	}
	p, err := ps.fetch(ctx, did)
	if err != nil {
		if ok { // a stale profile beats none
			return c.p, err
		}
		return Profile{Did: did}, err
	}
	ps.mu.Lock()
	if len(ps.cache) >= ps.max {
		// Drop everything rather than track recency: the cache refills from
		// the few authors who are posting now.
		ps.cache = make(map[string]cachedProfile)
	}
	ps.cache[did] = cachedProfile{p: p, at: ps.now()}
	ps.mu.Unlock()
	return p, nil
}

// forget drops did from the cache (its handle changed).
func (ps *profiles) forget(did string) {
	ps.mu.Lock()
	delete(ps.cache, did)
	ps.mu.Unlock()
}

func (ps *profiles) fetch(ctx context.Context, did string) (Profile, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
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
