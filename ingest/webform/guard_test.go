package webform

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// device fetches the form as the participant page does and returns the
// device token cookie it hands out.
func (f *fixture) device(t *testing.T, addr string) *http.Cookie {
	t.Helper()
	req := httptest.NewRequest("GET", "/e/demo/form", nil)
	req.RemoteAddr = addr
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.Name == DeviceCookie {
			return c
		}
	}
	t.Fatalf("GET handed out no %s cookie: %v", DeviceCookie, rec.Result().Cookies())
	return nil
}

// post sends a JSON post from addr with the device token dev (nil: none)
// and the extra headers.
func (f *fixture) post(addr string, dev *http.Cookie, hdr map[string]string) *httptest.ResponseRecorder {
	b, _ := json.Marshal(map[string]any{"text": "A post"})
	req := httptest.NewRequest("POST", "/e/demo/form", strings.NewReader(string(b)))
	req.Header.Set("Content-Type", "application/json")
	req.RemoteAddr = addr
	if dev != nil {
		req.AddCookie(dev)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec
}

var fromPage = map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"}

// The device token: HttpOnly, SameSite=Strict, scoped to the form, signed
// and bound to its event; a forged or expired one counts as none.
func TestDeviceToken(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.device(t, "192.0.2.1:1")
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/e/demo" || c.MaxAge != int(DefaultDeviceTTL/time.Second) {
		t.Errorf("cookie %+v", c)
	}
	req := httptest.NewRequest("POST", "/e/demo/form", nil)
	req.AddCookie(c)
	if _, _, ok := f.h.device(req, "demo"); !ok {
		t.Fatal("its own token is not accepted")
	}
	if _, _, ok := f.h.device(req, "other"); ok {
		t.Error("a token of another event is accepted")
	}
	forged := *c
	forged.Value = "AAAAAAAAAAAAAAAA" + c.Value[16:]
	req = httptest.NewRequest("POST", "/e/demo/form", nil)
	req.AddCookie(&forged)
	if _, _, ok := f.h.device(req, "demo"); ok {
		t.Error("a forged token is accepted")
	}
	req = httptest.NewRequest("POST", "/e/demo/form", nil)
	req.AddCookie(c)
	f.clock.Add(DefaultDeviceTTL)
	if _, _, ok := f.h.device(req, "demo"); ok {
		t.Error("an expired token is accepted")
	}
}

// Per device: 3 a minute by default; another phone on the same address
// posts on, and a device without a token shares its address's.
func TestDeviceLimit(t *testing.T) {
	f := newFixture(t, Options{})
	const venue = "192.0.2.50:1"
	phone, other := f.device(t, venue), f.device(t, venue)
	for i := range 3 {
		if rec := f.post(venue, phone, fromPage); rec.Code != 200 {
			t.Fatalf("post %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec := f.post(venue, phone, fromPage)
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "20" || errorCode(t, rec) != event.ERATELIMIT {
		t.Fatalf("4th post from one device: %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := f.post(venue, other, fromPage); rec.Code != 200 {
		t.Errorf("another phone on the same address: %d %s", rec.Code, rec.Body)
	}
	for i := range 3 {
		if rec := f.post(venue, nil, nil); rec.Code != 200 {
			t.Fatalf("tokenless post %d: %d", i+1, rec.Code)
		}
	}
	if rec := f.post(venue, nil, nil); rec.Code != 429 {
		t.Errorf("4th tokenless post from one address: %d", rec.Code)
	}
	f.clock.Add(20 * time.Second)
	if rec := f.post(venue, phone, fromPage); rec.Code != 200 {
		t.Errorf("after the wait: %d", rec.Code)
	}
	if n := len(f.sink.Log.Entries()); n != 8 {
		t.Errorf("%d posts stored, want 8", n)
	}
}

// Per address: a NAT'd room of 20 phones posts 60 at once, not 3; the 61st
// is refused whatever its device.
func TestAddressLimit(t *testing.T) {
	f := newFixture(t, Options{})
	const venue = "192.0.2.60:1"
	ok := 0
	for p := range 21 {
		dev := f.device(t, venue)
		for range 3 {
			if rec := f.post(venue, dev, fromPage); rec.Code == 200 {
				ok++
			} else if rec.Code != 429 || p < 20 {
				t.Fatalf("phone %d: %d %s", p+1, rec.Code, rec.Body)
			}
		}
	}
	if ok != 60 {
		t.Errorf("%d posts from one address, want 60", ok)
	}
	if rec := f.post("192.0.2.61:1", f.device(t, "192.0.2.61:1"), fromPage); rec.Code != 200 {
		t.Errorf("another address: %d", rec.Code)
	}
}

// Per event: 600 at once, whoever posts, then 10 a second.
func TestEventLimit(t *testing.T) {
	f := newFixture(t, Options{})
	ok := 0
	for a := range 220 {
		addr := fmt.Sprintf("198.51.%d.%d:1", a/100, a%100)
		dev := f.device(t, addr)
		for range 3 {
			rec := f.post(addr, dev, fromPage)
			switch rec.Code {
			case 200:
				ok++
			case 429:
				if !strings.Contains(rec.Body.String(), "very busy") {
					t.Fatalf("refused by another limit: %s", rec.Body)
				}
			default:
				t.Fatalf("%d %s", rec.Code, rec.Body)
			}
		}
	}
	if ok != 600 {
		t.Errorf("%d posts at once, want 600", ok)
	}
	f.clock.Add(time.Second)
	if rec := f.post("203.0.113.1:1", f.device(t, "203.0.113.1:1"), fromPage); rec.Code != 200 {
		t.Errorf("after a second: %d", rec.Code)
	}
	if n := len(f.sink.Log.Entries()); n != 601 {
		t.Errorf("%d posts stored, want 601", n)
	}
}

// Each event's limits are its own.
func TestLimitsPerEvent(t *testing.T) {
	f := newFixture(t, Options{})
	f.h.SetEvent("demo", Event{Sink: f.sink, Limits: Limits{PerDevice: PerMinute(1)}})
	dev := f.device(t, "192.0.2.70:1")
	if rec := f.post("192.0.2.70:1", dev, fromPage); rec.Code != 200 {
		t.Fatalf("first: %d", rec.Code)
	}
	if rec := f.post("192.0.2.70:1", dev, fromPage); rec.Code != 429 || rec.Header().Get("Retry-After") != "60" {
		t.Errorf("second with per_device 1: %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
}

// A post sent from another site's page is refused and nothing is stored;
// one from our own page, or from a non-browser client, is taken.
func TestCrossSitePostRefused(t *testing.T) {
	f := newFixture(t, Options{})
	f.h.SetEvent("demo", Event{Sink: f.sink, PublicURL: "https://wall.example.org"})
	const addr = "192.0.2.80:1"
	dev := f.device(t, addr)
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"},
		{"Sec-Fetch-Site": "same-site", "Origin": "https://other.example.org"},
		{"Origin": "https://evil.example"},
		{"Origin": "null"},
	} {
		rec := f.post(addr, dev, hdr)
		if rec.Code != 403 || errorCode(t, rec) != event.EFORBIDDEN {
			t.Errorf("%v: %d %s", hdr, rec.Code, rec.Body)
		}
	}
	if n := len(f.sink.Log.Entries()); n != 0 {
		t.Fatalf("%d cross-site posts stored", n)
	}
	for _, hdr := range []map[string]string{
		{"Sec-Fetch-Site": "same-origin", "Origin": "http://example.com"},
		{"Origin": "http://example.com"},       // the Host the request was sent to
		{"Origin": "https://wall.example.org"}, // the event's public address
		nil,                                    // curl, a script
	} {
		if rec := f.post(addr, f.device(t, addr), hdr); rec.Code != 200 {
			t.Errorf("%v: %d %s", hdr, rec.Code, rec.Body)
		}
	}
	if n := len(f.sink.Log.Entries()); n != 4 {
		t.Errorf("%d same-site posts stored, want 4", n)
	}
}

// Voter: the device's pseudonym, stable for a token and never the token;
// refused from another site or without a token.
func TestVoter(t *testing.T) {
	f := newFixture(t, Options{})
	c := f.device(t, "192.0.2.1:1")
	vote := func(cookie *http.Cookie, hdr map[string]string) (string, string, error) {
		req := httptest.NewRequest("POST", "/e/demo/questions/q1/vote", nil)
		req.RemoteAddr = "192.0.2.1:1"
		if cookie != nil {
			req.AddCookie(cookie)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		return f.h.Voter(req, "demo")
	}
	d1, addr, err := vote(c, fromPage)
	if err != nil || d1 == "" || addr != "192.0.2.1" {
		t.Fatalf("Voter = %q, %q, %v", d1, addr, err)
	}
	if strings.Contains(c.Value, d1[1:]) || strings.Contains(d1, strings.Split(c.Value, ".")[0]) {
		t.Errorf("the pseudonym %q shows the token %q", d1, c.Value)
	}
	if d2, _, _ := vote(c, fromPage); d2 != d1 {
		t.Errorf("the same token gave %q then %q", d1, d2)
	}
	if d3, _, _ := vote(f.device(t, "192.0.2.1:1"), fromPage); d3 == d1 {
		t.Errorf("two devices share the pseudonym %q", d1)
	}
	if _, _, err := vote(nil, fromPage); event.ErrorCode(err) != event.EFORBIDDEN {
		t.Errorf("no token: %v, want forbidden", err)
	}
	if _, _, err := vote(c, map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}); event.ErrorCode(err) != event.EFORBIDDEN {
		t.Errorf("cross-site: %v, want forbidden", err)
	}
	req := httptest.NewRequest("POST", "/e/nope/questions/q1/vote", nil)
	if _, _, err := f.h.Voter(req, "nope"); event.ErrorCode(err) != event.ENOTFOUND {
		t.Errorf("unknown event: %v", err)
	}
}
