package webform

import (
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/backchannel/backchannel/event"
)

// A post token reads back its own post and no other: not another post's,
// not another event's, not from a server with another key, not from
// another site.
func TestPostTokenIsTheOnePostsOnly(t *testing.T) {
	f := newFixture(t, Options{Key: []byte("server key one, long enough for the test")})
	f.h.SetEvent("other", Event{Sink: f.sink})
	answer := func(text string) Answer {
		rec := f.postJSON(map[string]any{"text": text}, "192.0.2.1:1000")
		var a Answer
		if rec.Code != 200 || json.Unmarshal(rec.Body.Bytes(), &a) != nil {
			t.Fatalf("post: %d %s", rec.Code, rec.Body)
		}
		return a
	}
	a, b := answer("first"), answer("second")
	evs := f.sink.Log.Entries()
	if len(evs) != 2 || evs[0].PostID != a.Post || evs[1].PostID != b.Post {
		t.Fatalf("answers name posts %s, %s; stored %v", a.Post, b.Post, evs)
	}
	if want := a.Post + "." + itoa(evs[0].Pos) + "."; !strings.HasPrefix(a.Token, want) {
		t.Errorf("token %q does not start with %q", a.Token, want)
	}
	read := func(slug, token, origin string) (string, uint64, string, error) {
		r := httptest.NewRequest("GET", "/e/"+slug+"/mine", nil)
		r.RemoteAddr = "192.0.2.7:1000"
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		return f.h.PostToken(r, slug, token)
	}
	if post, pos, addr, err := read("demo", a.Token, "http://example.com"); err != nil || post != a.Post || pos == 0 || addr == "" {
		t.Fatalf("own token: %q %d %q %v", post, pos, addr, err)
	}
	if post, _, _, err := read("demo", b.Token, ""); err != nil || post != b.Post {
		t.Fatalf("b's token: %q %v", post, err)
	}

	other := New(Options{Key: []byte("server key two, long enough for the test")})
	other.SetEvent("demo", Event{Sink: f.sink})
	ap := strings.Split(a.Token, ".")
	for name, c := range map[string]struct{ slug, token string }{
		"another event":          {"other", a.Token},
		"another post's id":      {"demo", b.Post + "." + ap[1] + "." + ap[2]},
		"another position":       {"demo", ap[0] + ".999." + ap[2]},
		"no mac":                 {"demo", ap[0] + "." + ap[1] + "."},
		"empty":                  {"demo", ""},
		"another server's token": {"demo", other.postToken("demo", a.Post, 1)},
	} {
		post, _, addr, err := read(c.slug, c.token, "")
		if event.ErrorCode(err) != event.ENOTFOUND || post != "" {
			t.Errorf("%s: %q %v, want not found", name, post, err)
		}
		if addr == "" {
			t.Errorf("%s: no address: wrong guesses must count against it", name)
		}
	}
	if _, _, _, err := read("demo", a.Token, "https://evil.example"); event.ErrorCode(err) != event.EFORBIDDEN {
		t.Errorf("from another site: %v, want forbidden", err)
	}
	if _, _, _, err := read("gone", a.Token, ""); event.ErrorCode(err) != event.ENOTFOUND {
		t.Errorf("unknown event: %v, want not found", err)
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
