package mastodon

import (
	"encoding/json"
	"sync"
	"time"
)

// seen is one status this source handed to the sink.
type seen struct {
	ID       string    `json:"id"`  // the server-local id
	URI      string    `json:"uri"` // the global identity
	EditedAt time.Time `json:"e,omitzero"`
}

// recent remembers the statuses this source handed to the sink, newest
// last, bounded. It answers three questions: which URI a streaming delete's
// local id names; whether a status seen again is unchanged (so the sink is
// not asked again); and which posts the periodic delete check visits.
type recent struct {
	mu    sync.Mutex
	max   int
	order []string // local ids, oldest first
	byID  map[string]*seen
	next  int // the delete check's position, counted from the newest
	// nextWall is the delete check's position in its walk for posts on
	// the wall, counted from the newest.
	nextWall int
	dirty    bool
}

func newRecent(max int) *recent {
	return &recent{max: max, byID: make(map[string]*seen)}
}

// unchanged reports whether the status with this local id was already
// handed to the sink in this version.
func (r *recent) unchanged(id, uri string, edited time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.byID[id]
	return ok && s.URI == uri && s.EditedAt.Equal(edited)
}

// add records that the sink has the status in this version.
func (r *recent) add(id, uri string, edited time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dirty = true
	if s, ok := r.byID[id]; ok {
		s.URI, s.EditedAt = uri, edited
		return
	}
	r.byID[id] = &seen{ID: id, URI: uri, EditedAt: edited}
	r.order = append(r.order, id)
	if len(r.order) > r.max {
		// Drop the oldest quarter at once so the slice is not shifted on
		// every add.
		n := len(r.order) - r.max*3/4
		for _, old := range r.order[:n] {
			delete(r.byID, old)
		}
		r.order = append(r.order[:0:0], r.order[n:]...)
	}
}

// uri returns the URI of the status with this local id.
func (r *recent) uri(id string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.byID[id]
	if !ok {
		return "", false
	}
	return s.URI, true
}

// remove forgets a deleted status.
func (r *recent) remove(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.byID[id]; !ok {
		return
	}
	delete(r.byID, id)
	for i, o := range r.order {
		if o == id {
			r.order = append(r.order[:i], r.order[i+1:]...)
			break
		}
	}
	r.dirty = true
}

// batch returns up to n statuses for the delete check. When onWall is
// set, it first walks round every remembered status for those on the wall
// (what a deletion must take off the screen), resuming where the last
// check stopped; it fills the rest by walking round the newest window
// statuses (the ones likely to be shown soon), so each is visited every
// window/n checks.
func (r *recent) batch(n, window int, onWall func(uri string) bool) []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]seen, 0, n)
	taken := make(map[string]bool, n)
	if onWall != nil && len(r.order) > 0 {
		for range len(r.order) {
			if len(out) == n {
				break
			}
			if r.nextWall >= len(r.order) {
				r.nextWall = 0
			}
			id := r.order[len(r.order)-1-r.nextWall]
			r.nextWall++
			if s := r.byID[id]; onWall(s.URI) {
				out = append(out, *s)
				taken[id] = true
			}
		}
	}
	w := min(window, len(r.order))
	for range min(n-len(out), w) {
		if r.next >= w {
			r.next = 0
		}
		id := r.order[len(r.order)-1-r.next]
		r.next++
		if !taken[id] {
			out = append(out, *r.byID[id])
		}
	}
	return out
}

// snapshot encodes the newest n statuses for the cursor store, or reports
// false when nothing changed since the last snapshot.
func (r *recent) snapshot(n int) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.dirty {
		return "", false
	}
	from := max(0, len(r.order)-n)
	list := make([]seen, 0, len(r.order)-from)
	for _, id := range r.order[from:] {
		list = append(list, *r.byID[id])
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "", false
	}
	r.dirty = false
	return string(b), true
}

// restore loads a snapshot written by an earlier run, so deletes of posts
// appended before a restart are still recognised.
func (r *recent) restore(v string) error {
	if v == "" {
		return nil
	}
	var list []seen
	if err := json.Unmarshal([]byte(v), &list); err != nil {
		return err
	}
	for _, s := range list {
		r.add(s.ID, s.URI, s.EditedAt)
	}
	r.mu.Lock()
	r.dirty = false
	r.mu.Unlock()
	return nil
}
