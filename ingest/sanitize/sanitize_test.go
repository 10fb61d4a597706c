package sanitize

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// status is the part of a Mastodon status these tests read.
type status struct {
	Content string `json:"content"`
	Emojis  []struct {
		Shortcode string `json:"shortcode"`
		StaticURL string `json:"static_url"`
	} `json:"emojis"`
}

func loadStatus(t testing.TB, name string) (string, []Emoji) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	var s status
	if err := json.Unmarshal(b, &s); err != nil {
		t.Fatal(err)
	}
	var es []Emoji
	for _, e := range s.Emojis {
		es = append(es, Emoji{Shortcode: e.Shortcode, URL: e.StaticURL})
	}
	return s.Content, es
}

func TestMastodonContent(t *testing.T) {
	tests := []struct {
		file         string
		wantHTML     []string // substrings of the safe HTML
		notHTML      []string
		wantText     string // exact plain text, when set
		textContains []string
	}{
		{
			file: "mastodon_status_custom_emoji.json",
			wantHTML: []string{
				`<p>ClashTime <img src="https://files.mastodon.social/custom_emojis/images/000/109/724/static/7283224bdc0ce77f.png" alt=":toot:" title=":toot:" class="custom-emoji" width="20" height="20" draggable="false"> <img src="https://files.mastodon.social/custom_emojis/images/000/188/590/static/69409ebdc0f11a5a.png" alt=":cr_top:"`,
			},
			wantText: "ClashTime :toot: :cr_top:",
		},
		{
			file: "mastodon_status_links_card_entity_example.json",
			wantHTML: []string{
				`<p>&#34;I lost my inheritance with one wrong digit on my sort code&#34;</p>`,
				`<a href="https://www.theguardian.com/money/2019/dec/07/i-lost-my-193000-inheritance-with-one-wrong-digit-on-my-sort-code" rel="nofollow noopener noreferrer" target="_blank">theguardian.com/money/2019/dec…</a>`,
			},
			notHTML:  []string{"<span", ">https://www."},
			wantText: "\"I lost my inheritance with one wrong digit on my sort code\"\n\nhttps://www.theguardian.com/money/2019/dec/07/i-lost-my-193000-inheritance-with-one-wrong-digit-on-my-sort-code",
		},
		{
			file:         "mastodon_status_spoiler_custom_emoji_link.json",
			wantHTML:     []string{`alt=":blobthumbsup:"`, `>knowyourmeme.com/memes/karen</a>`},
			textContains: []string{"perfectly :blobthumbsup: - it even", "\n\nhttps://knowyourmeme.com/memes/karen"},
		},
		{
			file:     "mastodon_status_mention_hcard_remote.json",
			wantHTML: []string{`<a href="https://pl.nulled.red/users/disarray" class="mention" rel="nofollow noopener noreferrer" target="_blank">@disarray</a> glad i was able to help`},
			wantText: "@disarray glad i was able to help",
		},
		{
			file: "mastodon_status_friendica_multi_hashtags.json",
			wantHTML: []string{
				`<a href="https://mastodon.social/tags/Antofagasta" class="mention hashtag" rel="nofollow noopener noreferrer" target="_blank">#Antofagasta</a>`,
				"Cifra total llega a 192<br>",
			},
			textContains: []string{"Cifra total llega a 192\nhttps://regionalista.cl/", "#Antofagasta #Calama", "---\nhttps://nitter"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			content, emojis := loadStatus(t, tt.file)
			gotHTML, gotText := HTML(content, emojis)
			for _, w := range tt.wantHTML {
				if !strings.Contains(gotHTML, w) {
					t.Errorf("HTML lacks %q\ngot: %s", w, gotHTML)
				}
			}
			for _, w := range tt.notHTML {
				if strings.Contains(gotHTML, w) {
					t.Errorf("HTML has %q\ngot: %s", w, gotHTML)
				}
			}
			if tt.wantText != "" && gotText != tt.wantText {
				t.Errorf("text = %q, want %q", gotText, tt.wantText)
			}
			for _, w := range tt.textContains {
				if !strings.Contains(gotText, w) {
					t.Errorf("text lacks %q\ngot: %q", w, gotText)
				}
			}
			assertSafe(t, content, gotHTML)
			assertBalanced(t, gotHTML)
		})
	}
}

func TestEmoji(t *testing.T) {
	own := []Emoji{
		{Shortcode: "blob", URL: "https://cdn.example/blob.png"},
		{Shortcode: "evil", URL: "javascript:alert(1)"},
		{Shortcode: "data", URL: "data:image/png;base64,AAAA"},
		{Shortcode: "bad\"code", URL: "https://cdn.example/x.png"},
	}
	tests := []struct {
		in, want string
	}{
		{"<p>:blob:</p>", `<p><img src="https://cdn.example/blob.png" alt=":blob:" title=":blob:" class="custom-emoji" width="20" height="20" draggable="false"></p>`},
		// Not in this post's list: left as text.
		{"<p>:other:</p>", "<p>:other:</p>"},
		// Unsafe URLs are never rendered.
		{"<p>:evil: :data:</p>", "<p>:evil: :data:</p>"},
		// Glued to letters, digits or colons: a time or a word, not an emoji.
		{"<p>10:blob:00 a:blob: ::blob::</p>", "<p>10:blob:00 a:blob: ::blob::</p>"},
		// Inside an attribute: never touched.
		{`<a href="https://x.example/:blob:">y</a>`, `<a href="https://x.example/:blob:" rel="nofollow noopener noreferrer" target="_blank">y</a>`},
		{`<p>(:blob:)</p>`, `<p>(<img src="https://cdn.example/blob.png" alt=":blob:" title=":blob:" class="custom-emoji" width="20" height="20" draggable="false">)</p>`},
	}
	for _, tt := range tests {
		got, _ := HTML(tt.in, own)
		if got != tt.want {
			t.Errorf("HTML(%q) =\n %s\nwant\n %s", tt.in, got, tt.want)
		}
	}
}

func TestStructure(t *testing.T) {
	tests := []struct {
		in, wantHTML, wantText string
	}{
		{"<p>a</p><p>b<br>c</p>", "<p>a</p><p>b<br>c</p>", "a\n\nb\nc"},
		{"<b>bold never closed", "<b>bold never closed</b>", "bold never closed"},
		{"<i>x<b>y</i>z</b>", "<i>x<b>y</b></i>z", "xyz"},
		{"</p>stray end", "stray end", "stray end"},
		{"<div>one</div><div>two</div>", "one  two", "one two"},
		{"<h1>Title</h1><p>body</p>", "Title <p>body</p>", "Title\n\nbody"},
		{"<ul><li>one</li><li>two</li></ul>", "<ul><li>one</li><li>two</li></ul>", "one\ntwo"},
		{"<p>fish &amp; chips &lt;3 &#x1F41F;</p>", "<p>fish &amp; chips &lt;3 🐟</p>", "fish & chips <3 🐟"},
		{"<p>wrapped\n   line</p>", "<p>wrapped\n   line</p>", "wrapped line"},
		{"<pre>  code\n  block</pre>", "<pre>  code\n  block</pre>", "  code\n  block"},
		{`<a href="mailto:ada@example.org">mail</a>`, `<a href="mailto:ada@example.org" rel="nofollow noopener noreferrer" target="_blank">mail</a>`, "mail"},
		{`<a href="/relative">rel</a>`, "rel", "rel"},
		{`<img src="https://x.example/a.png" alt="pic">`, "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		gotHTML, gotText := HTML(tt.in, nil)
		if gotHTML != tt.wantHTML || gotText != tt.wantText {
			t.Errorf("HTML(%q) = %q, %q; want %q, %q", tt.in, gotHTML, gotText, tt.wantHTML, tt.wantText)
		}
		assertBalanced(t, gotHTML)
	}
}

func TestLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"  Ada   Lovelace\n", "Ada Lovelace"},
		{"evil\u202egnp.exe", "evilgnp.exe"},
		{"zero\u200bwidth\x00nul\x07bell", "zerowidthnulbell"},
		{":rio: KaptainRio", ":rio: KaptainRio"},
		{"<b>not html</b>", "<b>not html</b>"},
	}
	for _, tt := range tests {
		if got := Line(tt.in); got != tt.want {
			t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestXSSVectors runs the OWASP filter-evasion vectors through HTML, alone
// and wrapped in ordinary post markup, and checks that nothing executable
// survives.
func TestXSSVectors(t *testing.T) {
	vectors := loadVectors(t)
	if len(vectors) < 50 {
		t.Fatalf("only %d vectors loaded", len(vectors))
	}
	emojis := []Emoji{{Shortcode: "x", URL: "https://cdn.example/x.png"}}
	for i, v := range vectors {
		for _, in := range []string{v, "<p>before :x: " + v + " after</p>", `<a href="https://ok.example/">` + v + `</a>`} {
			out, text := HTML(in, emojis)
			assertSafe(t, in, out)
			assertBalanced(t, out)
			if strings.ContainsRune(out, 0) || strings.ContainsRune(text, 0) {
				t.Errorf("vector %d: NUL survives", i)
			}
		}
	}
}

func loadVectors(t *testing.T) []string {
	f, err := os.Open(filepath.Join("testdata", "xss_vectors.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	unescape := strings.NewReplacer(`\n`, "\n", `\t`, "\t", `\r`, "\r", `\0`, "\x00")
	var vs []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		vs = append(vs, unescape.Replace(l))
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return vs
}

var (
	allowedTags = map[string]bool{
		"p": true, "br": true, "a": true, "b": true, "strong": true, "i": true, "em": true,
		"u": true, "s": true, "del": true, "code": true, "pre": true, "blockquote": true,
		"ul": true, "ol": true, "li": true, "img": true,
	}
	allowedAttrs = map[string]bool{
		"href": true, "rel": true, "target": true, "class": true,
		"src": true, "alt": true, "title": true, "width": true, "height": true, "draggable": true,
	}
	// Raw checks over the whole output: the text nodes are escaped, so a
	// '<' here always starts a tag.
	rawScript  = regexp.MustCompile(`(?i)<\s*/?\s*(script|style|iframe|object|embed|svg|math|meta|link|base|form)`)
	rawHandler = regexp.MustCompile(`(?i)<[^>]*[\s/"']on[a-z]+\s*=`)
	rawStyle   = regexp.MustCompile(`(?i)<[^>]*\sstyle\s*=`)
	badScheme  = regexp.MustCompile(`^(javascript|vbscript|livescript|data):`)
)

// assertSafe checks out, the sanitised form of in, by two independent means:
// regular expressions over the raw text, and a real HTML tokenizer reading
// it as a browser would, with every URL attribute decoded and stripped of
// the white space and control characters browsers ignore in a scheme.
func assertSafe(t *testing.T, in, out string) {
	t.Helper()
	if rawScript.MatchString(out) {
		t.Errorf("dangerous element survives\n in: %s\nout: %s", in, out)
	}
	if rawHandler.MatchString(out) {
		t.Errorf("event handler survives\n in: %s\nout: %s", in, out)
	}
	if rawStyle.MatchString(out) {
		t.Errorf("style survives\n in: %s\nout: %s", in, out)
	}
	// "javascript:" may appear in the output only as text the author wrote
	// as text (a post may talk about javascript: URLs); anything that was
	// inside a tag in the input must not surface anywhere, in any case or
	// encoding.
	if !strings.Contains(squeeze(textOf(in)), "javascript:") && strings.Contains(squeeze(html.UnescapeString(out)), "javascript:") {
		t.Errorf("javascript: surfaces from markup\n in: %s\nout: %s", in, out)
	}
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			if !errors.Is(z.Err(), io.EOF) {
				t.Errorf("tokenizer: %v", z.Err())
			}
			return
		}
		if tt != html.StartTagToken && tt != html.SelfClosingTagToken {
			continue
		}
		tok := z.Token()
		if !allowedTags[tok.Data] {
			t.Errorf("element <%s> survives\n in: %s\nout: %s", tok.Data, in, out)
		}
		for _, a := range tok.Attr {
			k := strings.ToLower(a.Key)
			if !allowedAttrs[k] || strings.HasPrefix(k, "on") {
				t.Errorf("attribute %s survives\n in: %s\nout: %s", k, in, out)
			}
			lower := strings.ToLower(a.Val)
			if strings.Contains(lower, "javascript:") || strings.Contains(lower, "vbscript:") {
				t.Errorf("script URL in %s=%q\n in: %s\nout: %s", k, a.Val, in, out)
			}
			if k == "href" || k == "src" {
				squeezed := squeeze(lower)
				if badScheme.MatchString(squeezed) {
					t.Errorf("bad URL %s=%q\n in: %s\nout: %s", k, a.Val, in, out)
				}
				if !strings.HasPrefix(squeezed, "http://") && !strings.HasPrefix(squeezed, "https://") && !strings.HasPrefix(squeezed, "mailto:") {
					t.Errorf("URL %s=%q is not http(s)/mailto\n in: %s\nout: %s", k, a.Val, in, out)
				}
			}
			if k == "target" && a.Val != "_blank" {
				t.Errorf("target=%q", a.Val)
			}
			if k == "rel" && a.Val != "nofollow noopener noreferrer" {
				t.Errorf("rel=%q", a.Val)
			}
		}
		if tok.Data == "a" && (attr(tok, "rel") == "" || attr(tok, "target") == "") {
			t.Errorf("link without rel/target\n in: %s\nout: %s", in, out)
		}
	}
}

// textOf is the text content of an HTML fragment, as a browser reads it.
func textOf(s string) string {
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	for {
		switch z.Next() {
		case html.ErrorToken:
			return b.String()
		case html.TextToken:
			b.Write(z.Text())
		}
	}
}

// squeeze lowercases s and drops the white space and control characters
// browsers ignore inside a URL scheme.
func squeeze(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r == 0x7f {
			return -1
		}
		return r
	}, strings.ToLower(s))
}

func attr(tok html.Token, k string) string {
	for _, a := range tok.Attr {
		if a.Key == k {
			return a.Val
		}
	}
	return ""
}

// assertBalanced checks that every element opened in out is closed, in order.
func assertBalanced(t *testing.T, out string) {
	t.Helper()
	var stack []string
	z := html.NewTokenizer(strings.NewReader(out))
	for {
		switch z.Next() {
		case html.ErrorToken:
			if len(stack) > 0 {
				t.Errorf("unclosed %v in %s", stack, out)
			}
			return
		case html.StartTagToken:
			n, _ := z.TagName()
			if s := string(n); s != "br" && s != "img" {
				stack = append(stack, s)
			}
		case html.EndTagToken:
			n, _ := z.TagName()
			if len(stack) == 0 || stack[len(stack)-1] != string(n) {
				t.Errorf("unbalanced </%s> in %s", n, out)
				return
			}
			stack = stack[:len(stack)-1]
		}
	}
}

func BenchmarkHTML(b *testing.B) {
	files := []string{
		"mastodon_status_custom_emoji.json",
		"mastodon_status_links_card_entity_example.json",
		"mastodon_status_spoiler_custom_emoji_link.json",
		"mastodon_status_mention_hcard_remote.json",
		"mastodon_status_friendica_multi_hashtags.json",
	}
	type in struct {
		content string
		emojis  []Emoji
	}
	var ins []in
	size := 0
	for _, f := range files {
		c, e := loadStatus(b, f)
		ins = append(ins, in{c, e})
		size += len(c)
	}
	b.SetBytes(int64(size / len(ins)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		x := ins[i%len(ins)]
		HTML(x.content, x.emojis)
	}
}
