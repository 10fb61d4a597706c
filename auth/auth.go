// Package auth decides who is calling: a moderator or a facilitator of one
// event, by a signed session cookie (after logging in with a passphrase or a
// named user's password) or by an API bearer token. It serves the login,
// logout and session endpoints, refuses callers without the role a handler
// needs (401/403, before the handler runs), and guards cookie-authenticated
// state changes against cross-site request forgery. docs/AUTH.md describes
// the HTTP side.
package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/crypto/bcrypt"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/internal/ratelimit"
)

// MinKeyLength is the shortest server key accepted, in bytes.
const MinKeyLength = 32

// Options configure an Authenticator.
type Options struct {
	// Key signs session cookies and CSRF tokens: at least MinKeyLength
	// random bytes, the same on every node (see NewKey). Changing it ends
	// every session.
	Key []byte
	// Events are the events' credentials by slug; SetEvent changes them later.
	Events map[string]EventCredentials
	// SessionTTL is how long a login lasts (default 12h: a long event day).
	SessionTTL time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For,
	// X-Forwarded-Proto and X-Forwarded-Host are believed. Empty: none.
	TrustedProxies []netip.Prefix
	// AllowedOrigins are browser origins (scheme://host[:port]) whose
	// state-changing requests are accepted besides the request's own host.
	AllowedOrigins []string
	// LoginPerAddress is the budget of wrong login attempts per client
	// address (default: 5 at once, then one per 20s); LoginPerEvent the
	// budget per event, whatever the address (default: 20 at once, then
	// one per 3s). A wrong attempt past either is answered 429 instead of
	// 401. They count wrong attempts only and never refuse a right
	// credential: someone else's guesses cannot lock a moderator out.
	LoginPerAddress, LoginPerEvent Rate
	// LoginChecks caps how many credentials are checked per event, right
	// or wrong, which is what bounds online guessing (default: 10 at once,
	// then one per 200ms, 5 a second). There are two such buckets per
	// event: one for addresses within their wrong-attempt budget and one
	// for addresses past it, so a flood from guessing addresses leaves the
	// first for everyone else. The bound is therefore twice this rate. An
	// attempt over the cap waits up to LoginCheckWait for its turn
	// (default 2s; negative: never waits), then gets 429.
	LoginChecks    Rate
	LoginCheckWait time.Duration
	// Registerer, when set, receives the login metrics (see loginMetrics).
	Registerer prometheus.Registerer
	// SlugFrom finds the event slug of a request (default: the "slug" path
	// wildcard, r.PathValue("slug"), as in "/e/{slug}/login").
	SlugFrom func(*http.Request) string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives login successes and failures (default slog.Default()).
	Logger *slog.Logger
}

// Authenticator checks credentials for every event of a deployment. It is
// safe for concurrent use.
type Authenticator struct {
	key      []byte
	ttl      time.Duration
	proxies  []netip.Prefix
	origins  map[string]bool // AllowedOrigins, lower case, no trailing slash
	slugFrom func(*http.Request) string
	now      func() time.Time
	log      *slog.Logger
	perAddr  *ratelimit.Limiter // wrong attempts per address
	perEvent *ratelimit.Limiter // wrong attempts per event
	// checks are the credential checks per event: [0] for addresses
	// within their wrong-attempt budget, [1] for those past it.
	checks    [2]*ratelimit.Limiter
	checkWait time.Duration
	metrics   loginMetrics

	mu     sync.RWMutex
	events map[string]*eventCreds

	dummyOnce sync.Once
	dummy     []byte
}

// NewKey returns a new random server key. The caller persists it (beside
// the log) so sessions survive restarts and every node shares it.
func NewKey() ([]byte, error) {
	k := make([]byte, MinKeyLength)
	if _, err := rand.Read(k); err != nil {
		return nil, fmt.Errorf("auth: new key: %w", err)
	}
	return k, nil
}

// New returns an Authenticator, or an error naming the first credential
// that cannot be used (a short key or token, a bad hash or slug).
func New(opts Options) (*Authenticator, error) {
	if len(opts.Key) < MinKeyLength {
		return nil, fmt.Errorf("auth: the server key has %d bytes, want at least %d", len(opts.Key), MinKeyLength)
	}
	a := &Authenticator{
		key:      append([]byte(nil), opts.Key...),
		ttl:      opts.SessionTTL,
		proxies:  opts.TrustedProxies,
		slugFrom: opts.SlugFrom,
		now:      opts.Now,
		log:      opts.Logger,
		events:   make(map[string]*eventCreds),
		origins:  make(map[string]bool),
	}
	for _, o := range opts.AllowedOrigins {
		a.origins[strings.ToLower(strings.TrimRight(o, "/"))] = true
	}
	if a.ttl <= 0 {
		a.ttl = 12 * time.Hour
	}
	if a.slugFrom == nil {
		a.slugFrom = func(r *http.Request) string { return r.PathValue("slug") }
	}
	if a.now == nil {
		a.now = time.Now
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if opts.LoginPerAddress.Burst == 0 {
		opts.LoginPerAddress = Rate{Burst: 5, Every: 20 * time.Second}
	}
	if opts.LoginPerEvent.Burst == 0 {
		opts.LoginPerEvent = Rate{Burst: 20, Every: 3 * time.Second}
	}
	if opts.LoginChecks.Burst == 0 {
		opts.LoginChecks = DefaultLoginChecks
	}
	a.checkWait = opts.LoginCheckWait
	if a.checkWait == 0 {
		a.checkWait = DefaultLoginCheckWait
	}
	a.perAddr = ratelimit.NewLimiter(opts.LoginPerAddress, a.now)
	a.perEvent = ratelimit.NewLimiter(opts.LoginPerEvent, a.now)
	a.checks = [2]*ratelimit.Limiter{ratelimit.NewLimiter(opts.LoginChecks, a.now), ratelimit.NewLimiter(opts.LoginChecks, a.now)}
	a.metrics = newLoginMetrics(opts.Registerer)
	for slug, c := range opts.Events {
		if err := a.SetEvent(slug, c); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// SetEvent sets (or replaces) an event's credentials. Sessions made with a
// passphrase or password that changed end at once.
func (a *Authenticator) SetEvent(slug string, c EventCredentials) error {
	ec, err := a.compile(slug, c)
	if err != nil {
		return err
	}
	a.mu.Lock()
	a.events[slug] = ec
	a.mu.Unlock()
	return nil
}

// RemoveEvent forgets an event: every credential for it stops working.
func (a *Authenticator) RemoveEvent(slug string) {
	a.mu.Lock()
	delete(a.events, slug)
	a.mu.Unlock()
}

func (a *Authenticator) event(slug string) *eventCreds {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.events[slug]
}

// Identity is who a request comes from.
type Identity struct {
	Role event.Role `json:"role"`
	// Name is the user's name, the name given with a passphrase (may be
	// empty), or "token:<fingerprint>" for a bearer token.
	Name string `json:"name,omitempty"`
	// Bearer reports an API token: such requests are not subject to CSRF
	// checks (browsers never attach them on their own).
	Bearer bool `json:"-"`
	// Expires is when the session ends; zero for a token.
	Expires time.Time `json:"expires,omitzero"`
	// CSRFToken is the value cookie-authenticated requests that change
	// state must send in the X-CSRF-Token header; empty for a token.
	CSRFToken string `json:"csrf_token,omitempty"`
}

// Actor is the identity as the log records it.
func (id Identity) Actor() event.Actor { return event.Actor{Role: id.Role, Name: id.Name} }

// Can reports whether the identity may act as role: a moderator may do
// everything a facilitator may.
func (id Identity) Can(role event.Role) bool {
	switch role {
	case event.RoleFacilitator:
		return id.Role == event.RoleFacilitator || id.Role == event.RoleModerator
	case event.RoleModerator:
		return id.Role == event.RoleModerator
	}
	return false
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// IdentityFrom returns the identity Require put in ctx.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(Identity)
	return id, ok
}

// ErrNoCredentials and ErrBadCredentials are the causes behind Identify's
// EUNAUTHORIZED errors, for errors.Is.
var (
	ErrNoCredentials  = errors.New("no credentials")
	ErrBadCredentials = errors.New("wrong or expired credentials")
	errBadName        = errors.New("a name is at most 64 characters, with no control characters")
)

// unauthorized wraps cause in an *event.Error with code EUNAUTHORIZED.
func unauthorized(msg string, cause error) error {
	return fmt.Errorf("%w: %w", event.Errorf(event.EUNAUTHORIZED, "%s", msg), cause)
}

// Identify says who sent r for the event slug: by its bearer token when it
// has an Authorization header (a wrong token is refused, never passed over
// for a cookie), else by its session cookie. The error is an *event.Error
// with code EUNAUTHORIZED, wrapping ErrNoCredentials or ErrBadCredentials.
// Identify does not check CSRF; Require does.
func (a *Authenticator) Identify(r *http.Request, slug string) (Identity, error) {
	ec := a.event(slug)
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, _ := strings.Cut(h, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return Identity{}, unauthorized("the Authorization header must be 'Bearer <token>'", ErrBadCredentials)
		}
		if ec == nil {
			return Identity{}, unauthorized("wrong API token", ErrBadCredentials)
		}
		if id, ok := ec.token(strings.TrimSpace(tok)); ok {
			return id, nil
		}
		return Identity{}, unauthorized("wrong API token", ErrBadCredentials)
	}
	c, err := r.Cookie(CookieName(slug))
	if err != nil || c.Value == "" {
		return Identity{}, unauthorized("log in first", ErrNoCredentials)
	}
	if ec == nil {
		return Identity{}, unauthorized("session not valid; log in again", ErrBadCredentials)
	}
	s, err := a.openSession(c.Value, slug)
	if err != nil {
		return Identity{}, unauthorized("session not valid; log in again", fmt.Errorf("%w: %w", ErrBadCredentials, err))
	}
	if !a.now().Before(s.expires) {
		return Identity{}, unauthorized("session expired; log in again", ErrBadCredentials)
	}
	rc := ec.role(s.role)
	if rc == nil || !rc.stillValid(s) {
		return Identity{}, unauthorized("credentials changed; log in again", ErrBadCredentials)
	}
	return Identity{Role: s.role, Name: s.name, Expires: s.expires, CSRFToken: a.csrfToken(s.nonce)}, nil
}

// token finds the bearer token among every role's tokens. Every token is
// compared, in constant time, so timing says nothing about which matched.
func (ec *eventCreds) token(tok string) (Identity, bool) {
	sum := sha256.Sum256([]byte(tok))
	var found Identity
	ok := false
	for _, r := range ec.roles {
		for _, t := range r.tokens {
			if subtle.ConstantTimeCompare(sum[:], t.sum[:]) == 1 && !ok {
				found, ok = Identity{Role: r.role, Name: t.name, Bearer: true}, true
			}
		}
	}
	return found, ok
}

func (ec *eventCreds) role(role event.Role) *roleCreds {
	for _, r := range ec.roles {
		if r.role == role {
			return r
		}
	}
	return nil
}

// stillValid reports whether the credential a session was made with is
// still configured, unchanged.
func (r *roleCreds) stillValid(s session) bool {
	switch s.kind {
	case kindPassphrase:
		return r.passphrase != nil && hmac.Equal([]byte(r.passGen), []byte(s.gen))
	case kindUser:
		u, ok := r.users[s.name]
		return ok && hmac.Equal([]byte(u.gen), []byte(s.gen))
	}
	return false
}

// login checks a name and password against the event's credentials: named
// users first (the name picks the user), then the roles' passphrases
// (moderator first), which cannot claim a named user's name.
func (a *Authenticator) login(ec *eventCreds, name, password string) (event.Role, session, bool) {
	if password == "" {
		return "", session{}, false
	}
	named := false
	if name != "" {
		for _, r := range ec.roles {
			u, ok := r.users[name]
			if !ok {
				continue
			}
			named = true
			if bcrypt.CompareHashAndPassword(u.hash, []byte(password)) == nil {
				return r.role, session{kind: kindUser, role: r.role, name: name, gen: u.gen}, true
			}
		}
		if !named {
			// Spend the time a real comparison takes, so timing does not
			// tell which names are users.
			_ = bcrypt.CompareHashAndPassword(a.dummyHash(ec.cost), []byte(password))
		}
	}
	if named {
		return "", session{}, false
	}
	sum := sha256.Sum256([]byte(password))
	for _, r := range ec.roles {
		if r.passphrase != nil && subtle.ConstantTimeCompare(sum[:], r.passphrase[:]) == 1 {
			return r.role, session{kind: kindPassphrase, role: r.role, name: name, gen: r.passGen}, true
		}
	}
	return "", session{}, false
}

func (a *Authenticator) dummyHash(cost int) []byte {
	a.dummyOnce.Do(func() {
		a.dummy, _ = bcrypt.GenerateFromPassword([]byte("backchannel dummy password"), cost)
	})
	return a.dummy
}

// checkName accepts a name for the audit: at most 64 characters, printable.
func checkName(name string) error {
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > 64 {
		return errBadName
	}
	for _, r := range name {
		if unicode.IsControl(r) || unicode.Is(unicode.Cf, r) {
			return errBadName
		}
	}
	return nil
}

// Session cookies.

// CookieName is the session cookie of the event slug: one per event, so a
// person can moderate two events from one browser.
func CookieName(slug string) string { return "bc_session_" + slug }

type sessionKind string

const (
	kindPassphrase sessionKind = "p"
	kindUser       sessionKind = "u"
)

// session is what a cookie carries, signed.
type session struct {
	kind    sessionKind
	role    event.Role
	name    string
	expires time.Time
	nonce   string // random per login; the CSRF token derives from it
	gen     string // the credential's generation (see generation)
}

// sealSession encodes s for the event slug: the fields, base64url each,
// joined by '.', then the HMAC-SHA256 of slug and fields.
func (a *Authenticator) sealSession(s session, slug string) string {
	enc := base64.RawURLEncoding
	payload := strings.Join([]string{
		"v1", string(s.kind), string(s.role), enc.EncodeToString([]byte(s.name)),
		strconv.FormatInt(s.expires.Unix(), 10), s.nonce, s.gen,
	}, ".")
	return payload + "." + enc.EncodeToString(a.mac("session", slug, payload))
}

func (a *Authenticator) openSession(v, slug string) (session, error) {
	i := strings.LastIndexByte(v, '.')
	if i < 0 {
		return session{}, errors.New("malformed cookie")
	}
	payload, sig := v[:i], v[i+1:]
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, a.mac("session", slug, payload)) {
		return session{}, errors.New("bad signature")
	}
	f := strings.Split(payload, ".")
	if len(f) != 7 || f[0] != "v1" {
		return session{}, errors.New("unknown cookie version")
	}
	name, err := base64.RawURLEncoding.DecodeString(f[3])
	if err != nil {
		return session{}, errors.New("malformed name")
	}
	exp, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return session{}, errors.New("malformed expiry")
	}
	return session{kind: sessionKind(f[1]), role: event.Role(f[2]), name: string(name),
		expires: time.Unix(exp, 0), nonce: f[5], gen: f[6]}, nil
}

func (a *Authenticator) mac(purpose string, parts ...string) []byte {
	m := hmac.New(sha256.New, a.key)
	m.Write([]byte(purpose))
	for _, p := range parts {
		m.Write([]byte{0})
		m.Write([]byte(p))
	}
	return m.Sum(nil)
}

// csrfToken derives a session's CSRF token from its nonce: a page can read
// it (it is not HttpOnly, being sent in a JSON answer), a forged request
// from another site cannot.
func (a *Authenticator) csrfToken(nonce string) string {
	return base64.RawURLEncoding.EncodeToString(a.mac("csrf", nonce)[:18])
}

func newNonce() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

func subtleEqual(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// Rate is the shape of a login limit (see Options): Burst attempts at once,
// then one more every Every. It is ratelimit.Rate, named here so Options
// reads on its own.
type Rate = ratelimit.Rate
