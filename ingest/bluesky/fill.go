package bluesky

import (
	"context"
	"log/slog"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
)

// The author fill-in: a post from an author whose profile is not known yet
// is appended at once with what the stream carries (the handle from an
// identity frame, else the DID's short form; no display name), and kept
// here until the profile arrives. Then it is appended again as an edit of
// the same version with the author filled in.
//
// Every append of a post of this source, by the reader or by a profile
// worker, holds Source.appendMu, and the waiting version is replaced by
// each later version the reader appends, so a fill-in never appends an
// older version after a newer one.

// waitingPost is a version of a post appended without its author's name.
type waitingPost struct {
	p    event.Post
	seen time.Time // the frame's time, if the record has no usable dates
}

// wait records p as appended without its author's name. Call with appendMu held.
func (s *Source) wait(p event.Post, seen time.Time) {
	did := p.Author.ID
	m := s.waiting[did]
	if m == nil {
		if len(s.waiting) >= s.cfg.ProfileQueue*4 {
			// Bounded: a post beyond this stays as the stream named it.
			s.Stats.FillsDropped.Add(1)
			return
		}
		m = map[string]waitingPost{}
		s.waiting[did] = m
	}
	if _, ok := m[p.URI]; !ok && len(m) >= 50 {
		s.Stats.FillsDropped.Add(1)
		return
	}
	m[p.URI] = waitingPost{p: p, seen: seen}
}

// unwait forgets uri (deleted, withdrawn). Call with appendMu held.
func (s *Source) unwait(did, uri string) {
	if m := s.waiting[did]; m != nil {
		delete(m, uri)
		if len(m) == 0 {
			delete(s.waiting, did)
		}
	}
}

// fill appends, as edits, the waiting posts of the author whose profile
// has just arrived.
func (s *Source) fill(ctx context.Context, sink ingest.Sink, prof Profile) {
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	m := s.waiting[prof.Did]
	delete(s.waiting, prof.Did)
	for _, w := range m {
		p := w.p
		p.Author = s.conv.author(prof.Did, prof)
		p.EditedAt = fillTime(p, w.seen)
		if _, err := sink.Edit(ctx, p); err != nil {
			s.log.Warn("could not name the author of a post", slog.String("uri", p.URI), slog.Any("err", err))
			continue
		}
		s.Stats.Fills.Add(1)
	}
}

// fillTime is the EditedAt of a fill-in: a nanosecond after the version it
// fills (its edit time, else its creation time, else when the stream
// carried it). Jetstream's times are whole microseconds, so the fill-in's
// idempotency key never meets a real edit's, and the same fill-in made
// again after a restart is the same key, stored once.
func fillTime(p event.Post, seen time.Time) time.Time {
	base := p.EditedAt
	if base.IsZero() {
		base = p.CreatedAt
	}
	if base.IsZero() {
		base = seen
	}
	return base.Add(time.Nanosecond)
}
