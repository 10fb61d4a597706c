package wall_test

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"testing"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/wall"
)

func getPage(t *testing.T, f *fixture, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", f.http.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// Every public page carries the strict CSP and no inline script or style;
// only the overlay may be framed.
func TestPublicPagesCSP(t *testing.T) {
	f := newFixture(t)
	inline := regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]|<style|\sstyle=|\son[a-z]+=`)
	for _, p := range []string{"/", "/e/ev", "/e/ev/wall", "/e/ev/overlay"} {
		res, body := getPage(t, f, p, nil)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %s", p, res.Status)
		}
		csp := res.Header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "style-src 'self'", "img-src 'self' https: data:", "connect-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", p, csp, want)
			}
		}
		wantFrame := "frame-ancestors 'none'"
		if p == "/e/ev/overlay" {
			wantFrame = "frame-ancestors *"
			if res.Header.Get("X-Frame-Options") != "" {
				t.Errorf("%s: X-Frame-Options %q stops OBS-style embedding", p, res.Header.Get("X-Frame-Options"))
			}
		}
		if !strings.HasSuffix(csp, wantFrame) {
			t.Errorf("%s: CSP %q, want it to end with %q", p, csp, wantFrame)
		}
		if m := inline.FindString(body); m != "" {
			t.Errorf("%s: inline script or style: %q", p, m)
		}
		if strings.Contains(body, "//cdn") || strings.Contains(body, "https://fonts") {
			t.Errorf("%s: loads from a third-party host", p)
		}
	}
}

// The URL's layout and theme win over the config, and are marked locked;
// unknown values fall back to the config's.
func TestWallPageOptions(t *testing.T) {
	f := newFixture(t)
	cases := []struct{ query, theme, layout, locked string }{
		{"", `data-theme="dark"`, `data-layout="grid"`, `data-layout-locked="false"`},
		{"?layout=masonry&theme=high-contrast", `data-theme="contrast"`, `data-layout="grid"`, `data-layout-locked="true"`},
		{"?layout=spotlight&theme=light", `data-theme="light"`, `data-layout="spotlight"`, `data-layout-locked="true"`},
		{"?layout=ticker", `data-theme="dark"`, `data-layout="ticker"`, `data-layout-locked="true"`},
		{"?layout=<script>&theme=x", `data-theme="dark"`, `data-layout="grid"`, `data-layout-locked="false"`},
	}
	for _, c := range cases {
		_, body := getPage(t, f, "/e/ev/wall"+c.query, nil)
		for _, want := range []string{c.theme, c.layout, c.locked, `data-ws="/api/events/ev/ws"`, `src="/e/ev/qr.svg"`} {
			if !strings.Contains(body, want) {
				t.Errorf("wall%s: page lacks %s", c.query, want)
			}
		}
	}
	res, body := getPage(t, f, "/e/nope/wall", nil)
	if res.StatusCode != 404 || strings.Contains(body, "<script") {
		t.Errorf("unknown event: %s %q", res.Status, body)
	}
}

// The QR code is an SVG of the participant page's absolute URL at the
// configured public address, whatever Host, X-Forwarded-Host or
// X-Forwarded-Proto a request forges; the join text says the same.
func TestQRCode(t *testing.T) {
	const public = "https://wall.example.org"
	f := newFixture(t, func(e *config.Event) { e.PublicURL = public })
	forged := map[string]string{"Host": "evil.example", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "http"}
	res, body := getPage(t, f, "/e/ev/qr.svg", forged)
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "image/svg+xml" {
		t.Fatalf("qr: %s %s", res.Status, res.Header.Get("Content-Type"))
	}
	if !strings.HasPrefix(body, "<svg") || !strings.Contains(body, `<path fill="#000" d="M`) {
		t.Errorf("qr is not an SVG with modules: %.80q", body)
	}
	want, err := wall.QRSVG(public + "/e/ev")
	if err != nil {
		t.Fatal(err)
	}
	if body != string(want) {
		t.Errorf("the QR code does not encode %s/e/ev", public)
	}
	etag := res.Header.Get("ETag")
	if cc := res.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "public") || etag == "" {
		t.Errorf("qr: Cache-Control %q ETag %q", cc, etag)
	}
	res, _ = getPage(t, f, "/e/ev/qr.svg", map[string]string{"If-None-Match": etag})
	if res.StatusCode != http.StatusNotModified {
		t.Errorf("qr revalidation: %s", res.Status)
	}
	_, page := getPage(t, f, "/e/ev/wall", forged)
	if !strings.Contains(page, "wall.example.org<wbr>/e/ev") || !strings.Contains(page, "linking to wall.example.org/e/ev") {
		t.Error("the wall does not print the configured join address")
	}
	if strings.Contains(page, "evil.example") {
		t.Error("the wall prints the forged host")
	}
}

// With no public address configured, the join address is this machine's
// on its network with the server's port: not loopback, and not the Host
// the request gave.
func TestQRCodeWithoutPublicURL(t *testing.T) {
	f := newFixture(t)
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(f.http.URL, "http://"))
	forged := map[string]string{"Host": "evil.example:666", "X-Forwarded-Host": "evil.example"}
	_, page := getPage(t, f, "/e/ev/wall", forged)
	m := regexp.MustCompile(`<p class="join-url">([^<]*)<wbr>/e/ev</p>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no join address on the wall")
	}
	host, gotPort, err := net.SplitHostPort(m[1])
	if err != nil || gotPort != port {
		t.Fatalf("join host %q: want the server's port %s (%v)", m[1], port, err)
	}
	if a, err := netip.ParseAddr(host); err == nil && (a.IsLoopback() || a.IsUnspecified()) {
		t.Errorf("the join address is %s", a)
	}
	if strings.Contains(page, "evil.example") || host == "127.0.0.1" || host == "localhost" {
		t.Errorf("the join address is %q", m[1])
	}
	_, body := getPage(t, f, "/e/ev/qr.svg", forged)
	want, _ := wall.QRSVG("http://" + m[1] + "/e/ev")
	if body != string(want) {
		t.Errorf("the QR code does not encode http://%s/e/ev", m[1])
	}
}

// Assets are served with an ETag and revalidate to 304; templates and
// unknown files are not served.
func TestStaticAssets(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"common.css", "ws.js", "wall.js", "feed.js", "post.js", "img/mastodon.svg"} {
		res, body := getPage(t, f, "/static/"+name, nil)
		if res.StatusCode != 200 || body == "" {
			t.Fatalf("%s: %s", name, res.Status)
		}
		etag := res.Header.Get("ETag")
		if etag == "" || res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: ETag %q Cache-Control %q", name, etag, res.Header.Get("Cache-Control"))
		}
		ct := res.Header.Get("Content-Type")
		if strings.HasSuffix(name, ".js") && !strings.Contains(ct, "javascript") {
			t.Errorf("%s: Content-Type %q, module scripts need a JavaScript type", name, ct)
		}
		res, _ = getPage(t, f, "/static/"+name, map[string]string{"If-None-Match": etag})
		if res.StatusCode != http.StatusNotModified {
			t.Errorf("%s with its ETag: %s, want 304", name, res.Status)
		}
	}
	for _, name := range []string{"wall.html", "nope.js", "../page_public.go"} {
		if res, _ := getPage(t, f, "/static/"+name, nil); res.StatusCode != 404 {
			t.Errorf("%s: %s, want 404", name, res.Status)
		}
	}
}

// The index lists the events, live ones first.
func TestIndexPage(t *testing.T) {
	f := newFixture(t)
	_, body := getPage(t, f, "/", nil)
	for _, want := range []string{`href="/e/ev"`, "#Ev", "Hall", `href="/e/ev/wall"`} {
		if !strings.Contains(body, want) {
			t.Errorf("index lacks %s", want)
		}
	}
}

func BenchmarkWallPage(b *testing.B) {
	f := newFixture(b)
	req, _ := http.NewRequest("GET", "/e/ev/wall?layout=grid", nil)
	b.ReportAllocs()
	for b.Loop() {
		w := &discardWriter{h: http.Header{}}
		f.srv.ServeHTTP(w, req)
	}
}

func BenchmarkQRSVG(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := wall.QRSVG("https://backchannel.example.org/e/leaders4leeds"); err != nil {
			b.Fatal(err)
		}
	}
}

type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *discardWriter) WriteHeader(int)             {}

// The browser's own /favicon.ico request gets the icon, not a 404.
func TestFavicon(t *testing.T) {
	f := newFixture(t)
	res, body := getPage(t, f, "/favicon.ico", nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "image/svg+xml" || !strings.Contains(body, "<svg") {
		t.Fatalf("GET /favicon.ico = %d %q %.40q", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
}
