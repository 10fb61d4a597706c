package webform

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/internal/clientaddr"
)

// A post token lets the participant who sent a post read that one post
// back, its text and where it stands (waiting, on the wall, not shown),
// and nothing else: the form's answer hands it out, the participant page
// keeps it in the browser's storage and asks GET /e/{slug}/mine?token=…
// (wall/mine.go). It is "<post id>.<log position>.<mac>", the MAC an
// HMAC-SHA256 of the event, the post id and the position under a key
// derived from the server's session key for this use alone, so it can
// pass for no other post, no other event, no device token and no session.
// The position lets a node whose fold lags wait until it holds the post.

// postTokenKey derives the post tokens' key from the server key (a random
// one without it: tokens then last as long as the process).
func postTokenKey(serverKey []byte) []byte {
	if len(serverKey) == 0 {
		return deviceKey(nil)
	}
	m := hmac.New(sha256.New, serverKey)
	m.Write([]byte("backchannel web form post token"))
	return m.Sum(nil)
}

func (h *Handler) postMAC(slug, post string, pos uint64) string {
	m := hmac.New(sha256.New, h.postKey)
	m.Write([]byte(slug + "\x00" + post + "\x00" + strconv.FormatUint(pos, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// postToken is the token of the post post of the event slug, appended at
// pos.
func (h *Handler) postToken(slug, post string, pos uint64) string {
	return post + "." + strconv.FormatUint(pos, 10) + "." + h.postMAC(slug, post, pos)
}

// PostToken says which post a participant's post token is for, and the
// log position it was appended at: the participant page's read of its own
// post (GET /e/{slug}/mine). Errors: ENOTFOUND for an event without a
// form, or a token this server did not give for this event (a wrong, cut
// or forged one: it reveals nothing about any post); EFORBIDDEN for a
// request sent from another site, as for the form. addr is the key of the
// client's address (for rate limits), set whenever the request came from
// our own site, even with a wrong token, so guesses count against it.
func (h *Handler) PostToken(r *http.Request, slug, token string) (post string, pos uint64, addr string, err error) {
	h.mu.RLock()
	ev, ok := h.events[slug]
	h.mu.RUnlock()
	if !ok {
		return "", 0, "", event.Errorf(event.ENOTFOUND, "no such event")
	}
	a := clientaddr.From(r, h.opts.TrustedProxies)
	if !sameSite(r, ev.PublicURL) {
		h.opts.Logger.Warn("read of an own post from another site refused", slog.String("event", slug),
			slog.String("addr", a.String()), slog.String("origin", r.Header.Get("Origin")))
		return "", 0, "", event.Errorf(event.EFORBIDDEN, "requests sent from another site are refused; open this event's page")
	}
	addr = clientaddr.Key(a)
	parts := strings.Split(token, ".")
	if len(parts) == 3 && parts[0] != "" {
		n, perr := strconv.ParseUint(parts[1], 10, 64)
		if perr == nil && hmac.Equal([]byte(parts[2]), []byte(h.postMAC(slug, parts[0], n))) {
			return parts[0], n, addr, nil
		}
	}
	return "", 0, addr, event.Errorf(event.ENOTFOUND, "no post for this token")
}
