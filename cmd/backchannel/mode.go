package main

import (
	"time"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/wall"
)

// presenceTTL is how long a post a moderator opened counts as open
// without being opened again (wall.StaffOptions.PresenceTTL's default).
const presenceTTL = 30 * time.Second

// modeRules gives the event's rules in both modes, evaluated with the mode
// mode reports as each post arrives, so a moderator's switch through
// POST /api/events/{slug}/settings applies to the next post.
func modeRules(m *config.Moderation, mode func() event.Mode) ingest.Evaluator {
	base := rulesOf(m)
	pre, auto := *base, *base // compiled once: the copies share base's lists
	pre.Mode, auto.Mode = event.ModePre, event.ModeAuto
	return wall.ModeRules{Pre: &pre, Auto: &auto, Mode: mode}
}

// onWall reports, from the event's fold, whether the post with this URI is
// approved and so on a public surface now.
func onWall(live *fold.Live) func(uri string) bool {
	return func(uri string) bool {
		var on bool
		live.View(func(s *fold.State) {
			p, ok := s.Post(event.PostID(uri))
			on = ok && p.State == fold.StateApproved
		})
		return on
	}
}
