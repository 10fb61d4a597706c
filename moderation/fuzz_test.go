package moderation

import (
	"strings"
	"testing"

	"github.com/backchannel/backchannel/event"
)

// FuzzEvaluate checks that any text, however broken, gets a valid verdict,
// that folding is stable (folding a folded text changes nothing), and that
// a listed word is always found in a text made of the word.
func FuzzEvaluate(f *testing.F) {
	for _, s := range []string{"", "Ça, c'est CAFÉ!", "bad\xffutf8", "日本語のテキスト", "ｆｕｃｋ", "Straße", "e\u0301\u0301", "#tag @a@b.c", "ǅ ǈ ﬃ", "\u0345\u0399"} {
		f.Add(s)
	}
	r := Rules{Mode: event.ModeAuto, Profanity: true, BlockedWords: []string{"spam"}}
	r.Compile()
	f.Fuzz(func(t *testing.T, s string) {
		v := r.Evaluate(event.Post{Source: "mastodon", Text: s, ContentWarning: s, Author: event.Author{Name: s, Handle: s}}, now)
		if err := v.Validate(); err != nil || v.Rule == "" {
			t.Fatalf("verdict %+v: %v", v, err)
		}
		once := Fold(s)
		if twice := Fold(once); twice != once {
			t.Fatalf("Fold not stable: %q -> %q -> %q", s, once, twice)
		}
		if once == "" {
			return
		}
		b := Rules{Mode: event.ModeAuto, BlockedWords: []string{s}}
		if got := b.Evaluate(event.Post{Source: "mastodon", Text: "x " + s + " y"}, now); got.Decision != event.DecisionHold && strings.TrimSpace(once) != "" {
			t.Fatalf("word %q (folded %q) not found in a text containing it: %+v", s, once, got)
		}
	})
}
