package webform

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/internal/clientaddr"
)

// A device token tells one phone or browser from the others behind the
// same address (a venue's NAT puts a whole room behind one), so each gets
// its own share of posts. The form hands it out on GET as an HttpOnly,
// SameSite=Strict cookie: the page's script cannot read it and another
// site's page cannot make the browser send it. It is signed (HMAC-SHA256
// with a key derived from the server's session key), bound to its event
// and expires. It proves nothing about a person: anyone can fetch a new
// one, which is why the per-address and per-event limits stay.

// DeviceCookie is the device token cookie's name.
const DeviceCookie = "bc_form_device"

// DefaultDeviceTTL is how long a device token lasts: a long event day.
const DefaultDeviceTTL = 24 * time.Hour

// deviceKey derives the device tokens' key from the server key, so a
// device token can never pass for a session cookie or the reverse.
func deviceKey(serverKey []byte) []byte {
	if len(serverKey) == 0 {
		k := make([]byte, 32)
		_, _ = rand.Read(k) // tokens then last as long as the process
		return k
	}
	m := hmac.New(sha256.New, serverKey)
	m.Write([]byte("backchannel web form device token"))
	return m.Sum(nil)
}

func (h *Handler) deviceMAC(slug, id string, exp int64) string {
	m := hmac.New(sha256.New, h.key)
	m.Write([]byte(slug + "\x00" + id + "\x00" + strconv.FormatInt(exp, 10)))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// newDevice returns a new token for slug and when it expires.
func (h *Handler) newDevice(slug string) (token string, exp time.Time) {
	var b [12]byte
	_, _ = rand.Read(b[:])
	id := base64.RawURLEncoding.EncodeToString(b[:])
	exp = h.opts.Now().Add(h.opts.DeviceTTL).Truncate(time.Second)
	return id + "." + strconv.FormatInt(exp.Unix(), 10) + "." + h.deviceMAC(slug, id, exp.Unix()), exp
}

// device is the id of r's device token for slug, and when it expires; ok
// is false when r has none, or a forged, foreign or expired one.
func (h *Handler) device(r *http.Request, slug string) (id string, exp time.Time, ok bool) {
	c, err := r.Cookie(DeviceCookie)
	if err != nil {
		return "", time.Time{}, false
	}
	parts := strings.Split(c.Value, ".")
	if len(parts) != 3 {
		return "", time.Time{}, false
	}
	unix, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || !hmac.Equal([]byte(parts[2]), []byte(h.deviceMAC(slug, parts[0], unix))) {
		return "", time.Time{}, false
	}
	exp = time.Unix(unix, 0)
	if !h.opts.Now().Before(exp) {
		return "", time.Time{}, false
	}
	return parts[0], exp, true
}

// handOutDevice sets a device token cookie on w unless r carries one good
// for at least half its life more.
func (h *Handler) handOutDevice(w http.ResponseWriter, r *http.Request, slug string, tls bool) {
	if _, exp, ok := h.device(r, slug); ok && exp.Sub(h.opts.Now()) > h.opts.DeviceTTL/2 {
		return
	}
	tok, exp := h.newDevice(slug)
	http.SetCookie(w, &http.Cookie{
		// The event's whole path: the form, and the votes (/e/{slug}/questions/...).
		Name: DeviceCookie, Value: tok, Path: "/e/" + slug,
		Expires: exp, MaxAge: int(h.opts.DeviceTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: tls,
	})
}

// Voter says who sends r, a participant's vote on the event slug: the
// device, as a pseudonym fit for the log (a hash of the token's id under
// the event, never the token), and the key of the client's address for
// rate limits. It refuses (EFORBIDDEN) a request sent from another site,
// as the form does, and one without a good device token: one vote per
// device needs a device. The event must have a form (SetEvent), else
// ENOTFOUND.
func (h *Handler) Voter(r *http.Request, slug string) (device, addr string, err error) {
	h.mu.RLock()
	ev, ok := h.events[slug]
	h.mu.RUnlock()
	if !ok {
		return "", "", event.Errorf(event.ENOTFOUND, "no such event")
	}
	a := clientaddr.From(r, h.opts.TrustedProxies)
	if !sameSite(r, ev.PublicURL) {
		h.opts.Logger.Warn("vote from another site refused", slog.String("event", slug), slog.String("addr", a.String()),
			slog.String("origin", r.Header.Get("Origin")))
		return "", "", event.Errorf(event.EFORBIDDEN, "votes sent from another site are refused; vote on this event's page")
	}
	id, _, ok := h.device(r, slug)
	if !ok {
		return "", "", event.Errorf(event.EFORBIDDEN, "this browser has no device token for the event (or an expired one): reload the event's page and vote again")
	}
	sum := sha256.Sum256([]byte(slug + "\x00" + id))
	return "d" + hex.EncodeToString(sum[:12]), clientaddr.Key(a), nil
}
