package event_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

var (
	moderator = event.Actor{Role: event.RoleModerator, Name: "ada"}
	source    = event.Actor{Role: event.RoleSource, Name: "mastodon:mastodon.social"}
)

// post is a post that Post.Validate takes.
func post(uri string) *event.Post {
	return &event.Post{ID: event.PostID(uri), URI: uri, Source: "mastodon", Text: "hello", HTML: "<p>hello</p>"}
}

func ptr[T any](v T) *T { return &v }

// entryCase is one Entry.Validate case: want is "" for a valid entry, or
// words the refusal's message must contain.
type entryCase struct {
	name string
	e    event.Entry
	want string
}

// entryCases cover every kind's required fields and every refusal of
// Entry.Validate and of the payloads' Validate methods it calls.
func entryCases() []entryCase {
	p := post("https://mastodon.social/users/ada/statuses/1")
	noURI := *p
	noURI.URI = ""
	wrongID := *p
	wrongID.ID = "0123"
	noSource := *p
	noSource.Source = ""

	cases := []entryCase{
		// The report's inputs.
		{"source health", event.Entry{Kind: event.SourceHealth, Actor: source, SourceHealth: &event.SourceHealthChange{State: "backing_off", Error: "503"}}, ""},
		{"source health without state", event.Entry{Kind: event.SourceHealth, Actor: source, SourceHealth: &event.SourceHealthChange{}}, "source.health: source_health with a state"},
		{"connections", event.Entry{Kind: event.ConnectionsSampled, Actor: event.Actor{Role: event.RoleSystem}, Connections: &event.Connections{Node: "a", Public: 3}}, ""},
		{"connections below zero", event.Entry{Kind: event.ConnectionsSampled, Actor: event.Actor{Role: event.RoleSystem}, Connections: &event.Connections{Node: "a", Public: -1}}, "connections.sampled: connections with a node name"},

		// What every entry needs.
		{"unknown kind", event.Entry{Kind: "post.liked", Actor: moderator, PostID: p.ID}, `unknown event kind "post.liked"`},
		{"no kind", event.Entry{Actor: moderator}, `unknown event kind ""`},
		{"unknown role", event.Entry{Kind: event.PostApproved, Actor: event.Actor{Role: "admin"}, PostID: p.ID}, `post.approved: unknown actor role "admin"`},
		{"no role", event.Entry{Kind: event.PostApproved, PostID: p.ID}, `unknown actor role ""`},

		// post.received and post.edited carry the post.
		{"received", event.Entry{Kind: event.PostReceived, Actor: source, Post: p}, ""},
		{"received with its verdict", event.Entry{Kind: event.PostReceived, Actor: source, Post: p,
			Verdict: &event.Verdict{Decision: event.DecisionHold, Rule: "pre-moderation"}}, ""},
		{"received with its post_id", event.Entry{Kind: event.PostReceived, Actor: source, Post: p, PostID: p.ID}, ""},
		{"received without post", event.Entry{Kind: event.PostReceived, Actor: source}, "post.received: post is required"},
		{"received without uri", event.Entry{Kind: event.PostReceived, Actor: source, Post: &noURI}, "post: uri is required"},
		{"received with an id not of its uri", event.Entry{Kind: event.PostReceived, Actor: source, Post: &wrongID}, `post: id "0123" is not PostID(uri)`},
		{"received without source", event.Entry{Kind: event.PostReceived, Actor: source, Post: &noSource}, "source is required"},
		{"received with another post_id", event.Entry{Kind: event.PostReceived, Actor: source, Post: p, PostID: "other"},
			`post.received: post_id "other" does not match post.id`},
		{"received with an unknown decision", event.Entry{Kind: event.PostReceived, Actor: source, Post: p,
			Verdict: &event.Verdict{Decision: "maybe"}}, `verdict: unknown decision "maybe"`},
		{"edited", event.Entry{Kind: event.PostEdited, Actor: source, Post: p}, ""},
		// An edit is judged like an arrival: the fold reads its verdict.
		{"edited with a verdict", event.Entry{Kind: event.PostEdited, Actor: source, Post: p, Verdict: &event.Verdict{Decision: event.DecisionHold, Rule: "pre-moderation"}}, ""},
		{"edited with an unknown decision", event.Entry{Kind: event.PostEdited, Actor: source, Post: p, Verdict: &event.Verdict{Decision: "maybe"}}, `verdict: unknown decision "maybe"`},
		{"edited without post", event.Entry{Kind: event.PostEdited, Actor: source}, "post.edited: post is required"},
		{"edited without uri", event.Entry{Kind: event.PostEdited, Actor: source, Post: &noURI}, "post: uri is required"},
		{"edited with another post_id", event.Entry{Kind: event.PostEdited, Actor: source, Post: p, PostID: "other"}, "does not match"},

		// post.withdrawn names the post and says why; the new version is optional.
		{"withdrawn", event.Entry{Kind: event.PostWithdrawn, Actor: source, PostID: p.ID, Reason: "edited to remove #OurDay"}, ""},
		{"withdrawn with the new version", event.Entry{Kind: event.PostWithdrawn, Actor: source, PostID: p.ID, Post: p, Reason: "edited to remove #OurDay"}, ""},
		{"withdrawn without post_id", event.Entry{Kind: event.PostWithdrawn, Actor: source, Reason: "edited"}, "post.withdrawn: post_id is required"},
		{"withdrawn without reason", event.Entry{Kind: event.PostWithdrawn, Actor: source, PostID: p.ID, Reason: " "}, "post.withdrawn: reason is required"},
		{"withdrawn with another post", event.Entry{Kind: event.PostWithdrawn, Actor: source, PostID: "other", Post: p, Reason: "edited"}, "does not match"},

		// author.blocked and author.unblocked carry a block naming exactly one thing.
		{"blocked without block", event.Entry{Kind: event.AuthorBlocked, Actor: moderator}, "author.blocked: block is required"},
		{"unblocked without block", event.Entry{Kind: event.AuthorUnblocked, Actor: moderator}, "author.unblocked: block is required"},
		{"block naming nobody", event.Entry{Kind: event.AuthorBlocked, Actor: moderator, Block: &event.Block{Handle: "@ada"}}, "exactly one of author_id and domain"},
		{"block naming two things", event.Entry{Kind: event.AuthorBlocked, Actor: moderator,
			Block: &event.Block{AuthorID: "https://spam.example/users/x", Domain: "spam.example"}}, "exactly one of author_id and domain"},
		{"author blocked", event.Entry{Kind: event.AuthorBlocked, Actor: moderator, Block: &event.Block{AuthorID: "https://spam.example/users/x"}}, ""},
		{"domain blocked for an hour", event.Entry{Kind: event.AuthorBlocked, Actor: moderator,
			Block: &event.Block{Domain: "spam.example", Until: time.Date(2026, 3, 12, 11, 0, 0, 0, time.UTC)}}, ""},
		{"domain unblocked", event.Entry{Kind: event.AuthorUnblocked, Actor: moderator, Block: &event.Block{Domain: "spam.example"}}, ""},

		// question.added carries the question.
		{"question added", event.Entry{Kind: event.QuestionAdded, Actor: event.Actor{Role: event.RoleFacilitator},
			Question: &event.Question{ID: "q1", Text: "Who pays?", Name: "Sam"}}, ""},
		{"question added without question", event.Entry{Kind: event.QuestionAdded, Actor: moderator}, "question.added: question text is required"},
		{"question added blank", event.Entry{Kind: event.QuestionAdded, Actor: moderator, Question: &event.Question{ID: "q1", Text: " \n"}}, "question text is required"},
		{"question added without id", event.Entry{Kind: event.QuestionAdded, Actor: moderator, Question: &event.Question{Text: "Who pays?"}}, "question.added: question id is required"},

		// question.reordered carries the order.
		{"reordered", event.Entry{Kind: event.QuestionReordered, Actor: moderator, Order: []string{"q2", "q1"}}, ""},
		{"reordered without order", event.Entry{Kind: event.QuestionReordered, Actor: moderator}, "question.reordered: order is required"},

		// question.noted needs words as well as the question.
		{"noted", event.Entry{Kind: event.QuestionNoted, Actor: moderator, QuestionID: "q1", Note: "ask after the break"}, ""},
		{"noted without note", event.Entry{Kind: event.QuestionNoted, Actor: moderator, QuestionID: "q1", Note: "  "}, "question.noted: note is required"},
		{"noted without question_id", event.Entry{Kind: event.QuestionNoted, Actor: moderator, Note: "later"}, "question.noted: question_id is required"},

		// question.voted and .unvoted name the question and the device.
		{"voted", event.Entry{Kind: event.QuestionVoted, Actor: event.Actor{Role: event.RoleSource, Name: "participant"}, QuestionID: "q1", Device: "d1"}, ""},
		{"voted without device", event.Entry{Kind: event.QuestionVoted, Actor: event.Actor{Role: event.RoleSource}, QuestionID: "q1"}, "question.voted: device is required"},
		{"unvoted", event.Entry{Kind: event.QuestionUnvoted, Actor: event.Actor{Role: event.RoleSource}, QuestionID: "q1", Device: "d1"}, ""},
		{"unvoted without question_id", event.Entry{Kind: event.QuestionUnvoted, Actor: event.Actor{Role: event.RoleSource}, Device: "d1"}, "question.unvoted: question_id is required"},

		// stage.message carries the message.
		{"stage message", event.Entry{Kind: event.StageMessage, Actor: moderator, Message: "Five minutes left"}, ""},
		{"stage message blank", event.Entry{Kind: event.StageMessage, Actor: moderator, Message: "\t"}, "stage.message: message is required"},
		{"stage read", event.Entry{Kind: event.StageRead, Actor: event.Actor{Role: event.RoleFacilitator}, Ref: 7}, ""},
		{"stage read of nothing", event.Entry{Kind: event.StageRead, Actor: event.Actor{Role: event.RoleFacilitator}}, "stage.read: ref (the message's position) is required"},

		// Going live: a moderator's or the system's act.
		{"went live", event.Entry{Kind: event.EventWentLive, Actor: moderator}, ""},
		{"went live at start", event.Entry{Kind: event.EventWentLive, Actor: event.Actor{Role: event.RoleSystem, Name: "start"}}, ""},
		{"went live by a source", event.Entry{Kind: event.EventWentLive, Actor: source}, "event.went_live: only a moderator or the system makes an event go live, not a source"},
		{"decision with the state seen", event.Entry{Kind: event.PostRejected, Actor: moderator, PostID: p.ID, Was: "pending"}, ""},
		{"decision with an unknown state seen", event.Entry{Kind: event.PostRejected, Actor: moderator, PostID: p.ID, Was: "maybe"}, `post.rejected: was must be pending, approved or rejected, not "maybe"`},

		// settings.changed carries valid settings, display names canonical.
		{"settings", event.Entry{Kind: event.SettingsChanged, Actor: moderator, Settings: &event.Settings{
			Title: ptr("Our Day"), Moderation: ptr(event.ModeAuto),
			Display: event.Display{"layout": "spotlight", "theme": "contrast", "show_avatars": "false", "brand_colour": "#1a7f5a", "logo": "/logo.png"}}}, ""},
		{"settings removing an option", event.Entry{Kind: event.SettingsChanged, Actor: moderator, Settings: &event.Settings{Display: event.Display{"theme": ""}}}, ""},
		{"settings changing nothing", event.Entry{Kind: event.SettingsChanged, Actor: event.Actor{Role: event.RoleSystem}, Settings: &event.Settings{}}, ""},
		{"settings without settings", event.Entry{Kind: event.SettingsChanged, Actor: moderator}, "settings.changed: settings are required"},
		{"settings with an unknown mode", event.Entry{Kind: event.SettingsChanged, Actor: moderator, Settings: &event.Settings{Moderation: ptr(event.Mode("post"))}},
			`moderation must be "pre" or "auto", not "post"`},
		{"settings with an unknown layout", event.Entry{Kind: event.SettingsChanged, Actor: moderator, Settings: &event.Settings{Display: event.Display{"layout": "spiral"}}},
			`display.layout: must be one of`},
		{"settings with an unknown option", event.Entry{Kind: event.SettingsChanged, Actor: moderator, Settings: &event.Settings{Display: event.Display{"font": "Comic Sans"}}},
			`display.font: not a display option`},
		{"settings with a layout alias", event.Entry{Kind: event.SettingsChanged, Actor: moderator, Settings: &event.Settings{Display: event.Display{"layout": "masonry"}}},
			`display.layout: "masonry" is another name for "grid"`},
		{"settings with a theme alias", event.Entry{Kind: event.SettingsChanged, Actor: moderator, Settings: &event.Settings{Display: event.Display{"theme": "high-contrast"}}},
			`display.theme: "high-contrast" is another name for "contrast"`},

		// A moderator hides parts of a post, or rewrites a web-form post's text.
		{"redacted", event.Entry{Kind: event.PostRedacted, Actor: moderator, PostID: p.ID, Redact: []string{"07700 900123"}}, ""},
		{"redacted without texts", event.Entry{Kind: event.PostRedacted, Actor: moderator, PostID: p.ID}, "post.redacted: redact must name 1 to 20 texts"},
		{"redacted white space", event.Entry{Kind: event.PostRedacted, Actor: moderator, PostID: p.ID, Redact: []string{" - "}}, "has no letter or digit"},
		{"redacted the mark", event.Entry{Kind: event.PostRedacted, Actor: moderator, PostID: p.ID, Redact: []string{event.RedactionMark}}, "has no letter or digit"},
		{"redacted too long", event.Entry{Kind: event.PostRedacted, Actor: moderator, PostID: p.ID, Redact: []string{strings.Repeat("a", 201)}}, "at most 200 bytes"},
		{"redacted by a source", event.Entry{Kind: event.PostRedacted, Actor: source, PostID: p.ID, Redact: []string{"Edith"}}, "only a moderator redacts"},
		{"revised", event.Entry{Kind: event.PostRevised, Actor: moderator, PostID: p.ID, Revision: &event.Revision{Text: "Hi", HTML: "<p>Hi</p>"}}, ""},
		{"revised without text", event.Entry{Kind: event.PostRevised, Actor: moderator, PostID: p.ID, Revision: &event.Revision{HTML: "<p></p>"}}, "post.revised: revision with a text"},
		{"revised by a facilitator", event.Entry{Kind: event.PostRevised, Actor: event.Actor{Role: event.RoleFacilitator}, PostID: p.ID, Revision: &event.Revision{Text: "Hi", HTML: "<p>Hi</p>"}}, "only a moderator revises"},
	}

	// The kinds that act on a post need only its id.
	for _, k := range []event.Kind{event.PostDeleted, event.PostApproved, event.PostRejected, event.PostUndone,
		event.PostPinned, event.PostUnpinned, event.PostMediaHidden, event.PostMediaShown,
		event.QuestionFlagged, event.QuestionUnflagged} {
		cases = append(cases,
			entryCase{string(k), event.Entry{Kind: k, Actor: moderator, PostID: p.ID, Reason: "off topic"}, ""},
			entryCase{string(k) + " without post_id", event.Entry{Kind: k, Actor: moderator}, string(k) + ": post_id is required"},
		)
	}
	// The kinds that act on a question need only its id.
	for _, k := range []event.Kind{event.QuestionReading, event.QuestionAnswered, event.QuestionReopened} {
		cases = append(cases,
			entryCase{string(k), event.Entry{Kind: k, Actor: event.Actor{Role: event.RoleFacilitator}, QuestionID: "q1"}, ""},
			entryCase{string(k) + " without question_id", event.Entry{Kind: k, Actor: moderator}, string(k) + ": question_id is required"},
		)
	}
	return cases
}

func TestEntryValidate(t *testing.T) {
	for _, c := range entryCases() {
		t.Run(c.name, func(t *testing.T) {
			err := c.e.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want an error with %q", c.want)
			}
			if code := event.ErrorCode(err); code != event.EINVALID {
				t.Errorf("code = %q, want %q (error %v)", code, event.EINVALID, err)
			}
			if msg := event.ErrorMessage(err); !strings.Contains(msg, c.want) {
				t.Errorf("message = %q, want it to contain %q", msg, c.want)
			}
		})
	}
}

// Every kind has a valid case and a refused one above, so a kind added to
// Kinds without its branch in Validate shows here.
func TestEntryValidateCoversEveryKind(t *testing.T) {
	valid, refused := map[event.Kind]bool{}, map[event.Kind]bool{}
	for _, c := range entryCases() {
		if c.want == "" {
			valid[c.e.Kind] = true
		} else {
			refused[c.e.Kind] = true
		}
	}
	for _, k := range event.Kinds {
		if !valid[k] || !refused[k] {
			t.Errorf("kind %s: a valid case %v, a refused case %v; want both", k, valid[k], refused[k])
		}
	}
}

// Pos and Time are the log's to set, so Validate does not look at them.
func TestEntryValidateIgnoresPosAndTime(t *testing.T) {
	e := event.Entry{Kind: event.PostApproved, Actor: moderator, PostID: "abc", Pos: 0}
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	e.Pos, e.Time = 42, time.Date(2026, 3, 12, 10, 0, 0, 0, time.UTC)
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestKindValid(t *testing.T) {
	seen := map[event.Kind]bool{}
	for _, k := range event.Kinds {
		if !k.Valid() {
			t.Errorf("%s is in Kinds but not Valid", k)
		}
		if seen[k] {
			t.Errorf("%s is listed twice", k)
		}
		seen[k] = true
	}
	for _, k := range []event.Kind{"", "post", "POST.RECEIVED", "post.received "} {
		if k.Valid() {
			t.Errorf("%q is Valid", k)
		}
	}
}

func TestModeValid(t *testing.T) {
	for m, want := range map[event.Mode]bool{event.ModePre: true, event.ModeAuto: true, "": false, "Pre": false, "post": false} {
		if m.Valid() != want {
			t.Errorf("Mode(%q).Valid() = %v, want %v", m, !want, want)
		}
	}
}

func TestIdempotencyKey(t *testing.T) {
	uri := "https://mastodon.social/users/ada/statuses/1"
	p := post(uri)
	edited := *p
	edited.EditedAt = time.Date(2026, 3, 12, 11, 30, 0, 500, time.FixedZone("CET", 3600))
	for _, c := range []struct {
		name string
		e    event.Entry
		want string
	}{
		{"received: once per uri", event.Entry{Kind: event.PostReceived, Post: p}, "post:" + uri},
		{"edited: once per uri and edit time, in UTC", event.Entry{Kind: event.PostEdited, Post: &edited}, "edit:" + uri + "@2026-03-12T10:30:00.0000005Z"},
		{"deleted: once per post", event.Entry{Kind: event.PostDeleted, PostID: p.ID}, "delete:" + p.ID},
		{"withdrawn: once per version", event.Entry{Kind: event.PostWithdrawn, PostID: p.ID, Post: &edited}, "withdraw:" + p.ID + "@2026-03-12T10:30:00.0000005Z"},
		{"withdrawn without a version: once per post", event.Entry{Kind: event.PostWithdrawn, PostID: p.ID}, "withdraw:" + p.ID},
		{"received without post", event.Entry{Kind: event.PostReceived}, ""},
		{"edited without post", event.Entry{Kind: event.PostEdited}, ""},
		{"a decision is new each time", event.Entry{Kind: event.PostApproved, PostID: p.ID}, ""},
		{"a question is new each time", event.Entry{Kind: event.QuestionAdded, Question: &event.Question{ID: "q1", Text: "?"}}, ""},
	} {
		if got := c.e.IdempotencyKey(); got != c.want {
			t.Errorf("%s: IdempotencyKey() = %q, want %q", c.name, got, c.want)
		}
	}
}

func TestPostID(t *testing.T) {
	a := event.PostID("https://mastodon.social/users/ada/statuses/1")
	if len(a) != 20 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("PostID = %q, want 20 hex digits", a)
	}
	if b := event.PostID("https://mastodon.social/users/ada/statuses/1"); b != a {
		t.Errorf("PostID is not stable: %q then %q", a, b)
	}
	if b := event.PostID("https://mastodon.social/users/ada/statuses/2"); b == a {
		t.Errorf("two URIs share the id %q", a)
	}
}

func TestAuthorDomain(t *testing.T) {
	for handle, want := range map[string]string{
		"@ada@Mastodon.Social": "mastodon.social",
		"ada@mastodon.social":  "mastodon.social",
		"ada.bsky.social":      "ada.bsky.social",
		"@Leeds.Example.org":   "leeds.example.org",
		"@ada":                 "",
		"":                     "",
	} {
		if got := (event.Author{Handle: handle}).Domain(); got != want {
			t.Errorf("Domain of %q = %q, want %q", handle, got, want)
		}
	}
}

func TestBlockKey(t *testing.T) {
	if k := (&event.Block{AuthorID: "did:plc:ada", Handle: "@ada"}).Key(); k != "author:did:plc:ada" {
		t.Errorf("author block key = %q", k)
	}
	// A domain is one domain whatever its case.
	if k := (&event.Block{Domain: "Spam.Example"}).Key(); k != "domain:spam.example" {
		t.Errorf("domain block key = %q", k)
	}
}

func TestEntryString(t *testing.T) {
	for _, c := range []struct {
		e    event.Entry
		want string
	}{
		{event.Entry{Pos: 7, Kind: event.PostApproved, Actor: moderator, PostID: "abc"}, "#7 post.approved by moderator:ada post abc"},
		{event.Entry{Pos: 8, Kind: event.QuestionReading, Actor: event.Actor{Role: event.RoleFacilitator}, QuestionID: "q1"}, "#8 question.reading by facilitator question q1"},
		{event.Entry{Kind: event.StageMessage, Actor: event.Actor{Role: event.RoleSystem}}, "#0 stage.message by system"},
	} {
		if got := c.e.String(); got != c.want {
			t.Errorf("String() = %q, want %q", got, c.want)
		}
	}
}

func TestErrorHelpers(t *testing.T) {
	invalid := event.Errorf(event.ENOTFOUND, "no event %q", "x")
	wrapped := fmt.Errorf("reading: %w", invalid)
	display := &event.DisplayError{Key: "layout", Reason: "must be one of grid"}
	for _, c := range []struct {
		name      string
		err       error
		code, msg string
	}{
		{"nil", nil, "", ""},
		{"an *Error", invalid, event.ENOTFOUND, `no event "x"`},
		{"a wrapped *Error", wrapped, event.ENOTFOUND, `no event "x"`},
		{"any other error: internals never reach the caller", errors.New("disk on fire"), event.EINTERNAL, "internal error"},
		{"a display refusal", display, event.EINVALID, "display.layout: must be one of grid"},
		{"a wrapped display refusal", fmt.Errorf("settings: %w", display), event.EINVALID, "display.layout: must be one of grid"},
		{"joined: the first *Error", errors.Join(errors.New("x"), invalid), event.ENOTFOUND, `no event "x"`},
	} {
		if code := event.ErrorCode(c.err); code != c.code {
			t.Errorf("%s: ErrorCode = %q, want %q", c.name, code, c.code)
		}
		if msg := event.ErrorMessage(c.err); msg != c.msg {
			t.Errorf("%s: ErrorMessage = %q, want %q", c.name, msg, c.msg)
		}
	}
	if invalid.Error() != `no event "x"` {
		t.Errorf("Error() = %q", invalid.Error())
	}
}
