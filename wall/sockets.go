package wall

import (
	"net/http"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fanout"
)

// routeSockets mounts the public socket, GET /api/events/{slug}/ws.
func (s *Server) routeSockets() {
	s.mux.HandleFunc("GET /api/events/{slug}/ws", s.publicSocket)
}

// publicSocket serves the public wall's websocket: it carries only what is
// approved for public surfaces, so it needs no credentials. The moderator
// and facilitator socket, GET /api/events/{slug}/ws/staff, is mounted by
// MountStaff, which picks its audience from the caller's role
// (staffSocket).
func (s *Server) publicSocket(w http.ResponseWriter, r *http.Request) {
	e, err := s.EventOf(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if e.Hub == nil {
		WriteError(w, r, event.Errorf(event.EUNAVAILABLE, "this node serves no live updates for %q", e.Slug()))
		return
	}
	e.Hub.ServeWS(w, r, fanout.Public)
}
