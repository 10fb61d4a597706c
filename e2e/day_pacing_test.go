package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel/backchannel/event"
)

// recordCurrent logs every change of the big post (body[data-current])
// with the page's clock, into window.shownLog.
const recordCurrent = `(() => {
	window.shownLog = [{id: document.body.dataset.current, t: performance.now()}];
	new MutationObserver(() => {
		const id = document.body.dataset.current;
		if (id !== window.shownLog[window.shownLog.length - 1].id) window.shownLog.push({id, t: performance.now()});
	})
		.observe(document.body, {attributes: true, attributeFilter: ["data-current"]});
	return true;
})()`

// A burst of 10 posts on a busy hashtag: the big post of the ticker
// (1920×1080) and of the spotlight (1280×720) changes no faster than the
// dwell (1s here), every post of the burst gets its turn, and space holds
// the big post (with a Paused mark) until pressed again.
func TestWallBigPostDwellsAndPauses(t *testing.T) {
	const dwell = time.Second
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	n.API(t, "POST", "/api/events/"+Slug+"/settings", map[string]any{"display": map[string]string{"dwell": "1s"}})
	base := FixturePosts(t)
	mk := func(i int) event.Post {
		p := clonePost(base[i%len(base)], 9200+i)
		p.CreatedAt = time.Now()
		return p
	}
	waitFold(t, n, Receive(t, n.Log, mk(0), true))

	type screen struct {
		name string
		tab  context.Context
	}
	var screens []screen
	for _, s := range []struct {
		w, h   int64
		layout string
	}{{1920, 1080, "ticker"}, {1280, 720, "spotlight"}} {
		tab := newTab(t, s.w, s.h)
		open(t, tab, fmt.Sprintf("%s/e/%s/wall?layout=%s", n.URL(), Slug, s.layout))
		WaitJS(t, tab, live+` && document.body.dataset.current && window.backchannelWall.dwell() === 1000`, 5*time.Second)
		var ok bool
		EvalJS(t, tab, recordCurrent, &ok)
		screens = append(screens, screen{fmt.Sprintf("wall-pacing-%dx%d-%s", s.w, s.h, s.layout), tab})
	}

	var burst []string
	for i := 1; i <= 10; i++ {
		p := mk(i)
		Receive(t, n.Log, p, true)
		burst = append(burst, p.ID)
	}
	for _, s := range screens {
		// Every post of the burst is shown large in turn.
		WaitJS(t, s.tab, fmt.Sprintf(`window.shownLog.some(e => e.id === %q)`, burst[len(burst)-1]), 10*dwell+5*time.Second)
		var log []struct {
			ID string
			T  float64
		}
		EvalJS(t, s.tab, `window.shownLog.map(e => ({ID: e.id, T: e.t}))`, &log)
		seen := map[string]bool{}
		for i, e := range log {
			seen[e.ID] = true
			// The first change may come sooner: the post before the
			// burst was on screen before the log started.
			if i > 1 {
				gap := time.Duration((e.T - log[i-1].T) * float64(time.Millisecond))
				if gap < dwell-50*time.Millisecond {
					t.Errorf("%s: big post changed after %v, want at least the dwell %v", s.name, gap, dwell)
				}
			}
		}
		for _, id := range burst {
			if !seen[id] {
				t.Errorf("%s: post %s of the burst was never shown large", s.name, id)
			}
		}
		t.Logf("%s: %d changes for a burst of %d posts with a dwell of %v", s.name, len(log)-1, len(burst), dwell)
	}

	// Pause on the ticker: three more posts arrive and three dwells pass;
	// the big post stays.
	tab := screens[0].tab
	if err := chromedp.Do(tab, chromedp.KeyEvent(" ")); err != nil {
		t.Fatal(err)
	}
	WaitJS(t, tab, `document.getElementById("paused").getClientRects().length > 0 && window.backchannelWall.pacer.paused()`, 2*time.Second)
	var held string
	EvalJS(t, tab, `document.body.dataset.current + "|" + (window.pausedAt = performance.now())`, &held)
	var more []string
	for i := 11; i <= 13; i++ {
		p := mk(i)
		Receive(t, n.Log, p, true)
		more = append(more, p.ID)
	}
	WaitJS(t, tab, fmt.Sprintf(`document.querySelector('#posts .post[data-id="%s"]') && performance.now() - window.pausedAt > 3000`, more[2]), 10*time.Second)
	Screenshot(t, tab, screens[0].name+"-paused")
	var now string
	EvalJS(t, tab, `document.body.dataset.current + "|" + window.pausedAt`, &now)
	if now != held {
		t.Errorf("paused, the big post changed: %s, then %s", held, now)
	}
	if err := chromedp.Do(tab, chromedp.KeyEvent(" ")); err != nil {
		t.Fatal(err)
	}
	WaitJS(t, tab, fmt.Sprintf(`!window.backchannelWall.pacer.paused() && document.getElementById("paused").getClientRects().length === 0 && document.body.dataset.current === %q`, more[0]), 2*time.Second)
	Screenshot(t, screens[1].tab, screens[1].name)
}

// Outside the event's window a connected wall says "Starts at 14:00" or
// "Ended", not "Live"; inside it, "Live".
func TestWallSaysEndedOrStartsAt(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	for _, size := range []struct{ w, h int64 }{{1920, 1080}, {1280, 720}} {
		tab := newTab(t, size.w, size.h)
		open(t, tab, n.URL()+"/e/"+Slug+"/wall")
		WaitJS(t, tab, live, 5*time.Second)
		WaitJS(t, tab, `window.pageMod || (import("/static/page.js").then(m => { window.pageMod = m; }), false)`, 5*time.Second)
		for _, c := range []struct{ name, start, end, want, status string }{
			{"ended", "2020-05-14T09:00:00+01:00", "2020-05-14T17:00:00+01:00", "Ended", "ended"},
			{"coming", "2099-05-14T14:00:00+01:00", "2099-05-14T17:00:00+01:00", "Starts Thu, May 14, 14:00", "before"},
			{"on", "2020-05-14T14:00:00+01:00", "2099-05-14T17:00:00+01:00", "Live", "live"},
		} {
			var got []string
			EvalJS(t, tab, fmt.Sprintf(`(() => {
				const m = window.pageMod, el = document.getElementById("conn");
				m.showStatus(el, "live", m.eventPhase({start: %q, end: %q}));
				return [el.textContent, el.dataset.status];
			})()`, c.start, c.end), &got)
			// The day is in the browser's locale ("Thu, May 14" or "Thu 14 May").
			if len(got) != 2 || got[1] != c.status || (got[0] != c.want && !(c.status == "before" && strings.HasPrefix(got[0], "Starts Thu") && strings.HasSuffix(got[0], ", 14:00"))) {
				t.Errorf("%dx%d %s: status %v, want %q (%s)", size.w, size.h, c.name, got, c.want, c.status)
			}
			Screenshot(t, tab, fmt.Sprintf("wall-status-%dx%d-%s", size.w, size.h, c.name))
		}
	}
}
