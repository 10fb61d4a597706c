package wall_test

import (
	"strings"
	"testing"

	"github.com/backchannel/backchannel/event"
)

// The wall and the participant page say how posts are moderated as the
// event's mode stands: "checked by a moderator before it appears" only
// under pre-moderation, since under auto-moderation the rules approve
// posts and no person sees them first.
func TestModeratedNoteFollowsTheMode(t *testing.T) {
	f := newFixture(t)
	pages := map[string]struct{ pre, auto string }{
		"/e/ev/wall": {"Every post is checked by a moderator before it appears here.", "Posts pass automatic checks"},
		"/e/ev":      {"A moderator checks every post before it appears", "appear after automatic checks"},
	}
	check := func(mode string) {
		t.Helper()
		for path, want := range pages {
			_, body := getPage(t, f, path, nil)
			yes, no := want.pre, want.auto
			if mode == "auto" {
				yes, no = no, yes
			}
			if !strings.Contains(body, yes) || strings.Contains(body, no) {
				t.Errorf("%s in %s mode: want %q and not %q in the page", path, mode, yes, no)
			}
		}
	}
	check("pre")
	auto := event.ModeAuto
	f.appendAll(t, event.Entry{Kind: event.SettingsChanged, Actor: event.Actor{Role: event.RoleModerator, Name: "ada"},
		Settings: &event.Settings{Moderation: &auto}})
	check("auto")
}
