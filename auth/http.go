package auth

import (
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/internal/clientaddr"
	"github.com/backchannel/backchannel/internal/jsonhttp"
	"github.com/backchannel/backchannel/internal/ratelimit"
)

// CSRFHeader is the header a cookie-authenticated request that changes
// state carries its session's CSRF token in.
const CSRFHeader = "X-CSRF-Token"

// Require returns middleware that lets a request through to next only from
// a caller who may act as role at the request's event (a moderator may do
// what a facilitator may). It runs before anything else in the handler:
//
//   - no or wrong credentials (an unknown event included): 401 unauthorized;
//   - a role that may not: 403 forbidden;
//   - a cookie-authenticated POST/PUT/PATCH/DELETE without the session's
//     X-CSRF-Token, or sent from another site (Origin, Sec-Fetch-Site):
//     403 forbidden. Bearer-token requests skip the CSRF checks.
//
// Refusals are JSON: {"error":{"code":"unauthorized","message":"..."}}.
// The handler finds the caller with IdentityFrom(r.Context()).
func (a *Authenticator) Require(role event.Role) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			slug := a.slugFrom(r)
			id, err := a.Identify(r, slug)
			if err != nil {
				w.Header().Set("WWW-Authenticate", `Bearer realm="backchannel"`)
				jsonhttp.Refuse(w, http.StatusUnauthorized, event.EUNAUTHORIZED, event.ErrorMessage(err))
				return
			}
			if !id.Can(role) {
				jsonhttp.Refuse(w, http.StatusForbidden, event.EFORBIDDEN, "this needs the "+string(role)+" role")
				return
			}
			if !id.Bearer && changesState(r.Method) {
				if !a.sameOrigin(r) {
					jsonhttp.Refuse(w, http.StatusForbidden, event.EFORBIDDEN, "cross-site request refused")
					return
				}
				if !tokenEqual(r.Header.Get(CSRFHeader), id.CSRFToken) {
					jsonhttp.Refuse(w, http.StatusForbidden, event.EFORBIDDEN, "missing or wrong "+CSRFHeader+" header")
					return
				}
			}
			next.ServeHTTP(w, r.WithContext(WithIdentity(r.Context(), id)))
		})
	}
}

func changesState(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return false
	}
	return true
}

func tokenEqual(got, want string) bool {
	return got != "" && want != "" && len(got) == len(want) && subtleEqual(got, want)
}

// sameOrigin reports whether a state-changing request may have come from
// our own pages. Browsers say where a request comes from in Sec-Fetch-Site
// (all current ones) or Origin; a request with neither is not from a
// browser page (curl, scripts) and is let through, the CSRF token still
// being required. Only the host is compared with Origin, not the scheme: a
// TLS-terminating proxy that is not configured as trusted would otherwise
// make every real request look cross-site.
func (a *Authenticator) sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none" || a.origins[strings.ToLower(strings.TrimRight(r.Header.Get("Origin"), "/"))]
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if a.origins[strings.ToLower(strings.TrimRight(origin, "/"))] {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false // includes "null", sent by sandboxed and privacy-sensitive contexts
	}
	host := r.Host
	if clientaddr.FromTrustedProxy(r, a.proxies) {
		if fh := firstValue(r.Header.Get("X-Forwarded-Host")); fh != "" {
			host = strings.TrimSpace(fh)
		}
	}
	return strings.EqualFold(u.Host, host)
}

// loginRequest is the login form, as form fields or JSON.
type loginRequest struct {
	Name     string `json:"name"`
	Password string `json:"password"`
	Next     string `json:"next"`
}

// LoginHandler serves POST /e/{slug}/login. The body is form-encoded or
// JSON with name (optional for a passphrase; also accepted as "user") and
// password (also accepted as "passphrase"), and optionally next, the local
// page to go to afterwards. The role is the one whose credential matches.
//
// On success it sets the session cookie (HttpOnly, SameSite=Strict, Secure
// when the request came over TLS, Path=/, expiring with the session) and
// answers JSON {"role","name","expires","csrf_token"} to a JSON client or
// 303 See Other to next (default /e/{slug}/) to a plain form. A wrong
// credential gets 401 (JSON) or 303 to /e/{slug}/login?failed=1, or 429
// with Retry-After once the wrong attempts from its address or at its
// event are past their budget (Options.LoginPerAddress, LoginPerEvent). A
// right credential is accepted whatever those counters say. Every attempt
// waits for its turn among the event's credential checks
// (Options.LoginChecks): 429 with Retry-After when the wait would be too
// long. A login posted from another site gets 403.
func (a *Authenticator) LoginHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug := a.slugFrom(r)
		wantJSON := wantsJSON(r)
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			jsonhttp.Refuse(w, http.StatusMethodNotAllowed, event.EINVALID, "log in with POST")
			return
		}
		if !a.sameOrigin(r) {
			jsonhttp.Refuse(w, http.StatusForbidden, event.EFORBIDDEN, "cross-site login refused")
			return
		}
		req, err := readLogin(w, r)
		if err != nil {
			jsonhttp.Refuse(w, http.StatusBadRequest, event.EINVALID, err.Error())
			return
		}
		req.Name = strings.TrimSpace(req.Name)
		if err := checkName(req.Name); err != nil {
			jsonhttp.Refuse(w, http.StatusBadRequest, event.EINVALID, err.Error())
			return
		}
		addr := clientaddr.From(r, a.proxies)
		var (
			s  session
			ok bool
		)
		// An unknown event has nothing to guess: no check, and no limiter
		// key an outsider could multiply by inventing slugs.
		if ec := a.event(slug); ec != nil {
			if !a.awaitCheck(w, r, slug, addr) {
				return
			}
			_, s, ok = a.login(ec, req.Name, req.Password)
			a.metrics.checked(slug, ok)
		}
		if !ok {
			key := clientaddr.Key(addr)
			okAddr, retryAddr := a.perAddr.Allow(key)
			okEvent, retryEvent := a.perEvent.Allow(slug)
			if !okAddr || !okEvent {
				limit := "address"
				if !okEvent {
					limit = "event"
				}
				a.log.Warn("login failed past the budget of wrong attempts", slog.String("event", slug),
					slog.String("addr", addr.String()), slog.String("name", req.Name), slog.String("limit", limit))
				a.metrics.refused(slug, "wrong_"+limit)
				tooMany(w, max(retryAddr, retryEvent))
				return
			}
			a.log.Warn("login failed", slog.String("event", slug), slog.String("addr", addr.String()), slog.String("name", req.Name))
			if wantJSON {
				jsonhttp.Refuse(w, http.StatusUnauthorized, event.EUNAUTHORIZED, "wrong name or password")
				return
			}
			http.Redirect(w, r, "/e/"+url.PathEscape(slug)+"/login?failed=1", http.StatusSeeOther)
			return
		}
		s.expires = a.now().Add(a.ttl).Truncate(time.Second)
		s.nonce = newNonce()
		http.SetCookie(w, &http.Cookie{
			Name: CookieName(slug), Value: a.sealSession(s, slug), Path: "/",
			Expires: s.expires, MaxAge: int(a.ttl / time.Second),
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: IsTLS(r, a.proxies),
		})
		a.log.Info("login", slog.String("event", slug), slog.String("role", string(s.role)),
			slog.String("name", s.name), slog.String("addr", addr.String()))
		if wantJSON {
			jsonhttp.WriteJSON(w, http.StatusOK, Identity{Role: s.role, Name: s.name, Expires: s.expires, CSRFToken: a.csrfToken(s.nonce)})
			return
		}
		http.Redirect(w, r, localNext(req.Next, slug), http.StatusSeeOther)
	})
}

// LogoutHandler serves POST /e/{slug}/logout: it clears the session cookie
// (204, or 303 to /e/{slug}/login for a plain form). Sessions are not
// stored server-side, so a copied cookie stays valid until it expires or
// the credential it was made with changes.
func (a *Authenticator) LogoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slug := a.slugFrom(r)
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			jsonhttp.Refuse(w, http.StatusMethodNotAllowed, event.EINVALID, "log out with POST")
			return
		}
		if !a.sameOrigin(r) {
			jsonhttp.Refuse(w, http.StatusForbidden, event.EFORBIDDEN, "cross-site logout refused")
			return
		}
		http.SetCookie(w, &http.Cookie{Name: CookieName(slug), Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: IsTLS(r, a.proxies)})
		if wantsJSON(r) {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		http.Redirect(w, r, "/e/"+url.PathEscape(slug)+"/login", http.StatusSeeOther)
	})
}

// SessionHandler serves GET /e/{slug}/session: the caller's identity with
// its CSRF token, {"role","name","expires","csrf_token"}, or 401. Pages
// call it on load to learn who is logged in and the token to send.
func (a *Authenticator) SessionHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, err := a.Identify(r, a.slugFrom(r))
		if err != nil {
			jsonhttp.Refuse(w, http.StatusUnauthorized, event.EUNAUTHORIZED, event.ErrorMessage(err))
			return
		}
		jsonhttp.WriteJSON(w, http.StatusOK, id)
	})
}

const maxLoginBody = 8 << 10

func readLogin(w http.ResponseWriter, r *http.Request) (loginRequest, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxLoginBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var req loginRequest
	if ct == "application/json" {
		var raw struct {
			loginRequest
			User       string `json:"user"`
			Passphrase string `json:"passphrase"`
		}
		if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
			return req, errors.New("the body is not a JSON login")
		}
		req = raw.loginRequest
		if req.Name == "" {
			req.Name = raw.User
		}
		if req.Password == "" {
			req.Password = raw.Passphrase
		}
		return req, nil
	}
	if err := r.ParseForm(); err != nil {
		return req, errors.New("the body is not a login form")
	}
	req.Name = r.PostForm.Get("name")
	if req.Name == "" {
		req.Name = r.PostForm.Get("user")
	}
	req.Password = r.PostForm.Get("password")
	if req.Password == "" {
		req.Password = r.PostForm.Get("passphrase")
	}
	req.Next = r.PostForm.Get("next")
	return req, nil
}

// wantsJSON reports a client that wants JSON answers rather than redirects:
// it sent JSON or asked for it.
func wantsJSON(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/json" || strings.Contains(r.Header.Get("Accept"), "application/json")
}

// localNext keeps next only when it is a page of this event on this site,
// so the login form cannot be used to send someone elsewhere.
func localNext(next, slug string) string {
	base := "/e/" + url.PathEscape(slug) + "/"
	if strings.HasPrefix(next, base) && !strings.ContainsAny(next, "\\\r\n") {
		if u, err := url.Parse(next); err == nil && u.Host == "" && u.Scheme == "" {
			return next
		}
	}
	return base
}

func tooMany(w http.ResponseWriter, retry time.Duration) {
	w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(retry)))
	jsonhttp.Refuse(w, http.StatusTooManyRequests, event.ERATELIMIT, "too many login attempts; try again later")
}

// IsTLS reports whether the client reached us over TLS: directly, or
// through a trusted proxy that says so in X-Forwarded-Proto.
func IsTLS(r *http.Request, trusted []netip.Prefix) bool {
	if r.TLS != nil {
		return true
	}
	return clientaddr.FromTrustedProxy(r, trusted) && strings.EqualFold(strings.TrimSpace(firstValue(r.Header.Get("X-Forwarded-Proto"))), "https")
}

func firstValue(v string) string {
	if i := strings.IndexByte(v, ','); i >= 0 {
		return v[:i]
	}
	return v
}
