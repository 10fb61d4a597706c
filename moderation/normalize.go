package moderation

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// The text a rule looks at is cut into words and each word is folded to a
// comparison form: compatibility-decomposed (NFKD, so "ｆｕｃｋ" and "ﬁ" fold
// to plain letters), stripped of combining marks (so "Café" and "cafe" are
// one word), lower-cased, with the few letters NFKD leaves alone spelled out
// ("ß" -> "ss"). A word is a run of letters, digits and combining marks;
// anything else (spaces, punctuation, '#', '@', apostrophes, hyphens) ends
// it. Splitting on apostrophes is deliberate: "l'enculé" and "connard's"
// must expose the word inside. Scripts written without spaces between words
// (Han, kana, Thai, ...) have no word boundaries to find, so each of their
// letters is a word of its own and a listed phrase of them matches as a run
// of letters anywhere.

// span is one word of a tokenised text: buf[start:end], from field field.
type span struct {
	start, end int32
	field      int8
}

// words is a tokenised text. It is reused through wordsPool so Evaluate
// allocates little.
type words struct {
	buf   []byte
	spans []span
	// decomp is scratch space for the NFKD form of non-ASCII input.
	decomp []byte
}

var wordsPool = sync.Pool{New: func() any { return &words{buf: make([]byte, 0, 512), spans: make([]span, 0, 64)} }}

func (w *words) reset() {
	w.buf = w.buf[:0]
	w.spans = w.spans[:0]
}

// word returns the i-th word as a string that aliases w.buf; it is only
// valid until w changes, which is enough for a map lookup.
func (w *words) word(i int) []byte {
	s := w.spans[i]
	return w.buf[s.start:s.end]
}

// add appends the words of s, tagged with field.
func (w *words) add(s string, field int8) {
	if s == "" {
		return
	}
	if isASCII(s) {
		start := -1
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			default:
				if start >= 0 {
					w.close(start, field)
					start = -1
				}
				continue
			}
			if start < 0 {
				start = len(w.buf)
			}
			w.buf = append(w.buf, c)
		}
		if start >= 0 {
			w.close(start, field)
		}
		return
	}
	w.decomp = norm.NFKD.AppendString(w.decomp[:0], s)
	start := -1
	for i := 0; i < len(w.decomp); {
		if c := w.decomp[i]; c < utf8.RuneSelf {
			// The fast path: most letters of most posts are ASCII.
			i++
			switch {
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			default:
				if start >= 0 {
					w.close(start, field)
					start = -1
				}
				continue
			}
			if start < 0 {
				start = len(w.buf)
			}
			w.buf = append(w.buf, c)
			continue
		}
		r, n := utf8.DecodeRune(w.decomp[i:])
		i += n
		switch {
		case unicode.Is(unicode.Mn, r):
			// A combining mark belongs to the letter before it: drop it
			// without ending the word.
			continue
		case unicode.IsLetter(r) || unicode.IsNumber(r):
			if unspaced(r) {
				if start >= 0 {
					w.close(start, field)
					start = -1
				}
				s := len(w.buf)
				w.buf = utf8.AppendRune(w.buf, unicode.ToLower(r))
				w.close(s, field)
				continue
			}
			if start < 0 {
				start = len(w.buf)
			}
			w.buf = appendFolded(w.buf, r)
		default:
			if start >= 0 {
				w.close(start, field)
				start = -1
			}
		}
	}
	if start >= 0 {
		w.close(start, field)
	}
}

func (w *words) close(start int, field int8) {
	w.spans = append(w.spans, span{start: int32(start), end: int32(len(w.buf)), field: field})
}

// appendFolded appends the comparison form of the letter or digit r.
func appendFolded(b []byte, r rune) []byte {
	switch r {
	case 'ß', 'ẞ':
		return append(b, "ss"...)
	case 'æ', 'Æ':
		return append(b, "ae"...)
	case 'œ', 'Œ':
		return append(b, "oe"...)
	case 'ø', 'Ø':
		return append(b, 'o')
	case 'đ', 'Đ':
		return append(b, 'd')
	case 'ł', 'Ł':
		return append(b, 'l')
	case 'ı':
		return append(b, 'i')
	case 'þ', 'Þ':
		return append(b, "th"...)
	}
	if r < utf8.RuneSelf {
		if 'A' <= r && r <= 'Z' {
			r += 'a' - 'A'
		}
		return append(b, byte(r))
	}
	return utf8.AppendRune(b, unicode.ToLower(r))
}

// unspaced reports a letter of a script written without spaces between words.
func unspaced(r rune) bool {
	if r < 0x0E00 {
		return false
	}
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Thai,
		unicode.Lao, unicode.Khmer, unicode.Myanmar, unicode.Tibetan)
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// Fold returns the comparison form of s: its words, folded as the rules
// compare them, joined by single spaces. "Ça, c'est CAFÉ!" folds to
// "ca c est cafe". It is exported so screens and tests can show what a rule
// sees.
func Fold(s string) string {
	w := &words{}
	w.add(s, 0)
	parts := make([]string, len(w.spans))
	for i := range w.spans {
		parts[i] = string(w.word(i))
	}
	return strings.Join(parts, " ")
}
