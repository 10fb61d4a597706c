package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/fold"
)

// catchUpTimeout bounds how long a start waits for an event's fold to
// read its log before deciding whether the rehearsal is over.
const catchUpTimeout = time.Minute

// goLiveOnStart ends a rehearsal left in the data: an event started
// without a rehearsal source (the real command, no --rehearse) whose log
// holds rehearsal posts goes live, so none of them reaches a screen. It
// appends event.went_live once: the fold leaves no rehearsal post after
// it, and the append's key makes several nodes starting at once append
// it once. Started with a rehearsal source, it changes nothing.
func goLiveOnStart(ctx context.Context, log eventlog.Log, live *fold.Live, ec *config.Event, logger *slog.Logger) error {
	rehearsing := false
	for _, s := range ec.Sources {
		rehearsing = rehearsing || s.Type == config.SourceRehearsal
	}
	head, err := log.Head(ctx)
	if err != nil {
		return fmt.Errorf("read the head of %q: %w", ec.Slug, err)
	}
	wctx, cancel := context.WithTimeout(ctx, catchUpTimeout)
	defer cancel()
	if err := live.WaitFor(wctx, head.Last); err != nil {
		return fmt.Errorf("read the log of %q: %w", ec.Slug, err)
	}
	var c fold.Counts
	live.View(func(s *fold.State) { c = s.Counts() })
	switch {
	case rehearsing && c.Live:
		logger.Warn("this event went live already: the rehearsal's new posts are not shown", "event", ec.Slug)
		return nil
	case rehearsing || c.Rehearsal == 0:
		return nil
	}
	e := event.Entry{Kind: event.EventWentLive, Actor: event.Actor{Role: event.RoleSystem, Name: "start without --rehearse"}, Time: time.Now().UTC()}
	a, err := log.Append(ctx, fmt.Sprintf("went-live@%d", head.Last), e)
	if err != nil {
		return fmt.Errorf("end the rehearsal of %q: %w", ec.Slug, err)
	}
	logger.Info("started without --rehearse: the rehearsal is over, its posts leave every screen",
		"event", ec.Slug, "rehearsal_posts", c.Rehearsal, "pos", a.Pos)
	return nil
}
