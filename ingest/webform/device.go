package webform

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
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
		Name: DeviceCookie, Value: tok, Path: "/e/" + slug + "/form",
		Expires: exp, MaxAge: int(h.opts.DeviceTTL / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: tls,
	})
}
