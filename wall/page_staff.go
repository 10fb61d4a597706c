package wall

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// staffFiles are the staff pages (moderator, facilitator, audit, login)
// and their scripts and styles. They share common.css and ws.js with the
// public screens, which serve those under /static/ themselves.
//
//go:embed static/login.html static/login.js static/login.css
//go:embed static/moderate.html static/moderate.js static/moderate.css
//go:embed static/facilitate.html static/facilitate.js static/facilitate.css
//go:embed static/audit.html static/audit.js static/audit.css
var staffFiles embed.FS

// StaffPages are the staff pages served under /e/{slug}/, by name. Each
// needs credentials only for the data it loads: the page itself is an
// empty shell that asks GET /e/{slug}/session who is logged in and sends
// the browser to the login page when nobody is.
var StaffPages = []string{"login", "moderate", "facilitate", "audit"}

// staffAsset is one embedded file, ready to serve.
type staffAsset struct {
	body        []byte
	contentType string
	etag        string
}

// staffAssets reads every staff file once, at start, so serving one is a
// map lookup and a write.
func staffAssets() map[string]staffAsset {
	out := map[string]staffAsset{}
	err := fs.WalkDir(staffFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staffFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[path.Base(p)] = staffAsset{body: b, contentType: contentTypeOf(p), etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	if err != nil {
		// The files are compiled in: failing to read them is a broken build.
		panic("wall: staff assets: " + err.Error())
	}
	return out
}

func contentTypeOf(p string) string {
	switch path.Ext(p) {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	}
	return "application/octet-stream"
}

// routeStaffPages mounts the staff pages on s: GET /e/{slug}/login,
// /moderate, /facilitate and /audit, and their scripts and styles at
// /static/<page>.js and /static/<page>.css. The login form posts to POST
// /e/{slug}/login (auth.LoginHandler), mounted with the API. Only exact
// paths are registered, so the public screens' GET /static/ (which serves
// common.css and ws.js) may coexist with them.
func (s *Server) routeStaffPages() {
	assets := staffAssets()
	for _, page := range StaffPages {
		html := assets[page+".html"]
		s.mux.HandleFunc("GET /e/{slug}/"+page, func(w http.ResponseWriter, r *http.Request) {
			// An unknown event gets the API's 404 rather than a page
			// that would fail on every call it makes.
			if _, err := s.EventOf(r); err != nil {
				WriteError(w, r, err)
				return
			}
			// Staff pages show who is logged in: never from a cache.
			w.Header().Set("Cache-Control", "no-store")
			serveStaffAsset(w, r, html)
		})
		for _, ext := range []string{".js", ".css"} {
			a := assets[page+ext]
			s.mux.HandleFunc("GET /static/"+page+ext, func(w http.ResponseWriter, r *http.Request) {
				// Revalidated each load (cheap with the ETag), so a new
				// binary's scripts are never mixed with an old page.
				w.Header().Set("Cache-Control", "no-cache")
				serveStaffAsset(w, r, a)
			})
		}
	}
}

func serveStaffAsset(w http.ResponseWriter, r *http.Request, a staffAsset) {
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, a.etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	_, _ = w.Write(a.body) // the client went away; nothing to tell it
}
