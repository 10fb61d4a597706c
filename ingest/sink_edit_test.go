package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/moderation"
)

// TestSinkEditIsJudged: LogSink.Edit runs the same rules as a new post on
// the new version and stores their verdict with the edit, so the fold can
// keep an edit nobody passed off the wall. The rules are the real ones in
// the mode the event is in at the moment of the edit.
func TestSinkEditIsJudged(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	base := moderation.Rules{BlockedWords: []string{"scam"}, TrustedAccounts: []string{"@host@example.org"}}
	base.Compile()
	mode := event.ModeAuto
	rules := moderation.NewModeRules(&base, func() event.Mode { return mode })
	st := newMemStore()
	l, err := st.Log(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}
	sink := NewLogSink(l, rules, nil, event.Actor{Role: event.RoleSource, Name: "test:one"}, func() time.Time { return now })

	edit := func(uri, text string, author event.Author, at time.Duration) *event.Verdict {
		t.Helper()
		p := testPost(uri, text, now.Add(-time.Hour))
		p.Author = author
		p.EditedAt = now.Add(at)
		res, err := sink.Edit(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		evs, _ := l.Read(ctx, res.Pos-1, 1)
		if len(evs) != 1 || evs[0].Kind != event.PostEdited {
			t.Fatalf("read back %v", evs)
		}
		return evs[0].Verdict
	}
	ada := event.Author{ID: "https://example.org/users/ada", Handle: "@ada@example.org"}
	host := event.Author{ID: "https://example.org/users/host", Handle: "@host@example.org"}
	cases := []struct {
		name     string
		mode     event.Mode
		text     string
		author   event.Author
		decision event.Decision
		rule     string
	}{
		{"auto, clean", event.ModeAuto, "great talk", ada, event.DecisionApprove, moderation.RuleAuto},
		{"auto, blocked word", event.ModeAuto, "a total scam", ada, event.DecisionHold, `blocked word "scam" in text`},
		{"pre, clean", event.ModePre, "great talk", ada, event.DecisionHold, moderation.RulePre},
		{"pre, trusted account", event.ModePre, "great talk", host, event.DecisionApprove, "trusted account host@example.org"},
		{"pre, trusted account, blocked word", event.ModePre, "a total scam", host, event.DecisionHold, `blocked word "scam" in text`},
	}
	for i, c := range cases {
		mode = c.mode
		v := edit("https://example.org/@ada/1", c.text, c.author, time.Duration(i)*time.Second)
		if v == nil || v.Decision != c.decision || v.Rule != c.rule {
			t.Errorf("%s: verdict %+v, want %s %q", c.name, v, c.decision, c.rule)
		}
	}

	// A sink with no rules appends the edit with no verdict: the fold
	// holds it.
	bare := NewLogSink(l, nil, nil, event.Actor{Role: event.RoleSource, Name: "test:two"}, func() time.Time { return now })
	p := testPost("https://example.org/@ada/2", "x", now)
	p.EditedAt = now
	res, err := bare.Edit(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	if evs, _ := l.Read(ctx, res.Pos-1, 1); len(evs) != 1 || evs[0].Verdict != nil {
		t.Errorf("edit through a sink with no rules: %+v", evs)
	}
}
