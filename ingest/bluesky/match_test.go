package bluesky

import (
	"context"
	"encoding/json"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/ingest"
	"reflect"
	"testing"
)

func TestMatches(t *testing.T) {
	m := NewMatcher([]string{"#Leaders4Leeds", "ourday"})
	cases := []struct {
		name         string
		facets, tags []string
		text         string
		want         bool
	}{
		{"facet, other case", []string{"LEADERS4LEEDS"}, nil, "", true},
		{"record tags field", nil, []string{"OurDay"}, "no hashtag in the text", true},
		{"text when no facets", nil, nil, "Great talk! #leaders4leeds", true},
		{"text at start, punctuation after", nil, nil, "#OurDay, what a day", true},
		{"longer tag in text is not ours", nil, nil, "#Leaders4LeedsUnited rocks", false},
		{"prefix of a longer facet tag", []string{"ourdays"}, nil, "", false},
		{"substring inside a word", nil, nil, "a#ourday b", false},
		{"no '#': a word is not a tag", nil, nil, "ourday leaders4leeds", false},
		{"facets present: text ignored", []string{"other"}, nil, "#ourday", false},
		{"html entity is not a tag", nil, nil, "&#ourday;", false},
		{"full-width hash", nil, nil, "＃OurDay", true},
	}
	for _, c := range cases {
		if _, got := m.Matches(c.facets, c.tags, c.text); got != c.want {
			t.Errorf("%s: Matches(%v, %v, %q) = %v, want %v", c.name, c.facets, c.tags, c.text, got, c.want)
		}
	}
}

func TestTextTags(t *testing.T) {
	got := TextTags("#One, #two_2! email a#b #123 #Ça_va #日本語 end#")
	want := []string{"One", "two_2", "Ça_va", "日本語"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TextTags = %q, want %q", got, want)
	}
}

func TestMaybeMatchesNeverMissesAMatch(t *testing.T) {
	m := NewMatcher(eventTags)
	for _, name := range replayFiles {
		raw := fixture(t, name)
		var f frame
		json.Unmarshal(raw, &f)
		if f.Commit == nil || f.Commit.Collection != Collection {
			continue
		}
		var rec postRecord
		json.Unmarshal(f.Commit.Record, &rec)
		if _, ok := m.Matches(rec.facetTags(), rec.Tags, rec.Text); ok && !m.MaybeMatches(raw) {
			t.Errorf("%s: pre-filter dropped a matching frame", name)
		}
	}
	if !NewMatcher([]string{"日本"}).MaybeMatches([]byte(`{"text":"\u65e5\u672c"}`)) {
		t.Error("a non-ASCII tag must disable the byte pre-filter (JSON may escape it)")
	}
}

func TestIndigoFixtureTagsAndLabels(t *testing.T) {
	var fx struct {
		Did        string     `json:"did"`
		Rkey       string     `json:"rkey"`
		PostRecord postRecord `json:"PostRecord"`
	}
	raw := fixture(t, "bluesky_post_record_tag_facet_and_tags_field_indigo_fixture.json")
	if err := json.Unmarshal(raw, &fx); err != nil {
		t.Fatal(err)
	}
	m := NewMatcher([]string{"thing"}) // only in the record's tags field
	if _, ok := m.Matches(fx.PostRecord.facetTags(), fx.PostRecord.Tags, fx.PostRecord.Text); !ok {
		t.Fatal("the record's tags field was not matched")
	}
	s := newTestSource(t, []string{"ws://127.0.0.1:1"}, "http://127.0.0.1:1")
	p := s.post(fx.Did, fx.Rkey, &fx.PostRecord, Profile{Did: fx.Did, Handle: "handle.example.com"})
	if !p.Sensitive {
		t.Error("self-label nudity must mark the post sensitive")
	}
	if !reflect.DeepEqual(p.Tags, []string{"some", "thing"}) {
		t.Errorf("tags %v, want [some thing]", p.Tags)
	}
	// The fixture's facet offsets do not all fit its text: the text must survive.
	if p.Text == "" || len(p.HTML) < len(p.Text)/2 {
		t.Errorf("malformed facets lost the text: %q", p.HTML)
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
}

func TestRichTextEscapesAndRefusesBadLinks(t *testing.T) {
	c := converter{web: "https://bsky.app"}
	text := `<script>alert(1)</script> click`
	f := facet{}
	f.Index.ByteStart, f.Index.ByteEnd = len(text)-5, len(text)
	f.Features = append(f.Features, struct {
		Type string `json:"$type"`
		Tag  string `json:"tag"`
		URI  string `json:"uri"`
		Did  string `json:"did"`
	}{Type: "app.bsky.richtext.facet#link", URI: "javascript:alert(1)"})
	got, plain := c.richText(text, []facet{f})
	if want := `<p>&lt;script&gt;alert(1)&lt;/script&gt; click</p>`; got != want {
		t.Errorf("richText = %q, want %q", got, want)
	}
	if plain != text {
		t.Errorf("richText plain text = %q, want %q", plain, text)
	}
}

// BenchmarkFilter measures what following the whole network costs: frames
// handled per second on one core, for a stream where 1 frame in 100 is
// tagged for the event (a busy event; most events see far fewer).
func BenchmarkFilter(b *testing.B) {
	untagged := [][]byte{
		fixture(b, "bluesky_jetstream_v1_post_reply_no_tags.json"),
		fixture(b, "bluesky_jetstream_v1_post_tag_facets.json"), // tagged, but not with our tags
		fixture(b, "bluesky_jetstream_v1_delete_commit.json"),
		fixture(b, "bluesky_jetstream_v1_identity_event.json"),
	}
	tagged := fixture(b, "bluesky_jetstream_v1_post_tag_facets_link_images.json")
	s, err := New(Config{Hosts: []string{"ws://127.0.0.1:1"}, Tags: []string{"talesatwonderworld"}})
	if err != nil {
		b.Fatal(err)
	}
	s.profiles.cache["did:plc:ynfp6wddjqpl44gordpsqkuw"] = cachedProfile{p: Profile{Handle: "x.example"}, at: s.cfg.Now().Add(100 * 365 * 24 * 3600 * 1e9)}
	sink := discardSink{ingest.NewHealth("bluesky", "bluesky")}
	ctx := context.Background()
	var bytes int64
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f := untagged[i%len(untagged)]
		if i%100 == 99 {
			f = tagged
		}
		bytes += int64(len(f))
		if err := s.handle(ctx, sink, f); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
	b.SetBytes(bytes / int64(b.N))
}

// discardSink takes everything and keeps nothing: the filter benchmark
// measures the source, not the log behind it.
type discardSink struct{ h *ingest.Health }

func (d discardSink) Post(context.Context, event.Post) (eventlog.Appended, error) {
	return eventlog.Appended{Pos: 1}, nil
}
func (d discardSink) Edit(context.Context, event.Post) (eventlog.Appended, error) {
	return eventlog.Appended{Pos: 1}, nil
}
func (d discardSink) Delete(context.Context, string) (eventlog.Appended, error) {
	return eventlog.Appended{Pos: 1}, nil
}
func (d discardSink) Withdraw(context.Context, event.Post, string) (eventlog.Appended, error) {
	return eventlog.Appended{Pos: 1}, nil
}
func (d discardSink) Cursor(context.Context, string) (string, error)  { return "", nil }
func (d discardSink) SetCursor(context.Context, string, string) error { return nil }
func (d discardSink) Health() *ingest.Health                          { return d.h }

// Alt text reaches the post's media. The recorded image has an empty alt,
// so the test writes one into the real record.
func TestImageAltTextKept(t *testing.T) {
	var f frame
	if err := json.Unmarshal(fixture(t, "bluesky_jetstream_v1_post_tag_facets_link_images.json"), &f); err != nil {
		t.Fatal(err)
	}
	var rec postRecord
	if err := json.Unmarshal(f.Commit.Record, &rec); err != nil {
		t.Fatal(err)
	}
	if len(rec.Embed.Images) != 1 || rec.Embed.Images[0].Alt != "" {
		t.Fatalf("fixture changed: %+v", rec.Embed)
	}
	rec.Embed.Images[0].Alt = "Two travellers following a path at dusk"
	s := newTestSource(t, []string{"ws://127.0.0.1:1"}, "http://127.0.0.1:1")
	p := s.post(f.Did, f.Commit.Rkey, &rec, Profile{Did: f.Did})
	if len(p.Media) != 1 || p.Media[0].Alt != "Two travellers following a path at dusk" {
		t.Fatalf("media %+v, want the alt text kept", p.Media)
	}
	if p.Media[0].Width != 889 || p.Media[0].Height != 889 || p.Media[0].PreviewURL == "" {
		t.Errorf("aspect ratio or preview lost: %+v", p.Media[0])
	}
	// Wrapped in a record-with-media embed (a quote post with an image), the image is kept too.
	wrapped := rec
	wrapped.Embed = &embed{Type: "app.bsky.embed.recordWithMedia", Media: rec.Embed}
	if p := s.post(f.Did, f.Commit.Rkey, &wrapped, Profile{Did: f.Did}); len(p.Media) != 1 || p.Media[0].Alt == "" {
		t.Errorf("record-with-media image lost: %+v", p.Media)
	}
}
