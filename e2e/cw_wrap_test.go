package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// A content warning in a masonry card is read from the back of the room:
// its words wrap whole (the warning moves under its label when they do not
// fit beside it) and are never cut mid-word ("medic/al equip/ment").
func TestContentWarningWrapsWholeWords(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	base := FixturePosts(t)
	var cwPosts []string
	for i, cw := range []string{"medical equipment", "flood footage", "flooding, climate anxiety", "Karen meme explained"} {
		p := clonePost(base[i%len(base)], i)
		p.ContentWarning = cw
		Receive(t, n.Log, p, true)
		cwPosts = append(cwPosts, p.ID)
	}
	for _, size := range []struct{ w, h int64 }{{1920, 1080}, {1280, 720}} {
		tab := newTab(t, size.w, size.h)
		open(t, tab, fmt.Sprintf("%s/e/%s/wall?layout=grid", n.URL(), Slug))
		WaitJS(t, tab, live, 5*time.Second)
		WaitJS(t, tab, fmt.Sprintf(`document.querySelectorAll("#posts .post .cw-text").length === %d`, len(cwPosts)), 5*time.Second)
		// A word split across lines has more than one client rect.
		var broken []string
		EvalJS(t, tab, `(() => {
			const out = [];
			for (const el of document.querySelectorAll("#posts .cw-text")) {
				if (el.getClientRects().length === 0) continue; // a card cut off by the page's height
				const node = el.firstChild, text = node.textContent;
				for (const m of text.matchAll(/\S+/g)) {
					const r = document.createRange();
					r.setStart(node, m.index);
					r.setEnd(node, m.index + m[0].length);
					if (r.getClientRects().length > 1) out.push(m[0]);
				}
			}
			return out;
		})()`, &broken)
		if len(broken) > 0 {
			Screenshot(t, tab, fmt.Sprintf("cw-broken-%dx%d", size.w, size.h))
			t.Errorf("%dx%d: content warning words cut across lines: %q", size.w, size.h, broken)
		}
	}
}
