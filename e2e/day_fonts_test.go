package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// glyphs draws each string in a canvas with the font of the card's text
// (the wall's own font stack) and says whether it came out as real glyphs:
// unlike the box drawn for U+E000 (a private-use code point no font here
// has, so the .notdef "tofu" box), and for emoji in colour.
const glyphs = `((id, samples) => {
	const body = document.querySelector('#posts .post[data-id="' + id + '"] .post-body');
	const font = getComputedStyle(body).font;
	const draw = (s) => {
		const c = document.createElement("canvas");
		c.width = 400; c.height = 100;
		const g = c.getContext("2d");
		g.font = font; g.textBaseline = "top"; g.fillStyle = "#000";
		g.fillText(s, 4, 4);
		return { data: g.getImageData(0, 0, c.width, c.height).data, width: g.measureText(s).width };
	};
	const tofu = draw("\uE000");
	const out = {};
	for (const s of samples) {
		// Character by character: each against the one box.
		let boxes = 0, colour = false;
		for (const ch of Array.from(s)) {
			const d = draw(ch);
			let same = d.width === tofu.width;
			for (let i = 0; i < d.data.length; i += 4) {
				if (same && d.data[i + 3] !== tofu.data[i + 3]) same = false;
				const [r, g, b, a] = [d.data[i], d.data[i + 1], d.data[i + 2], d.data[i + 3]];
				if (a > 0 && (Math.abs(r - g) > 30 || Math.abs(g - b) > 30)) colour = true;
			}
			if (same) boxes++;
		}
		out[s] = { tofu: boxes > 0, boxes, colour };
	}
	out.shown = body.getClientRects().length > 0;
	out.family = getComputedStyle(body).fontFamily;
	return out;
})`

// A Japanese, a Chinese and an emoji post render as real glyphs on the
// wall (the font stack names Noto CJK and Noto Color Emoji, which
// scripts/test.sh installs), at 1920×1080 and 1280×720.
func TestWallRendersCJKAndEmoji(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	base := FixturePosts(t)[0]
	mk := func(i int, text string) event.Post {
		p := clonePost(base, 9100+i)
		p.ContentWarning, p.Media, p.Sensitive = "", nil, false
		p.HTML, p.Text = "<p>"+text+"</p>", text
		return p
	}
	ja := mk(0, "図書館を土曜日も開けてください")
	zh := mk(1, "感谢大家今天的精彩分享")
	emoji := mk(2, "Great session 🎉📚👏")
	for _, p := range []event.Post{ja, zh} {
		Receive(t, n.Log, p, true)
	}
	waitFold(t, n, Receive(t, n.Log, emoji, true))
	for _, size := range []struct{ w, h int64 }{{1920, 1080}, {1280, 720}} {
		tab := newTab(t, size.w, size.h)
		open(t, tab, n.URL()+"/e/"+Slug+"/wall")
		WaitJS(t, tab, live, 5*time.Second)
		WaitJS(t, tab, `document.querySelectorAll("#posts .post").length === 3 && document.fonts.status === "loaded"`, 5*time.Second)
		WaitJS(t, tab, `!document.body.dataset.layoutPending`, 5*time.Second)
		Screenshot(t, tab, fmt.Sprintf("wall-fonts-%dx%d", size.w, size.h))
		for _, c := range []struct {
			post    event.Post
			samples []string
			colour  bool
		}{
			{ja, []string{"図書館", "土曜日"}, false},
			{zh, []string{"感谢", "精彩分享"}, false},
			{emoji, []string{"🎉", "📚"}, true},
		} {
			var got map[string]any
			EvalJS(t, tab, fmt.Sprintf("%s(%q, %s)", glyphs, c.post.ID, jsonArray(c.samples)), &got)
			if got["shown"] != true {
				t.Errorf("%dx%d: post %q is not on the wall", size.w, size.h, c.post.Text)
				continue
			}
			for _, s := range c.samples {
				g, _ := got[s].(map[string]any)
				t.Logf("%dx%d: %q: %v (font-family %v)", size.w, size.h, s, g, got["family"])
				if g == nil || g["tofu"] == true {
					t.Errorf("%dx%d: %q renders as the .notdef box (tofu): no font covers it", size.w, size.h, s)
				}
				if c.colour && (g == nil || g["colour"] != true) {
					t.Errorf("%dx%d: emoji %q is not drawn in colour", size.w, size.h, s)
				}
			}
		}
	}
}

func jsonArray(ss []string) string {
	out := "["
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += fmt.Sprintf("%q", s)
	}
	return out + "]"
}
