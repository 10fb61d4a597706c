package wall

import (
	"net/url"
	"strings"
	"time"

	"github.com/backchannel/backchannel/ingest"
)

// SourceTrouble is one source in trouble, as a host reads it at the top
// of the moderator page.
type SourceTrouble struct {
	// Source is the source's configured name ("mastodon:mastodon.social").
	Source string `json:"source"`
	// Kind is "unreachable", "rate_limited" or "refused" (the server
	// refused our credentials).
	Kind string `json:"kind"`
	// Since is when the trouble began.
	Since time.Time `json:"since"`
	// Message is the trouble in a host's words, times in the event's zone:
	// "mastodon.social cannot be reached since 11:02; check the venue's network".
	Message string `json:"message"`
	// Detail is the last error, for whoever runs the server.
	Detail string `json:"detail,omitempty"`
}

// troubleOf turns the sources' health into the host's words; sources that
// work, start, wait for the event's window or stand by are left out.
func troubleOf(hs []ingest.HealthSnapshot, loc *time.Location) []SourceTrouble {
	out := []SourceTrouble{}
	for _, h := range hs {
		kind := ""
		switch {
		case h.State == ingest.StateRateLimited:
			kind = "rate_limited"
		case h.State != ingest.StateBackingOff:
			continue
		case refusedCredentials(h.LastError):
			kind = "refused"
		default:
			kind = "unreachable"
		}
		since := h.TroubleSince
		if since.IsZero() {
			since = h.LastErrorAt
		}
		name, at := hostName(h.Source), since.In(loc).Format("15:04")
		var msg string
		switch kind {
		case "rate_limited":
			msg = name + " is limiting how fast we read, since " + at + "; posts will arrive late"
		case "refused":
			msg = name + " refused our token since " + at + "; check the source's token in the configuration"
		default:
			msg = name + " cannot be reached since " + at + "; check the venue's network"
		}
		out = append(out, SourceTrouble{Source: h.Source, Kind: kind, Since: since, Message: msg, Detail: h.LastError})
	}
	return out
}

// refusedCredentials reports an error that says the server refused who we
// are (a missing or wrong token), not that it could not be reached.
func refusedCredentials(err string) bool {
	e := strings.ToLower(err)
	for _, w := range []string{"token", "unauthorized", "forbidden", " 401", " 403", "status 401", "status 403"} {
		if strings.Contains(e, w) {
			return true
		}
	}
	return false
}

// hostName is a source's name as a host knows it: "mastodon.social" for
// "mastodon:mastodon.social", the feed's host for a feed, "Bluesky".
func hostName(source string) string {
	kind, rest, ok := strings.Cut(source, ":")
	if !ok || rest == "" {
		if source == "bluesky" {
			return "Bluesky"
		}
		return source
	}
	if u, err := url.Parse(rest); err == nil && u.Host != "" {
		return u.Host
	}
	if kind == "bluesky" {
		return "Bluesky (" + rest + ")"
	}
	return rest
}
