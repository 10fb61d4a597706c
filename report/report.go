// Package report is the after-the-event report: one more fold of an
// event's log, computing every figure a host shows afterwards (posts per
// minute by source, moderation over time, how long decisions took,
// questions and their waits, top contributors, languages, source outages,
// screens connected) and drawing them as SVG charts. Like the screens'
// fold it reads no clock and no network: the same log gives the same
// report on every node, and its counts are the moderator page's counts,
// because it folds the log through fold.State and reads what each entry
// changed. docs/REPORT.md says what each figure means.
package report

import (
	"slices"
	"strings"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// The vote kinds the report counts. No vote entry exists yet (issue 17
// adds them): until the log holds one, the report says "no votes". A vote
// names its question by QuestionID (or PostID).
const (
	KindVoted   event.Kind = "question.voted"
	KindUnvoted event.Kind = "question.unvoted"
)

// connHold is how long a fan-out node's connections sample stands for
// when no newer one comes: a node samples every minute while anything is
// connected, so a node that stops sampling has stopped serving.
const connHold = 2 // minutes: the sample's own and the next

// Fold folds an event's log into the report's figures. Apply the entries
// in log order; Report reads the figures at any time (live during the
// event, final after it). A Fold is not safe for concurrent use.
type Fold struct {
	st *fold.State

	origin      time.Time // the first entry's minute: minute 0 of the axis
	first, last time.Time // the first and last entry times
	started     bool

	networks []string         // post sources in order of first arrival
	arrivals map[string][]int // network -> posts arrived per minute
	standing []standing       // per minute: the counts at the minute's end
	received int
	edits    int

	posts     map[string]*postRec
	decisions map[string][]time.Duration // who -> arrival-to-decision times
	questions map[string]*qRec
	qorder    []string // question ids in the order first asked
	votes     map[string]int
	voted     bool

	outages []Outage
	open    map[string]int // source -> index in outages of its open outage

	conns map[string][]connSample // node -> its samples in log order
}

type standing struct {
	set bool
	c   fold.Counts
}

type postRec struct {
	seq        int // order of arrival
	receivedAt time.Time
	network    string
	author     event.Author
	lang       string
	state      fold.PostState
	decided    bool // a person's first decision is counted
	deleted    bool
}

type qRec struct {
	id, text, who string
	fromPost      bool
	state         fold.QuestionState
	asked, read   time.Time
	answered      time.Time
}

type connSample struct {
	minute int
	c      event.Connections
}

// New returns the fold of an empty log, with the event's configured
// settings (the title; settings.changed entries override them).
func New(initial fold.SettingsView) *Fold {
	return &Fold{
		st:        fold.New(initial),
		arrivals:  make(map[string][]int),
		posts:     make(map[string]*postRec),
		decisions: make(map[string][]time.Duration),
		questions: make(map[string]*qRec),
		votes:     make(map[string]int),
		open:      make(map[string]int),
		conns:     make(map[string][]connSample),
	}
}

// FoldLog returns the fold of entries, in order.
func FoldLog(initial fold.SettingsView, entries []event.Entry) *Fold {
	f := New(initial)
	for _, e := range entries {
		f.Apply(e)
	}
	return f
}

// Pos returns the position of the last entry applied.
func (f *Fold) Pos() uint64 { return f.st.Pos() }

// minute returns the minute of t on the report's axis, growing the
// per-minute series to hold it. A time before the first entry (another
// appender's clock a little behind) counts in minute 0.
func (f *Fold) minute(t time.Time) int {
	m := 0
	if t.After(f.origin) {
		m = int(t.Sub(f.origin) / time.Minute)
	}
	for len(f.standing) <= m {
		f.standing = append(f.standing, standing{})
	}
	return m
}

// Apply folds e. Entries at or before Pos (repeats) are ignored, as the
// screens' fold ignores them.
func (f *Fold) Apply(e event.Entry) {
	if e.Pos != 0 && e.Pos <= f.st.Pos() {
		return
	}
	if !f.started {
		f.started = true
		f.origin, f.first = e.Time.Truncate(time.Minute), e.Time
	}
	if e.Time.After(f.last) {
		f.last = e.Time
	}
	m := f.minute(e.Time)
	eff := f.st.Apply(e)

	switch e.Kind {
	case event.PostEdited:
		if eff.Applied {
			f.edits++
		}
	case event.SourceHealth:
		f.sourceHealth(e)
	case event.ConnectionsSampled:
		if e.Connections != nil {
			f.conns[e.Connections.Node] = append(f.conns[e.Connections.Node], connSample{m, *e.Connections})
		}
	case KindVoted, KindUnvoted:
		f.vote(e)
	}
	person := e.Actor.Role == event.RoleModerator || e.Actor.Role == event.RoleFacilitator
	for _, pv := range eff.Posts {
		r := f.posts[pv.ID]
		if r == nil || pv.ReceivedPos == e.Pos {
			f.arrive(pv, m)
			continue
		}
		if person && !r.decided && r.state == fold.StatePending && pv.State != fold.StatePending {
			r.decided = true
			who := actorLabel(e.Actor)
			f.decisions[who] = append(f.decisions[who], e.Time.Sub(r.receivedAt))
		}
		r.state = pv.State
	}
	for _, id := range eff.Gone {
		if r := f.posts[id]; r != nil {
			r.deleted = true
		}
	}
	for _, q := range eff.Questions {
		f.question(q)
	}
	for _, id := range eff.QuestionsGone {
		delete(f.questions, id)
		f.qorder = slices.DeleteFunc(f.qorder, func(q string) bool { return q == id })
	}
	f.standing[m] = standing{set: true, c: f.st.Counts()}
}

// arrive records a post new to the log.
func (f *Fold) arrive(pv fold.PostView, m int) {
	f.received++
	network := pv.Source
	if network == "" {
		network = "unknown"
	}
	series, ok := f.arrivals[network]
	if !ok {
		f.networks = append(f.networks, network)
	}
	for len(series) <= m {
		series = append(series, 0)
	}
	series[m]++
	f.arrivals[network] = series
	f.posts[pv.ID] = &postRec{
		seq: f.received, receivedAt: pv.ReceivedAt, network: network, author: pv.Author,
		lang: normLang(pv.Language), state: pv.State,
		// A post the rules or a block decided on arrival waited for nobody.
		decided: pv.State != fold.StatePending,
	}
}

func (f *Fold) question(q fold.QuestionView) {
	r := f.questions[q.ID]
	if r == nil {
		r = &qRec{id: q.ID, fromPost: q.PostID != "", asked: q.AskedAt}
		f.questions[q.ID] = r
		f.qorder = append(f.qorder, q.ID)
	}
	r.text, r.state = q.Text, q.State
	r.who = q.Name
	if r.who == "" {
		r.who = q.Author.Name
	}
	if r.read.IsZero() && !q.ReadAt.IsZero() {
		r.read = q.ReadAt // the first time it was read out
	}
	r.answered = q.AnsweredAt // zero again when reopened
}

func (f *Fold) vote(e event.Entry) {
	id := e.QuestionID
	if id == "" {
		id = e.PostID
	}
	if id == "" {
		return
	}
	f.voted = true
	if e.Kind == KindVoted {
		f.votes[id]++
	} else if f.votes[id] > 0 {
		f.votes[id]--
	}
}

// sourceHealth opens and closes the source's outages: backing off and
// rate-limited are outages (of their own kind each); any other state ends
// the open one.
func (f *Fold) sourceHealth(e event.Entry) {
	h := e.SourceHealth
	if h == nil {
		return
	}
	src := e.Actor.Name
	i, isOpen := f.open[src]
	if isOpen && f.outages[i].State == h.State {
		return // still the same outage
	}
	if isOpen {
		f.outages[i].To = e.Time
		delete(f.open, src)
	}
	switch h.State {
	case StateBackingOff, StateRateLimited:
		f.open[src] = len(f.outages)
		f.outages = append(f.outages, Outage{Source: src, SourceKind: h.SourceKind, State: h.State, From: e.Time, Error: h.Error})
	}
}

// The source states that are outages (ingest.StateBackingOff and
// ingest.StateRateLimited; the report does not import ingest).
const (
	StateBackingOff  = "backing_off"
	StateRateLimited = "rate_limited"
)

// actorLabel names who decided, as the report lists them.
func actorLabel(a event.Actor) string {
	if a.Name != "" {
		return a.Name
	}
	return string(a.Role) + " (shared passphrase)"
}

// normLang folds a post's language tag to its primary subtag ("en-GB" to
// "en"), "" to "unknown".
func normLang(l string) string {
	l = strings.ToLower(strings.TrimSpace(l))
	if i := strings.IndexAny(l, "-_"); i > 0 {
		l = l[:i]
	}
	if l == "" {
		return "unknown"
	}
	return l
}
