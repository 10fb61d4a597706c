package fanout

import (
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// A public socket carries each post's body once, as its sanitised HTML,
// and none of what no screen reads: a 600-byte post's frame is its body
// plus a fixed 250 bytes at most (id, author, time, keys, envelope), where
// it was 1,510 bytes with the text twice.
func TestPublicFramesCarryThePostOnce(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, fast, nil)
	pub := dial(t, n.url(Public, ""), nil)
	if _, err := pub.next(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	body := "BODY-" + strings.Repeat("lorem ipsum ", 50)[:595]
	pos := appendPost(t, l, "once", body, event.DecisionApprove)
	pub.readUntil(pos)
	// A snapshot carries the same form.
	late := dial(t, n.url(Public, ""), nil)
	if _, err := late.next(5 * time.Second); err != nil {
		t.Fatal(err)
	}
	for name, raw := range map[string]string{"event": pub.raw[len(pub.raw)-1], "snapshot": late.raw[0]} {
		if c := strings.Count(raw, "BODY-"); c != 1 {
			t.Errorf("%s frame carries the body %d times, want once: %.300s", name, c, raw)
		}
		for _, field := range []string{`"text"`, `"uri"`, `"source_name"`, `"id":"https://mastodon.social/users/ada"`} {
			if strings.Contains(raw, field) {
				t.Errorf("%s frame carries %s, which no public screen reads", name, field)
			}
		}
		for _, field := range []string{`"html":"<p>BODY-`, `"name":"Ada"`, `"handle":"@ada@mastodon.social"`, `"created_at"`, `"source":"mastodon"`} {
			if !strings.Contains(raw, field) {
				t.Errorf("%s frame lacks %s: %.300s", name, field, raw)
			}
		}
	}
	wire := len(pub.raw[len(pub.raw)-1]) + 4 // and the frame's header
	if wire > len(body)+250 {
		t.Errorf("a %d-byte post takes %d bytes on a public socket, want at most %d", len(body), wire, len(body)+250)
	}
	t.Logf("a %d-byte post: %d bytes on the wire", len(body), wire)
}
