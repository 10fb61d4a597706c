package wall

import (
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/backchannel/backchannel/internal/hostaddr"
)

// The join address (the QR code, the join text) comes from configuration,
// the event's public_url (config.Event.PublicURL, which holds the server's
// when the event has none of its own). With none, it is this machine's
// address on its network with the port the request came in on: the
// listener's, not anything the request wrote. A request's Host and
// X-Forwarded-* headers never reach it, so a forged one cannot make a
// shared cache hand the room someone else's QR code.

// JoinBase is the scheme and host (with port) the room reaches event e
// at; r is used only for the local port its connection came in on.
func (s *Server) JoinBase(r *http.Request, e *Event) string {
	if e.Config != nil && e.Config.PublicURL != "" {
		return strings.TrimRight(e.Config.PublicURL, "/")
	}
	port := ""
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		port = hostaddr.PortOf(la.String())
	}
	return machineBase(port)
}

// JoinURL is the participant page's absolute address, what the QR code holds.
func (s *Server) JoinURL(r *http.Request, e *Event) string {
	return s.JoinBase(r, e) + "/e/" + e.Slug()
}

// machineBase caches hostaddr.BaseURL briefly: a page view must not list
// the interfaces each time, and a laptop that changes network is still
// followed within seconds.
var machineBases struct {
	sync.Mutex
	byPort map[string]cachedBase
}

type cachedBase struct {
	base string
	at   time.Time
}

const machineBaseTTL = 10 * time.Second

func machineBase(port string) string {
	machineBases.Lock()
	defer machineBases.Unlock()
	if c, ok := machineBases.byPort[port]; ok && time.Since(c.at) < machineBaseTTL {
		return c.base
	}
	base, _ := hostaddr.BaseURL(port)
	if machineBases.byPort == nil {
		machineBases.byPort = map[string]cachedBase{}
	}
	machineBases.byPort[port] = cachedBase{base: base, at: time.Now()}
	return base
}

// joinFields fills d's join address from url.
func joinFields(d *PageData, url, slug string) {
	d.JoinURL = url
	d.JoinText = strings.TrimPrefix(strings.TrimPrefix(url, "https://"), "http://")
	d.JoinPath = "/e/" + slug
	d.JoinHost = strings.TrimSuffix(d.JoinText, d.JoinPath)
}

// qrETag is the validator of a QR code: it changes exactly when the
// address it encodes does.
func qrETag(url string) string {
	sum := sha256.Sum256([]byte(url))
	return `"qr-` + hex.EncodeToString(sum[:8]) + `"`
}
