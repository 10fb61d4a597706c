// Package sanitize turns the body a source hands us (a Mastodon status's or
// a feed item's HTML, a Bluesky record's or a web form's plain text with
// its links) into what backchannel stores and shows: HTML that is safe to
// insert into the wall page, and the same body as plain text for rules,
// search and screen readers.
//
// HTML takes HTML; Plain and Builder take plain text, write it as HTML and
// hand that to HTML, so every source's body passes the same two passes.
//
// It works in two passes. bluemonday, a maintained allowlist sanitiser,
// removes everything not on a short list (scripts, styles, event handlers,
// unknown elements, URLs with other schemes than http, https and mailto).
// A second pass over bluemonday's output then re-emits only the elements
// this package knows, with attributes it writes itself (so links always get
// rel="nofollow noopener noreferrer" and target="_blank"), balances the tags
// (a stray <b> in one post must not embolden the rest of the wall), renders
// custom emoji from the post's own emoji list, and folds Mastodon's
// invisible/ellipsis link spans. Either pass alone keeps out script; both
// together are defence in depth.
package sanitize

import (
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"

	"github.com/backchannel/backchannel/internal/weburl"
)

// Emoji is a custom emoji a post may use: ":Shortcode:" in its text is shown
// as the image at URL. Only a post's own emoji list is ever consulted, so one
// post cannot make another show an image.
type Emoji struct {
	// Shortcode is the name between the colons, e.g. "blobcat".
	Shortcode string
	// URL is the image; only http and https URLs are used.
	URL string
}

// EmojiClass is the class of the <img> a custom emoji is rendered as, for
// the pages' CSS.
const EmojiClass = "custom-emoji"

// EmojiSize is the width and height, in CSS pixels, written on emoji images
// so the layout does not jump while they load; CSS may scale them.
const EmojiSize = "20"

// linkRel is written on every link: the wall must not pass authority
// (nofollow), the opened page must not reach back into the wall (noopener)
// and must not learn the wall's address (noreferrer).
const linkRel = "nofollow noopener noreferrer"

// policy is built once; a bluemonday Policy is safe for concurrent use
// once built.
var policy = newPolicy()

// classRE limits class attribute values to plain tokens before the second
// pass picks the few it understands.
var classRE = regexp.MustCompile(`^[a-zA-Z0-9_\- ]*$`)

func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("p", "br", "span", "b", "strong", "i", "em", "u", "s", "del",
		"code", "pre", "blockquote", "ul", "ol", "li")
	p.AllowAttrs("href").OnElements("a")
	p.AllowAttrs("class").Matching(classRE).OnElements("a", "span")
	p.AllowURLSchemes("http", "https", "mailto")
	p.AllowRelativeURLs(false)
	p.RequireParseableURLs(true)
	// "one<div>two</div>" must not become "onetwo" in the plain text.
	p.AddSpaceWhenStrippingTag(true)
	return p
}

// kept are the elements the second pass re-emits. Anything else that got
// through bluemonday (nothing should) is dropped with its tags, keeping its text.
var kept = map[string]bool{
	"p": true, "br": true, "a": true, "b": true, "strong": true, "i": true, "em": true,
	"u": true, "s": true, "del": true, "code": true, "pre": true, "blockquote": true,
	"ul": true, "ol": true, "li": true,
}

// blockBreak is how many newlines an element puts before its text in the
// plain text (2 = a paragraph break).
var blockBreak = map[string]int{
	"p": 2, "blockquote": 2, "pre": 2, "ul": 1, "ol": 1, "li": 1,
}

// linkClasses are the class tokens kept on links, so the pages can style
// mentions and hashtags.
var linkClasses = map[string]bool{"mention": true, "hashtag": true}

// HTML sanitises a source's HTML body. It returns safeHTML, which may be
// inserted into a page as is, and plainText, the same body as text:
// paragraphs and line breaks become newlines, entities are decoded, links
// show their full URL, and custom emoji stay as ":shortcode:".
//
// emojis is the post's own emoji list; entries without an http(s) URL or
// with a shortcode of other characters than letters, digits and '_' are
// ignored.
func HTML(body string, emojis []Emoji) (safeHTML, plainText string) {
	clean := policy.Sanitize(body)
	r := renderer{emojis: emojiMap(emojis)}
	r.run(clean)
	// Spaces bluemonday put where it dropped a tag at either end are noise.
	return strings.TrimSpace(r.html.String()), normaliseText(r.text.String())
}

// Line cleans a one-line plain-text field from a source (a display name, a
// content warning, an alt text): control characters and the invisible
// Unicode formatting characters that can reorder or hide what a moderator
// reads (bidi overrides, zero-width joiners) are removed, and runs of
// white space become one space. The result is plain text, not HTML: it must
// still be escaped when written into a page.
func Line(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			continue
		case unicode.IsSpace(r):
			space = b.Len() > 0
			continue
		case unicode.IsControl(r), unicode.Is(unicode.Cf, r):
			// Cf holds the bidi controls (U+202A-U+202E, U+2066-U+2069) and
			// the zero-width characters. Dropping ZWJ breaks some composed
			// emoji into their parts, which is an acceptable price in a name.
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

func emojiMap(emojis []Emoji) map[string]string {
	if len(emojis) == 0 {
		return nil
	}
	m := make(map[string]string, len(emojis))
	for _, e := range emojis {
		if !validShortcode(e.Shortcode) || !weburl.Valid(e.URL) {
			continue
		}
		m[e.Shortcode] = e.URL
	}
	return m
}

func validShortcode(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !shortcodeByte(s[i]) {
			return false
		}
	}
	return true
}

func shortcodeByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// safeHref reports whether s may be a link target: an absolute http(s) URL
// with a host, or a mailto: URL. bluemonday has already checked this; the
// second pass checks again so its output never depends on the first alone.
func safeHref(s string) bool {
	if weburl.Valid(s) {
		return true
	}
	u, err := url.Parse(s)
	return err == nil && strings.EqualFold(u.Scheme, "mailto") && u.Opaque != ""
}

// open is one element on the renderer's stack.
type open struct {
	name     string
	emitted  bool // written to the HTML (spans and dropped elements are not)
	invis    bool // a Mastodon "invisible" span: text kept in plain text only
	ellipsis bool // a Mastodon "ellipsis" span: "…" follows its text in HTML
}

type renderer struct {
	emojis map[string]string
	html   strings.Builder
	text   strings.Builder
	stack  []open
	invis  int // depth of open invisible spans
	pre    int // depth of open pre elements
}

func (r *renderer) run(clean string) {
	z := html.NewTokenizer(strings.NewReader(clean))
	for {
		switch z.Next() {
		case html.ErrorToken:
			// io.EOF: the end of bluemonday's output. Close what is open so
			// the fragment is balanced.
			for len(r.stack) > 0 {
				r.pop()
			}
			return
		case html.TextToken:
			r.textNode(string(z.Text()))
		case html.StartTagToken:
			r.start(z, false)
		case html.SelfClosingTagToken:
			r.start(z, true)
		case html.EndTagToken:
			name, _ := z.TagName()
			r.end(string(name))
		}
	}
}

func (r *renderer) start(z *html.Tokenizer, selfClosing bool) {
	nameB, hasAttr := z.TagName()
	name := string(nameB)
	var href, class string
	for hasAttr {
		var k, v []byte
		k, v, hasAttr = z.TagAttr()
		switch string(k) {
		case "href":
			href = string(v)
		case "class":
			class = string(v)
		}
	}
	if name == "br" {
		r.html.WriteString("<br>")
		r.text.WriteByte('\n')
		return
	}
	if selfClosing {
		return // no other kept element is void
	}
	if n := blockBreak[name]; n > 0 {
		r.text.WriteString(strings.Repeat("\n", n))
	}
	o := open{name: name}
	switch {
	case name == "span":
		for _, c := range strings.Fields(class) {
			switch c {
			case "invisible":
				o.invis = true
			case "ellipsis":
				o.ellipsis = true
			}
		}
		if o.invis {
			r.invis++
		}
	case name == "a":
		o.emitted = true
		r.html.WriteString("<a")
		if safeHref(href) {
			r.html.WriteString(` href="`)
			r.html.WriteString(html.EscapeString(href))
			r.html.WriteString(`"`)
		}
		var cs []string
		for _, c := range strings.Fields(class) {
			if linkClasses[c] {
				cs = append(cs, c)
			}
		}
		if len(cs) > 0 {
			r.html.WriteString(` class="`)
			r.html.WriteString(strings.Join(cs, " "))
			r.html.WriteString(`"`)
		}
		r.html.WriteString(` rel="` + linkRel + `" target="_blank">`)
	case kept[name]:
		o.emitted = true
		r.html.WriteString("<" + name + ">")
		if name == "pre" {
			r.pre++
		}
	}
	r.stack = append(r.stack, o)
}

// end closes the innermost open element called name and everything opened
// inside it; an end tag with no matching start is ignored.
func (r *renderer) end(name string) {
	for i := len(r.stack) - 1; i >= 0; i-- {
		if r.stack[i].name == name {
			for len(r.stack) > i {
				r.pop()
			}
			return
		}
	}
}

func (r *renderer) pop() {
	o := r.stack[len(r.stack)-1]
	r.stack = r.stack[:len(r.stack)-1]
	if o.invis {
		r.invis--
	}
	if o.ellipsis && r.invis == 0 {
		r.html.WriteString("…")
	}
	if o.emitted {
		r.html.WriteString("</" + o.name + ">")
		if o.name == "pre" {
			r.pre--
		}
	}
}

func (r *renderer) textNode(t string) {
	if r.pre > 0 {
		r.text.WriteString(t)
	} else {
		c := collapseSpace(t)
		// At the start of a line, the space is only the source's layout.
		if cur := r.text.String(); cur == "" || cur[len(cur)-1] == '\n' {
			c = strings.TrimLeft(c, " ")
		}
		r.text.WriteString(c)
	}
	if r.invis > 0 {
		return
	}
	r.writeEmojiText(t)
}

// writeEmojiText writes t, escaped, to the HTML, with every ":shortcode:"
// of the post's emoji list replaced by its image. Like Mastodon, a shortcode
// counts only when it is not glued to letters, digits or another colon
// ("10:30:00" is a time, not an emoji).
func (r *renderer) writeEmojiText(t string) {
	if len(r.emojis) == 0 {
		r.html.WriteString(html.EscapeString(t))
		return
	}
	last := 0
	for i := 0; i < len(t); i++ {
		if t[i] != ':' {
			continue
		}
		if i > 0 && (shortcodeByte(t[i-1]) || t[i-1] == ':') {
			continue
		}
		j := i + 1
		for j < len(t) && shortcodeByte(t[j]) {
			j++
		}
		if j == i+1 || j >= len(t) || t[j] != ':' {
			continue
		}
		if j+1 < len(t) && (shortcodeByte(t[j+1]) || t[j+1] == ':') {
			continue
		}
		code := t[i+1 : j]
		src, ok := r.emojis[code]
		if !ok {
			continue
		}
		r.html.WriteString(html.EscapeString(t[last:i]))
		r.html.WriteString(`<img src="`)
		r.html.WriteString(html.EscapeString(src))
		r.html.WriteString(`" alt=":` + code + `:" title=":` + code + `:" class="` + EmojiClass +
			`" width="` + EmojiSize + `" height="` + EmojiSize + `" draggable="false">`)
		last = j + 1
		i = j
	}
	r.html.WriteString(html.EscapeString(t[last:]))
}

// collapseSpace turns each run of white space (source HTML often wraps
// lines) into one space, as a browser would show it.
func collapseSpace(t string) string {
	if !strings.ContainsAny(t, " \t\n\r\f") {
		return t
	}
	var b strings.Builder
	b.Grow(len(t))
	space := false
	for _, c := range t {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' {
			space = true
			continue
		}
		if space {
			b.WriteByte(' ')
			space = false
		}
		b.WriteRune(c)
	}
	if space {
		b.WriteByte(' ')
	}
	return b.String()
}

// normaliseText trims spaces before line breaks, keeps at most one blank
// line in a row and drops blank lines at the ends.
func normaliseText(s string) string {
	lines := strings.Split(s, "\n")
	var b strings.Builder
	b.Grow(len(s))
	blank := 0
	started := false
	for _, l := range lines {
		l = strings.TrimRight(l, " \t")
		if strings.TrimSpace(l) == "" {
			blank++
			continue
		}
		if started {
			if blank > 0 {
				b.WriteString("\n\n")
			} else {
				b.WriteByte('\n')
			}
		}
		b.WriteString(l)
		started = true
		blank = 0
	}
	return b.String()
}
