package fold

import (
	"context"
	"testing"

	"github.com/backchannel/backchannel/event"
)

// liveOn runs a Live over a fresh embedded log until the test ends and
// returns it with a function that appends an entry and waits for the fold.
func liveOn(t *testing.T) (*Live, func(event.Entry)) {
	t.Helper()
	store, log := openLog(t, t.TempDir())
	t.Cleanup(func() { _ = store.Close() })
	ctx, cancel := context.WithCancel(context.Background())
	live := NewLive(log, SettingsView{Moderation: event.ModePre})
	done := make(chan error, 1)
	go func() { done <- live.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run after cancel = %v", err)
		}
	})
	return live, func(e event.Entry) {
		t.Helper()
		a, err := log.Append(ctx, e.IdempotencyKey(), e)
		if err != nil {
			t.Fatal(err)
		}
		if err := live.WaitFor(ctx, a.Pos); err != nil {
			t.Fatal(err)
		}
	}
}

// Mode is the configured mode until a moderator's settings.changed sets
// another.
func TestLiveModeFollowsSettings(t *testing.T) {
	live, appendWait := liveOn(t)
	if m := live.Mode(); m != event.ModePre {
		t.Fatalf("mode as configured = %q", m)
	}
	for _, m := range []event.Mode{event.ModeAuto, event.ModePre} {
		appendWait(event.Entry{Kind: event.SettingsChanged, Actor: event.Actor{Role: event.RoleModerator, Name: "ada"},
			Settings: &event.Settings{Moderation: &m}})
		if got := live.Mode(); got != m {
			t.Fatalf("mode after the switch to %q = %q", m, got)
		}
	}
}

// OnWall answers from the fold: only an approved post is on the wall.
func TestOnWallFollowsTheFold(t *testing.T) {
	live, appendWait := liveOn(t)
	uri := "https://a.example/users/ada/statuses/1"
	p := event.Post{ID: event.PostID(uri), URI: uri, Source: "mastodon", Text: "hi",
		Author: event.Author{ID: "https://a.example/users/ada", Handle: "@ada@a.example"}}
	appendWait(event.Entry{Kind: event.PostReceived, Actor: event.Actor{Role: event.RoleSource}, PostID: p.ID, Post: &p,
		Verdict: &event.Verdict{Decision: event.DecisionHold, Rule: "pre-moderation"}})
	if live.OnWall(uri) {
		t.Fatal("a held post counted as on the wall")
	}
	appendWait(event.Entry{Kind: event.PostApproved, Actor: event.Actor{Role: event.RoleModerator, Name: "ada"}, PostID: p.ID})
	if !live.OnWall(uri) {
		t.Fatal("an approved post not counted as on the wall")
	}
	if live.OnWall("https://a.example/users/ada/statuses/2") {
		t.Fatal("an unknown post counted as on the wall")
	}
}
