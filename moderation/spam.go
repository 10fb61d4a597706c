package moderation

// The spam rules: the same text again (from one author or several,
// near-duplicates included), links to domains outside an allow-list from
// new or little-followed accounts, and more posts a minute from one author
// than the event allows. They are a pure function of the post and a small
// state of recent posts (Recent), which each node keeps in memory and
// fills from two places: its own evaluations, at once, and every post
// received that its fold reads from the log, whichever node's source
// appended it. With several ingest nodes on one Redis log, each node's
// window so holds every node's posts, a few milliseconds late; two copies
// arriving at two nodes within those milliseconds may both pass.

import (
	"fmt"
	"hash/maphash"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/backchannel/backchannel/event"
)

// Defaults of the spam rules.
const (
	DefaultFloodPerMinute = 5
	DefaultNewAccountAge  = 30 * 24 * time.Hour
	DefaultMinFollowers   = 10
	// DefaultWindow is how far back Recent remembers posts, and
	// DefaultWindowPosts how many it keeps at most.
	DefaultWindow      = 30 * time.Minute
	DefaultWindowPosts = 2000
	// nearDuplicate is the least share of word pairs two texts must have
	// in common (Jaccard similarity) to be near-duplicates.
	nearDuplicate = 0.7
	// minDuplicateWords: texts of fewer words ("Great talk!") are compared
	// only with the same author's, since many people write them.
	minDuplicateWords = 4
	bands             = 10 // LSH bands over the MinHash signature
	rows              = 3
	sigLen            = bands * rows
)

var seed = maphash.MakeSeed()

// fingerprint is what the duplicate rule keeps of a text.
type fingerprint struct {
	words    int
	shingles []uint64 // sorted, distinct hashes of word pairs
	sig      [sigLen]uint64
}

// fingerprintOf cuts the text into folded words (Fold: case and accents
// ignored, punctuation dropped) and hashes each pair of neighbours.
func fingerprintOf(text string) fingerprint {
	w := wordsPool.Get().(*words)
	defer wordsPool.Put(w)
	w.reset()
	w.add(text, fieldText)
	var f fingerprint
	f.words = len(w.spans)
	if f.words == 0 {
		return f
	}
	var h maphash.Hash
	h.SetSeed(seed)
	if f.words == 1 {
		h.Write(w.word(0))
		f.shingles = []uint64{h.Sum64()}
	} else {
		f.shingles = make([]uint64, 0, f.words-1)
		for i := 0; i+1 < f.words; i++ {
			h.Reset()
			h.Write(w.word(i))
			h.WriteByte(' ')
			h.Write(w.word(i + 1))
			f.shingles = append(f.shingles, h.Sum64())
		}
		slices.Sort(f.shingles)
		f.shingles = slices.Compact(f.shingles)
	}
	for k := range f.sig {
		f.sig[k] = ^uint64(0)
	}
	for _, s := range f.shingles {
		for k := range f.sig {
			// A cheap family of hash functions: s mixed with k.
			x := (s ^ (uint64(k+1) * 0x9E3779B97F4A7C15)) * 0xBF58476D1CE4E5B9
			x ^= x >> 31
			if x < f.sig[k] {
				f.sig[k] = x
			}
		}
	}
	return f
}

func (f *fingerprint) band(b int) uint64 {
	x := uint64(b) + 1
	for _, v := range f.sig[b*rows : (b+1)*rows] {
		x = (x ^ v) * 0x100000001B3
	}
	return x
}

// jaccard is the share of the two sets' shingles they have in common.
func jaccard(a, b []uint64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 0
	}
	i, j, both := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			both++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	return float64(both) / float64(len(a)+len(b)-both)
}

// seen is one post Recent remembers.
type seen struct {
	id     string
	author string
	handle string
	at     time.Time
	fp     fingerprint
	gone   bool
	mark   uint64 // Recent.gen of the last duplicate search that looked at it
}

// Recent is the small state of recent posts the spam rules read: at most
// Posts of them, none older than Window before the newest. It is safe for
// concurrent use.
type Recent struct {
	window time.Duration
	max    int

	mu       sync.Mutex
	posts    []*seen // oldest first
	byID     map[string]*seen
	byBand   map[uint64][]*seen
	byAuthor map[string][]time.Time
	newest   time.Time
	gen      uint64
}

// NewRecent returns an empty window of recent posts (zero values: the
// defaults).
func NewRecent(window time.Duration, posts int) *Recent {
	if window <= 0 {
		window = DefaultWindow
	}
	if posts <= 0 {
		posts = DefaultWindowPosts
	}
	return &Recent{window: window, max: posts, byID: map[string]*seen{}, byBand: map[uint64][]*seen{}, byAuthor: map[string][]time.Time{}}
}

// Observe remembers a post that arrived at at. A post already remembered
// (by id: the node's own evaluation, then the same post read from the log)
// is remembered once.
func (r *Recent) Observe(p event.Post, at time.Time) {
	if r == nil {
		return
	}
	f := fingerprintOf(p.Text)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.byID[p.ID] != nil {
		return
	}
	s := &seen{id: p.ID, author: p.Author.ID, handle: p.Author.Handle, at: at, fp: f}
	r.posts = append(r.posts, s)
	r.byID[p.ID] = s
	if f.words > 0 {
		for b := range bands {
			k := f.band(b)
			r.byBand[k] = append(r.byBand[k], s)
		}
	}
	r.byAuthor[s.author] = append(r.byAuthor[s.author], at)
	if at.After(r.newest) {
		r.newest = at
	}
	r.evict()
}

// evict forgets posts past the window or the cap; Hold r.mu.
func (r *Recent) evict() {
	cut := r.newest.Add(-r.window)
	n := 0
	for n < len(r.posts) && (len(r.posts)-n > r.max || r.posts[n].at.Before(cut)) {
		s := r.posts[n]
		s.gone = true
		delete(r.byID, s.id)
		if s.fp.words > 0 {
			for b := range bands {
				k := s.fp.band(b)
				l := slices.DeleteFunc(r.byBand[k], func(x *seen) bool { return x == s })
				if len(l) == 0 {
					delete(r.byBand, k)
				} else {
					r.byBand[k] = l
				}
			}
		}
		ts := r.byAuthor[s.author]
		ts = slices.DeleteFunc(ts, func(t time.Time) bool { return t.Before(cut) })
		if len(ts) == 0 {
			delete(r.byAuthor, s.author)
		} else {
			r.byAuthor[s.author] = ts
		}
		r.posts[n] = nil
		n++
	}
	if n > 0 {
		r.posts = r.posts[n:]
	}
}

// duplicate is the most similar remembered post to p (not p itself), by
// p's author or, for texts of minDuplicateWords or more, by anyone.
func (r *Recent) duplicate(p event.Post, f fingerprint) (best *seen, sim float64, authors int) {
	if r == nil || f.words == 0 {
		return nil, 0, 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.gen++
	var others []string
	for b := range bands {
		for _, s := range r.byBand[f.band(b)] {
			if s.mark == r.gen || s.id == p.ID {
				continue
			}
			s.mark = r.gen
			if s.author != p.Author.ID && f.words < minDuplicateWords {
				continue
			}
			j := jaccard(f.shingles, s.fp.shingles)
			if j < nearDuplicate {
				continue
			}
			if s.author != p.Author.ID && !slices.Contains(others, s.author) {
				others = append(others, s.author)
			}
			if j > sim || j == sim && s.author == p.Author.ID {
				best, sim = s, j
			}
		}
	}
	if best == nil {
		return nil, 0, 0
	}
	cp := *best
	return &cp, sim, len(others)
}

// postsInMinute counts the remembered posts of author in the minute before
// now (p itself, if remembered already, not counted).
func (r *Recent) postsInMinute(author, id string, now time.Time) int {
	if r == nil || author == "" {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	from := now.Add(-time.Minute)
	for _, t := range r.byAuthor[author] {
		if t.After(from) && !t.After(now) {
			n++
		}
	}
	if s := r.byID[id]; s != nil && s.author == author && s.at.After(from) && !s.at.After(now) {
		n--
	}
	return n
}

// SpamOptions tune the spam rules.
type SpamOptions struct {
	// FloodPerMinute is how many posts one author may make in a minute
	// before the next is held (default DefaultFloodPerMinute).
	FloodPerMinute int
	// AllowedLinkDomains are domains (and their subdomains) links to which
	// are never held.
	AllowedLinkDomains []string
	// NewAccountAge and MinFollowers: an account younger, or followed by
	// fewer, has its links to other domains held (defaults 30 days, 10).
	NewAccountAge time.Duration
	MinFollowers  int
}

// spam runs the spam rules that are not off on p, against recent.
func spam(p event.Post, now time.Time, o *SpamOptions, allowed []string, recent *Recent, off func(string) bool, out []event.Check) []event.Check {
	if !off(CheckDuplicate) && recent != nil {
		f := fingerprintOf(p.Text)
		if s, sim, others := recent.duplicate(p, f); s != nil {
			who := "the same author"
			if s.author != p.Author.ID {
				who = "another author"
				if s.handle != "" {
					who = s.handle
				}
			}
			what := "the same text as"
			if sim < 1 {
				what = fmt.Sprintf("%.0f%% like", sim*100)
			}
			d := fmt.Sprintf("%s a post by %s %s ago", what, who, ago(now.Sub(s.at)))
			if others > 1 {
				d += fmt.Sprintf(" (%d other authors wrote it)", others)
			}
			out = append(out, event.Check{Rule: RuleDuplicate, Detail: d, Score: sim})
		}
	}
	if !off(CheckLinks) {
		if c, ok := newAccountLinks(p, now, o, allowed); ok {
			out = append(out, c)
		}
	}
	if !off(CheckFlood) && recent != nil {
		limit := o.FloodPerMinute
		if limit <= 0 {
			limit = DefaultFloodPerMinute
		}
		if n := recent.postsInMinute(p.Author.ID, p.ID, now) + 1; n > limit {
			out = append(out, event.Check{Rule: RuleFlood, Detail: fmt.Sprintf("%d posts in a minute; the limit is %d", n, limit),
				Score: min(1, float64(n)/float64(2*limit))})
		}
	}
	return out
}

func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", max(0, int(d/time.Second)))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(d/time.Minute))
	}
	return d.Round(time.Minute).String()
}

// newAccountLinks holds links to domains outside the allow-list (and the
// author's own server) from an account the source says is new or little
// followed. A source that says neither (Bluesky, feeds, the web form,
// which is held anyway) is not judged by this rule.
func newAccountLinks(p event.Post, now time.Time, o *SpamOptions, allowed []string) (event.Check, bool) {
	a := p.Author
	age, minF := o.NewAccountAge, o.MinFollowers
	if age <= 0 {
		age = DefaultNewAccountAge
	}
	if minF <= 0 {
		minF = DefaultMinFollowers
	}
	var why []string
	if !a.CreatedAt.IsZero() && now.Sub(a.CreatedAt) < age {
		why = append(why, fmt.Sprintf("an account %s old", ago(now.Sub(a.CreatedAt).Truncate(time.Minute))))
	}
	if a.FollowersKnown && a.Followers < minF {
		why = append(why, fmt.Sprintf("%d followers", a.Followers))
	}
	if len(why) == 0 {
		return event.Check{}, false
	}
	own := authorDomains(a)
	var spans [][]int
	var hosts []string
	for _, m := range urlRe.FindAllStringIndex(p.Text, -1) {
		raw := strings.TrimRight(p.Text[m[0]:m[1]], ".,;:!?)")
		if !strings.Contains(raw, "://") {
			raw = "https://" + raw
		}
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" {
			continue
		}
		h := strings.ToLower(u.Hostname())
		if onDomain([3]string{h}, own[0]) || slices.ContainsFunc(allowed, func(d string) bool { return onDomain([3]string{h}, d) }) {
			continue
		}
		spans = append(spans, []int{m[0], m[0] + len(strings.TrimRight(p.Text[m[0]:m[1]], ".,;:!?)"))})
		hosts = append(hosts, h)
	}
	if len(spans) == 0 {
		return event.Check{}, false
	}
	c := check(RuleLinks, fmt.Sprintf("link to %s from %s", strings.Join(slices.Compact(hosts), ", "), strings.Join(why, " with ")), p.Text, spans)
	return c, true
}
