package auth

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Rate is a token bucket's shape: Burst requests at once, then one more
// every Every.
type Rate struct {
	Burst int
	Every time.Duration
}

// Limiter is a set of token buckets, one per key (a client address, an
// event). It is safe for concurrent use. Its memory is bounded: when it
// holds MaxKeys buckets it forgets those that have refilled, and if that is
// not enough, all of them (a flood of addresses must not exhaust memory; the
// per-event limit still holds while the per-address one restarts).
type Limiter struct {
	rate    Rate
	now     func() time.Time
	maxKeys int

	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// DefaultMaxKeys bounds a Limiter's memory.
const DefaultMaxKeys = 100_000

// NewLimiter returns a limiter with rate for every key. now is the clock
// (nil: time.Now); tests pass their own to move time without sleeping.
func NewLimiter(rate Rate, now func() time.Time) *Limiter {
	if rate.Burst < 1 {
		rate.Burst = 1
	}
	if rate.Every <= 0 {
		rate.Every = time.Second
	}
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate, now: now, maxKeys: DefaultMaxKeys, buckets: make(map[string]*bucket)}
}

// Allow takes one token from key's bucket. When the bucket is empty it
// returns false and how long until a token is back.
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.sweep(now)
		}
		b = &bucket{tokens: float64(l.rate.Burst), last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration(math.Ceil((1 - b.tokens) * float64(l.rate.Every)))
}

func (l *Limiter) refill(b *bucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.tokens = math.Min(float64(l.rate.Burst), b.tokens+float64(d)/float64(l.rate.Every))
		b.last = now
	}
}

// sweep forgets full buckets (they behave as new ones), or everything when
// none is full. l.mu is held.
func (l *Limiter) sweep(now time.Time) {
	for k, b := range l.buckets {
		l.refill(b, now)
		if b.tokens >= float64(l.rate.Burst) {
			delete(l.buckets, k)
		}
	}
	if len(l.buckets) >= l.maxKeys {
		clear(l.buckets)
	}
}

// RetryAfterSeconds is d as a Retry-After header value: whole seconds,
// rounded up, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	if s < 1 {
		s = 1
	}
	return s
}

// ClientAddr is the address of the client that sent r. It is the peer's
// address, unless the peer is one of trusted (a reverse proxy or load
// balancer the operator runs): then it is the right-most address in
// X-Forwarded-For that is not itself trusted. Headers from untrusted peers
// are ignored, since anyone can write them. The zero Addr means unknown.
func ClientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := peerAddr(r)
	if !isTrusted(peer, trusted) {
		return peer
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break // a garbled hop: trust nothing further left
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a
		}
		peer = a
	}
	return peer
}

// ClientKey is the rate-limit key of a client address: the address for
// IPv4, its /64 for IPv6 (one subscriber usually holds a whole /64).
func ClientKey(a netip.Addr) string {
	if !a.IsValid() {
		return "unknown"
	}
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

func peerAddr(r *http.Request) netip.Addr {
	if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
		return ap.Addr().Unmap()
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	if !a.IsValid() {
		return false
	}
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// fromTrustedProxy reports whether r came through a trusted proxy, whose
// X-Forwarded-Proto and X-Forwarded-Host may be believed.
func fromTrustedProxy(r *http.Request, trusted []netip.Prefix) bool {
	return isTrusted(peerAddr(r), trusted)
}

// IsTLS reports whether the client reached us over TLS: directly, or
// through a trusted proxy that says so in X-Forwarded-Proto.
func IsTLS(r *http.Request, trusted []netip.Prefix) bool {
	if r.TLS != nil {
		return true
	}
	return fromTrustedProxy(r, trusted) && strings.EqualFold(strings.TrimSpace(firstValue(r.Header.Get("X-Forwarded-Proto"))), "https")
}

func firstValue(v string) string {
	if i := strings.IndexByte(v, ','); i >= 0 {
		return v[:i]
	}
	return v
}
