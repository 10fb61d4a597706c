package fold

import (
	"slices"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// t0 is when the test event's log starts; event i is appended at t0 + i minutes.
var t0 = time.Date(2026, 11, 28, 14, 0, 0, 0, time.UTC)

var (
	ada = event.Author{ID: "https://mastodon.social/users/ada", Name: "Ada", Handle: "@ada@mastodon.social"}
	bob = event.Author{ID: "https://troll.example/users/bob", Name: "Bob", Handle: "@bob@troll.example"}
	cat = event.Author{ID: "https://troll.example/users/cat", Name: "Cat", Handle: "@cat@Troll.Example"}
	cy  = event.Author{ID: "did:plc:cy", Name: "Cy", Handle: "cy.bsky.social"}

	moderator   = event.Actor{Role: event.RoleModerator, Name: "mo"}
	moderator2  = event.Actor{Role: event.RoleModerator, Name: "max"}
	facilitator = event.Actor{Role: event.RoleFacilitator, Name: "fay"}
	mastodonSrc = event.Actor{Role: event.RoleSource, Name: "mastodon:mastodon.social"}
)

// uri and id name test posts by a short key ("p1").
func uri(key string) string { return "https://mastodon.social/users/x/statuses/" + key }
func id(key string) string  { return event.PostID(uri(key)) }

func mkPost(key string, a event.Author, text string) event.Post {
	return event.Post{
		ID: id(key), URI: uri(key), Source: "mastodon", SourceName: "mastodon.social",
		Author: a, HTML: "<p>" + text + "</p>", Text: text,
		CreatedAt: t0.Add(-time.Minute),
		Media:     []event.Media{{Kind: "image", URL: "https://files.example/" + key + ".png", Alt: "a picture"}},
	}
}

func received(key string, a event.Author, d event.Decision, rule string) event.Entry {
	p := mkPost(key, a, "hello from "+key)
	e := event.Entry{Kind: event.PostReceived, Actor: mastodonSrc, PostID: p.ID, Post: &p}
	if d != "" {
		e.Verdict = &event.Verdict{Decision: d, Rule: rule}
	}
	return e
}

func pending(key string, a event.Author) event.Entry {
	return received(key, a, event.DecisionHold, "pre-moderation")
}

// edited is an edit with no verdict (as logged before edits were judged,
// or by a sink with no rules): held.
func edited(key string, a event.Author, text string) event.Entry {
	p := mkPost(key, a, text)
	p.EditedAt = t0.Add(time.Hour)
	return event.Entry{Kind: event.PostEdited, Actor: mastodonSrc, PostID: p.ID, Post: &p}
}

// editedV is an edit with the rules' verdict, a new image and an edit
// time of its own.
func editedV(key string, a event.Author, text string, d event.Decision, rule string) event.Entry {
	e := edited(key, a, text)
	e.Post.EditedAt = t0.Add(time.Hour + time.Duration(len(text))*time.Second)
	e.Post.Media = []event.Media{{Kind: "image", URL: "https://files.example/" + key + "-" + text + ".png"}}
	e.Verdict = &event.Verdict{Decision: d, Rule: rule}
	return e
}

func act(k event.Kind, by event.Actor, key string) event.Entry {
	return event.Entry{Kind: k, Actor: by, PostID: id(key)}
}

func deleted(key string) event.Entry { return act(event.PostDeleted, mastodonSrc, key) }

func blockAuthor(a event.Author, until time.Time) event.Entry {
	return event.Entry{Kind: event.AuthorBlocked, Actor: moderator, Block: &event.Block{AuthorID: a.ID, Handle: a.Handle, Until: until}}
}

func blockDomain(d string, until time.Time) event.Entry {
	return event.Entry{Kind: event.AuthorBlocked, Actor: moderator, Block: &event.Block{Domain: d, Until: until}}
}

func qstep(k event.Kind, qid string) event.Entry {
	return event.Entry{Kind: k, Actor: facilitator, QuestionID: qid}
}

func roomQuestion(qid, text string) event.Entry {
	return event.Entry{Kind: event.QuestionAdded, Actor: facilitator, Question: &event.Question{ID: qid, Text: text, Name: "someone at the back"}}
}

// seq gives events log positions 1..n and times t0 + pos minutes, as a log
// would, unless a test set the time itself.
func seq(events ...event.Entry) []event.Entry {
	out := slices.Clone(events)
	for i := range out {
		out[i].Pos = uint64(i + 1)
		if out[i].Time.IsZero() {
			out[i].Time = t0.Add(time.Duration(i+1) * time.Minute)
		}
	}
	return out
}

// at returns e appended at t.
func at(e event.Entry, t time.Time) event.Entry { e.Time = t; return e }

// applyAll folds events one by one and returns the state and every Effect.
func applyAll(t *testing.T, events []event.Entry) (*State, []Effect) {
	t.Helper()
	s := New(SettingsView{Title: "Leaders for Leeds", Moderation: event.ModePre})
	effs := make([]Effect, 0, len(events))
	for _, e := range events {
		effs = append(effs, s.Apply(e))
		checkInvariants(t, s)
	}
	return s, effs
}

func wallIDs(s *State) []string {
	var ids []string
	for _, p := range s.Wall(0).Posts {
		ids = append(ids, p.ID)
	}
	return ids
}

func queueIDs(s *State) []string {
	var ids []string
	for _, p := range s.Queue() {
		ids = append(ids, p.ID)
	}
	return ids
}

func questionIDs(qs []QuestionView) []string {
	var ids []string
	for _, q := range qs {
		ids = append(ids, q.ID)
	}
	return ids
}

func ids(keys ...string) []string {
	var out []string
	for _, k := range keys {
		out = append(out, id(k))
	}
	return out
}

// stateOf is the post's state, or "gone" when no view has it.
func stateOf(s *State, key string) PostState {
	p, ok := s.Post(id(key))
	if !ok {
		return "gone"
	}
	return p.State
}

// checkInvariants asserts what must hold after every event, whatever came
// before: public surfaces hold only approved posts, the question list only
// approved posts' questions, and the counts agree with the views.
func checkInvariants(t *testing.T, s *State) {
	t.Helper()
	w := s.Wall(0)
	seen := map[string]bool{}
	pinnedDone := false
	for _, pp := range w.Posts {
		p, ok := s.Post(pp.ID)
		if !ok || p.State != StateApproved {
			t.Fatalf("pos %d: wall holds post %s in state %q (found %v)", s.Pos(), pp.ID, p.State, ok)
		}
		if seen[pp.ID] {
			t.Fatalf("pos %d: wall holds post %s twice", s.Pos(), pp.ID)
		}
		seen[pp.ID] = true
		if !pp.Pinned {
			pinnedDone = true
		} else if pinnedDone {
			t.Fatalf("pos %d: pinned post %s after an unpinned one", s.Pos(), pp.ID)
		}
		if p.MediaHidden && pp.Media != nil {
			t.Fatalf("pos %d: wall shows hidden media of %s", s.Pos(), pp.ID)
		}
	}
	if w.NowReading != nil {
		if p, ok := s.Post(w.NowReading.ID); ok && p.State != StateApproved {
			t.Fatalf("pos %d: now reading a %s post", s.Pos(), p.State)
		}
	}
	var c Counts
	for _, q := range append(s.Questions(), s.Answered()...) {
		if q.PostID == "" {
			continue
		}
		p, ok := s.Post(q.PostID)
		if !ok || p.State != StateApproved || !p.Question {
			t.Fatalf("pos %d: question %s lists a post in state %q (found %v, question %v)", s.Pos(), q.ID, p.State, ok, p.Question)
		}
	}
	reading := 0
	for _, q := range s.Questions() {
		if q.State == QuestionAnswered {
			t.Fatalf("pos %d: answered question %s in the open list", s.Pos(), q.ID)
		}
		if q.State == QuestionReading {
			reading++
		}
	}
	if reading > 1 {
		t.Fatalf("pos %d: %d questions being read", s.Pos(), reading)
	}
	queued := 0
	for _, p := range s.Queue() {
		if p.State != StatePending && (p.State != StateApproved || p.Edit == nil) {
			t.Fatalf("pos %d: queue holds a %s post (edit waiting: %v)", s.Pos(), p.State, p.Edit != nil)
		}
		queued++
	}
	for _, p := range s.order {
		if p.deleted {
			c.Deleted++
			continue
		}
		if p.rehearsal {
			c.Rehearsal++
		}
		switch p.v.State {
		case StatePending:
			c.Pending++
		case StateApproved:
			c.Approved++
		case StateRejected:
			c.Rejected++
		}
		if p.v.Edit != nil {
			c.Edits++
			if p.v.State != StateApproved {
				t.Fatalf("pos %d: %s post with an edit waiting", s.Pos(), p.v.State)
			}
		}
		if p.v.Pinned {
			c.Pinned++
			if p.v.State != StateApproved {
				t.Fatalf("pos %d: pinned %s post", s.Pos(), p.v.State)
			}
		}
	}
	if len(s.pinned) != c.Pinned {
		t.Fatalf("pos %d: %d posts in the pinned list, %d pinned", s.Pos(), len(s.pinned), c.Pinned)
	}
	c.Received = len(s.order)
	c.Live = s.wentLive
	c.QuestionsOpen = len(s.Questions())
	c.QuestionsAnswered = len(s.Answered())
	if got := s.Counts(); got != c {
		t.Fatalf("pos %d: counts %+v, views say %+v", s.Pos(), got, c)
	}
	if queued != c.Pending+c.Edits {
		t.Fatalf("pos %d: queue holds %d posts, counts say %d pending and %d edits", s.Pos(), queued, c.Pending, c.Edits)
	}
}

// step applies e at the next position and minute, as the log would.
func step(s *State, e event.Entry) Effect {
	e.Pos = s.Pos() + 1
	e.Time = t0.Add(time.Duration(e.Pos) * time.Minute)
	return s.Apply(e)
}
