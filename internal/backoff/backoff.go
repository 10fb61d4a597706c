// Package backoff holds the one schedule of waits between tries that every
// source and the Redis log engine use: exponential growth from a floor to a
// cap, each wait drawn with equal jitter.
//
// The jitter rule is "equal jitter": a wait whose ceiling is d is drawn
// uniformly from [d/2, d]. Half the ceiling is kept so a retry never comes at
// once (full jitter, [0, d], may draw almost nothing and hammer a server that
// has just said it is down); the other half is random so processes that
// failed together (a Redis restart, a venue's wifi dropping) do not retry
// together.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff gives the waits before successive retries: the ceiling starts at
// Min, doubles with every wait up to Max, and each wait is drawn from
// [ceiling/2, ceiling]. The zero value waits nothing; set Min and Max. A
// Backoff is not safe for use by several goroutines at once.
type Backoff struct {
	// Min is the ceiling of the first wait; Max caps every later ceiling.
	Min, Max time.Duration

	attempt int
	// draw returns a number in [0, n]; nil means math/rand. Tests set it.
	draw func(n int64) int64
}

// Next returns the wait before the next retry and counts one more attempt.
func (b *Backoff) Next() time.Duration {
	d := b.Ceiling()
	b.attempt++
	return equal(d, b.draw)
}

// Ceiling returns the most the next wait can be: Min doubled once per
// attempt since the last Reset, capped at Max.
func (b *Backoff) Ceiling() time.Duration {
	d, limit := b.Min, max(b.Max, b.Min)
	for i := 0; i < b.attempt && d < limit; i++ {
		if d > limit/2 {
			return limit // doubling would pass the cap, or overflow
		}
		d *= 2
	}
	return min(d, limit)
}

// Attempt returns how many waits Next has given since the last Reset.
func (b *Backoff) Attempt() int { return b.attempt }

// Reset starts the schedule over from Min, after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// Jitter returns a wait drawn by the same rule from [d/2, d], for a single
// pause that is not part of a growing schedule (a long pause after a refused
// token, say).
func Jitter(d time.Duration) time.Duration { return equal(d, nil) }

// Spread returns d moved by up to by either way, uniformly, so processes
// repeating something at a steady period (polling a feed, asking for a
// lease) do not do it in step. Unlike Jitter it keeps the mean at d.
func Spread(d, by time.Duration) time.Duration { return spread(d, by, nil) }

// Sleep waits for d or until ctx is done, and reports whether the whole wait
// passed.
func Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func equal(d time.Duration, draw func(int64) int64) time.Duration {
	if d <= 1 {
		return max(d, 0)
	}
	half := d / 2
	return half + time.Duration(pick(int64(d-half), draw))
}

func spread(d, by time.Duration, draw func(int64) int64) time.Duration {
	if d <= 0 || by <= 0 {
		return d
	}
	by = min(by, d)
	return d - by + time.Duration(pick(2*int64(by), draw))
}

// pick returns a number in [0, n].
func pick(n int64, draw func(int64) int64) int64 {
	if draw != nil {
		return draw(n)
	}
	return rand.Int64N(n + 1)
}
