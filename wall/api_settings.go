package wall

import (
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// DisplayKeys are the display options a moderator may change while the
// event runs: those config.Display knows (the keys of its Map, which is
// what the fold starts from).
var DisplayKeys = []string{"layout", "theme", "show_avatars", "show_handles", "brand_colour", "logo"}

// maxTitle bounds a title set through the API, in characters.
const maxTitle = 200

// settingsColour is config's brand colour rule (#rgb or #rrggbb).
var settingsColour = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

func (st *staffAPI) routeSettings() {
	st.handle("GET /api/events/{slug}/settings", event.RoleModerator, st.getSettings)
	st.handle("POST /api/events/{slug}/settings", event.RoleModerator, st.postSettings)
}

// SettingsChange is the body of POST .../settings: every field is
// optional, and only those given change. A display key with the empty
// value removes that option (the screens' default applies again).
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

// validate checks the change as config checks the event's file, and
// returns it as the event's Settings.
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
		if m := *c.Moderation; m != event.ModePre && m != event.ModeAuto {
			return nil, event.Errorf(event.EINVALID, "moderation must be %q or %q, not %q", event.ModePre, event.ModeAuto, m)
		}
		m := *c.Moderation
		out.Moderation = &m
	}
	if c.Display != nil {
		out.Display = make(map[string]string, len(c.Display))
	}
	for k, v := range c.Display {
		if err := validDisplay(k, v); err != nil {
			return nil, err
		}
		out.Display[k] = v
	}
	return out, nil
}

// validDisplay checks one display option as config does (validateDisplay),
// but for layouts and themes, which are the wall's: the empty value, which
// removes the option, is always valid.
func validDisplay(k, v string) error {
	bad := func(format string, args ...any) error {
		return event.Errorf(event.EINVALID, "display."+k+": "+format, args...)
	}
	if !slices.Contains(DisplayKeys, k) {
		return event.Errorf(event.EINVALID, "unknown display option %q; the options are %s", k, strings.Join(DisplayKeys, ", "))
	}
	if v == "" {
		return nil
	}
	switch k {
	// Layouts and themes: what the wall renders (a superset of what the
	// config file takes), since the wall is what reads them.
	case "layout":
		if !slices.Contains(PublicLayouts, v) {
			return bad("must be one of %s, not %q", strings.Join(PublicLayouts, ", "), v)
		}
	case "theme":
		if !slices.Contains(PublicThemes, v) {
			return bad("must be one of %s, not %q", strings.Join(PublicThemes, ", "), v)
		}
	case "show_avatars", "show_handles":
		if v != "true" && v != "false" {
			return bad("must be true or false, not %q", v)
		}
	case "brand_colour":
		if !settingsColour.MatchString(v) {
			return bad("%q is not a colour like #1a7f5a", v)
		}
	case "logo":
		u, err := url.Parse(v)
		// Only https or a local path, as in the config: the page's
		// Content-Security-Policy names where images may come from.
		if len(v) > 2000 || err != nil || !(u.Scheme == "https" && u.Host != "" ||
			u.Scheme == "" && u.Host == "" && strings.HasPrefix(u.Path, "/") && !strings.HasPrefix(v, "//")) {
			return bad("%q is not an https URL or a path starting with /", v)
		}
	}
	return nil
}
