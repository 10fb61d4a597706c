package wall

import "net/http"

// CSP is the Content-Security-Policy of every response: scripts, styles
// and connections from this server only, no inline script, never framed.
// Images and media may come from any https server, because avatars and
// attachments are shown from the post's own server.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' https: data:; media-src 'self' https:; connect-src 'self'; " +
	"object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries. A handler may
// relax framing for its own response with AllowFraming.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", CSP)
		h.Set("X-Content-Type-Options", "nosniff")
		// Avatars and media load from other servers: no referrer, so
		// they never learn which event page or moderator screen asked.
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// AllowFraming lets the response be framed by ancestors (a CSP source
// list such as "https://studio.example"): for the livestream overlay,
// which broadcast software embeds. Call it before writing the response.
func AllowFraming(w http.ResponseWriter, ancestors string) {
	h := w.Header()
	h.Del("X-Frame-Options")
	h.Set("Content-Security-Policy", CSP[:len(CSP)-len("frame-ancestors 'none'")]+"frame-ancestors "+ancestors)
}
