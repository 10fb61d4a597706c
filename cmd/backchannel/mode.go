package main

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
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

// modeFollower tails an event's log for its moderation mode alone: what an
// ingest-only process, which folds nothing, needs to evaluate posts with
// the mode moderators set. Screens read the mode from their fold instead
// (wall.LiveMode).
type modeFollower struct {
	log eventlog.Log
	cur atomic.Pointer[event.Mode]
}

func newModeFollower(log eventlog.Log, configured event.Mode) *modeFollower {
	f := &modeFollower{log: log}
	f.cur.Store(&configured)
	return f
}

// mode reports the mode as the log has set it so far: the configured one
// until a settings.changed sets another. Until run has read the log's
// past, a post may be evaluated with an older mode, as with a fold that is
// catching up.
func (f *modeFollower) mode() event.Mode { return *f.cur.Load() }

// run tails the log from its start until ctx is done (then it returns
// nil) or the tail fails for good.
func (f *modeFollower) run(ctx context.Context) error {
	err := f.log.Tail(ctx, 0, func(batch []event.Event) error {
		for i := range batch {
			if s := batch[i].Settings; batch[i].Kind == event.SettingsChanged && s != nil && s.Moderation != nil {
				m := *s.Moderation
				f.cur.Store(&m)
			}
		}
		return nil
	})
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("follow the moderation mode: %w", err)
	}
	return nil
}
