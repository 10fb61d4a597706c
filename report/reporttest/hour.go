// Package reporttest makes a recorded event log for the report's tests,
// its browser test and its benchmark: an hour of a pre-moderated event,
// with posts from the rehearsal corpus arriving from three networks,
// two moderators deciding, facilitators reading questions out, a source
// outage and a rate-limit pause, and the fan-out nodes' connection
// samples. Beside the log it keeps a ledger: the figures the report must
// show, counted as the log was made, not by folding it.
package reporttest

import (
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest/rehearsal"
)

// Start is when the recorded hour starts.
var Start = time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC)

// Title is the event's title in the recorded hour.
const Title = "Leaders for Leeds: the city after dark"

// The sources of the recorded hour: the configured source names, and
// the network (event.Post.Source) each brings posts from.
var (
	Sources  = []string{"mastodon:mastodon.social", "bluesky:jetstream", "form"}
	Networks = []string{"mastodon", "bluesky", "form"}
	// mean posts a minute from each
	rates = []int{4, 3, 1}
)

// Ledger is what the report must show for the log it came with.
type Ledger struct {
	Minutes int
	// Posts[network][minute] counts arrivals.
	Posts map[string][]int
	// Standing[minute] is held, approved, rejected at the minute's end.
	Standing                                            [][3]int
	Received, Edited, Deleted, Approved, Rejected, Held int
	// Decisions are the arrival-to-decision times by moderator.
	Decisions map[string][]time.Duration
	// Questions: asked (still listed), from the room, read out, answered;
	// the waits to first reading and to answer.
	Asked, FromRoom, ReadOut, Answered int
	ToRead, ToAnswer                   []time.Duration
	// Contributors counts approved, not deleted posts by author id.
	Contributors map[string]int
	// Languages counts received, not deleted posts by primary language.
	Languages map[string]int
	// Outages are the sources' outages, in order: source, state, from, to
	// (zero To: still open at the end).
	Outages []Outage
	// Public and Staff are the screens connected per minute, all nodes.
	Public, Staff []int
}

// Outage is one outage in the ledger.
type Outage struct {
	Source, State string
	From, To      time.Time
}

type item struct {
	at  time.Time
	seq int
	e   event.Entry
}

// Hour returns the recorded hour's log, its positions set, and its ledger.
// The same seed gives the same log.
func Hour(seed uint64) ([]event.Entry, *Ledger) {
	return Event(seed, 60, 1)
}

// Event is Hour for any number of minutes, with the post rates
// multiplied by scale (the benchmark's 10,000-post event).
func Event(seed uint64, minutes, scale int) ([]event.Entry, *Ledger) {
	g := &gen{
		r:   rand.New(rand.NewPCG(seed, 0x5eed)),
		src: rehearsal.New(rehearsal.Config{Name: "rehearsal", Tags: []string{"Leaders4Leeds"}, Seed: int64(seed)}),
		end: Start.Add(time.Duration(minutes) * time.Minute),
		l: &Ledger{Minutes: minutes, Posts: map[string][]int{}, Decisions: map[string][]time.Duration{},
			Contributors: map[string]int{}, Languages: map[string]int{}},
	}
	for _, n := range Networks {
		g.l.Posts[n] = make([]int, minutes)
	}
	g.outages(minutes)
	g.posts(minutes, scale)
	g.screens(minutes)
	g.room()
	return g.finish(minutes)
}

type gen struct {
	r     *rand.Rand
	src   *rehearsal.Source
	end   time.Time
	items []item
	n     uint64
	l     *Ledger
	down  map[string][][2]time.Time // source -> down intervals
	// pending are the posts' changes of standing, in the order made.
	pending []change
}

func (g *gen) add(at time.Time, e event.Entry) {
	if !at.Before(g.end) {
		return // after the recorded hour: never happened
	}
	e.Time = at
	g.items = append(g.items, item{at, len(g.items), e})
}

var (
	ada  = event.Actor{Role: event.RoleModerator, Name: "ada"}
	bryn = event.Actor{Role: event.RoleModerator, Name: "bryn"}
	cara = event.Actor{Role: event.RoleFacilitator, Name: "cara"}
)

// outages: Mastodon down from minute 20 to 27, Bluesky rate-limited from
// 40 to 43 and down from 57 to the end.
func (g *gen) outages(minutes int) {
	g.down = map[string][][2]time.Time{}
	at := func(m, s int) time.Time {
		return Start.Add(time.Duration(m)*time.Minute + time.Duration(s)*time.Second)
	}
	health := func(src, kind string, t time.Time, state, why string) {
		g.add(t, event.Entry{Kind: event.SourceHealth, Actor: event.Actor{Role: event.RoleSource, Name: src},
			SourceHealth: &event.SourceHealthChange{SourceKind: kind, State: state, Error: why}})
	}
	span := func(src, kind, state, why string, from, to time.Time) {
		health(src, kind, from, state, why)
		if to.Before(g.end) {
			health(src, kind, to, "ok", "")
			g.l.Outages = append(g.l.Outages, Outage{src, state, from, to})
		} else {
			g.l.Outages = append(g.l.Outages, Outage{src, state, from, time.Time{}})
		}
		g.down[src] = append(g.down[src], [2]time.Time{from, to})
	}
	if minutes < 60 {
		return
	}
	span(Sources[0], "mastodon", "backing_off", "GET /api/v1/timelines/tag: 503 Service Unavailable", at(20, 10), at(27, 40))
	span(Sources[1], "bluesky", "rate_limited", "429 Too Many Requests", at(40, 0), at(43, 30))
	span(Sources[1], "bluesky", "backing_off", "dial tcp: connection refused", at(57, 15), g.end.Add(time.Hour))
}

func (g *gen) isDown(src int, t time.Time) bool {
	for _, d := range g.down[Sources[src]] {
		if !t.Before(d[0]) && t.Before(d[1]) {
			return true
		}
	}
	return false
}

// posts: each minute, each source brings its posts (none while down);
// the rules reject the spammer's posts on arrival and hold the rest;
// ada (quick) and bryn (slower) decide them, flagging questions; cara
// reads questions out and answers them; now and then a post is edited or
// deleted at its source.
func (g *gen) posts(minutes, scale int) {
	for m := range minutes {
		for si := range Sources {
			k := g.r.IntN(2*rates[si]*scale + 1)
			for range k {
				at := Start.Add(time.Duration(m)*time.Minute + time.Duration(g.r.IntN(60000))*time.Millisecond)
				if g.isDown(si, at) {
					continue
				}
				g.post(si, at, m)
			}
		}
	}
}

func (g *gen) post(si int, at time.Time, m int) {
	g.n++
	p := g.src.Post(g.n, at)
	p.Source, p.SourceName = Networks[si], strings.SplitN(Sources[si], ":", 2)[len(strings.SplitN(Sources[si], ":", 2))-1]
	src := event.Actor{Role: event.RoleSource, Name: Sources[si]}
	v := &event.Verdict{Decision: event.DecisionHold, Rule: "pre-moderation"}
	spam := strings.Contains(p.Author.Handle, "bestdeals4u")
	if spam {
		v = &event.Verdict{Decision: event.DecisionReject, Rule: `blocked word "deals"`}
	}
	g.add(at, event.Entry{Kind: event.PostReceived, Actor: src, PostID: p.ID, Post: &p, Verdict: v})
	g.l.Posts[Networks[si]][m]++
	rec := &postLedger{id: p.ID, at: at, author: p.Author.ID, lang: lang(p.Language), state: "held"}
	if spam {
		rec.state = "rejected"
	}
	g.track(rec, at, "")

	// A post is deleted at its source now and then, five minutes on.
	if g.n%23 == 0 && !p.Question {
		g.add(at.Add(5*time.Minute), event.Entry{Kind: event.PostDeleted, Actor: src, PostID: p.ID})
		g.track(rec, at.Add(5*time.Minute), "deleted")
	}
	if g.n%31 == 0 {
		e := p
		e.EditedAt = at.Add(time.Minute)
		e.Text += " (edited)"
		g.add(e.EditedAt, event.Entry{Kind: event.PostEdited, Actor: src, PostID: p.ID, Post: &e})
		if e.EditedAt.Before(g.end) {
			g.l.Edited++
		}
	}
	if spam {
		return
	}
	who, delay := ada, time.Duration(5+g.r.IntN(55))*time.Second
	if g.r.IntN(3) == 0 {
		who, delay = bryn, time.Duration(20+g.r.IntN(160))*time.Second
	}
	dt := at.Add(delay)
	if !dt.Before(g.end) {
		return // still held at the end
	}
	g.l.Decisions[who.Name] = append(g.l.Decisions[who.Name], delay)
	switch {
	case p.Question:
		g.add(dt, event.Entry{Kind: event.QuestionFlagged, Actor: who, PostID: p.ID})
		g.track(rec, dt, "approved")
		g.l.Asked++
		read := dt.Add(time.Duration(60+g.r.IntN(240)) * time.Second)
		if read.Before(g.end) {
			g.add(read, event.Entry{Kind: event.QuestionReading, Actor: cara, QuestionID: p.ID})
			g.l.ReadOut++
			g.l.ToRead = append(g.l.ToRead, read.Sub(dt))
			ans := read.Add(time.Duration(30+g.r.IntN(150)) * time.Second)
			if ans.Before(g.end) {
				g.add(ans, event.Entry{Kind: event.QuestionAnswered, Actor: cara, QuestionID: p.ID})
				g.l.Answered++
				g.l.ToAnswer = append(g.l.ToAnswer, ans.Sub(dt))
			}
		}
	case g.r.IntN(5) == 0:
		g.add(dt, event.Entry{Kind: event.PostRejected, Actor: who, PostID: p.ID})
		g.track(rec, dt, "rejected")
	default:
		g.add(dt, event.Entry{Kind: event.PostApproved, Actor: who, PostID: p.ID})
		g.track(rec, dt, "approved")
	}
}

// room: a question heard in the room at minute 30, read at 33, answered at 36.
func (g *gen) room() {
	at := Start.Add(30 * time.Minute)
	if !at.Before(g.end) {
		return
	}
	g.add(at, event.Entry{Kind: event.QuestionAdded, Actor: cara, Question: &event.Question{ID: "room-1", Text: "Will the night buses run after the trams stop?", Name: "a resident at the back"}})
	g.add(at.Add(3*time.Minute), event.Entry{Kind: event.QuestionReading, Actor: cara, QuestionID: "room-1"})
	g.add(at.Add(6*time.Minute), event.Entry{Kind: event.QuestionAnswered, Actor: cara, QuestionID: "room-1"})
	g.l.Asked++
	g.l.FromRoom++
	g.l.ReadOut++
	g.l.Answered++
	g.l.ToRead = append(g.l.ToRead, 3*time.Minute)
	g.l.ToAnswer = append(g.l.ToAnswer, 6*time.Minute)
}

// screens: node a samples every minute (walls and phones building up to
// the break at minute 30, then leaving); node b serves from minute 10 to
// 50 and then stops, its last sample standing for one more minute.
func (g *gen) screens(minutes int) {
	g.l.Public, g.l.Staff = make([]int, minutes), make([]int, minutes)
	sample := func(node string, m, pub, mods, facs int) {
		at := Start.Add(time.Duration(m)*time.Minute + 30*time.Second)
		g.add(at, event.Entry{Kind: event.ConnectionsSampled, Actor: event.Actor{Role: event.RoleSystem, Name: "fanout"},
			Connections: &event.Connections{Node: node, Public: pub, Moderators: mods, Facilitators: facs}})
	}
	for m := range minutes {
		mm := m % 60 // longer events repeat the hour
		pub := 2 + 38*min(mm, 60-mm)/30
		sample("a", m, pub, 2, 1)
		g.l.Public[m] += pub
		g.l.Staff[m] += 3
		if m >= 10 && m <= 50 {
			sample("b", m, 20, 1, 0)
			g.l.Public[m] += 20
			g.l.Staff[m]++
			if m == 50 && m+1 < minutes { // stands for the next minute too
				g.l.Public[m+1] += 20
				g.l.Staff[m+1]++
			}
		}
	}
}

type postLedger struct {
	id, author, lang, state string
	at                      time.Time
	deleted                 bool
}

// change is one change of a post's standing at a time, for the ledger's
// per-minute counts.
type change struct {
	at  time.Time
	p   *postLedger
	to  string // "held", "approved", "rejected", "deleted"
	seq int
}

func (g *gen) track(p *postLedger, at time.Time, to string) {
	if !at.Before(g.end) {
		return
	}
	g.pending = append(g.pending, change{at: at, p: p, to: to, seq: len(g.pending)})
}

func lang(l string) string {
	l = strings.ToLower(l)
	if i := strings.IndexAny(l, "-_"); i > 0 {
		l = l[:i]
	}
	if l == "" {
		return "unknown"
	}
	return l
}

// finish orders the entries by time, numbers them, and counts the
// ledger's standing figures by replaying the posts' changes in time order.
func (g *gen) finish(minutes int) ([]event.Entry, *Ledger) {
	slices.SortStableFunc(g.items, func(a, b item) int { return a.at.Compare(b.at) })
	out := make([]event.Entry, len(g.items))
	for i, it := range g.items {
		it.e.Pos = uint64(i + 1)
		out[i] = it.e
	}
	l := g.l
	slices.SortStableFunc(g.pending, func(a, b change) int { return a.at.Compare(b.at) })
	l.Standing = make([][3]int, minutes)
	var cur [3]int // held, approved, rejected
	idx := map[string]int{"held": 0, "approved": 1, "rejected": 2}
	k := 0
	for m := range minutes {
		edge := Start.Add(time.Duration(m+1) * time.Minute)
		for ; k < len(g.pending) && g.pending[k].at.Before(edge); k++ {
			c := g.pending[k]
			p := c.p
			if c.to == "" { // arrival
				l.Received++
				cur[idx[p.state]]++
				continue
			}
			cur[idx[p.state]]--
			if c.to == "deleted" {
				p.deleted = true
				l.Deleted++
				continue
			}
			p.state = c.to
			cur[idx[p.state]]++
		}
		l.Standing[m] = cur
	}
	l.Held, l.Approved, l.Rejected = cur[0], cur[1], cur[2]
	seen := map[*postLedger]bool{}
	for _, c := range g.pending {
		p := c.p
		if seen[p] {
			continue
		}
		seen[p] = true
		if p.deleted {
			continue
		}
		l.Languages[p.lang]++
		if p.state == "approved" {
			l.Contributors[p.author]++
		}
	}
	return out, l
}
