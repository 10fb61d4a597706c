package wall

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"
)

// The pages' files (HTML templates and shells, ES modules, styles, images)
// are embedded in the binary and served from here: no build step, nothing
// loaded from another host. Each is read and hashed once; its hash is its
// ETag, so browsers revalidate cheaply and never run a stale script after
// an upgrade.

//go:embed static
var staticFiles embed.FS

// StaticFS is the embedded wall/static directory (served at /static/), for
// page handlers that render its templates.
func StaticFS() fs.FS {
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		panic(err) // the directory is embedded at build time
	}
	return sub
}

// asset is one embedded file, ready to serve.
type asset struct {
	body []byte
	// etag is the quoted start of the body's SHA-256.
	etag string
	// contentType is "" when the extension is unknown: ServeContent then
	// sniffs it.
	contentType string
}

// assets are wall/static's files by their path under it ("ws.js",
// "img/icon.svg"), read once at first use.
var assets = sync.OnceValue(func() map[string]asset {
	out := map[string]asset{}
	err := fs.WalkDir(staticFiles, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		out[strings.TrimPrefix(p, "static/")] = asset{
			body:        b,
			etag:        `"` + hex.EncodeToString(sum[:8]) + `"`,
			contentType: contentTypeOf(p),
		}
		return nil
	})
	if err != nil {
		// The files are compiled in: failing to read them is a broken build.
		panic("wall: embedded assets: " + err.Error())
	}
	return out
})

// contentTypeOf names the pages' own types here, so they do not depend on
// the host's MIME table; others are the table's.
func contentTypeOf(p string) string {
	switch ext := path.Ext(p); ext {
	case ".html":
		return "text/html; charset=utf-8"
	case ".js":
		return "text/javascript; charset=utf-8"
	case ".css":
		return "text/css; charset=utf-8"
	case ".svg":
		return "image/svg+xml"
	default:
		return mime.TypeByExtension(ext)
	}
}

// serveAsset writes a with its ETag and cacheControl; a request whose
// If-None-Match names the ETag gets 304.
func serveAsset(w http.ResponseWriter, r *http.Request, name string, a asset, cacheControl string) {
	h := w.Header()
	if a.contentType != "" {
		h.Set("Content-Type", a.contentType)
	}
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", cacheControl)
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
}

// routeAssets mounts the embedded files at /static/ and the icon at
// /favicon.ico.
func (s *Server) routeAssets() {
	s.mux.HandleFunc("GET /static/{file...}", serveStatic)
	s.mux.HandleFunc("GET /favicon.ico", serveFavicon)
}

// serveStatic serves GET /static/{file...}: every embedded file but the
// HTML, which only its own route serves (a template, or a staff page that
// first checks its event).
func serveStatic(w http.ResponseWriter, r *http.Request) {
	name := path.Clean(r.PathValue("file"))
	a, ok := assets()[name]
	if !ok || strings.HasSuffix(name, ".html") {
		http.NotFound(w, r)
		return
	}
	// no-cache: the browser keeps the file but asks each time (a 304 when
	// unchanged), so a page that reloads after an upgrade gets new code,
	// never a new binary's script mixed with an old page.
	serveAsset(w, r, name, a, "no-cache")
}

// serveFavicon answers the browser's own request for /favicon.ico with the
// SVG icon, so a wall left open for hours does not log a 404 per load.
func serveFavicon(w http.ResponseWriter, r *http.Request) {
	a, ok := assets()["img/icon.svg"]
	if !ok {
		http.NotFound(w, r)
		return
	}
	serveAsset(w, r, "favicon.svg", a, "public, max-age=86400")
}
