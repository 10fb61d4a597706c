package fanout

import (
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/internal/jsonhttp"
)

// Reasons a socket is refused, as the "reason" label of
// backchannel_fanout_sockets_refused_total.
const (
	refusedPerAddress  = "per_address"
	refusedPublicTotal = "public_total"
	refusedStaffTotal  = "staff_total"
)

// LimitOptions size a SocketLimits.
type LimitOptions struct {
	// PerAddress caps the public sockets of one client address (as
	// ClientKey names it); 0 or less means no cap. A venue NAT puts
	// hundreds of phones behind one address, so size it for that.
	PerAddress int
	// Public caps the public sockets of the process; 0 or less means no cap.
	Public int
	// Staff caps the moderator and facilitator sockets of the process,
	// counted apart from the public ones so a flood of public sockets
	// never keeps staff out; 0 or less means no cap.
	Staff int
	// ClientKey names the client that sent r, the key of the per-address
	// cap. nil uses the peer's IP address; behind a reverse proxy, pass
	// one that believes the proxy's X-Forwarded-For (auth.ClientAddr).
	ClientKey func(r *http.Request) string
	// RetryAfter is what a refusal for a full process asks the client to
	// wait (default 30s).
	RetryAfter time.Duration
	// LogEvery bounds the refusal log to one line per reason this often
	// (default 10s); the line counts the refusals it stands for.
	LogEvery time.Duration
	// Registerer receives the metrics; nil means they are not exported.
	Registerer prometheus.Registerer
	// Logger receives the refusal lines (default slog.Default()).
	Logger *slog.Logger
}

// SocketLimits caps the websockets of every hub that shares it (a node
// shares one among its events' hubs), so that no one client address can
// take the file descriptors that other clients, the staff and the log
// need. A socket is admitted or refused before the upgrade, with 429 (its
// address holds PerAddress public sockets) or 503 and Retry-After (the
// process holds Public public sockets, or Staff staff sockets), and its
// place is given back when it closes. A nil *SocketLimits admits every
// socket. It is safe for concurrent use.
type SocketLimits struct {
	o LimitOptions

	refused *prometheus.CounterVec
	open    *prometheus.GaugeVec

	mu      sync.Mutex
	byAddr  map[string]int
	public  int
	staff   int
	lastLog map[string]time.Time
	unsaid  map[string]int // refusals since the reason's last log line
}

// NewSocketLimits returns limits sized by o, its metrics registered.
func NewSocketLimits(o LimitOptions) *SocketLimits {
	if o.RetryAfter <= 0 {
		o.RetryAfter = 30 * time.Second
	}
	if o.LogEvery <= 0 {
		o.LogEvery = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ClientKey == nil {
		o.ClientKey = peerIP
	}
	l := &SocketLimits{
		o:       o,
		byAddr:  map[string]int{},
		lastLog: map[string]time.Time{},
		unsaid:  map[string]int{},
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: "backchannel", Subsystem: "fanout", Name: "sockets_refused_total",
			Help: "Websockets refused before the upgrade, by reason: per_address (429, the client address holds its cap), public_total or staff_total (503, the process holds its cap).",
		}, []string{"reason"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: "backchannel", Subsystem: "fanout", Name: "sockets_open",
			Help: "Websockets open on this process across its events, by pool (public, staff).",
		}, []string{"pool"}),
	}
	limit := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "backchannel", Subsystem: "fanout", Name: "sockets_limit",
		Help: "The caps on websockets: per_address (public sockets of one client address), public and staff (of the process); 0 means none.",
	}, []string{"cap"})
	limit.WithLabelValues("per_address").Set(float64(max(o.PerAddress, 0)))
	limit.WithLabelValues("public").Set(float64(max(o.Public, 0)))
	limit.WithLabelValues("staff").Set(float64(max(o.Staff, 0)))
	for _, r := range []string{refusedPerAddress, refusedPublicTotal, refusedStaffTotal} {
		l.refused.WithLabelValues(r) // exported at 0, so a rate works from the start
	}
	l.open.WithLabelValues("public")
	l.open.WithLabelValues("staff")
	if o.Registerer != nil {
		o.Registerer.MustRegister(l.refused, l.open, limit)
	}
	return l
}

// peerIP is the default client key: the IP address of the TCP peer.
func peerIP(r *http.Request) string {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap().String()
	}
	return r.RemoteAddr
}

// Open reports the public and staff sockets open now.
func (l *SocketLimits) Open() (public, staff int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.public, l.staff
}

// admit takes a place for a socket of audience a from r, or answers w
// with the refusal and reports false. release gives the place back; call
// it once, when the socket closes or its upgrade fails.
func (l *SocketLimits) admit(w http.ResponseWriter, r *http.Request, a Audience, eventSlug string) (release func(), ok bool) {
	if l == nil {
		return func() {}, true
	}
	if a != Public {
		l.mu.Lock()
		if l.o.Staff > 0 && l.staff >= l.o.Staff {
			l.mu.Unlock()
			l.refuse(w, r, refusedStaffTotal, eventSlug, "", a)
			return nil, false
		}
		l.staff++
		l.mu.Unlock()
		l.open.WithLabelValues("staff").Inc()
		return l.releaser(func() { l.staff-- }, "staff"), true
	}
	key := l.o.ClientKey(r)
	l.mu.Lock()
	switch {
	case l.o.PerAddress > 0 && l.byAddr[key] >= l.o.PerAddress:
		l.mu.Unlock()
		l.refuse(w, r, refusedPerAddress, eventSlug, key, a)
		return nil, false
	case l.o.Public > 0 && l.public >= l.o.Public:
		l.mu.Unlock()
		l.refuse(w, r, refusedPublicTotal, eventSlug, key, a)
		return nil, false
	}
	l.public++
	l.byAddr[key]++
	l.mu.Unlock()
	l.open.WithLabelValues("public").Inc()
	return l.releaser(func() {
		l.public--
		if l.byAddr[key]--; l.byAddr[key] <= 0 {
			delete(l.byAddr, key)
		}
	}, "public"), true
}

// releaser runs undo under the lock, once.
func (l *SocketLimits) releaser(undo func(), pool string) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			l.mu.Lock()
			undo()
			l.mu.Unlock()
			l.open.WithLabelValues(pool).Dec()
		})
	}
}

// refuse answers a socket over a cap: 429 for its address's cap, 503 with
// Retry-After for the process's. It counts the refusal and logs it, at
// most one line per reason every LogEvery, so a flood of refusals cannot
// flood the log.
func (l *SocketLimits) refuse(w http.ResponseWriter, r *http.Request, reason, eventSlug, key string, a Audience) {
	l.refused.WithLabelValues(reason).Inc()
	var status int
	var msg string
	switch reason {
	case refusedPerAddress:
		status, msg = http.StatusTooManyRequests, "too many live connections from your address"
	default:
		status, msg = http.StatusServiceUnavailable, "this server holds as many live connections as it can; try again shortly"
		w.Header().Set("Retry-After", strconv.Itoa(int((l.o.RetryAfter+time.Second-1)/time.Second)))
	}

	now := time.Now()
	l.mu.Lock()
	l.unsaid[reason]++
	say := now.Sub(l.lastLog[reason]) >= l.o.LogEvery
	var n, public, staff, here int
	if say {
		n = l.unsaid[reason]
		l.unsaid[reason] = 0
		l.lastLog[reason] = now
		public, staff, here = l.public, l.staff, l.byAddr[key]
	}
	l.mu.Unlock()
	if say {
		attrs := []any{
			slog.String("reason", reason), slog.String("event", eventSlug), slog.String("audience", a.String()),
			slog.Int("refused", n), slog.Duration("per", l.o.LogEvery),
			slog.Int("public_open", public), slog.Int("staff_open", staff),
			slog.Int("max_per_address", l.o.PerAddress), slog.Int("max_public", l.o.Public), slog.Int("max_staff", l.o.Staff),
		}
		if key != "" {
			attrs = append(attrs, slog.String("client", key), slog.Int("client_open", here))
		}
		l.o.Logger.Warn("fanout: websockets refused over a limit", attrs...)
	}
	code := event.ERATELIMIT
	if status == http.StatusServiceUnavailable {
		code = event.EUNAVAILABLE
	}
	jsonhttp.Refuse(w, status, code, msg)
}
