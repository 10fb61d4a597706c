package bluesky

import (
	"bytes"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Matcher decides whether a post carries one of the event's hashtags. It is
// built once per source and is safe for concurrent use.
//
// Jetstream sends every post on the network (hundreds a second), so matching
// runs in two steps: MaybeMatches looks for any tag in the raw frame, folded
// to lower case, before anything is decoded; only the few frames that pass
// are decoded and checked exactly by Matches.
type Matcher struct {
	tags []string // lower-cased, without '#'
	// raw are the byte patterns MaybeMatches looks for; nil disables the
	// pre-filter (a tag that JSON could escape, so bytes cannot be trusted).
	raw [][]byte
}

// NewMatcher returns a matcher for tags (with or without '#').
func NewMatcher(tags []string) *Matcher {
	m := &Matcher{}
	prefilter := true
	for _, t := range tags {
		t = strings.ToLower(strings.TrimPrefix(strings.TrimSpace(t), "#"))
		if t == "" {
			continue
		}
		m.tags = append(m.tags, t)
		for _, r := range t {
			// Non-ASCII may arrive \u-escaped in JSON, and ToLower of some
			// runes changes their byte length: decode those frames instead.
			if r >= utf8.RuneSelf {
				prefilter = false
			}
		}
		m.raw = append(m.raw, []byte(t))
	}
	if !prefilter {
		m.raw = nil
	}
	return m
}

// MaybeMatches reports whether frame could hold a post with one of the tags:
// false means it certainly does not. It allocates nothing.
func (m *Matcher) MaybeMatches(frame []byte) bool {
	if m.raw == nil {
		return true
	}
	for _, t := range m.raw {
		if containsFoldASCII(frame, t) {
			return true
		}
	}
	return false
}

// containsFoldASCII reports whether s contains lower (ASCII lower case),
// ignoring ASCII case in s.
func containsFoldASCII(s, lower []byte) bool {
	n := len(lower)
	if n == 0 {
		return true
	}
	first := lower[0]
	upper := first
	if 'a' <= first && first <= 'z' {
		upper = first - 'a' + 'A'
	}
	for i := 0; i+n <= len(s); {
		// Jump to the next byte that can start a match.
		j := bytes.IndexByte(s[i:len(s)-n+1], first)
		if upper != first {
			if k := bytes.IndexByte(s[i:len(s)-n+1], upper); k >= 0 && (j < 0 || k < j) {
				j = k
			}
		}
		if j < 0 {
			return false
		}
		i += j
		if equalFoldASCII(s[i:i+n], lower) {
			return true
		}
		i++
	}
	return false
}

func equalFoldASCII(a, lower []byte) bool {
	for i := range lower {
		c := a[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// Matches reports whether a post with these tag facets, record tags and text
// carries one of the tags, and which (as the matcher holds it). Tag facets
// and the record's tags field are authoritative; the text is searched for
// "#tag" only when the post has no tag facets (older clients, some bridges).
// A tag never matches a longer tag: #Leeds does not match #LeedsUnited.
func (m *Matcher) Matches(facetTags, recordTags []string, text string) (string, bool) {
	for _, list := range [][]string{facetTags, recordTags} {
		for _, t := range list {
			if tag, ok := m.equalTag(t); ok {
				return tag, true
			}
		}
	}
	if len(facetTags) > 0 {
		return "", false
	}
	for _, t := range TextTags(text) {
		if tag, ok := m.equalTag(t); ok {
			return tag, true
		}
	}
	return "", false
}

func (m *Matcher) equalTag(t string) (string, bool) {
	t = strings.TrimPrefix(t, "#")
	for _, want := range m.tags {
		if strings.EqualFold(t, want) {
			return want, true
		}
	}
	return "", false
}

// TextTags returns the hashtags written in text: '#' at the start or after a
// non-word character, then letters, digits, '_' (and marks); the tag ends at
// the first other character, so "#Leeds2026!" gives "Leeds2026".
func TextTags(text string) []string {
	var tags []string
	for i := 0; i < len(text); {
		j := strings.IndexAny(text[i:], "#＃")
		if j < 0 {
			break
		}
		j += i
		_, hashLen := utf8.DecodeRuneInString(text[j:])
		if j > 0 {
			prev, _ := utf8.DecodeLastRuneInString(text[:j])
			if isTagRune(prev) || prev == '&' {
				i = j + hashLen
				continue
			}
		}
		k := j + hashLen
		for k < len(text) {
			r, n := utf8.DecodeRuneInString(text[k:])
			if !isTagRune(r) {
				break
			}
			k += n
		}
		if tag := text[j+hashLen : k]; tag != "" && !allDigits(tag) {
			tags = append(tags, tag)
		}
		i = k
	}
	return tags
}

func isTagRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r) || unicode.Is(unicode.Mc, r)
}

func allDigits(s string) bool {
	for _, r := range s {
		if !unicode.IsDigit(r) {
			return false
		}
	}
	return true
}

// removedReason is what moderators read when a post of this source was
// edited to drop the event's tags.
func (m *Matcher) removedReason() string {
	if len(m.tags) == 1 {
		return "edited to remove #" + m.tags[0]
	}
	return "edited to remove the event's tags (#" + strings.Join(m.tags, ", #") + ")"
}
