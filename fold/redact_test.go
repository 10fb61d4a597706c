package fold

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

const phone = "07700 900123"

func redactE(key string, texts ...string) event.Entry {
	e := act(event.PostRedacted, moderator, key)
	e.Redact = texts
	return e
}

// publicJSON is everything public surfaces were given: the wall, and every
// wall delta so far, as the public socket would carry them.
func publicJSON(t *testing.T, s *State, effs []Effect) string {
	t.Helper()
	var b strings.Builder
	for _, v := range []any{s.Wall(0), s.Questions()} {
		j, _ := json.Marshal(v)
		b.Write(j)
	}
	for _, eff := range effs {
		if eff.Wall != nil {
			j, _ := json.Marshal(eff.Wall)
			b.Write(j)
		}
	}
	return b.String()
}

// auditOf returns the audit entries of kind, newest first.
func auditOf(s *State, kind event.Kind) []AuditEntry {
	var out []AuditEntry
	for _, a := range s.Audit(0) {
		if a.Kind == kind {
			out = append(out, a)
		}
	}
	return out
}

// TestRedactApproveEditApproveAgain: a moderator redacts a phone number in
// a pending post and approves it; the wall shows the mark and says it was
// redacted. The author edits the post at the source, keeping the number:
// the edit waits, already redacted, and the moderator approves it again.
// No public surface carries the number at any point; the moderators see it.
func TestRedactApproveEditApproveAgain(t *testing.T) {
	p := mkPost("p1", ada, "Ring Edith on "+phone+" about the talk")
	p.HTML = "<p>Ring <b>Edith</b> on 07700 <a href=\"tel:07700900123\">900123</a> about the talk</p>"
	p.Question = true
	rec := event.Entry{Kind: event.PostReceived, Actor: mastodonSrc, PostID: p.ID, Post: &p,
		Verdict: &event.Verdict{Decision: event.DecisionHold, Rule: "personal data: UK phone number",
			Checks: []event.Check{{Rule: "personal data: UK phone number", Score: 1, Spans: []event.Span{{Start: 13, End: 25, Text: phone}}}}}}
	edit := mkPost("p1", ada, "Ring Edith on "+phone+" or on 0113 496 0000")
	edit.EditedAt = t0.Add(time.Hour)
	events := seq(
		rec,
		redactE("p1", "07700  900123", "0113 496 0000"), // the second is not in it yet
		act(event.PostApproved, moderator, "p1"),
		event.Entry{Kind: event.PostEdited, Actor: mastodonSrc, PostID: p.ID, Post: &edit, Verdict: &event.Verdict{Decision: event.DecisionHold, Rule: "personal data: UK phone number"}},
		act(event.PostApproved, moderator, "p1"),
		qstep(event.QuestionReading, id("p1")),
	)
	s, effs := applyAll(t, events)

	if !effs[1].Applied || effs[1].Wall != nil {
		t.Fatalf("redacting a pending post: applied %v, wall %+v", effs[1].Applied, effs[1].Wall)
	}
	up := effs[2].Wall.Upsert
	if len(up) != 1 || !up[0].Redacted || up[0].Text != "Ring Edith on "+event.RedactionMark+" about the talk" {
		t.Fatalf("approved: wall gets %+v", up)
	}
	if want := `<p>Ring <b>Edith</b> on <span class="redacted">█████</span><a></a> about the talk</p>`; up[0].HTML != want {
		t.Errorf("approved HTML\n got %s\nwant %s", up[0].HTML, want)
	}
	// The edit waits, redacted already, both numbers hidden; the wall kept the passed version.
	if effs[3].Wall != nil {
		t.Errorf("an edit held for a moderator changed the wall: %+v", effs[3].Wall)
	}
	e3 := effs[3].Posts[0]
	if e3.Edit == nil || !e3.Edit.Redacted || e3.Edit.Text != "Ring Edith on █████ or on █████" {
		t.Fatalf("the edit waiting is not redacted: %+v", e3.Edit)
	}
	if e3.Original == nil || e3.Original.Text != edit.Text || len(e3.Redactions) != 2 {
		t.Errorf("moderators lose the original: original %+v, redactions %q", e3.Original, e3.Redactions)
	}
	if up := effs[4].Wall.Upsert; len(up) != 1 || up[0].Text != "Ring Edith on █████ or on █████" || !up[0].Redacted {
		t.Fatalf("approving the edit shows %+v", up)
	}
	nr := s.Wall(0).NowReading
	if nr == nil || nr.Text != "Ring Edith on █████ or on █████" {
		t.Fatalf("now reading: %+v", nr)
	}
	pub := publicJSON(t, s, effs)
	for _, leak := range []string{"900123", "496 0000", "tel:"} {
		if strings.Contains(pub, leak) {
			t.Errorf("a public surface carries %q: %s", leak, pub)
		}
	}
	// The audit keeps what was hidden, for moderators.
	if a := auditOf(s, event.PostRedacted); len(a) != 1 || !strings.Contains(a[0].Summary, `redacted "07700 900123", "0113 496 0000" in post by @ada@mastodon.social`) {
		t.Errorf("audit: %+v", a)
	}
}

// TestRedactApprovedPostLeavesTheWallRedacted: a redaction of a post
// already on the wall changes the wall at once, and undo never brings the
// hidden text back.
func TestRedactApprovedPostAndUndo(t *testing.T) {
	events := seq(
		pending("p1", ada),
		act(event.PostApproved, moderator, "p1"),
		act(event.PostRejected, moderator2, "p1"),
		act(event.PostUndone, moderator2, "p1"), // back on the wall
		redactE("p1", "FROM p1"),
		act(event.PostRejected, moderator, "p1"),
		act(event.PostUndone, moderator, "p1"),
	)
	s, effs := applyAll(t, events)
	if up := effs[4].Wall.Upsert; len(up) != 1 || up[0].Text != "hello █████" {
		t.Fatalf("redacting a shown post: wall delta %+v", effs[4].Wall)
	}
	if w := s.Wall(0).Posts; len(w) != 1 || w[0].Text != "hello █████" || !w[0].Redacted {
		t.Fatalf("after undo the wall shows %+v", w)
	}
	if strings.Contains(publicJSON(t, s, effs[4:]), "from p1") {
		t.Error("the redacted text came back on a public surface")
	}
}

// TestRedactNothing: texts that occur nowhere, a repeat, a deleted post:
// no-ops, audited as such.
func TestRedactNothing(t *testing.T) {
	events := seq(
		pending("p1", ada),
		redactE("p1", "not in it"),
		redactE("p1", "hello"),
		redactE("p1", "HELLO"), // the same again
		deleted("p1"),
		redactE("p1", "from"),
	)
	_, effs := applyAll(t, events)
	for i, want := range []bool{true, false, true, false, true, false} {
		if effs[i].Applied != want {
			t.Errorf("event %d applied %v, want %v", i+1, effs[i].Applied, want)
		}
	}
}

// TestRedactHTMLIsSafe: the moderator's text never reaches the HTML, a
// match across elements is hidden whole, entities match as text, and a
// link or image that holds the text loses it.
func TestRedactHTMLIsSafe(t *testing.T) {
	cases := []struct{ name, html, redact, want string }{
		{"markup in the text to redact", `<p>a &lt;script&gt; b</p>`, `<script>`, `<p>a <span class="redacted">█████</span> b</p>`},
		{"across elements", `<p>call 07700 <b>900</b>123 now</p>`, `07700 900123`, `<p>call <span class="redacted">█████</span><b></b> now</p>`},
		{"an entity", `<p>Jo &amp; Sam</p>`, `jo & sam`, `<p><span class="redacted">█████</span></p>`},
		{"a link's address", `<p><a href="https://x.example/jo.bloggs" rel="nofollow">profile</a></p>`, `jo.bloggs`, `<p><a rel="nofollow">profile</a></p>`},
		{"an emoji image", `<p>hi <img src="https://x.example/edith.png" alt=":edith:" class="custom-emoji"></p>`, `edith`, `<p>hi <span class="redacted">█████</span></p>`},
		{"a number written otherwise", `<p>07700-900-123 or (07700) 900 123</p>`, `07700 900123`, `<p><span class="redacted">█████</span> or (<span class="redacted">█████</span></p>`},
		{"nothing", `<p>hello</p>`, `bye`, `<p>hello</p>`},
	}
	for _, c := range cases {
		got, _ := redactHTML(c.html, redactionRE([]string{c.redact}))
		if got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.name, got, c.want)
		}
	}
}

// TestReviseOnlyWebFormPosts: a moderator rewrites a web-form question's
// text; the wall shows the new text and says so, the original stays with
// the moderators. A Mastodon (or X) post's text is its author's: no-op.
func TestReviseOnlyWebFormPosts(t *testing.T) {
	form := pending("f1", ada)
	form.Post.Source = SourceForm
	rev := func(key, text string) event.Entry {
		e := act(event.PostRevised, moderator, key)
		e.Revision = &event.Revision{Text: text, HTML: "<p>" + text + "</p>"}
		return e
	}
	events := seq(
		form,
		pending("p2", bob),
		rev("f1", "How will the hello be funded?"),
		rev("p2", "something else"),
		redactE("f1", "hello"),
		act(event.PostApproved, moderator, "f1"),
		rev("f1", "How will the hello be paid for?"), // the redaction still holds
	)
	s, effs := applyAll(t, events)
	if !effs[2].Applied || effs[3].Applied {
		t.Fatalf("revise: form post applied %v, mastodon post applied %v", effs[2].Applied, effs[3].Applied)
	}
	w := s.Wall(0).Posts
	if len(w) != 1 || w[0].Text != "How will the █████ be paid for?" || !w[0].Revised || !w[0].Redacted {
		t.Fatalf("wall: %+v", w)
	}
	v, _ := s.Post(id("f1"))
	if v.Original == nil || v.Original.Text != "hello from f1" || v.Original.Revised {
		t.Errorf("original: %+v", v.Original)
	}
	a := auditOf(s, event.PostRevised)
	if len(a) != 3 || a[1].Applied || !strings.Contains(a[1].Summary, "not applied: only a web-form post's text can be edited") ||
		!strings.Contains(a[0].Summary, "edited the text of post by @ada@mastodon.social: How will the hello be paid for?") {
		t.Errorf("audit of revisions: %+v", a)
	}
}

// TestSourceCannotMarkRedacted: a version from a source that claims to be
// redacted is not taken at its word.
func TestSourceCannotMarkRedacted(t *testing.T) {
	e := received("p1", ada, event.DecisionApprove, "auto")
	e.Post.Redacted, e.Post.Revised = true, true
	s, _ := applyAll(t, seq(e))
	if w := s.Wall(0).Posts; w[0].Redacted || w[0].Revised {
		t.Errorf("wall trusts a source's marks: %+v", w[0])
	}
}
