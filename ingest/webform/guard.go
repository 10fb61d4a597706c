package webform

import (
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/internal/ratelimit"
)

// Limits are one event's form limits.
type Limits struct {
	// PerDevice limits one device token (see device.go). Posts without a
	// token (scripts, curl) share one such bucket per address.
	PerDevice ratelimit.Rate
	// PerAddress limits one client address, whatever its devices: high
	// enough for a room of phones behind one NAT.
	PerAddress ratelimit.Rate
	// PerEvent limits the whole event's form, whoever posts.
	PerEvent ratelimit.Rate
}

// PerMinute is n posts at once, then n a minute.
func PerMinute(n int) ratelimit.Rate {
	if n < 1 {
		n = 1
	}
	return ratelimit.Rate{Burst: n, Every: time.Minute / time.Duration(n)}
}

// DefaultLimits: 3 a minute per device, 60 per address, 600 per event.
var DefaultLimits = Limits{PerDevice: PerMinute(3), PerAddress: PerMinute(60), PerEvent: PerMinute(600)}

// orDefault fills l's zero rates from def.
func (l Limits) orDefault(def Limits) Limits {
	if l.PerDevice.Burst == 0 {
		l.PerDevice = def.PerDevice
	}
	if l.PerAddress.Burst == 0 {
		l.PerAddress = def.PerAddress
	}
	if l.PerEvent.Burst == 0 {
		l.PerEvent = def.PerEvent
	}
	return l
}

// limiters are an event's buckets.
type limiters struct {
	limits                 Limits
	device, address, event *ratelimit.Limiter
}

func newLimiters(l Limits, now func() time.Time) *limiters {
	return &limiters{limits: l,
		device:  ratelimit.NewLimiter(l.PerDevice, now),
		address: ratelimit.NewLimiter(l.PerAddress, now),
		event:   ratelimit.NewLimiter(l.PerEvent, now),
	}
}

// sameSite reports whether a POST may have come from our own page. A
// browser says where a request comes from in Sec-Fetch-Site (all current
// ones) or Origin; "same-site" is refused too, since a sibling host may be
// someone else's. The Origin's host must be the one the request was sent
// to or the event's public address. A request with neither header is not
// from a browser page (curl, a script): it cannot be a forgery through a
// visitor's browser, so it is let through, without a device token and
// under the per-address and per-event limits.
func sameSite(r *http.Request, publicURL string) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // includes "null", from sandboxed frames and data: pages
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if p, err := url.Parse(publicURL); err == nil && p.Host != "" && strings.EqualFold(u.Host, p.Host) {
		return true
	}
	return false
}

// formMetrics count refused posts; no-ops without a Registerer.
type formMetrics struct{ refused *prometheus.CounterVec }

func newFormMetrics(reg prometheus.Registerer) formMetrics {
	if reg == nil {
		return formMetrics{}
	}
	m := formMetrics{refused: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "backchannel_webform_refused_total",
		Help: "Web form posts refused, by event and reason: cross_site (403), device, address or event (429, the limit reached).",
	}, []string{"event", "reason"})}
	reg.MustRegister(m.refused)
	return m
}

func (m formMetrics) refuse(slug, reason string) {
	if m.refused != nil {
		m.refused.WithLabelValues(slug, reason).Inc()
	}
}
