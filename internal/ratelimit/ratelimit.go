// Package ratelimit holds the per-key token-bucket limiter that login and
// the web form use, and the Retry-After value of the wait it answers.
package ratelimit

import (
	"math"
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
	b := l.bucket(key, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration(math.Ceil((1 - b.tokens) * float64(l.rate.Every)))
}

// Reserve takes one token from key's bucket, borrowing from tokens still
// to come when it is empty, and returns how long the caller must wait
// before acting on it (0 when a token was there). When that wait would
// exceed maxWait it takes nothing and returns ok false with the wait a
// caller would face. Borrowed tokens are repaid before anyone else gets
// one, so waiters are served in order and the rate holds.
func (l *Limiter) Reserve(key string, maxWait time.Duration) (wait time.Duration, ok bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.bucket(key, now)
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	wait = time.Duration(math.Ceil((1 - b.tokens) * float64(l.rate.Every)))
	if wait > maxWait {
		return wait, false
	}
	b.tokens--
	return wait, true
}

// Empty reports whether Allow would refuse key now, without taking a token.
func (l *Limiter) Empty(key string) bool {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		return false
	}
	l.refill(b, now)
	return b.tokens < 1
}

// bucket is key's bucket, made full when new and refilled to now. l.mu is held.
func (l *Limiter) bucket(key string, now time.Time) *bucket {
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.sweep(now)
		}
		b = &bucket{tokens: float64(l.rate.Burst), last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	return b
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
