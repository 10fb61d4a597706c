package wall

import (
	"fmt"
	"net/http"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/fanout"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest"
)

// Event is one event this node serves: what the fan-out, auth and page
// handlers need to find by slug.
type Event struct {
	// Config is the event as configured (credentials included: never
	// serialise it whole).
	Config *config.Event
	// Log is the event's log, for handlers that append.
	Log eventlog.Log
	// Live is the node's fold of the log, kept up to date by its Run.
	Live *fold.Live
	// Hub, when not nil, serves the event's websocket clients on this node.
	Hub *fanout.Hub
	// Health, when not nil, gives the health of the sources this node
	// runs for the event.
	Health func() []ingest.HealthSnapshot
}

// Slug is the event's slug.
func (e *Event) Slug() string { return e.Config.Slug }

// AddEvent adds e to the events the server serves. Its Config, Log and
// Live must be set; a slug served already is refused.
func (s *Server) AddEvent(e *Event) error {
	if e == nil || e.Config == nil || e.Log == nil || e.Live == nil {
		return fmt.Errorf("wall: AddEvent: config, log and live are required")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.events[e.Slug()]; dup {
		return fmt.Errorf("wall: AddEvent: event %q is served already", e.Slug())
	}
	s.events[e.Slug()] = e
	s.order = append(s.order, e.Slug())
	return nil
}

// Event returns the event with this slug.
func (s *Server) Event(slug string) (*Event, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.events[slug]
	return e, ok
}

// Events returns the events served, in the order they were added.
func (s *Server) Events() []*Event {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Event, 0, len(s.order))
	for _, slug := range s.order {
		out = append(out, s.events[slug])
	}
	return out
}

// EventOf returns the event named by the request's {slug} path value, or
// an ENOTFOUND error: for handlers mounted on patterns with {slug}.
func (s *Server) EventOf(r *http.Request) (*Event, error) {
	slug := r.PathValue("slug")
	e, ok := s.Event(slug)
	if !ok {
		return nil, event.Errorf(event.ENOTFOUND, "no event %q", slug)
	}
	return e, nil
}
