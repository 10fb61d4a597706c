package fanout

// The connections summary: websocket upgrades are logged at debug (one
// line per wall is 10,000 lines for 10,000 walls), and the hub logs at
// info, at most once per Options.SummaryEvery and only when something
// changed, how many clients each audience has and how many opened and
// closed since the last summary.

import (
	"context"
	"log/slog"
	"time"
)

// connCounts is one audience's connections and churn.
type connCounts struct {
	open, opened, closed uint64
}

// counts reads every audience's figures.
func (h *Hub) counts() [numAudiences]connCounts {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out [numAudiences]connCounts
	for i, s := range h.aud {
		out[i] = connCounts{open: uint64(len(s.synced) + len(s.ahead)), opened: s.opened, closed: s.closed}
	}
	return out
}

// summaryLoop logs the summary every h.opts.SummaryEvery while anything
// changed since the last one.
func (h *Hub) summaryLoop() {
	defer h.wg.Done()
	t := time.NewTicker(h.opts.SummaryEvery)
	defer t.Stop()
	last := h.counts()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
		}
		cur := h.counts()
		if cur == last {
			continue
		}
		attrs := make([]slog.Attr, 0, 3*numAudiences)
		for a := Audience(0); a < numAudiences; a++ {
			c, p := cur[a], last[a]
			attrs = append(attrs, slog.Group(a.String(),
				slog.Uint64("open", c.open), slog.Uint64("opened", c.opened-p.opened), slog.Uint64("closed", c.closed-p.closed)))
		}
		h.logger.LogAttrs(context.Background(), slog.LevelInfo, "fanout: connections",
			append(attrs, slog.Duration("since", h.opts.SummaryEvery))...)
		last = cur
	}
}
