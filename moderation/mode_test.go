package moderation_test

import (
	"context"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/moderation"
)

// Sources follow the mode moderators set in the log (read from the event's
// fold, which every role keeps), and the rules keep holding what they hold
// in either mode.
func TestModeFromTheFoldAndRules(t *testing.T) {
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	log, err := store.Log(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}
	live := fold.NewLive(log, fold.SettingsView{Moderation: event.ModePre})
	done := make(chan error, 1)
	go func() { done <- live.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run after cancel = %v", err)
		}
	}()
	base := &moderation.Rules{Mode: event.ModePre, BlockedWords: []string{"spoiler"}, Profanity: true}
	base.Compile()
	rules := moderation.NewModeRules(base, live.Mode)
	now := time.Date(2026, 3, 12, 10, 0, 0, 0, time.UTC)
	plain := event.Post{URI: "https://a.example/1", Text: "hello", Source: "mastodon",
		Author: event.Author{ID: "https://a.example/users/ada", Handle: "@ada@a.example"}}
	blocked := plain
	blocked.Text = "a spoiler"

	if v := rules.Evaluate(plain, now); v.Decision != event.DecisionHold || v.Rule != moderation.RulePre {
		t.Fatalf("as configured (pre): %+v", v)
	}
	setMode := func(m event.Mode) {
		t.Helper()
		e := event.Entry{Kind: event.SettingsChanged, Time: now, Actor: event.Actor{Role: event.RoleModerator, Name: "ada"},
			Settings: &event.Settings{Moderation: &m}}
		a, err := log.Append(ctx, "", e)
		if err != nil {
			t.Fatal(err)
		}
		wait, stop := context.WithTimeout(ctx, 5*time.Second)
		defer stop()
		if err := live.WaitFor(wait, a.Pos); err != nil {
			t.Fatalf("the fold did not see the switch to %q: %v", m, err)
		}
		if got := live.Mode(); got != m {
			t.Fatalf("mode after the switch to %q = %q", m, got)
		}
	}
	setMode(event.ModeAuto)
	if v := rules.Evaluate(plain, now); v.Decision != event.DecisionApprove || v.Rule != moderation.RuleAuto {
		t.Fatalf("after the switch to auto: %+v", v)
	}
	if v := rules.Evaluate(blocked, now); v.Decision != event.DecisionHold {
		t.Fatalf("a blocked word in auto: %+v", v)
	}
	setMode(event.ModePre)
	if v := rules.Evaluate(plain, now); v.Decision != event.DecisionHold {
		t.Fatalf("after the switch back to pre: %+v", v)
	}
	if base.Mode != event.ModePre {
		t.Errorf("NewModeRules changed its base's mode to %q", base.Mode)
	}
}

// What following the log's mode adds to each post's evaluation: a read of
// the fold's settings under its lock.
func BenchmarkModeRules(b *testing.B) {
	pre, auto := moderation.Default(), moderation.Default()
	auto.Mode = event.ModeAuto
	live := fold.NewLive(nil, fold.SettingsView{Title: "#Ev", Moderation: event.ModeAuto,
		Display: map[string]string{"layout": "grid", "theme": "dark"}})
	p := event.Post{URI: "https://a.example/1", Text: "a plain post about the keynote",
		HTML:      "<p>a plain post about the keynote</p>",
		CreatedAt: time.Date(2026, 3, 12, 9, 59, 0, 0, time.UTC),
		Author:    event.Author{ID: "https://a.example/users/ada", Name: "ada", Handle: "@ada@a.example"}}
	now := p.CreatedAt
	b.Run("rules", func(b *testing.B) {
		for b.Loop() {
			if auto.Evaluate(p, now).Decision != event.DecisionApprove {
				b.Fatal("not approved")
			}
		}
	})
	b.Run("following the log", func(b *testing.B) {
		r := moderation.ModeRules{Pre: &pre, Auto: &auto, Mode: live.Mode}
		for b.Loop() {
			if r.Evaluate(p, now).Decision != event.DecisionApprove {
				b.Fatal("not approved")
			}
		}
	})
}
