package wall

import (
	"maps"
	"net/http"
	"strings"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// maxTitle bounds a title set through the API, in characters.
const maxTitle = 200

func (st *staffAPI) routeSettings() {
	st.handle("GET /api/events/{slug}/settings", event.RoleModerator, st.getSettings)
	st.handle("POST /api/events/{slug}/settings", event.RoleModerator, st.postSettings)
}

// SettingsChange is the body of POST .../settings: every field is
// optional, and only those given change. A display key with the empty
// value removes that option (the screens' default applies again). The
// display options (event.DisplayKeys) take what the config file takes.
type SettingsChange struct {
	Title      *string           `json:"title,omitempty"`
	Moderation *event.Mode       `json:"moderation,omitempty"`
	Display    map[string]string `json:"display,omitempty"`
}

func (st *staffAPI) getSettings(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	WriteJSON(w, http.StatusOK, settingsOf(e))
	return nil
}

func settingsOf(e *Event) fold.SettingsView {
	var v fold.SettingsView
	e.Live.View(func(s *fold.State) { v = s.Settings() })
	return v
}

// postSettings appends one settings.changed with the fields that differ
// from the settings as they stand, waits for this node's fold and answers
// with the settings after it. A change that changes nothing appends
// nothing and answers the settings as they are.
func (st *staffAPI) postSettings(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	var c SettingsChange
	if err := decodeBody(w, r, &c); err != nil {
		return err
	}
	ch, err := c.validate()
	if err != nil {
		return err
	}
	cur := settingsOf(e)
	if ch.Title != nil && *ch.Title == cur.Title {
		ch.Title = nil
	}
	if ch.Moderation != nil && *ch.Moderation == cur.Moderation {
		ch.Moderation = nil
	}
	maps.DeleteFunc(ch.Display, func(k, v string) bool { return cur.Display[k] == v })
	if len(ch.Display) == 0 {
		ch.Display = nil
	}
	if ch.Title == nil && ch.Moderation == nil && ch.Display == nil {
		WriteJSON(w, http.StatusOK, cur)
		return nil
	}
	if _, err := st.appendAction(r.Context(), e, id, event.Entry{Kind: event.SettingsChanged, Settings: ch}); err != nil {
		return err
	}
	WriteJSON(w, http.StatusOK, settingsOf(e))
	return nil
}

// validate checks the change by the rules the config file is checked by
// (event.Mode.Valid, event.Display.Validate), and returns it as the
// event's Settings, its layout and theme under their canonical names.
func (c SettingsChange) validate() (*event.Settings, error) {
	out := &event.Settings{}
	if c.Title != nil {
		t, err := cleanText("title", *c.Title, maxTitle, true)
		if err != nil {
			return nil, err
		}
		if strings.ContainsAny(t, "\n\t") {
			return nil, event.Errorf(event.EINVALID, "title must be one line")
		}
		out.Title = &t
	}
	if c.Moderation != nil {
		m := *c.Moderation
		if !m.Valid() {
			return nil, event.Errorf(event.EINVALID, "moderation must be %q or %q, not %q", event.ModePre, event.ModeAuto, m)
		}
		out.Moderation = &m
	}
	if c.Display != nil {
		d := event.Display(c.Display)
		if err := d.Validate(); err != nil {
			return nil, err
		}
		out.Display = d.Canonical()
	}
	return out, nil
}
