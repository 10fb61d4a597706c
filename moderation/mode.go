package moderation

import (
	"time"

	"github.com/backchannel/backchannel/event"
)

// ModeRules evaluates the posts of an event whose moderation mode may
// change while it runs: each post is evaluated by Pre or Auto (the same
// rules but for the mode) as Mode says at that moment. Wired to the
// event's fold (fold.Live.Mode), a moderator switching the event to auto
// through the settings API has the next post that arrives approved by the
// rules, and switching back holds it again. It is what ingest's sinks
// evaluate arriving posts with (an ingest.Evaluator).
type ModeRules struct {
	Pre, Auto *Rules
	// Mode reports the event's moderation mode now.
	Mode func() event.Mode
}

// NewModeRules returns base's rules in both modes, evaluated in the mode
// that mode reports as each post arrives. base is not changed; compile it
// first, so the two copies share its compiled lists.
func NewModeRules(base *Rules, mode func() event.Mode) ModeRules {
	pre, auto := *base, *base
	pre.Mode, auto.Mode = event.ModePre, event.ModeAuto
	return ModeRules{Pre: &pre, Auto: &auto, Mode: mode}
}

// Evaluate returns the verdict on p at now of the rules in the mode Mode
// reports now.
func (m ModeRules) Evaluate(p event.Post, now time.Time) event.Verdict {
	if m.Mode() == event.ModeAuto {
		return m.Auto.Evaluate(p, now)
	}
	return m.Pre.Evaluate(p, now)
}
