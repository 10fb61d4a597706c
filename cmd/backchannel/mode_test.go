package main

import (
	"context"
	"testing"
	"time"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/moderation"
	"github.com/backchannel/backchannel/wall"
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
	mode := wall.LiveMode(live)
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run after cancel = %v", err)
		}
	}()
	rules := modeRules(&config.Moderation{Mode: event.ModePre, BlockedWords: []string{"spoiler"}}, mode)
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
		if _, err := log.Append(ctx, "", e); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for mode() != m {
			if time.Now().After(deadline) {
				t.Fatalf("the fold did not see the switch to %q within 5s", m)
			}
			time.Sleep(5 * time.Millisecond)
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
}

// onWall answers from the fold: only an approved post is on the wall.
func TestOnWallFollowsTheFold(t *testing.T) {
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	log, err := store.Log(ctx, "ev")
	if err != nil {
		t.Fatal(err)
	}
	live := fold.NewLive(log, fold.SettingsView{Moderation: event.ModePre})
	go live.Run(ctx)
	on := onWall(live)
	uri := "https://a.example/users/ada/statuses/1"
	p := event.Post{ID: event.PostID(uri), URI: uri, Source: "mastodon", Text: "hi",
		Author: event.Author{ID: "https://a.example/users/ada", Handle: "@ada@a.example"}}
	appendWait := func(e event.Entry) {
		t.Helper()
		a, err := log.Append(ctx, e.IdempotencyKey(), e)
		if err != nil {
			t.Fatal(err)
		}
		if err := live.WaitFor(ctx, a.Pos); err != nil {
			t.Fatal(err)
		}
	}
	appendWait(event.Entry{Kind: event.PostReceived, Actor: event.Actor{Role: event.RoleSource}, PostID: p.ID, Post: &p,
		Verdict: &event.Verdict{Decision: event.DecisionHold, Rule: "pre-moderation"}})
	if on(uri) {
		t.Fatal("a held post counted as on the wall")
	}
	appendWait(event.Entry{Kind: event.PostApproved, Actor: event.Actor{Role: event.RoleModerator, Name: "ada"}, PostID: p.ID})
	if !on(uri) {
		t.Fatal("an approved post not counted as on the wall")
	}
	if on("https://a.example/users/ada/statuses/2") {
		t.Fatal("an unknown post counted as on the wall")
	}
}
