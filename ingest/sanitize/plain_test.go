package sanitize

import "testing"

func TestPlain(t *testing.T) {
	for _, c := range []struct{ in, html, text string }{
		{"hello", "hello", "hello"},
		{"How will the <b>new</b> bus routes\nreach Holbeck?\n\nThanks", "How will the &lt;b&gt;new&lt;/b&gt; bus routes<br>reach Holbeck?<br><br>Thanks",
			"How will the <b>new</b> bus routes\nreach Holbeck?\n\nThanks"},
		{`<script>alert("x")</script> & 'q'`, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &#39;q&#39;", `<script>alert("x")</script> & 'q'`},
		{"a  b", "a  b", "a b"},
		{"", "", ""},
	} {
		h, p := Plain(c.in)
		if h != c.html || p != c.text {
			t.Errorf("Plain(%q) = %q, %q; want %q, %q", c.in, h, p, c.html, c.text)
		}
		// What Plain gives is what the sanitiser gives for it.
		if h2, p2 := HTML(h, nil); h2 != h || p2 != p {
			t.Errorf("Plain(%q) is not a fixed point of HTML: %q, %q", c.in, h2, p2)
		}
	}
}

func TestBuilderLinked(t *testing.T) {
	text := "hi @ana.bsky see example.org/x #tag"
	at := func(s string) (int, int) {
		for i := 0; i+len(s) <= len(text); i++ {
			if text[i:i+len(s)] == s {
				return i, i + len(s)
			}
		}
		t.Fatalf("%q not in text", s)
		return 0, 0
	}
	ms, me := at("@ana.bsky")
	ls, le := at("example.org/x")
	ts, te := at("#tag")
	var b Builder
	b.Paragraph()
	b.Linked(text, []Link{
		{Start: ts, End: te, Href: "https://bsky.app/hashtag/tag"},
		{Start: ms, End: me, Href: "https://bsky.app/profile/did:plc:x"},
		{Start: ls, End: le, Href: "https://example.org/x"},
		{Start: ls + 2, End: le, Href: "https://overlaps.example"},
		{Start: 0, End: len(text) + 1, Href: "https://out-of-range.example"},
		{Start: 3, End: 3, Href: "https://empty.example"},
		{Start: 0, End: 2, Href: ""},
	})
	h, p := b.Body()
	rel := ` rel="nofollow noopener noreferrer" target="_blank">`
	want := `<p>hi <a href="https://bsky.app/profile/did:plc:x"` + rel + `@ana.bsky</a> see <a href="https://example.org/x"` + rel +
		`example.org/x</a> <a href="https://bsky.app/hashtag/tag"` + rel + `#tag</a></p>`
	if h != want {
		t.Errorf("html\n have %s\n want %s", h, want)
	}
	if p != text {
		t.Errorf("text %q, want %q", p, text)
	}
}

func TestBuilderRefusesBadLinksAndSplitCharacters(t *testing.T) {
	text := "é click"
	var b Builder
	b.Linked(text, []Link{
		{Start: 1, End: 2, Href: "https://split.example"}, // inside é
		{Start: len(text) - 5, End: len(text), Href: "javascript:alert(1)"},
	})
	h, p := b.Body()
	if want := "é click"; h != want {
		t.Errorf("html %q, want %q", h, want)
	}
	if p != text {
		t.Errorf("text %q, want %q", p, text)
	}
}

func TestBuilderParagraphs(t *testing.T) {
	var b Builder
	b.Paragraphs("one\ntwo\n\nthree")
	b.Paragraph()
	b.Link("https://example.org/a?b=1&c=2", "https://example.org/a?b=1&c=2")
	h, p := b.Body()
	want := `<p>one<br>two</p><p>three</p><p><a href="https://example.org/a?b=1&amp;c=2" rel="nofollow noopener noreferrer" target="_blank">https://example.org/a?b=1&amp;c=2</a></p>`
	if h != want {
		t.Errorf("html\n have %s\n want %s", h, want)
	}
	if want := "one\ntwo\n\nthree\n\nhttps://example.org/a?b=1&c=2"; p != want {
		t.Errorf("text %q, want %q", p, want)
	}
}
