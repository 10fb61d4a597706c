package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest/sanitize"
)

// xssPayloads each set window.__pwned if anything ran them.
var xssPayloads = []string{
	`<img src=x onerror="window.__pwned=1">`,
	`<script>window.__pwned=1</script>`,
	`<a href="javascript:window.__pwned=1">click</a>`,
	`<svg onload="window.__pwned=1"><circle r=5 /></svg>`,
	`<iframe srcdoc="<script>parent.__pwned=1</script>"></iframe>`,
	`<details open ontoggle="window.__pwned=1">x</details>`,
	`<p style="background:url(javascript:window.__pwned=1)">styled</p>`,
	`"><img src=x onerror=window.__pwned=1>`,
	`<math><mtext><table><mglyph><style><img src=x onerror=window.__pwned=1></style></mglyph></table></mtext></math>`,
	`<form><button formaction="javascript:window.__pwned=1">go</button></form>`,
	`<object data="javascript:window.__pwned=1"></object>`,
	`<a href=" jAvAsCrIpT:window.__pwned=1">spaced</a>`,
}

// Posts whose every field carries a payload run nothing on the wall, the
// participant page or the overlay: the server's sanitiser strips the HTML,
// the pages put every other field in as text, and the wall's own allowlist
// and the CSP stop even HTML that skipped the sanitiser.
func TestXSSPayloadsRunNothing(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	base := FixturePosts(t)[0]
	var ids []string
	for i, payload := range xssPayloads {
		p := clonePost(base, 5000+i)
		p.HTML, p.Text = sanitize.HTML(payload, []sanitize.Emoji{{Shortcode: "x", URL: "javascript:window.__pwned=1"}})
		p.Author.Name = payload
		p.Author.Handle = payload
		p.Author.Avatar = `javascript:window.__pwned=1`
		p.Media = []event.Media{{Kind: "image", URL: "/testmedia/x.png", Alt: payload}}
		if i%3 == 0 {
			p.ContentWarning = payload
		}
		Receive(t, n.Log, p, true)
		ids = append(ids, p.ID)
	}
	// Defence in depth: one post whose HTML never went through the sanitiser.
	raw := clonePost(base, 6000)
	raw.HTML = ""
	for _, payload := range xssPayloads {
		raw.HTML += payload
	}
	Receive(t, n.Log, raw, true)
	ids = append(ids, raw.ID)
	fac := event.Actor{Role: event.RoleFacilitator}
	Append(t, n.Log, event.Entry{Kind: event.QuestionAdded, Actor: fac, Question: &event.Question{ID: "qx", Text: xssPayloads[0], Name: xssPayloads[7]}})
	last := Append(t, n.Log, event.Entry{Kind: event.QuestionReading, Actor: fac, QuestionID: "qx"})
	waitFold(t, n, last)

	for _, page := range []string{"/wall", "/wall?layout=ticker", "", "/overlay?ticker=1"} {
		tab := newTab(t, 1280, 720)
		open(t, tab, n.URL()+"/e/"+Slug+page)
		WaitJS(t, tab, `document.getElementById("conn").dataset.status === "live"`, 5*time.Second)
		if page == "/overlay?ticker=1" {
			WaitJS(t, tab, `document.querySelectorAll(".ticker-item").length > 0 && document.getElementById("lt-text").textContent.length > 0`, 5*time.Second)
		} else {
			WaitJS(t, tab, fmt.Sprintf(`document.querySelectorAll("#posts .post").length === %d`, len(ids)), 5*time.Second)
		}
		// Poke everything a payload might hang on, then let every image settle.
		EvalJS(t, tab, `(() => { for (const e of document.querySelectorAll("body *")) {
			for (const ev of ["mouseover", "focus", "click", "toggle", "load", "error"]) { try { e.dispatchEvent(new Event(ev)); } catch (x) {} } } return true; })()`, new(bool))
		WaitJS(t, tab, `document.readyState === "complete" && [...document.images].filter(i => i.loading !== "lazy").every(i => i.complete)`, 5*time.Second)
		var got struct {
			Pwned   bool
			Bad     int
			Handler int
		}
		EvalJS(t, tab, `({Pwned: window.__pwned !== undefined,
			Bad: document.querySelectorAll("body script, body iframe, body object, body svg, body math, body form:not(#form), body style").length,
			Handler: [...document.querySelectorAll("body *")].filter(e => [...e.attributes].some(a => a.name.startsWith("on") || (["href", "src", "action", "formaction", "data", "srcdoc", "xlink:href"].includes(a.name) && /^\s*javascript:/i.test(a.value)))).length})`, &got)
		if got.Pwned {
			t.Errorf("%s: a payload ran (window.__pwned is set)", page)
		}
		if got.Handler != 0 {
			var which []string
			EvalJS(t, tab, `[...document.querySelectorAll("body *")].filter(e => [...e.attributes].some(a => a.name.startsWith("on") || (["href", "src", "action", "formaction", "data", "srcdoc", "xlink:href"].includes(a.name) && /^\s*javascript:/i.test(a.value)))).map(e => e.outerHTML.slice(0, 200))`, &which)
			t.Logf("%s: elements: %q", page, which)
		}
		if got.Bad != 0 || got.Handler != 0 {
			t.Errorf("%s: %d script-capable elements and %d elements with handlers or javascript: URLs in the page", page, got.Bad, got.Handler)
		}
	}
}
