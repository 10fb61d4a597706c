package sanitize

import (
	"html"
	"sort"
	"strings"
	"unicode/utf8"
)

// Link is a link over part of a plain text: the bytes text[Start:End] are
// shown as a link to Href (a Bluesky link, mention or hashtag facet, say).
type Link struct {
	Start, End int
	Href       string
}

// Plain returns plain text (a web form's, say) as the pair HTML returns:
// the text escaped with each line break as <br>, and the plain text the
// sanitiser reads back from that.
func Plain(text string) (safeHTML, plainText string) {
	var b Builder
	b.Text(text)
	return b.Body()
}

// Builder writes a body from plain text, with paragraphs and links where
// the source says, and hands it to HTML, so a source whose posts are plain
// text stores the same HTML and plain text, and passes the same checks, as
// one whose posts are HTML. The zero value is ready to use.
type Builder struct {
	b    strings.Builder
	open bool // a <p> is open
}

// Paragraph starts a paragraph, closing the one before.
func (b *Builder) Paragraph() {
	b.close()
	b.b.WriteString("<p>")
	b.open = true
}

// Paragraphs writes text with each run of lines between blank lines ("\n\n")
// in a paragraph of its own.
func (b *Builder) Paragraphs(text string) {
	for _, para := range strings.Split(text, "\n\n") {
		b.Paragraph()
		b.Text(para)
	}
}

// Text writes text, escaped, with each line break as <br>.
func (b *Builder) Text(text string) {
	b.b.WriteString(strings.ReplaceAll(html.EscapeString(text), "\n", "<br>"))
}

// Link writes text as a link to href, or as plain text when href is not
// an http(s) or mailto URL.
func (b *Builder) Link(text, href string) {
	if !safeHref(href) {
		b.Text(text)
		return
	}
	b.b.WriteString(`<a href="`)
	b.b.WriteString(html.EscapeString(href))
	b.b.WriteString(`">`)
	b.Text(text)
	b.b.WriteString("</a>")
}

// Linked writes text with links over the byte ranges links gives, in any
// order. A link out of range, empty, overlapping an earlier one, not on
// character boundaries or without an href is left out, so a malformed
// record still shows all its text.
func (b *Builder) Linked(text string, links []Link) {
	var ok []Link
	for _, l := range links {
		if l.Href == "" || l.Start < 0 || l.End > len(text) || l.Start >= l.End ||
			!utf8.RuneStart(text[l.Start]) || (l.End < len(text) && !utf8.RuneStart(text[l.End])) {
			continue
		}
		ok = append(ok, l)
	}
	sort.SliceStable(ok, func(i, j int) bool { return ok[i].Start < ok[j].Start })
	at := 0
	for _, l := range ok {
		if l.Start < at { // overlaps the one before
			continue
		}
		b.Text(text[at:l.Start])
		b.Link(text[l.Start:l.End], l.Href)
		at = l.End
	}
	b.Text(text[at:])
}

// Body returns what was written as HTML returns it: HTML safe to insert
// into a page, and the same body as plain text.
func (b *Builder) Body() (safeHTML, plainText string) {
	b.close()
	return HTML(b.b.String(), nil)
}

func (b *Builder) close() {
	if b.open {
		b.b.WriteString("</p>")
		b.open = false
	}
}
