package fold

// Redaction and revision: a moderator hides parts of a post (post.redacted)
// or rewrites a web-form post's text (post.revised) before, or after, it is
// shown. What the moderators changed is part of the version that was
// passed: every version a post holds (the one shown, the edit waiting, the
// versions undo would show again) and every later version from its source
// has the redacted texts replaced by event.RedactionMark, so no public
// surface can carry them. The source's own words stay in the moderators'
// view (PostView.Original, Redactions) and in the audit.

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/net/html"

	"github.com/backchannel/backchannel/event"
)

// SourceForm is Post.Source of a post from the event's web form: the only
// posts whose text a moderator may rewrite (post.revised).
const SourceForm = "form"

// markHTML is what a redacted part reads as in a post's HTML: a constant,
// never anything a moderator typed, so a redaction cannot add markup.
const markHTML = `<span class="redacted">` + event.RedactionMark + `</span>`

// redactionRE matches any of texts: case-insensitively, any run of white
// space in a text matching any run of white space (the HTML and the plain
// text of a post lay out spaces differently), longest text first. nil when
// texts name nothing that can be redacted.
func redactionRE(texts []string) *regexp.Regexp {
	var alts []string
	for _, t := range texts {
		if event.ValidRedaction(t) != nil {
			continue
		}
		if n := numberPattern(t); n != "" {
			alts = append(alts, n)
			continue
		}
		words := strings.Fields(t)
		for i, w := range words {
			words[i] = regexp.QuoteMeta(w)
		}
		if len(words) > 0 {
			alts = append(alts, strings.Join(words, `\s+`))
		}
	}
	if len(alts) == 0 {
		return nil
	}
	sort.SliceStable(alts, func(i, j int) bool { return len(alts[i]) > len(alts[j]) })
	return regexp.MustCompile(`(?i)(?:` + strings.Join(alts, "|") + `)`)
}

// numberPattern matches the number t (a phone number, an NHS number: t's
// only letters or digits are digits) however it is written: "07700
// 900123", "07700900123", "07700-900-123", "tel:+4477..." is another
// number and not matched. "" when t is not a number.
func numberPattern(t string) string {
	var digits []string
	for _, r := range t {
		switch {
		case r >= '0' && r <= '9':
			digits = append(digits, string(r))
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			return ""
		}
	}
	if len(digits) < 4 {
		return "" // a year, a count: as written
	}
	return strings.Join(digits, `[\s\-./()]*`)
}

// Redactable returns those of texts that occur in p as a moderator sees it
// now (the version shown or pending, and the edit waiting): what a
// post.redacted of texts would hide. The API answers "nothing to redact"
// when it is empty.
func Redactable(p PostView, texts []string) []string {
	var out []string
	for _, t := range texts {
		re := redactionRE([]string{t})
		if re == nil {
			continue
		}
		if _, hit := redactPost(p.Post, re); hit {
			out = append(out, t)
			continue
		}
		if p.Edit != nil {
			if _, hit := redactPost(*p.Edit, re); hit {
				out = append(out, t)
			}
		}
	}
	return out
}

// redactPost returns p with every match of re in its text, HTML, content
// warning and media descriptions replaced by the mark, and whether there
// was any. A version with a match is marked Redacted. p's slices are not
// modified.
func redactPost(p event.Post, re *regexp.Regexp) (event.Post, bool) {
	if re == nil {
		return p, false
	}
	hit := false
	if re.MatchString(p.Text) {
		p.Text, hit = re.ReplaceAllLiteralString(p.Text, event.RedactionMark), true
	}
	if re.MatchString(p.ContentWarning) {
		p.ContentWarning, hit = re.ReplaceAllLiteralString(p.ContentWarning, event.RedactionMark), true
	}
	if h, ok := redactHTML(p.HTML, re); ok {
		p.HTML, hit = h, true
	}
	cloned := false
	for i, m := range p.Media {
		if re.MatchString(m.Alt) {
			if !cloned {
				p.Media, cloned = slices.Clone(p.Media), true // shared with the state
			}
			p.Media[i].Alt, hit = re.ReplaceAllLiteralString(m.Alt, event.RedactionMark), true
		}
	}
	if hit {
		p.Redacted = true
	}
	return p, hit
}

// redactHTML replaces every match of re in the text of h (already
// sanitised HTML) by markHTML. A match may run across elements ("07700
// <b>900123</b>"): the mark goes where it starts and the rest of it goes.
// Tags are copied byte for byte, but a link whose address, or an image
// whose address or description, holds a match: the link loses its address,
// the image is replaced by the mark. Text is written escaped. Nothing of
// the moderator's input reaches the output, which holds no markup that h
// did not hold but the constant mark, so it needs no second sanitising.
func redactHTML(h string, re *regexp.Regexp) (string, bool) {
	if h == "" || re == nil {
		return h, false
	}
	type tok struct {
		raw        string
		text       string // decoded, for text tokens
		isText     bool
		start, end int // of text in all
	}
	var (
		toks []tok
		all  strings.Builder
		hit  bool
	)
	z := html.NewTokenizer(strings.NewReader(h))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break
		}
		raw := string(z.Raw())
		switch tt {
		case html.TextToken:
			t := string(z.Text())
			toks = append(toks, tok{raw: raw, text: t, isText: true, start: all.Len(), end: all.Len() + len(t)})
			all.WriteString(t)
		case html.StartTagToken, html.SelfClosingTagToken:
			tk := z.Token()
			if r, ok := redactTag(tk, re); ok {
				raw, hit = r, true
			}
			toks = append(toks, tok{raw: raw})
		default:
			toks = append(toks, tok{raw: raw})
		}
	}
	matches := re.FindAllStringIndex(all.String(), -1)
	if len(matches) == 0 && !hit {
		return h, false
	}
	var out strings.Builder
	for _, t := range toks {
		if !t.isText {
			out.WriteString(t.raw)
			continue
		}
		at, changed := t.start, false
		var b strings.Builder
		for _, m := range matches {
			if m[1] <= t.start || m[0] >= t.end {
				continue
			}
			changed = true
			s, e := max(m[0], t.start), min(m[1], t.end)
			b.WriteString(html.EscapeString(t.text[at-t.start : s-t.start]))
			if m[0] >= t.start {
				b.WriteString(markHTML) // the match starts here; its rest in later text goes
			}
			at = e
		}
		if !changed {
			out.WriteString(t.raw)
			continue
		}
		b.WriteString(html.EscapeString(t.text[at-t.start:]))
		out.WriteString(b.String())
	}
	return out.String(), true
}

// redactTag returns the tag written again when one of its shown or
// followed attributes holds a match: a link without its address, an image
// as the mark.
func redactTag(tk html.Token, re *regexp.Regexp) (string, bool) {
	switch tk.Data {
	case "a":
		for i, a := range tk.Attr {
			if (a.Key == "href" || a.Key == "title") && re.MatchString(a.Val) {
				tk.Attr = slices.Delete(slices.Clone(tk.Attr), i, i+1)
				if r, ok := redactTag(tk, re); ok {
					return r, true
				}
				return tk.String(), true
			}
		}
	case "img":
		for _, a := range tk.Attr {
			if (a.Key == "src" || a.Key == "alt" || a.Key == "title") && re.MatchString(a.Val) {
				return markHTML, true
			}
		}
	}
	return "", false
}

// sameRedaction reports whether two texts to redact are the same text to
// hide (case and white space aside).
func sameRedaction(a, b string) bool {
	return strings.EqualFold(strings.Join(strings.Fields(a), " "), strings.Join(strings.Fields(b), " "))
}

// redacted returns version with the post's redactions applied: how every
// version from the source is kept once a moderator redacted the post.
func (p *post) redacted(version event.Post) event.Post {
	version.Redacted, version.Revised = false, false // the fold's marks, never a source's
	if len(p.v.Redactions) == 0 {
		return version
	}
	out, _ := redactPost(version, redactionRE(p.v.Redactions))
	return out
}

// keepOriginal records version as the source's newest version, shown to
// moderators as PostView.Original once the moderators changed the post.
func (p *post) keepOriginal(version event.Post) {
	version.Redacted, version.Revised = false, false
	p.raw = version
	if p.v.Original != nil {
		o := version
		p.v.Original = &o
	}
}

// redact hides every occurrence of e.Redact in every version the post
// holds, now and later. Texts that occur nowhere in it now are kept too
// (a later edit may bring them); nothing occurring anywhere is a no-op.
func (s *State) redact(c *change, e event.Entry) (bool, string) {
	p := s.live(e.PostID)
	if p == nil {
		return false, ""
	}
	var fresh []string
	for _, t := range e.Redact {
		if event.ValidRedaction(t) != nil || slices.ContainsFunc(p.v.Redactions, func(o string) bool { return sameRedaction(o, t) }) ||
			slices.ContainsFunc(fresh, func(o string) bool { return sameRedaction(o, t) }) {
			continue
		}
		fresh = append(fresh, strings.Join(strings.Fields(t), " "))
	}
	re := redactionRE(fresh)
	if re == nil {
		return false, "not applied: nothing to redact in " + s.postName(p.v.ID)
	}
	content, hitContent := redactPost(p.v.Post, re)
	var edit event.Post
	hitEdit := false
	if p.v.Edit != nil {
		edit, hitEdit = redactPost(*p.v.Edit, re)
	}
	if !hitContent && !hitEdit {
		return false, "not applied: nothing to redact in " + s.postName(p.v.ID)
	}
	c.touch(p)
	p.v.Redactions = append(slices.Clone(p.v.Redactions), fresh...)
	if hitContent {
		s.show(c, p, content)
	}
	if hitEdit {
		p.v.Edit = &edit
	}
	// Undo must never put back a version with what is now hidden.
	for i, h := range p.history {
		if h.shown != nil {
			if v, hit := redactPost(*h.shown, re); hit {
				p.history[i].shown = &v
			}
		}
	}
	o := p.raw
	p.v.Original = &o
	sum := "redacted " + quoteAll(fresh) + " in " + s.postName(p.v.ID)
	if e.Reason != "" {
		sum += " (" + clip(e.Reason) + ")"
	}
	return true, sum
}

// revise replaces the text of a web-form post's version a moderator
// decides on (the edit waiting, else the post) by the moderator's; the
// post's redactions still apply to it. Posts from a social network keep
// their author's words: no-op.
func (s *State) revise(c *change, e event.Entry) (bool, string) {
	p := s.live(e.PostID)
	if p == nil || e.Revision == nil {
		return false, ""
	}
	if p.v.Source != SourceForm {
		return false, "not applied: only a web-form post's text can be edited, not " + s.postName(p.v.ID) + "'s"
	}
	cur := p.v.Post
	if p.v.Edit != nil {
		cur = *p.v.Edit
	}
	next := cur
	next.Text, next.HTML = e.Revision.Text, e.Revision.HTML
	next = p.redacted(next)
	next.Revised = true
	if next.Text == cur.Text && next.HTML == cur.HTML {
		return false, ""
	}
	c.touch(p)
	if p.v.Edit != nil {
		p.v.Edit = &next
	} else {
		s.show(c, p, next)
	}
	o := p.raw
	p.v.Original = &o
	sum := "edited the text of " + s.postName(p.v.ID) + ": " + clip(e.Revision.Text)
	if e.Reason != "" {
		sum += " (" + clip(e.Reason) + ")"
	}
	return true, sum
}

func quoteAll(texts []string) string {
	q := make([]string, len(texts))
	for i, t := range texts {
		q[i] = `"` + clip(t) + `"`
	}
	return strings.Join(q, ", ")
}
