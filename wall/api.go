package wall

import (
	"net/http"
	"strconv"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// The wall endpoint's limits on how many posts one response holds.
const (
	DefaultWallLimit = 50
	MaxWallLimit     = 500
)

func (s *Server) routeAPI() {
	s.mux.HandleFunc("GET /api/events", s.listEvents)
	s.mux.HandleFunc("GET /api/events/{slug}", s.getEvent)
	s.mux.HandleFunc("GET /api/events/{slug}/wall", s.getWall)
	// Unknown API paths answer in JSON like the rest of the API.
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) { WriteError(w, r, errNotFound) })
}

// EventInfo is an event as the public API shows it: no sources, rules or
// credentials.
type EventInfo struct {
	Slug     string    `json:"slug"`
	Title    string    `json:"title"`
	Hashtags []string  `json:"hashtags"`
	Place    string    `json:"place,omitempty"`
	Start    time.Time `json:"start,omitzero"`
	End      time.Time `json:"end,omitzero"`
	// LeadInSeconds is how long before Start the event counts as live.
	LeadInSeconds int64 `json:"lead_in_seconds,omitempty"`
	// Live reports whether the event is live now (inside its time window;
	// always when it has none).
	Live bool `json:"live"`
	// Moderation is the mode now: "pre" or "auto".
	Moderation    event.Mode        `json:"moderation"`
	Display       map[string]string `json:"display,omitempty"`
	PrivacyNotice string            `json:"privacy_notice,omitempty"`
	// Pos is the log position the title, mode and display reflect.
	Pos uint64 `json:"pos"`
}

// Info returns the event's public description at now. Title, mode and
// display come from the fold, since moderators change them while it runs.
func (e *Event) Info(now time.Time) EventInfo {
	c := e.Config
	info := EventInfo{
		Slug: c.Slug, Hashtags: c.Hashtags, Place: c.Place,
		Start: c.Start, End: c.End, LeadInSeconds: int64(c.LeadIn / time.Second),
		Live: c.Live(now), PrivacyNotice: c.PrivacyNotice,
	}
	var st fold.SettingsView
	e.Live.View(func(s *fold.State) { st, info.Pos = s.Settings(), s.Pos() })
	info.Title, info.Moderation, info.Display = st.Title, st.Moderation, st.Display
	return info
}

// EventList is the body of GET /api/events.
type EventList struct {
	Events []EventInfo `json:"events"`
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now()
	list := EventList{Events: []EventInfo{}}
	for _, e := range s.Events() {
		list.Events = append(list.Events, e.Info(now))
	}
	WriteJSON(w, http.StatusOK, list)
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) {
	e, err := s.EventOf(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, e.Info(s.opts.Now()))
}

func (s *Server) getWall(w http.ResponseWriter, r *http.Request) {
	e, err := s.EventOf(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	limit, err := intParam(r, "limit", DefaultWallLimit, 1, MaxWallLimit)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	var wall fold.Wall
	e.Live.View(func(s *fold.State) { wall = s.Wall(limit) })
	WriteJSON(w, http.StatusOK, wall)
}

// intParam reads the query parameter name as an integer in [lo, hi], def
// when absent; anything else is EINVALID.
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, event.Errorf(event.EINVALID, "%s must be a whole number from %d to %d, not %q", name, lo, hi, v)
	}
	return n, nil
}
