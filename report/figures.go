package report

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Report is every figure of the report page, as of one log position.
type Report struct {
	Title string
	// Pos is the log position the figures reflect.
	Pos uint64
	// From and To are the first and last entry times: the report's span.
	From, To time.Time
	// Step is the width of one bucket of the time charts; Buckets are
	// their starts, the first at From's minute.
	Step    time.Duration
	Buckets []time.Time

	Totals Totals
	// Networks are the posts' sources (event.Post.Source: "mastodon",
	// "bluesky", "form", ...), the busiest first; Posts[i][b] counts the
	// posts from Networks[i] that arrived in bucket b.
	Networks []string
	Posts    [][]int
	// Standing is the moderation counts at the end of each bucket: held
	// (waiting in the queue), approved and rejected, as the moderator page
	// counted them then.
	Standing []Standing
	// Decisions is how long posts waited from arrival to a person's first
	// decision: everyone first ("all"), then each moderator, busiest first.
	Decisions []DecisionTimes
	Questions Questions
	// Contributors are the authors with the most approved posts (at most
	// TopContributors), most first.
	Contributors []Contributor
	// Languages count the posts received (and not deleted) by language,
	// most first.
	Languages []Language
	// Outages are the sources' outages and rate-limit pauses, by start.
	Outages []Outage
	Screens Screens
}

// TopContributors is how many contributors the report lists.
const TopContributors = 10

// Totals are the whole event's counts.
type Totals struct {
	Received int // posts that arrived, deleted ones included
	Edited   int // edits at the source
	Deleted  int // posts deleted at their source
	Approved int // approved now
	Rejected int // rejected now
	Held     int // waiting in the queue now
	Authors  int // distinct authors of posts received
}

// Standing is the moderation counts at one moment.
type Standing struct {
	Held, Approved, Rejected int
}

// DecisionTimes summarise one moderator's (or everyone's) decisions.
type DecisionTimes struct {
	Who string
	// Decided counts the posts whose first decision by a person was theirs.
	Decided int
	Median  time.Duration
	P95     time.Duration
}

// Questions are the questions' figures.
type Questions struct {
	Asked    int // questions in the lists now (from posts and from the room)
	FromRoom int // of which heard in the room
	ReadOut  int // read out at least once
	Answered int // answered now
	Open     int // not answered
	// WaitRead is from asked to first read out; WaitAnswer from asked to
	// answered.
	WaitRead, WaitAnswer Wait
	// Voted is false while the log holds no vote at all; Votes then is 0
	// and the page says "no votes".
	Voted bool
	Votes int
	// AskedPer and AnsweredPer count per bucket.
	AskedPer, AnsweredPer []int
	// List is every question, in the order asked.
	List []QuestionLine
}

// Wait summarises waiting times.
type Wait struct {
	N           int
	Median, P95 time.Duration
}

// QuestionLine is one question as the report lists it.
type QuestionLine struct {
	ID, Text, Who string
	FromRoom      bool
	State         string
	AskedAt       time.Time
	ReadAt        time.Time // first read out; zero if never
	AnsweredAt    time.Time // zero if not answered
	Votes         int
}

// Contributor is an author and their approved posts.
type Contributor struct {
	// ID is the author's global identity (event.Author.ID).
	ID                    string
	Name, Handle, Network string
	Approved              int
}

// Language is a language and its posts.
type Language struct {
	Code  string
	Posts int
}

// Outage is a time a source was down (backing off after a failure) or
// paused by the server's rate limit.
type Outage struct {
	Source     string // the configured source's name
	SourceKind string
	State      string // StateBackingOff or StateRateLimited
	From, To   time.Time
	// Open is set when the outage had not ended by the last entry: To is
	// then the report's end.
	Open  bool
	Error string // why, as the source first reported it
}

// Duration is how long the outage lasted.
func (o Outage) Duration() time.Duration { return o.To.Sub(o.From) }

// Screens are the connected screens per bucket, summed over the fan-out
// nodes, and their peaks.
type Screens struct {
	// Recorded is false when the log holds no connection samples (nodes
	// older than the report, or a role that serves no screens).
	Recorded bool
	// Public counts walls, participant pages and overlays (they share the
	// public socket); Staff moderators and facilitators. The busiest
	// minute of each bucket.
	Public, Staff []int
	PeakPublic    int
	PeakPublicAt  time.Time
	PeakStaff     int
	PeakStaffAt   time.Time
}

// steps are the bucket widths the time charts use, the narrowest that
// keeps a chart to maxBuckets bars.
var steps = []int{1, 2, 5, 10, 15, 30, 60, 120, 240, 480, 1440}

const maxBuckets = 120

// Report computes the figures as of the last entry applied.
func (f *Fold) Report() Report {
	r := Report{Title: f.st.Settings().Title, Pos: f.st.Pos(), From: f.first, To: f.last}
	minutes := max(len(f.standing), 1)
	step := steps[len(steps)-1]
	for _, s := range steps {
		if (minutes+s-1)/s <= maxBuckets {
			step = s
			break
		}
	}
	nb := (minutes + step - 1) / step
	r.Step = time.Duration(step) * time.Minute
	r.Buckets = make([]time.Time, nb)
	for b := range r.Buckets {
		r.Buckets[b] = f.origin.Add(time.Duration(b) * r.Step)
	}
	bucket := func(t time.Time) int {
		if !t.After(f.origin) {
			return 0
		}
		return min(int(t.Sub(f.origin)/r.Step), nb-1)
	}

	// Posts per bucket by network, busiest network first.
	totals := make(map[string]int, len(f.networks))
	for _, n := range f.networks {
		for _, c := range f.arrivals[n] {
			totals[n] += c
		}
	}
	r.Networks = slices.Clone(f.networks)
	slices.SortStableFunc(r.Networks, func(a, b string) int { return cmp.Compare(totals[b], totals[a]) })
	for _, n := range r.Networks {
		row := make([]int, nb)
		for m, c := range f.arrivals[n] {
			row[m/step] += c
		}
		r.Posts = append(r.Posts, row)
	}

	// The moderation counts at each bucket's end: the last minute set.
	r.Standing = make([]Standing, nb)
	var cur Standing
	for m := range nb * step {
		if m < len(f.standing) && f.standing[m].set {
			c := f.standing[m].c
			cur = Standing{Held: c.Pending, Approved: c.Approved, Rejected: c.Rejected}
		}
		if (m+1)%step == 0 || m == nb*step-1 {
			r.Standing[m/step] = cur
		}
	}
	c := f.st.Counts()
	r.Totals = Totals{Received: f.received, Edited: f.edits, Deleted: c.Deleted,
		Approved: c.Approved, Rejected: c.Rejected, Held: c.Pending}

	r.Decisions = f.decisionTimes()
	r.Questions = f.questionFigures(nb, bucket)
	r.Contributors, r.Languages, r.Totals.Authors = f.people()

	r.Outages = slices.Clone(f.outages)
	for _, i := range f.open {
		r.Outages[i].To, r.Outages[i].Open = f.last, true
	}
	r.Screens = f.screens(nb, step)
	return r
}

func (f *Fold) decisionTimes() []DecisionTimes {
	var all []time.Duration
	out := []DecisionTimes{}
	for who, ds := range f.decisions {
		all = append(all, ds...)
		out = append(out, summarise(who, ds))
	}
	slices.SortFunc(out, func(a, b DecisionTimes) int {
		if c := cmp.Compare(b.Decided, a.Decided); c != 0 {
			return c
		}
		return cmp.Compare(a.Who, b.Who)
	})
	if len(all) == 0 {
		return nil
	}
	return append([]DecisionTimes{summarise("all", all)}, out...)
}

func summarise(who string, ds []time.Duration) DecisionTimes {
	w := wait(ds)
	return DecisionTimes{Who: who, Decided: w.N, Median: w.Median, P95: w.P95}
}

// wait returns the count, median and 95th percentile of ds. The median
// of an even count is the mean of the two middle values; the 95th
// percentile is the nearest rank (the smallest value that at least 95%
// of the values do not exceed).
func wait(ds []time.Duration) Wait {
	n := len(ds)
	if n == 0 {
		return Wait{}
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	rank := int(math.Ceil(0.95*float64(n))) - 1
	return Wait{N: n, Median: med, P95: s[max(rank, 0)]}
}

func (f *Fold) questionFigures(nb int, bucket func(time.Time) int) Questions {
	q := Questions{Voted: f.voted, AskedPer: make([]int, nb), AnsweredPer: make([]int, nb)}
	var toRead, toAnswer []time.Duration
	for _, id := range f.qorder {
		r := f.questions[id]
		q.Asked++
		q.AskedPer[bucket(r.asked)]++
		if !r.fromPost {
			q.FromRoom++
		}
		if !r.read.IsZero() {
			q.ReadOut++
			toRead = append(toRead, r.read.Sub(r.asked))
		}
		if r.state == "answered" {
			q.Answered++
			q.AnsweredPer[bucket(r.answered)]++
			toAnswer = append(toAnswer, r.answered.Sub(r.asked))
		} else {
			q.Open++
		}
		v := f.votes[id]
		q.Votes += v
		q.List = append(q.List, QuestionLine{ID: id, Text: r.text, Who: r.who, FromRoom: !r.fromPost,
			State: string(r.state), AskedAt: r.asked, ReadAt: r.read, AnsweredAt: r.answered, Votes: v})
	}
	q.WaitRead, q.WaitAnswer = wait(toRead), wait(toAnswer)
	return q
}

func (f *Fold) people() ([]Contributor, []Language, int) {
	type author struct {
		Contributor
		first int // order of first post, to break ties
	}
	authors := map[string]*author{}
	langs := map[string]int{}
	seen := map[string]bool{}
	i := 0
	for _, p := range f.postsInOrder() {
		i++
		key := p.author.ID
		if key == "" {
			key = p.author.Handle + "|" + p.author.Name
		}
		seen[key] = true
		if p.deleted {
			continue
		}
		langs[p.lang]++
		if p.state != "approved" {
			continue
		}
		a := authors[key]
		if a == nil {
			name := p.author.Name
			if name == "" {
				name = p.author.Handle
			}
			a = &author{Contributor: Contributor{ID: p.author.ID, Name: name, Handle: p.author.Handle, Network: p.network}, first: i}
			authors[key] = a
		}
		a.Approved++
	}
	all := make([]*author, 0, len(authors))
	for _, a := range authors {
		all = append(all, a)
	}
	slices.SortFunc(all, func(a, b *author) int {
		if c := cmp.Compare(b.Approved, a.Approved); c != 0 {
			return c
		}
		return cmp.Compare(a.first, b.first)
	})
	var top []Contributor
	for _, a := range all[:min(len(all), TopContributors)] {
		top = append(top, a.Contributor)
	}
	var ls []Language
	for code, n := range langs {
		ls = append(ls, Language{Code: code, Posts: n})
	}
	slices.SortFunc(ls, func(a, b Language) int {
		if c := cmp.Compare(b.Posts, a.Posts); c != 0 {
			return c
		}
		return cmp.Compare(a.Code, b.Code)
	})
	return top, ls, len(seen)
}

// postsInOrder returns the posts in the order they arrived (the fold's
// map has none), for deterministic ties.
func (f *Fold) postsInOrder() []*postRec {
	out := make([]*postRec, 0, len(f.posts))
	for _, p := range f.posts {
		out = append(out, p)
	}
	slices.SortFunc(out, func(a, b *postRec) int { return cmp.Compare(a.seq, b.seq) })
	return out
}

// screens sums the nodes' samples per minute (each standing for its
// minute and the next, until the node's next sample) and keeps each
// bucket's busiest minute.
func (f *Fold) screens(nb, step int) Screens {
	s := Screens{Recorded: len(f.conns) > 0}
	if !s.Recorded {
		return s
	}
	minutes := nb * step
	pub, staff := make([]int, minutes), make([]int, minutes)
	for _, samples := range f.conns {
		for i, smp := range samples {
			end := smp.minute + connHold - 1
			if i+1 < len(samples) {
				end = min(end, samples[i+1].minute-1)
			}
			for m := smp.minute; m <= end && m < minutes; m++ {
				pub[m] += smp.c.Public
				staff[m] += smp.c.Moderators + smp.c.Facilitators
			}
		}
	}
	s.Public, s.Staff = make([]int, nb), make([]int, nb)
	for m := range minutes {
		b := m / step
		s.Public[b] = max(s.Public[b], pub[m])
		s.Staff[b] = max(s.Staff[b], staff[m])
		at := f.origin.Add(time.Duration(m) * time.Minute)
		if pub[m] > s.PeakPublic {
			s.PeakPublic, s.PeakPublicAt = pub[m], at
		}
		if staff[m] > s.PeakStaff {
			s.PeakStaff, s.PeakStaffAt = staff[m], at
		}
	}
	return s
}
