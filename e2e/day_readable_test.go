package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// readable measures, in the browser, what the back row of a room sees on
// the wall: the smallest rendered size of each kind of text, whether any
// visible card is cut or outside the posts area, how much of the posts
// area the cards fill, and whether anything is wider than the screen.
const readable = `(() => {
	const vw = innerWidth, vh = innerHeight;
	const shown = (e) => e.getClientRects().length > 0 && getComputedStyle(e).visibility !== "hidden";
	const size = (e) => parseFloat(getComputedStyle(e).fontSize);
	const min = (sel) => {
		const l = [...document.querySelectorAll(sel)].filter(shown);
		return l.length ? Math.min(...l.map(size)) : 0;
	};
	// Every visible piece of text on the screen, whatever it is.
	let least = 1e9, leastWhat = "";
	const w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n = w.nextNode(); n; n = w.nextNode()) {
		if (!n.textContent.trim()) continue;
		const e = n.parentElement;
		if (!shown(e)) continue;
		const r = e.getBoundingClientRect();
		if (r.bottom <= 0 || r.top >= vh || r.right <= 0 || r.left >= vw) continue;
		if (e.closest(".ticker") && r.left >= vw) continue;
		if (size(e) < least) { least = size(e); leastWhat = (e.className || e.tagName) + ": " + n.textContent.trim().slice(0, 30); }
	}
	const area = document.getElementById("posts").getBoundingClientRect();
	// A card counts as on screen when any of it is inside the posts area.
	const cards = [...document.querySelectorAll("#posts .post")].filter(shown).filter(c => {
		const r = c.getBoundingClientRect();
		return r.bottom > area.top && r.top < area.bottom && r.right > area.left && r.left < area.right;
	});
	let covered = 0;
	const cut = [];
	for (const c of cards) {
		const r = c.getBoundingClientRect();
		covered += r.width * r.height;
		const body = c.querySelector(".post-body");
		const clipped = body && (body.scrollHeight > body.clientHeight + 1 || getComputedStyle(body).maxHeight !== "none");
		if (r.top < area.top - 1 || r.bottom > area.bottom + 1 || r.left < area.left - 1 || r.right > area.right + 1 || r.bottom > vh || clipped) cut.push(c.dataset.id);
	}
	const wide = [...document.querySelectorAll("body *")].filter(e => shown(e) && !e.closest(".ticker") && e.getBoundingClientRect().right > vw + 1)
		.map(e => e.className || e.tagName);
	const title = document.querySelector(".wall-name");
	return {
		Post: min("#posts .post-body"), JoinURL: min(".join-url"), Handle: min("#posts .handle"),
		Time: min("#posts .time"), Name: min("#posts .name"), JoinHow: min(".join-how"),
		Least: least, LeastWhat: leastWhat,
		Cards: cards.length, Cut: cut, Fill: covered / (area.width * area.height),
		ScrollWidth: document.documentElement.scrollWidth, Wide: wide.slice(0, 5),
		TitleCut: title.scrollWidth > title.clientWidth + 1 || title.scrollHeight > title.clientHeight + 1,
	};
})()`

type readableFigures struct {
	Post, JoinURL, Handle, Time, Name, JoinHow, Least float64
	LeastWhat                                         string
	Cards                                             int
	Cut                                               []string
	Fill                                              float64
	ScrollWidth                                       int
	Wide                                              []string
	TitleCut                                          bool
}

// The wall read from the back of the room, at 1920×1080 and 1280×720, in
// every layout: post text and the join address at least 28 px at 1080p,
// handles, times and every other word at least 22 px (scaled by the height
// at 720p); whole posts only, a long one included; the grid fills its
// area; a long title and a long hashtag wrap and never widen the page.
func TestWallReadableFromTheBack(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	posts := seed(t, n)
	base := posts[0]
	long := clonePost(base, 9001)
	long.ContentWarning, long.Media, long.Sensitive = "", nil, false
	para := "Our neighbourhood library is where my children learned to read, where my mother goes to the knitting circle every Tuesday, and where half the street printed their job applications last winter. "
	long.HTML = "<p>" + strings.Repeat(para, 3) + "</p><p>Please keep it open on Saturdays.</p>"
	long.Text = strings.Repeat(para, 3) + "Please keep it open on Saturdays."
	tag := clonePost(base, 9002)
	tag.ContentWarning, tag.Media, tag.Sensitive = "", nil, false
	tag.HTML = `<p>Brilliant session! <a href="https://mastodon.social/tags/x" class="mention hashtag">#LeedsCommunityLibrariesAndReadingRoomsForEveryoneForeverAndEver2026</a></p>`
	tag.Text = "Brilliant session! #LeedsCommunityLibrariesAndReadingRoomsForEveryoneForeverAndEver2026"
	Receive(t, n.Log, tag, true)
	waitFold(t, n, Receive(t, n.Log, long, true))
	title := "Leaders for Leeds: the Community Libraries Consultation #LeedsLibrariesForEveryoneTwentyTwentySix"
	n.API(t, "POST", "/api/events/"+Slug+"/settings", map[string]any{"title": title})
	total := len(posts) + 2

	for _, size := range []struct{ w, h int64 }{{1920, 1080}, {1280, 720}} {
		tab := newTab(t, size.w, size.h)
		k := float64(size.h) / 1080
		for _, layout := range []string{"grid", "column", "spotlight", "ticker"} {
			name := fmt.Sprintf("wall-readable-%dx%d-%s", size.w, size.h, layout)
			open(t, tab, fmt.Sprintf("%s/e/%s/wall?layout=%s", n.URL(), Slug, layout))
			WaitJS(t, tab, live, 5*time.Second)
			WaitJS(t, tab, fmt.Sprintf(`document.querySelectorAll("#posts .post").length === %d && document.fonts.status === "loaded"`, total), 5*time.Second)
			WaitJS(t, tab, `!document.body.dataset.layoutPending && !document.getAnimations().some(a => a.animationName === "post-in") && [...document.querySelectorAll("#posts img")].every(i => i.complete || !i.getClientRects().length)`, 5*time.Second)
			var got readableFigures
			EvalJS(t, tab, readable, &got)
			Screenshot(t, tab, name)
			t.Logf("%s: post %.1f, join address %.1f, how to join %.1f, name %.1f, handle %.1f, time %.1f px; least %.1f px (%s); %d whole cards fill %.0f%%",
				name, got.Post, got.JoinURL, got.JoinHow, got.Name, got.Handle, got.Time, got.Least, got.LeastWhat, got.Cards, got.Fill*100)

			check := func(what string, v, want float64) {
				if v < want*k-0.05 {
					t.Errorf("%s: %s is %.1fpx, want at least %.1fpx", name, what, v, want*k)
				}
			}
			check("post text", got.Post, 28)
			check("the join address", got.JoinURL, 28)
			check("how to join", got.JoinHow, 22)
			check("the smallest text on screen ("+got.LeastWhat+")", got.Least, 22)
			if layout == "grid" || layout == "column" {
				check("author name", got.Name, 22)
				check("handle", got.Handle, 22)
				check("time", got.Time, 22)
			}
			if len(got.Cut) > 0 {
				t.Errorf("%s: cards cut or outside the posts area: %v", name, got.Cut)
			}
			if got.Cards == 0 {
				t.Errorf("%s: no whole card on screen", name)
			}
			if layout == "grid" && got.Fill < 0.75 {
				t.Errorf("%s: the cards fill %.0f%% of the posts area, want at least 75%%", name, got.Fill*100)
			}
			if got.ScrollWidth > int(size.w) || len(got.Wide) > 0 || got.TitleCut {
				t.Errorf("%s: page %dpx wide on a %dpx screen, too wide: %v, title cut: %v", name, got.ScrollWidth, size.w, got.Wide, got.TitleCut)
			}
			var longShown bool
			EvalJS(t, tab, fmt.Sprintf(`(() => { const e = document.querySelector('#posts .post[data-id="%s"]'); return !!e && e.getClientRects().length > 0; })()`, long.ID), &longShown)
			if !longShown {
				t.Errorf("%s: the newest post, a long one, is not on screen", name)
			}
		}
	}
}
