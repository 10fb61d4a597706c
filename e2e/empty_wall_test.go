package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// An empty wall says so at the top of its main area, where the room looks
// (it used to sit at the foot of the empty columns); the ticker layout
// centres what is above its ticker, the message too. The first post then
// takes the room as before, in every layout.
func TestEmptyWallMessageAtTheTop(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	tab := newTab(t, 1920, 1080)
	layouts := []string{"grid", "column", "spotlight", "ticker"}
	for _, layout := range layouts {
		open(t, tab, fmt.Sprintf("%s/e/%s/wall?layout=%s", n.URL(), Slug, layout))
		WaitJS(t, tab, live, 5*time.Second)
		// Measure only once wall.css applies (a page measured before it
		// would pass without saying anything).
		WaitJS(t, tab, `getComputedStyle(document.querySelector(".wall-main")).display === "flex"`, 5*time.Second)
		var got struct{ Offset, Main float64 }
		EvalJS(t, tab, `(() => {
			const e = document.getElementById("empty").getBoundingClientRect();
			const m = document.querySelector(".wall-main").getBoundingClientRect();
			return {Offset: e.top - m.top, Main: m.height};
		})()`, &got)
		limit := got.Main / 4
		if layout == "ticker" {
			limit = got.Main / 2
		}
		if got.Main <= 0 || got.Offset > limit {
			t.Errorf("%s: the empty message is %.0fpx down a %.0fpx main area; want it above %.0fpx", layout, got.Offset, got.Main, limit)
		}
	}
	p := FixturePosts(t)[0]
	Receive(t, n.Log, p, true)
	for _, layout := range layouts {
		open(t, tab, fmt.Sprintf("%s/e/%s/wall?layout=%s", n.URL(), Slug, layout))
		WaitJS(t, tab, live, 5*time.Second)
		WaitJS(t, tab, fmt.Sprintf(`document.querySelector('#posts .post[data-id="%s"]')`, p.ID), 5*time.Second)
		var got struct {
			Empty       bool
			Posts, Main float64
		}
		EvalJS(t, tab, `({
			Empty: document.getElementById("empty").getClientRects().length > 0,
			Posts: document.getElementById("posts").getBoundingClientRect().height,
			Main: document.querySelector(".wall-main").getBoundingClientRect().height,
		})`, &got)
		if got.Empty || got.Posts < got.Main/2 {
			t.Errorf("%s with a post: empty message shown %v, posts area %.0fpx of %.0fpx", layout, got.Empty, got.Posts, got.Main)
		}
	}
}
