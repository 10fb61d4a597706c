package auth

import (
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/internal/clientaddr"
)

// How online guessing is bounded (docs/SECURITY.md has the figures).
//
// Counting wrong attempts per address and per event and refusing past a
// budget would let anyone sharing the venue's address, or anyone at all
// for the event's budget, lock the real moderators out. So those counters
// only change what a wrong attempt is told (429 instead of 401); every
// attempt's credential is checked, and a right one is accepted.
//
// What bounds guessing is the number of checks: per event, at most
// DefaultLoginChecks for addresses in good standing plus as many for
// addresses past their wrong-attempt budget. Splitting the two keeps a
// flood from guessing addresses from using up the checks of everyone
// else: a moderator on another address (a phone's own network) is checked
// at once, and one on the flooded address still gets a share.

// DefaultLoginChecks is Options.LoginChecks's default: 10 at once, then 5
// a second, per event and per standing.
var DefaultLoginChecks = Rate{Burst: 10, Every: 200 * time.Millisecond}

// DefaultLoginCheckWait is how long an attempt waits for its turn among
// the checks before it is answered 429.
const DefaultLoginCheckWait = 2 * time.Second

// awaitCheck waits for the attempt's turn among slug's credential checks.
// It answers 429 itself and returns false when the turn is further off
// than the allowed wait, or the client left while waiting.
func (a *Authenticator) awaitCheck(w http.ResponseWriter, r *http.Request, slug string, addr netip.Addr) bool {
	standing := 0
	if a.perAddr.Empty(clientaddr.Key(addr)) {
		standing = 1 // past its budget of wrong attempts
	}
	maxWait := max(a.checkWait, 0)
	wait, ok := a.checks[standing].Reserve(slug, maxWait)
	if !ok {
		a.log.Warn("login refused: too many attempts at this event", slog.String("event", slug),
			slog.String("addr", addr.String()), slog.Bool("guessing_address", standing == 1))
		a.metrics.refused(slug, "checks")
		tooMany(w, wait)
		return false
	}
	if wait <= 0 {
		return true
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false // the client is gone; its check stays spent, as a guess would
	}
}

// loginMetrics are the login endpoint's counters; all nil (no-ops) without
// a Registerer.
type loginMetrics struct {
	checks  *prometheus.CounterVec
	refusal *prometheus.CounterVec
}

func newLoginMetrics(reg prometheus.Registerer) loginMetrics {
	if reg == nil {
		return loginMetrics{}
	}
	m := loginMetrics{
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backchannel_login_checks_total",
			Help: "Credentials checked at the login endpoint, by event and whether they were right.",
		}, []string{"event", "result"}),
		refusal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "backchannel_login_refused_total",
			Help: "Login attempts answered 429, by event and reason: checks (over the event's cap of checks), wrong_address or wrong_event (a wrong credential past the budget of wrong attempts).",
		}, []string{"event", "reason"}),
	}
	reg.MustRegister(m.checks, m.refusal)
	return m
}

func (m loginMetrics) checked(slug string, right bool) {
	if m.checks == nil {
		return
	}
	result := "wrong"
	if right {
		result = "right"
	}
	m.checks.WithLabelValues(slug, result).Inc()
}

func (m loginMetrics) refused(slug, reason string) {
	if m.refusal != nil {
		m.refusal.WithLabelValues(slug, reason).Inc()
	}
}
