package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fanout"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/wall"
)

// timedEvent is an event whose window is set off from now.
type timedEvent struct {
	slug       string
	start, end time.Duration
}

// startTimedEvents serves events with the given windows, each with its own
// log, fold and fan-out hub (so their pages connect), and returns the base URL.
func startTimedEvents(t *testing.T, evs []timedEvent) string {
	t.Helper()
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var folds sync.WaitGroup
	var hubs []*fanout.Hub
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := wall.New(wall.Options{Store: store, Logger: quiet})
	now := time.Now().Truncate(time.Minute)
	for _, c := range evs {
		log, err := store.Log(ctx, c.slug)
		if err != nil {
			t.Fatal(err)
		}
		cfg := &config.Event{Slug: c.slug, Title: "Leaders for Leeds", Hashtags: []string{"Leaders4Leeds"},
			Start: now.Add(c.start), End: now.Add(c.end), Moderation: config.Moderation{Mode: event.ModePre}}
		live := fold.NewLive(log, fold.SettingsView{Title: cfg.Title, Moderation: event.ModePre})
		folds.Go(func() { _ = live.Run(ctx) })
		hub, err := fanout.New(ctx, fanout.LiveFeed{Live: live}, log, fanout.Options{Event: c.slug, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		hubs = append(hubs, hub)
		if err := srv.AddEvent(&wall.Event{Config: cfg, Log: log, Live: live, Hub: hub}); err != nil {
			t.Fatal(err)
		}
	}
	base := serveLoopback(t, srv)
	t.Cleanup(func() {
		for _, h := range hubs {
			h.Close()
		}
		cancel()
		folds.Wait()
		_ = store.Close()
	})
	return base
}

// The overlay of an event that is over says "Ended", and of one to come
// "Starts at …", in its corner; during the event, connected, it shows
// nothing (nothing on air while it works) and never "Live". At 1920×1080
// and 1280×720, with the page's own data from the server.
func TestOverlaySaysEndedOrStartsAt(t *testing.T) {
	base := startTimedEvents(t, []timedEvent{
		{"ended", -8 * time.Hour, -time.Hour},
		{"coming", 26 * time.Hour, 30 * time.Hour},
		{"on", -time.Hour, 3 * time.Hour},
	})
	// The indicator, once connected: its status, its words, and whether it is on screen.
	const indicator = `(() => { const el = document.getElementById("conn"), r = el.getBoundingClientRect();
		return [el.dataset.status, el.textContent, String(r.width > 0 && r.height > 0 && getComputedStyle(el).display !== "none"),
			getComputedStyle(el).fontSize]; })()`
	for _, size := range []struct{ w, h int64 }{{1920, 1080}, {1280, 720}} {
		tab := newTab(t, size.w, size.h)
		for _, c := range []struct{ slug, status, words, shown string }{
			{"ended", "ended", "Ended", "true"},
			{"coming", "before", "Starts ", "true"},
			{"on", "live", "Live", "false"},
		} {
			open(t, tab, base+"/e/"+c.slug+"/overlay")
			// Connected: the socket's status reached the page, whatever it shows.
			WaitJS(t, tab, `window.backchannelOverlay && document.getElementById("conn").dataset.status !== "connecting"`, 5*time.Second)
			var got []string
			EvalJS(t, tab, indicator, &got)
			name := fmt.Sprintf("overlay-status-%dx%d-%s", size.w, size.h, c.slug)
			if len(got) != 4 || got[0] != c.status || !strings.HasPrefix(got[1], c.words) || got[2] != c.shown {
				t.Errorf("%s: indicator %q, want status %q, words %q…, on screen %s", name, got, c.status, c.words, c.shown)
			}
			// Readable on a stream: the wall's least size for any word, 23 px at 1080p, two thirds at 720p.
			px, _ := strconv.ParseFloat(strings.TrimSuffix(got[3], "px"), 64)
			if least := 23 * float64(size.h) / 1080; c.shown == "true" && px < least-0.5 {
				t.Errorf("%s: indicator font %s, want at least %.0f px", name, got[3], least)
			}
			if c.shown == "true" && strings.Contains(got[1], "Live") {
				t.Errorf("%s: the overlay of an event that is not on says %q", name, got[1])
			}
			t.Logf("%s: %q", name, got)
			Screenshot(t, tab, name)
		}
	}
}

// The participant page of an event that is over says "Ended", of one to
// come "Starts …", and "Live" only during it: the server gives it the
// event's window, which its indicator reads.
func TestParticipantPageSaysEndedOrStartsAt(t *testing.T) {
	base := startTimedEvents(t, []timedEvent{
		{"ended", -8 * time.Hour, -time.Hour},
		{"coming", 26 * time.Hour, 30 * time.Hour},
		{"on", -time.Hour, 3 * time.Hour},
	})
	tab := newTab(t, 390, 844)
	for _, c := range []struct{ slug, status, words string }{
		{"ended", "ended", "Ended"},
		{"coming", "before", "Starts "},
		{"on", "live", "Live"},
	} {
		open(t, tab, base+"/e/"+c.slug)
		WaitJS(t, tab, `document.getElementById("conn").dataset.status !== "connecting"`, 5*time.Second)
		var got []string
		EvalJS(t, tab, `[document.getElementById("conn").dataset.status, document.getElementById("conn").textContent]`, &got)
		if len(got) != 2 || got[0] != c.status || !strings.HasPrefix(got[1], c.words) {
			t.Errorf("%s: indicator %q, want %q (%s…)", c.slug, got, c.status, c.words)
		}
	}
	Screenshot(t, tab, "participant-status-390x844-on")
}
