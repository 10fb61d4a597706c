package ingest

import (
	"context"
	"math/rand/v2"
	"time"
)

// Backoff returns how long to wait before retry number attempt (0 for the
// first retry): min doubled per attempt, capped at max, then jittered to
// between half and all of it, so processes that failed together (a Redis
// restart, a server outage) do not retry together.
func Backoff(attempt int, min, max time.Duration) time.Duration {
	d := min
	for i := 0; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	if d <= 0 {
		return 0
	}
	half := d / 2
	return half + rand.N(d-half+1)
}

// jitter returns d moved by up to a fifth either way, so standing-by
// processes do not ask for a lease in lockstep.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	fifth := d / 5
	return d - fifth + rand.N(2*fifth+1)
}

// Sleep waits for d or until ctx is done, and reports whether the whole
// wait passed.
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
