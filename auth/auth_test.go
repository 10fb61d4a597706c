package auth

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/backchannel/backchannel/internal/jsonhttp"

	"golang.org/x/crypto/bcrypt"

	"github.com/backchannel/backchannel/event"
)

const (
	modPass = "correct horse battery staple"
	facPass = "stage door left of the piano"
	modTok  = "mod-token-0123456789abcdef"
	facTok  = "fac-token-0123456789abcdef"
	otherTk = "other-event-token-0123456789"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func hash(t testing.TB, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

var testKey = []byte("0123456789abcdef0123456789abcdef-test-key")

func testCreds(t testing.TB) map[string]EventCredentials {
	return map[string]EventCredentials{
		"demo": {
			Moderator:   RoleCredentials{Passphrase: modPass, Users: map[string]string{"alice": hash(t, "alice-secret")}, Tokens: []string{modTok}},
			Facilitator: RoleCredentials{Passphrase: facPass, Users: map[string]string{"bob": hash(t, "bob-secret")}, Tokens: []string{facTok}},
		},
		"other": {Moderator: RoleCredentials{Passphrase: "another event passphrase", Tokens: []string{otherTk}}},
	}
}

type fixture struct {
	a     *Authenticator
	clock *clock
	mux   *http.ServeMux
	ran   atomic.Int64 // how many times a protected handler ran
}

func newFixture(t testing.TB, mutate ...func(*Options)) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{t: time.Date(2026, 11, 28, 9, 0, 0, 0, time.UTC)}}
	opts := Options{Key: testKey, Events: testCreds(t), Now: f.clock.Now,
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}
	for _, m := range mutate {
		m(&opts)
	}
	a, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.a = a
	protected := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.ran.Add(1)
		id, ok := IdentityFrom(r.Context())
		if !ok {
			http.Error(w, "no identity", 500)
			return
		}
		_ = json.NewEncoder(w).Encode(id.Actor())
	})
	f.mux = http.NewServeMux()
	f.mux.Handle("POST /e/{slug}/login", a.LoginHandler())
	f.mux.Handle("POST /e/{slug}/logout", a.LogoutHandler())
	f.mux.Handle("GET /e/{slug}/session", a.SessionHandler())
	f.mux.Handle("GET /api/events/{slug}/queue", a.Require(event.RoleModerator)(protected))
	f.mux.Handle("POST /api/events/{slug}/posts/{id}/approve", a.Require(event.RoleModerator)(protected))
	f.mux.Handle("POST /api/events/{slug}/questions/reorder", a.Require(event.RoleFacilitator)(protected))
	return f
}

// do sends a request through the mux from addr.
func (f *fixture) do(req *http.Request, addr string) *httptest.ResponseRecorder {
	if addr != "" {
		req.RemoteAddr = addr
	}
	rec := httptest.NewRecorder()
	f.mux.ServeHTTP(rec, req)
	return rec
}

// login logs in with JSON and returns the session cookie and CSRF token.
func (f *fixture) login(t testing.TB, slug, name, password string) (*http.Cookie, Identity) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "password": password})
	req := httptest.NewRequest("POST", "/e/"+slug+"/login", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	rec := f.do(req, "192.0.2.10:4000")
	if rec.Code != http.StatusOK {
		t.Fatalf("login %s/%s: %d %s", slug, name, rec.Code, rec.Body)
	}
	var id Identity
	if err := json.Unmarshal(rec.Body.Bytes(), &id); err != nil {
		t.Fatal(err)
	}
	for _, c := range rec.Result().Cookies() {
		if c.Name == CookieName(slug) {
			return c, id
		}
	}
	t.Fatal("no session cookie")
	return nil, id
}

func decodeError(t testing.TB, body string) (code, msg string) {
	t.Helper()
	var b jsonhttp.ErrorBody
	if err := json.Unmarshal([]byte(body), &b); err != nil {
		t.Fatalf("error body %q: %v", body, err)
	}
	return b.Error.Code, b.Error.Message
}

func TestRequire(t *testing.T) {
	f := newFixture(t)
	modCookie, modID := f.login(t, "demo", "", modPass)
	facCookie, facID := f.login(t, "demo", "", facPass)
	otherCookie, _ := f.login(t, "other", "", "another event passphrase")

	forged := *modCookie
	forged.Value = strings.Replace(forged.Value, ".moderator.", ".facilitator.", 1)
	roleSwapped := *facCookie
	roleSwapped.Value = strings.Replace(roleSwapped.Value, ".facilitator.", ".moderator.", 1)
	movedEvent := *otherCookie
	movedEvent.Name = CookieName("demo")

	approve := "/api/events/demo/posts/abc/approve"
	reorder := "/api/events/demo/questions/reorder"
	queue := "/api/events/demo/queue"
	type hdr map[string]string
	cases := []struct {
		name    string
		method  string
		path    string
		cookie  *http.Cookie
		headers hdr
		status  int
		code    string
	}{
		{"no credentials", "POST", approve, nil, nil, 401, event.EUNAUTHORIZED},
		{"no credentials, get", "GET", queue, nil, nil, 401, event.EUNAUTHORIZED},
		{"no credentials, unknown event", "POST", "/api/events/nope/posts/abc/approve", nil, nil, 401, event.EUNAUTHORIZED},
		{"wrong bearer", "POST", approve, nil, hdr{"Authorization": "Bearer wrong-token-0123456789"}, 401, event.EUNAUTHORIZED},
		{"not bearer", "POST", approve, nil, hdr{"Authorization": "Basic " + modTok}, 401, event.EUNAUTHORIZED},
		{"empty bearer", "POST", approve, nil, hdr{"Authorization": "Bearer "}, 401, event.EUNAUTHORIZED},
		{"wrong bearer beats good cookie", "GET", queue, modCookie, hdr{"Authorization": "Bearer wrong-token-0123456789"}, 401, event.EUNAUTHORIZED},
		{"other event's bearer", "POST", approve, nil, hdr{"Authorization": "Bearer " + otherTk}, 401, event.EUNAUTHORIZED},
		{"bearer for unknown event", "POST", "/api/events/nope/posts/abc/approve", nil, hdr{"Authorization": "Bearer " + modTok}, 401, event.EUNAUTHORIZED},
		{"facilitator bearer, moderator action", "POST", approve, nil, hdr{"Authorization": "Bearer " + facTok}, 403, event.EFORBIDDEN},
		{"facilitator bearer, facilitator action", "POST", reorder, nil, hdr{"Authorization": "Bearer " + facTok}, 200, ""},
		{"moderator bearer, facilitator action", "POST", reorder, nil, hdr{"Authorization": "bearer " + modTok}, 200, ""},
		{"moderator bearer needs no csrf", "POST", approve, nil, hdr{"Authorization": "Bearer " + modTok, "Sec-Fetch-Site": "cross-site"}, 200, ""},
		{"forged cookie", "GET", queue, &forged, nil, 401, event.EUNAUTHORIZED},
		{"role-swapped cookie", "GET", queue, &roleSwapped, nil, 401, event.EUNAUTHORIZED},
		{"garbage cookie", "GET", queue, &http.Cookie{Name: CookieName("demo"), Value: "garbage"}, nil, 401, event.EUNAUTHORIZED},
		{"other event's cookie", "GET", queue, &movedEvent, nil, 401, event.EUNAUTHORIZED},
		{"facilitator cookie, moderator action", "GET", queue, facCookie, nil, 403, event.EFORBIDDEN},
		{"facilitator cookie, facilitator action", "POST", reorder, facCookie, hdr{CSRFHeader: facID.CSRFToken}, 200, ""},
		{"cookie get needs no csrf", "GET", queue, modCookie, nil, 200, ""},
		{"cookie post without csrf", "POST", approve, modCookie, nil, 403, event.EFORBIDDEN},
		{"cookie post with wrong csrf", "POST", approve, modCookie, hdr{CSRFHeader: facID.CSRFToken}, 403, event.EFORBIDDEN},
		{"cookie post with csrf", "POST", approve, modCookie, hdr{CSRFHeader: modID.CSRFToken}, 200, ""},
		{"cookie post same origin", "POST", approve, modCookie, hdr{CSRFHeader: modID.CSRFToken, "Origin": "http://example.com", "Sec-Fetch-Site": "same-origin"}, 200, ""},
		{"cookie post cross-site", "POST", approve, modCookie, hdr{CSRFHeader: modID.CSRFToken, "Sec-Fetch-Site": "cross-site"}, 403, event.EFORBIDDEN},
		{"cookie post same-site", "POST", approve, modCookie, hdr{CSRFHeader: modID.CSRFToken, "Sec-Fetch-Site": "same-site"}, 403, event.EFORBIDDEN},
		{"cookie post foreign origin", "POST", approve, modCookie, hdr{CSRFHeader: modID.CSRFToken, "Origin": "https://evil.example"}, 403, event.EFORBIDDEN},
		{"cookie post null origin", "POST", approve, modCookie, hdr{CSRFHeader: modID.CSRFToken, "Origin": "null"}, 403, event.EFORBIDDEN},
		{"cookie post own origin", "POST", approve, modCookie, hdr{CSRFHeader: modID.CSRFToken, "Origin": "http://example.com"}, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := f.ran.Load()
			req := httptest.NewRequest(tc.method, tc.path, nil) // Host: example.com
			if tc.cookie != nil {
				req.AddCookie(tc.cookie)
			}
			for k, v := range tc.headers {
				req.Header.Set(k, v)
			}
			rec := f.do(req, "192.0.2.1:1234")
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			ran := f.ran.Load() != before
			if tc.status != 200 {
				if ran {
					t.Error("the handler ran for a refused request")
				}
				if code, msg := decodeError(t, rec.Body.String()); code != tc.code || msg == "" {
					t.Errorf("error %q %q, want code %q", code, msg, tc.code)
				}
				if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("content type %q", ct)
				}
				return
			}
			if !ran {
				t.Error("the handler did not run")
			}
		})
	}
}

func TestSessionExpires(t *testing.T) {
	f := newFixture(t)
	c, id := f.login(t, "demo", "carol", modPass)
	if want := f.clock.Now().Add(12 * time.Hour); !id.Expires.Equal(want) {
		t.Errorf("expires %v, want %v", id.Expires, want)
	}
	if c.MaxAge != int((12 * time.Hour).Seconds()) {
		t.Errorf("MaxAge %d", c.MaxAge)
	}
	get := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/events/demo/queue", nil)
		req.AddCookie(c)
		return f.do(req, "")
	}
	f.clock.Add(12*time.Hour - time.Second)
	if rec := get(); rec.Code != 200 {
		t.Fatalf("before expiry: %d %s", rec.Code, rec.Body)
	}
	f.clock.Add(time.Second)
	rec := get()
	if rec.Code != 401 {
		t.Fatalf("at expiry: %d", rec.Code)
	}
	if _, msg := decodeError(t, rec.Body.String()); !strings.Contains(msg, "expired") {
		t.Errorf("message %q", msg)
	}
}

func TestCredentialChangeEndsSessions(t *testing.T) {
	f := newFixture(t)
	passCookie, _ := f.login(t, "demo", "", modPass)
	userCookie, _ := f.login(t, "demo", "alice", "alice-secret")
	bobCookie, _ := f.login(t, "demo", "bob", "bob-secret")
	creds := testCreds(t)["demo"]
	creds.Moderator.Passphrase = "a brand new moderator passphrase"
	creds.Moderator.Users["alice"] = hash(t, "alice-new")
	creds.Facilitator.Users["bob"] = testCreds(t)["demo"].Facilitator.Users["bob"] // a new hash of the same password
	if err := f.a.SetEvent("demo", creds); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*http.Cookie{"passphrase": passCookie, "user": userCookie, "rehashed": bobCookie} {
		req := httptest.NewRequest("GET", "/e/demo/session", nil)
		req.AddCookie(c)
		if rec := f.do(req, ""); rec.Code != 401 {
			t.Errorf("%s session after change: %d, want 401", name, rec.Code)
		}
	}
	f.login(t, "demo", "", "a brand new moderator passphrase")
	f.a.RemoveEvent("demo")
	req := httptest.NewRequest("GET", "/api/events/demo/queue", nil)
	req.Header.Set("Authorization", "Bearer "+modTok)
	if rec := f.do(req, ""); rec.Code != 401 {
		t.Errorf("token of a removed event: %d", rec.Code)
	}
}

func TestLogin(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.LoginPerAddress = Rate{Burst: 100, Every: time.Second} })
	cases := []struct {
		name, user, password string
		status               int
		role                 event.Role
		wantName             string
	}{
		{"moderator passphrase", "", modPass, 200, event.RoleModerator, ""},
		{"moderator passphrase with a name", "  Dana ", modPass, 200, event.RoleModerator, "Dana"},
		{"facilitator passphrase", "Eve", facPass, 200, event.RoleFacilitator, "Eve"},
		{"named moderator", "alice", "alice-secret", 200, event.RoleModerator, "alice"},
		{"named facilitator", "bob", "bob-secret", 200, event.RoleFacilitator, "bob"},
		{"named user, wrong password", "alice", "bob-secret", 401, "", ""},
		{"named user cannot be claimed with a passphrase", "alice", modPass, 401, "", ""},
		{"wrong passphrase", "", "not it", 401, "", ""},
		{"empty password", "", "", 401, "", ""},
		{"other event's passphrase", "", "another event passphrase", 401, "", ""},
		{"unknown user, wrong password", "zed", "nothing", 401, "", ""},
		{"name too long", strings.Repeat("x", 65), modPass, 400, "", ""},
		{"name with control characters", "a\x00b", modPass, 400, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"user": tc.user, "passphrase": tc.password})
			req := httptest.NewRequest("POST", "/e/demo/login", strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			rec := f.do(req, "192.0.2.20:1")
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.status != 200 {
				if len(rec.Result().Cookies()) != 0 {
					t.Error("a refused login set a cookie")
				}
				return
			}
			var id Identity
			if err := json.Unmarshal(rec.Body.Bytes(), &id); err != nil {
				t.Fatal(err)
			}
			if id.Role != tc.role || id.Name != tc.wantName || id.CSRFToken == "" {
				t.Errorf("identity %+v, want %s %q", id, tc.role, tc.wantName)
			}
			cookies := rec.Result().Cookies()
			if len(cookies) != 1 {
				t.Fatalf("cookies %v", cookies)
			}
			c := cookies[0]
			if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/" || c.Name != "bc_session_demo" {
				t.Errorf("cookie attributes %+v", c)
			}
			// The cookie identifies the same person.
			req = httptest.NewRequest("GET", "/e/demo/session", nil)
			req.AddCookie(c)
			rec = f.do(req, "")
			var again Identity
			if err := json.Unmarshal(rec.Body.Bytes(), &again); err != nil || again.Role != tc.role || again.Name != tc.wantName || again.CSRFToken != id.CSRFToken {
				t.Errorf("session %d %s (%v)", rec.Code, rec.Body, err)
			}
		})
	}
}

func TestLoginForm(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.LoginPerAddress = Rate{Burst: 100, Every: time.Second} })
	post := func(form url.Values, setup func(*http.Request)) *httptest.ResponseRecorder {
		req := httptest.NewRequest("POST", "/e/demo/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if setup != nil {
			setup(req)
		}
		return f.do(req, "192.0.2.30:1")
	}
	rec := post(url.Values{"password": {modPass}, "next": {"/e/demo/moderate"}}, nil)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/e/demo/moderate" {
		t.Errorf("form login: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	for _, next := range []string{"https://evil.example/", "//evil.example/e/demo/", "/e/other/", "/e/demo/\\evil"} {
		rec = post(url.Values{"password": {modPass}, "next": {next}}, nil)
		if loc := rec.Header().Get("Location"); loc != "/e/demo/" {
			t.Errorf("next %q: redirected to %q", next, loc)
		}
	}
	rec = post(url.Values{"password": {"wrong"}}, nil)
	if rec.Code != http.StatusSeeOther || rec.Header().Get("Location") != "/e/demo/login?failed=1" || len(rec.Result().Cookies()) != 0 {
		t.Errorf("failed form login: %d to %q", rec.Code, rec.Header().Get("Location"))
	}
	rec = post(url.Values{"password": {modPass}}, func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") })
	if rec.Code != 403 || len(rec.Result().Cookies()) != 0 {
		t.Errorf("cross-site login: %d", rec.Code)
	}
	// Secure when the request came over TLS, or through a trusted proxy
	// that says so; an untrusted peer's header is ignored.
	for _, tc := range []struct {
		name   string
		addr   string
		setup  func(*http.Request)
		secure bool
	}{
		{"tls", "192.0.2.31:1", func(r *http.Request) { r.TLS = &tls.ConnectionState{} }, true},
		{"trusted proxy https", "10.1.2.3:1", func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") }, true},
		{"untrusted forwarded proto", "192.0.2.32:1", func(r *http.Request) { r.Header.Set("X-Forwarded-Proto", "https") }, false},
	} {
		req := httptest.NewRequest("POST", "/e/demo/login", strings.NewReader(url.Values{"password": {modPass}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		tc.setup(req)
		rec := f.do(req, tc.addr)
		cs := rec.Result().Cookies()
		if len(cs) != 1 || cs[0].Secure != tc.secure {
			t.Errorf("%s: cookies %+v, want secure=%v", tc.name, cs, tc.secure)
		}
	}
	// Logout clears the cookie.
	req := httptest.NewRequest("POST", "/e/demo/logout", nil)
	req.Header.Set("Accept", "application/json")
	rec = f.do(req, "")
	cs := rec.Result().Cookies()
	if rec.Code != 204 || len(cs) != 1 || cs[0].MaxAge >= 0 || cs[0].Value != "" {
		t.Errorf("logout: %d %+v", rec.Code, cs)
	}
	if rec := f.do(httptest.NewRequest("GET", "/e/demo/login", nil), ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("GET login: %d", rec.Code)
	}
}

func TestLoginRateLimit(t *testing.T) {
	// The cap of checks (guessing_test.go) is out of the way here.
	f := newFixture(t, func(o *Options) { o.LoginChecks = Rate{Burst: 1000, Every: time.Millisecond} })
	attempt := f.attempt
	for i := 0; i < 5; i++ {
		if rec := attempt("192.0.2.40:1", "guess"); rec.Code != 401 {
			t.Fatalf("attempt %d: %d", i, rec.Code)
		}
	}
	rec := attempt("192.0.2.40:2", "guess") // a 6th wrong one is told to wait
	if rec.Code != 429 || rec.Header().Get("Retry-After") != "20" {
		t.Fatalf("6th wrong attempt: %d Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if code, _ := decodeError(t, rec.Body.String()); code != event.ERATELIMIT {
		t.Errorf("code %q", code)
	}
	// Behind a trusted proxy the client's address counts, not the proxy's.
	req := httptest.NewRequest("POST", "/e/demo/login", strings.NewReader(`{"password":"guess"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Forwarded-For", "192.0.2.40")
	if rec := f.do(req, "10.0.0.1:1"); rec.Code != 429 {
		t.Errorf("same client through proxy: %d", rec.Code)
	}
	if rec := attempt("192.0.2.41:1", "guess"); rec.Code != 401 {
		t.Errorf("another address's first wrong attempt: %d", rec.Code)
	}
	f.clock.Add(20 * time.Second)
	if rec := attempt("192.0.2.40:3", "guess"); rec.Code != 401 {
		t.Errorf("after the wait: %d", rec.Code)
	}
	// The event's budget of wrong attempts holds against many addresses:
	// 20 at once, one more each 3s. 9 were spent above (8 wrong attempts
	// counted, 1 of them past the address's budget) and the 20s wait gave
	// 6⅔ back, so 17 more are told 401 and the 18th 429.
	refused := -1
	for i := 0; i < 40 && refused < 0; i++ {
		addr := netip.AddrFrom4([4]byte{198, 51, 100, byte(i)}).String() + ":1"
		if rec := attempt(addr, "guess"); rec.Code == 429 {
			refused = i
			if rec.Header().Get("Retry-After") == "" {
				t.Error("no Retry-After")
			}
		}
	}
	if refused != 17 {
		t.Errorf("event budget refused attempt %d, want 17", refused)
	}
}

func TestIdentifyErrors(t *testing.T) {
	f := newFixture(t)
	_, err := f.a.Identify(httptest.NewRequest("GET", "/", nil), "demo")
	if !errors.Is(err, ErrNoCredentials) || event.ErrorCode(err) != event.EUNAUTHORIZED {
		t.Errorf("no credentials: %v (%s)", err, event.ErrorCode(err))
	}
	req := httptest.NewRequest("GET", "/", nil)
	req.Header.Set("Authorization", "Bearer nope-nope-nope-nope")
	_, err = f.a.Identify(req, "demo")
	if !errors.Is(err, ErrBadCredentials) || event.ErrorCode(err) != event.EUNAUTHORIZED {
		t.Errorf("bad token: %v", err)
	}
	req.Header.Set("Authorization", "Bearer "+modTok)
	id, err := f.a.Identify(req, "demo")
	if err != nil || id.Role != event.RoleModerator || !id.Bearer || !strings.HasPrefix(id.Name, "token:") || strings.Contains(id.Name, modTok[:8]) {
		t.Errorf("token identity %+v %v", id, err)
	}
	if a := id.Actor(); a.Role != event.RoleModerator || a.Name != id.Name {
		t.Errorf("actor %+v", a)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	good := func() Options { return Options{Key: testKey} }
	cases := map[string]Options{
		"short key": {Key: []byte("short")},
		"short token": func() Options {
			o := good()
			o.Events = map[string]EventCredentials{"x": {Moderator: RoleCredentials{Tokens: []string{"short"}}}}
			return o
		}(),
		"bad hash": func() Options {
			o := good()
			o.Events = map[string]EventCredentials{"x": {Moderator: RoleCredentials{Users: map[string]string{"a": "plain"}}}}
			return o
		}(),
		"bad slug": func() Options { o := good(); o.Events = map[string]EventCredentials{"a b": {}}; return o }(),
		"empty name": func() Options {
			o := good()
			o.Events = map[string]EventCredentials{"x": {Moderator: RoleCredentials{Users: map[string]string{"": hash(t, "p")}}}}
			return o
		}(),
	}
	for name, o := range cases {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(good()); err != nil {
		t.Error(err)
	}
	k, err := NewKey()
	if err != nil || len(k) != MinKeyLength {
		t.Errorf("NewKey: %d %v", len(k), err)
	}
	h, err := HashPassword("pw")
	if err != nil || bcrypt.CompareHashAndPassword([]byte(h), []byte("pw")) != nil {
		t.Errorf("HashPassword: %v", err)
	}
}

// TestOverHTTP walks a real browser-like client over a loopback server:
// log in, read the session, act with the CSRF token, log out.
func TestOverHTTP(t *testing.T) {
	f := newFixture(t)
	srv := httptest.NewServer(f.mux)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	cl := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ctx := context.Background()
	do := func(method, path, body string, h map[string]string) *http.Response {
		req, _ := http.NewRequestWithContext(ctx, method, srv.URL+path, strings.NewReader(body))
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := do("POST", "/e/demo/login", "name=alice&password=alice-secret", map[string]string{"Content-Type": "application/x-www-form-urlencoded", "Origin": srv.URL})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %d", resp.StatusCode)
	}
	resp = do("GET", "/e/demo/session", "", nil)
	var id Identity
	if err := json.NewDecoder(resp.Body).Decode(&id); err != nil || id.Role != event.RoleModerator || id.Name != "alice" {
		t.Fatalf("session %d %+v %v", resp.StatusCode, id, err)
	}
	if resp := do("POST", "/api/events/demo/posts/p1/approve", "", nil); resp.StatusCode != 403 {
		t.Errorf("without token %d", resp.StatusCode)
	}
	resp = do("POST", "/api/events/demo/posts/p1/approve", "", map[string]string{CSRFHeader: id.CSRFToken, "Origin": srv.URL})
	var actor event.Actor
	if err := json.NewDecoder(resp.Body).Decode(&actor); resp.StatusCode != 200 || err != nil || actor != (event.Actor{Role: event.RoleModerator, Name: "alice"}) {
		t.Errorf("with token %d %+v %v", resp.StatusCode, actor, err)
	}
	do("POST", "/e/demo/logout", "", map[string]string{"Accept": "application/json"})
	if resp := do("GET", "/e/demo/session", "", nil); resp.StatusCode != 401 {
		t.Errorf("after logout %d", resp.StatusCode)
	}
}

func BenchmarkIdentifyCookie(b *testing.B) {
	f := newFixture(b)
	c, _ := f.login(b, "demo", "", modPass)
	req := httptest.NewRequest("GET", "/api/events/demo/queue", nil)
	req.AddCookie(c)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.a.Identify(req, "demo"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkIdentifyBearer(b *testing.B) {
	f := newFixture(b)
	req := httptest.NewRequest("GET", "/api/events/demo/queue", nil)
	req.Header.Set("Authorization", "Bearer "+modTok)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := f.a.Identify(req, "demo"); err != nil {
			b.Fatal(err)
		}
	}
}

// An allowed origin passes the cross-site check of a cookie-authenticated
// action though it is not the request's Host (a page served under another
// name, or a proxy that rewrites Host); other origins are still refused.
func TestAllowedOrigins(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.AllowedOrigins = []string{"https://wall.example.org/"} })
	cookie, id := f.login(t, "demo", "", modPass)
	for _, tc := range []struct {
		origin, site string
		status       int
	}{
		{"https://wall.example.org", "", 200},
		{"https://WALL.example.org", "cross-site", 200},
		{"https://wall.example.org:8443", "", 403},
		{"https://evil.example", "cross-site", 403},
	} {
		req := httptest.NewRequest("POST", "/api/events/demo/posts/abc/approve", nil) // Host: example.com
		req.AddCookie(cookie)
		req.Header.Set(CSRFHeader, id.CSRFToken)
		req.Header.Set("Origin", tc.origin)
		if tc.site != "" {
			req.Header.Set("Sec-Fetch-Site", tc.site)
		}
		rec := httptest.NewRecorder()
		f.mux.ServeHTTP(rec, req)
		if rec.Code != tc.status {
			t.Errorf("Origin %s (Sec-Fetch-Site %q): %d, want %d", tc.origin, tc.site, rec.Code, tc.status)
		}
	}
}
