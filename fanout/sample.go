package fanout

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"time"

	"github.com/backchannel/backchannel/event"
)

// SampleOptions configure RecordConnections.
type SampleOptions struct {
	// Node names this fan-out node in the samples (default host-pid):
	// the report adds up the nodes' counts.
	Node string
	// Every is the shortest time between two samples (default a minute).
	Every time.Duration
	// Poll is how often the connections are counted between samples
	// (default 5s); a sample holds the busiest count seen.
	Poll time.Duration
	// Now stamps the samples (default time.Now).
	Now func() time.Time
}

// RecordConnections appends to the event's log, at most once per
// opts.Every, how many public and staff screens this hub served at its
// busiest since the last sample, for the report after the event (the
// connections.sampled entry). It samples while anything is connected and
// once more when the last screen leaves, so an idle event adds nothing to
// its log. It returns when ctx is done.
func (h *Hub) RecordConnections(ctx context.Context, opts SampleOptions) {
	if opts.Node == "" {
		host, _ := os.Hostname()
		opts.Node = host + "-" + strconv.Itoa(os.Getpid())
	}
	if opts.Every <= 0 {
		opts.Every = time.Minute
	}
	if opts.Poll <= 0 || opts.Poll > opts.Every {
		opts.Poll = min(5*time.Second, opts.Every)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := connSampler{node: opts.Node, every: opts.Every}
	t := time.NewTicker(opts.Poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := opts.Now()
		c, due := s.observe(now, h.Conns())
		if !due {
			continue
		}
		e := event.Entry{Time: now.UTC(), Kind: event.ConnectionsSampled,
			Actor: event.Actor{Role: event.RoleSystem, Name: "fanout"}, Connections: &c}
		actx, cancel := context.WithTimeout(ctx, opts.Poll)
		_, err := h.log.Append(actx, "", e)
		cancel()
		if err != nil && ctx.Err() == nil {
			h.logger.Warn("fanout: could not record the connections sample", slog.Any("err", err))
		}
	}
}

// connSampler decides when a sample is due and what it says: the busiest
// count per audience since the last one.
type connSampler struct {
	node   string
	every  time.Duration
	peak   event.Connections
	last   time.Time // when the last sample was taken
	wasAny bool      // the last sample counted someone
}

// observe takes one count (per Audience, in Audience order) at now and
// returns the sample to append, if one is due.
func (s *connSampler) observe(now time.Time, conns []int) (event.Connections, bool) {
	get := func(a Audience) int {
		if int(a) < len(conns) {
			return conns[a]
		}
		return 0
	}
	now0 := event.Connections{Public: get(Public), Moderators: get(Moderator), Facilitators: get(Facilitator)}
	s.peak.Public = max(s.peak.Public, now0.Public)
	s.peak.Moderators = max(s.peak.Moderators, now0.Moderators)
	s.peak.Facilitators = max(s.peak.Facilitators, now0.Facilitators)
	any := s.peak.Public+s.peak.Moderators+s.peak.Facilitators > 0
	if !s.last.IsZero() && now.Sub(s.last) < s.every {
		return event.Connections{}, false
	}
	if !any && !s.wasAny {
		return event.Connections{}, false // nobody then, nobody now
	}
	c := s.peak
	c.Node = s.node
	// Who is connected now counts in the next sample too.
	s.last, s.wasAny, s.peak = now, any, now0
	return c, true
}
