package fold

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// genEvents turns a stream of bytes into a sequence of events over a few
// posts, authors and questions, so random sequences hit the same post many
// times and in every order. next returns the next byte, 0 when exhausted.
func genEvents(n int, next func() byte) []event.Entry {
	keys := []string{"p1", "p2", "p3", "p4", "p5"}
	authors := []event.Author{ada, bob, cat, cy}
	actors := []event.Actor{moderator, moderator2, facilitator, {Role: event.RoleSystem}}
	qids := func() string {
		if b := next() % 4; b < 3 {
			return id(keys[b])
		}
		return "r1"
	}
	var out []event.Entry
	for i := 0; i < n; i++ {
		pos := uint64(i + 1)
		key := keys[int(next())%len(keys)]
		a := authors[int(next())%len(authors)]
		by := actors[int(next())%len(actors)]
		var e event.Entry
		switch k := event.Kinds[int(next())%len(event.Kinds)]; k {
		case event.PostReceived:
			e = received(key, a, []event.Decision{"", event.DecisionHold, event.DecisionApprove, event.DecisionReject}[next()%4], "rule")
			switch next() % 4 {
			case 0:
				e.Post.Source = event.SourceRehearsal
			case 1:
				e.Post.Source = SourceForm
			}
		case event.PostEdited:
			text := "edit " + string(rune('a'+next()%26))
			if d := next() % 4; d == 0 {
				e = edited(key, a, text) // logged before edits were judged
			} else {
				e = editedV(key, a, text, []event.Decision{event.DecisionHold, event.DecisionApprove, event.DecisionReject}[d-1], "rule")
			}
		case event.PostDeleted:
			e = deleted(key)
		case event.PostRedacted:
			// Words of the posts and edits below, in other cases and spacing.
			words := []string{"hello", "FROM  " + key, "edit", "p2", "Hello from", "nothing here"}
			e = act(k, moderator, key)
			e.Redact = []string{words[int(next())%len(words)]}
		case event.PostRevised:
			e = act(k, moderator, key)
			text := "revised " + string(rune('a'+next()%3))
			e.Revision = &event.Revision{Text: text, HTML: "<p>" + text + "</p>"}
		case event.AuthorBlocked, event.AuthorUnblocked:
			b := &event.Block{AuthorID: a.ID, Handle: a.Handle}
			if next()%3 == 0 {
				b = &event.Block{Domain: a.Domain()}
				if b.Domain == "" {
					b.Domain = "troll.example"
				}
			}
			if next()%2 == 0 {
				b.Until = t0.Add(time.Duration(pos+uint64(next()%8)) * time.Minute)
			}
			e = event.Entry{Kind: k, Actor: by, Block: b}
		case event.QuestionAdded:
			e = roomQuestion("r1", "a question from the room")
			e.Actor = by
		case event.QuestionReordered:
			e = event.Entry{Kind: k, Actor: by, Order: []string{qids(), qids(), qids()}}
		case event.QuestionNoted:
			e = qstep(k, qids())
			e.Note = "note"
		case event.QuestionReading, event.QuestionAnswered, event.QuestionReopened:
			e = qstep(k, qids())
		case event.StageMessage:
			e = event.Entry{Kind: k, Actor: by, Message: "hurry"}
		case event.StageRead:
			e = event.Entry{Kind: k, Actor: by, Ref: 1 + uint64(next())%pos}
		case event.EventWentLive:
			e = event.Entry{Kind: k, Actor: by}
		case event.SettingsChanged:
			e = event.Entry{Kind: k, Actor: by, Settings: &event.Settings{Title: ptr("t" + string(rune('a'+next()%3))), Display: map[string]string{"theme": []string{"", "dark", "light"}[next()%3]}}}
		default: // the post decisions and question flags
			e = act(k, by, key)
			e.Was = []string{"", "", "pending", "approved", "rejected"}[next()%5]
		}
		e.Pos, e.Time = pos, t0.Add(time.Duration(pos)*time.Minute)
		out = append(out, e)
	}
	return out
}

// client is a screen that starts empty and keeps itself up to date from
// Effects alone, as the fan-out's clients do.
type client struct {
	wall       map[string]PublicPost
	nowReading *PublicQuestion
	posts      map[string]PostView
	questions  map[string]QuestionView
}

func newClient() *client {
	return &client{wall: map[string]PublicPost{}, posts: map[string]PostView{}, questions: map[string]QuestionView{}}
}

func (c *client) apply(eff Effect) {
	if w := eff.Wall; w != nil {
		for _, p := range w.Upsert {
			c.wall[p.ID] = p
		}
		for _, id := range w.Remove {
			delete(c.wall, id)
		}
		if w.NowReadingChanged {
			c.nowReading = w.NowReading
		}
	}
	for _, p := range eff.Posts {
		c.posts[p.ID] = p
	}
	for _, id := range eff.Gone {
		delete(c.posts, id)
	}
	for _, q := range eff.Questions {
		c.questions[q.ID] = q
	}
	for _, id := range eff.QuestionsGone {
		delete(c.questions, id)
	}
}

// checkSequence folds events one by one, checking the invariants and that a
// client fed only Effects agrees with the state after every event, then
// that Fold of the whole log and of a prefix plus the rest agree.
func checkSequence(t *testing.T, events []event.Entry) {
	t.Helper()
	s := New(SettingsView{Title: "T", Moderation: event.ModePre})
	c := newClient()
	pv := passedVersions{}
	for _, e := range events {
		pv.note(s, e)
		eff := s.Apply(e)
		pv.noteAfter(s, e)
		checkInvariants(t, s)
		pv.check(t, e, s, eff)
		checkRedacted(t, e, s, eff)
		if eff.Wall != nil {
			for _, p := range eff.Wall.Upsert {
				if v, ok := s.Post(p.ID); !ok || v.State != StateApproved {
					t.Fatalf("%s: wall effect carries a %q post", e.String(), v.State)
				}
			}
		}
		if !eff.Applied && (eff.Wall != nil || eff.Posts != nil || eff.Gone != nil || eff.Questions != nil || eff.QuestionsGone != nil) {
			t.Fatalf("%s: not applied but effect %+v", e.String(), eff)
		}
		c.apply(eff)
		checkClient(t, e, s, c)
	}
	whole := Fold(SettingsView{Title: "T", Moderation: event.ModePre}, events)
	if !reflect.DeepEqual(snapshotOf(whole), snapshotOf(s)) {
		t.Fatalf("Fold differs from applying one by one")
	}
	half := Fold(SettingsView{Title: "T", Moderation: event.ModePre}, events[:len(events)/2])
	for _, e := range events[len(events)/2:] {
		half.Apply(e)
	}
	if !reflect.DeepEqual(snapshotOf(half), snapshotOf(s)) {
		t.Fatalf("folding in two parts differs from folding at once")
	}
}

// passedVersions are, per post id, the versions a rule or a moderator
// passed: what arrived or was edited with an approve verdict on a post
// on the wall, what a moderator approved, pinned or flagged in the queue
// (the pending post, or the edit waiting). A public surface may carry no
// other.
type passedVersions map[string][]event.Post

// note records what e passes, from the state before it is applied.
func (pv passedVersions) note(s *State, e event.Entry) {
	approve := e.Verdict != nil && e.Verdict.Decision == event.DecisionApprove
	switch e.Kind {
	case event.PostReceived:
		if e.Post != nil && s.posts[e.Post.ID] == nil && approve {
			pv[e.Post.ID] = append(pv[e.Post.ID], *e.Post)
		}
	case event.PostEdited:
		if p, ok := s.Post(postIDOf(e)); ok && p.State == StateApproved && approve {
			// Shown with the post's redactions applied: that is passed too.
			r, _ := redactPost(*e.Post, redactionRE(p.Redactions))
			pv[p.ID] = append(pv[p.ID], *e.Post, r)
		}
	case event.PostApproved, event.PostPinned, event.QuestionFlagged:
		p, ok := s.Post(e.PostID)
		switch {
		case !ok:
		case p.State == StatePending, p.State == StateRejected && e.Kind == event.PostApproved:
			pv[p.ID] = append(pv[p.ID], p.Post)
		case p.Edit != nil && e.Kind == event.PostApproved:
			pv[p.ID] = append(pv[p.ID], *p.Edit)
		}
	}
}

// noteAfter records what a moderator's redaction or revision passes, from
// the state after it: the passed versions with the post's redactions
// applied (a redaction is part of the passed version), and the text the
// moderator wrote.
func (pv passedVersions) noteAfter(s *State, e event.Entry) {
	p, ok := s.Post(e.PostID)
	if !ok {
		return
	}
	switch e.Kind {
	case event.PostRedacted:
		re := redactionRE(p.Redactions)
		for _, v := range pv[p.ID] {
			if r, hit := redactPost(v, re); hit {
				pv[p.ID] = append(pv[p.ID], r)
			}
		}
	case event.PostRevised:
		if p.Post.Revised && p.State == StateApproved {
			pv[p.ID] = append(pv[p.ID], p.Post)
		}
	}
}

// passed reports whether a public surface may show text, html and media
// (nil when hidden) of post id.
func (pv passedVersions) passed(id, text, html string, media []event.Media) bool {
	for _, v := range pv[id] {
		if v.Text == text && v.HTML == html && (media == nil || reflect.DeepEqual(media, v.Media)) {
			return true
		}
	}
	return false
}

func (pv passedVersions) check(t *testing.T, e event.Entry, s *State, eff Effect) {
	t.Helper()
	w := s.Wall(0)
	posts := w.Posts
	if eff.Wall != nil {
		posts = append(slices.Clone(posts), eff.Wall.Upsert...)
	}
	for _, p := range posts {
		if !pv.passed(p.ID, p.Text, p.HTML, p.Media) {
			t.Fatalf("after %s: a public surface shows %q of %s, which nobody passed", e.String(), p.Text, p.ID)
		}
	}
	var qs []QuestionView
	for _, q := range append(s.Questions(), s.Answered()...) {
		if q.PostID != "" {
			qs = append(qs, q)
		}
	}
	for _, q := range qs {
		if !pv.passed(q.PostID, q.Text, q.HTML, nil) {
			t.Fatalf("after %s: question %s reads %q, which nobody passed", e.String(), q.ID, q.Text)
		}
	}
	if nr := w.NowReading; nr != nil && s.questions[nr.ID] != nil && s.questions[nr.ID].PostID != "" && !pv.passed(nr.ID, nr.Text, nr.HTML, nil) {
		t.Fatalf("after %s: now reading %q, which nobody passed", e.String(), nr.Text)
	}
}

func checkClient(t *testing.T, e event.Entry, s *State, c *client) {
	t.Helper()
	w := s.Wall(0)
	want := map[string]PublicPost{}
	for _, p := range w.Posts {
		want[p.ID] = p
	}
	if !reflect.DeepEqual(want, c.wall) {
		t.Fatalf("after %s: wall from effects %v, state's wall %v", e.String(), keysOf(c.wall), keysOf(want))
	}
	if !reflect.DeepEqual(w.NowReading, c.nowReading) {
		t.Fatalf("after %s: now reading from effects %+v, state %+v", e.String(), c.nowReading, w.NowReading)
	}
	posts := map[string]PostView{}
	for _, p := range s.order {
		if v, ok := s.Post(p.v.ID); ok {
			posts[v.ID] = v
		}
	}
	if !reflect.DeepEqual(posts, c.posts) {
		t.Fatalf("after %s: moderator posts from effects differ from the state's", e.String())
	}
	qs := map[string]QuestionView{}
	for _, q := range append(s.Questions(), s.Answered()...) {
		qs[q.ID] = q
	}
	if !reflect.DeepEqual(qs, c.questions) {
		t.Fatalf("after %s: questions from effects %v, state's %v", e.String(), keysOf(c.questions), keysOf(qs))
	}
}

func keysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

type allViews struct {
	Wall      Wall
	Queue     []PostView
	Approved  []PostView
	Questions []QuestionView
	Answered  []QuestionView
	Audit     []AuditEntry
	Counts    Counts
	Blocks    []BlockView
	Stage     []StageMessageView
	Settings  SettingsView
}

func snapshotOf(s *State) allViews {
	return allViews{
		Wall: s.Wall(0), Queue: s.Queue(), Approved: s.Approved(), Questions: s.Questions(),
		Answered: s.Answered(), Audit: s.Audit(0), Counts: s.Counts(), Blocks: s.Blocks(t0.Add(30 * time.Minute)),
		Stage: s.StageMessages(0), Settings: s.Settings(),
	}
}

// TestRandomSequences folds a few hundred random sequences of events over
// a handful of posts: the public wall never holds a pending, rejected or
// deleted post, Effects alone rebuild every view, and the fold is
// deterministic.
func TestRandomSequences(t *testing.T) {
	r := rand.New(rand.NewPCG(2026, 11))
	next := func() byte { return byte(r.Uint32()) }
	for i := 0; i < 300; i++ {
		checkSequence(t, genEvents(60, next))
	}
}

// FuzzFold checks the same properties on sequences the fuzzer chooses.
func FuzzFold(f *testing.F) {
	f.Add([]byte("seed: the bytes choose posts, authors and kinds"))
	f.Add([]byte{0, 0, 0, 0, 1, 0, 0, 3, 0, 0, 0, 12, 0, 0, 0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		i := 0
		next := func() byte {
			if i >= len(data) {
				return 0
			}
			i++
			return data[i-1]
		}
		checkSequence(t, genEvents(min(len(data)/4+1, 120), next))
	})
}
