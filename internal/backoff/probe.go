package backoff

import (
	"context"
	"net"
	"net/url"
	"time"
)

// Prober checks cheaply whether an upstream answers, so a streaming source
// that is waiting to reconnect can come back as soon as its upstream does
// instead of sleeping through a wait that grew while it was down.
type Prober struct {
	// Every is about how often to probe while waiting (each pause spread by
	// a quarter either way, so processes do not probe in step).
	Every time.Duration
	// Timeout bounds one probe.
	Timeout time.Duration
	// Probe returns nil when the upstream answers.
	Probe func(ctx context.Context) error
	// OnProbe, when set, is told of every probe's outcome (metrics).
	OnProbe func(err error)
}

// SleepProbing waits for d like Sleep, probing every p.Every meanwhile, and
// returns early once the upstream answers after it was seen not answering:
// after a failed probe during this wait or, when down is true (the last
// attempt got no answer at all), from the first probe. An upstream that
// keeps answering the probe but refusing the real connection therefore
// gets the full wait, and one that stays down gets one cheap probe per
// period and nothing more. It reports whether the wait ended without ctx
// being done, and whether it ended early.
func SleepProbing(ctx context.Context, d time.Duration, p Prober, down bool) (ok, early bool) {
	if p.Probe == nil || p.Every <= 0 {
		return Sleep(ctx, d), false
	}
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for {
		tick := time.NewTimer(Spread(p.Every, p.Every/4))
		select {
		case <-ctx.Done():
			tick.Stop()
			return false, false
		case <-deadline.C:
			tick.Stop()
			return true, false
		case <-tick.C:
		}
		pctx, cancel := context.WithTimeout(ctx, max(p.Timeout, time.Millisecond))
		err := p.Probe(pctx)
		cancel()
		if ctx.Err() != nil {
			return false, false
		}
		if p.OnProbe != nil {
			p.OnProbe(err)
		}
		if err != nil {
			down = true
			continue
		}
		if down {
			return true, true
		}
	}
}

// DialProbe returns a probe that opens a TCP connection to rawURL's host
// (port 443 for https/wss, 80 for http/ws when none is given) and closes it.
func DialProbe(rawURL string) func(ctx context.Context) error {
	addr := rawURL
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		addr = u.Host
		if u.Port() == "" {
			port := "80"
			if u.Scheme == "https" || u.Scheme == "wss" {
				port = "443"
			}
			addr = net.JoinHostPort(u.Hostname(), port)
		}
	}
	var d net.Dialer
	return func(ctx context.Context) error {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}
