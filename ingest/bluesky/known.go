package bluesky

import (
	"encoding/json"
	"sync"
)

// knownPosts remembers the posts this source appended (URI -> author DID),
// so that of the network's many deletes only those of our posts reach the
// log, and so an account's removal can take its posts off the screens. It
// is bounded (oldest forgotten first) and stored beside the log as JSON, so
// it survives a restart and moves with the source to another process.
type knownPosts struct {
	mu    sync.Mutex
	max   int
	order []string          // URIs, oldest first
	did   map[string]string // URI -> DID
	dids  map[string]int    // DID -> number of known posts
}

func newKnownPosts(max int) *knownPosts {
	return &knownPosts{max: max, did: map[string]string{}, dids: map[string]int{}}
}

type knownEntry struct {
	URI string `json:"u"`
	Did string `json:"d"`
}

// load replaces the set with the one dumped in v (ignores garbage).
func (k *knownPosts) load(v string) {
	var entries []knownEntry
	if v == "" || json.Unmarshal([]byte(v), &entries) != nil {
		return
	}
	for _, e := range entries {
		k.add(e.URI, e.Did)
	}
}

// dump returns the set as JSON.
func (k *knownPosts) dump() string {
	k.mu.Lock()
	entries := make([]knownEntry, 0, len(k.order))
	for _, u := range k.order {
		entries = append(entries, knownEntry{URI: u, Did: k.did[u]})
	}
	k.mu.Unlock()
	b, _ := json.Marshal(entries)
	return string(b)
}

// add records uri; it reports whether the set changed.
func (k *knownPosts) add(uri, did string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.did[uri]; ok {
		return false
	}
	k.did[uri] = did
	k.dids[did]++
	k.order = append(k.order, uri)
	for len(k.order) > k.max {
		k.removeLocked(k.order[0])
	}
	return true
}

func (k *knownPosts) remove(uri string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.removeLocked(uri)
}

func (k *knownPosts) removeLocked(uri string) {
	did, ok := k.did[uri]
	if !ok {
		return
	}
	delete(k.did, uri)
	if k.dids[did]--; k.dids[did] <= 0 {
		delete(k.dids, did)
	}
	for i, u := range k.order {
		if u == uri {
			k.order = append(k.order[:i], k.order[i+1:]...)
			break
		}
	}
}

func (k *knownPosts) has(uri string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	_, ok := k.did[uri]
	return ok
}

// hasDid reports whether any known post is by did; it does not allocate.
func (k *knownPosts) hasDid(did []byte) bool {
	if len(did) == 0 {
		return false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.dids[string(did)] > 0
}

func (k *knownPosts) byDid(did string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	var out []string
	for _, u := range k.order {
		if k.did[u] == did {
			out = append(out, u)
		}
	}
	return out
}
