package moderation

import "strings"

// phrase is one listed word or phrase in comparison form. A phrase of
// several words matches only those words, in order, next to each other,
// within one field.
type phrase struct {
	rest  []string // the words after the first
	label string   // as the host wrote it, for the verdict
}

// matcher finds listed words and phrases in tokenised text. It is built
// once and only read afterwards, so it is safe for concurrent use.
type matcher struct {
	byFirst map[string][]phrase
}

// newMatcher compiles a list of words and phrases. Entries that fold to no
// word at all (punctuation only) are ignored: they could never match.
func newMatcher(list []string) *matcher {
	m := &matcher{byFirst: make(map[string][]phrase, len(list))}
	for _, raw := range list {
		label := strings.TrimSpace(raw)
		folded := strings.Fields(Fold(label))
		if len(folded) == 0 {
			continue
		}
		m.byFirst[folded[0]] = append(m.byFirst[folded[0]], phrase{rest: folded[1:], label: label})
	}
	return m
}

func (m *matcher) empty() bool { return m == nil || len(m.byFirst) == 0 }

// find returns the first listed phrase in w and the field it is in.
func (m *matcher) find(w *words) (label string, field int8, ok bool) {
	if m.empty() {
		return "", 0, false
	}
	for i := range w.spans {
		cands, found := m.byFirst[string(w.word(i))]
		if !found {
			continue
		}
		f := w.spans[i].field
	next:
		for _, p := range cands {
			if i+len(p.rest) >= len(w.spans) {
				continue
			}
			for k, want := range p.rest {
				j := i + 1 + k
				if w.spans[j].field != f || string(w.word(j)) != want {
					continue next
				}
			}
			return p.label, f, true
		}
	}
	return "", 0, false
}
