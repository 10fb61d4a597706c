package wall

import (
	"net/http"
)

// StaffPages are the staff pages served under /e/{slug}/, by name. Each
// needs credentials only for the data it loads: the page itself is an
// empty shell that asks GET /e/{slug}/session who is logged in and sends
// the browser to the login page when nobody is.
var StaffPages = []string{"login", "moderate", "facilitate", "audit"}

// routeStaffPages mounts the staff pages on s: GET /e/{slug}/login,
// /moderate, /facilitate and /audit. Their scripts and styles are served
// with every other embedded file under /static/ (assets.go). The login
// form posts to POST /e/{slug}/login (auth.LoginHandler), mounted with the
// API.
func (s *Server) routeStaffPages() {
	for _, page := range StaffPages {
		name := page + ".html"
		html, ok := assets()[name]
		if !ok {
			panic("wall: no embedded " + name) // a broken build
		}
		s.mux.HandleFunc("GET /e/{slug}/"+page, func(w http.ResponseWriter, r *http.Request) {
			// An unknown event gets the API's 404 rather than a page
			// that would fail on every call it makes.
			if _, err := s.EventOf(r); err != nil {
				WriteError(w, r, err)
				return
			}
			// Staff pages show who is logged in: never from a cache.
			serveAsset(w, r, name, html, "no-store")
		})
	}
}
