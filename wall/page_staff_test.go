package wall_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/backchannel/backchannel/wall"
)

// The staff pages are served for a known event with the strict CSP and no
// inline script or style (which the CSP would block anyway: a page that
// relied on one would be broken, not unsafe), and every script and style
// they name is served.
func TestStaffPagesServedUnderCSP(t *testing.T) {
	f := newFixture(t)
	var (
		inlineScript = regexp.MustCompile(`(?is)<script\b[^>]*>\s*[^<\s]`)
		scriptTag    = regexp.MustCompile(`(?is)<script\b([^>]*)>`)
		styleTag     = regexp.MustCompile(`(?is)<style\b`)
		styleAttr    = regexp.MustCompile(`(?is)<[a-z][^>]*\sstyle\s*=`)
		handlerAttr  = regexp.MustCompile(`(?is)<[a-z][^>]*\son[a-z]+\s*=`)
		jsURL        = regexp.MustCompile(`(?i)javascript:`)
		assetRef     = regexp.MustCompile(`(?:href|src)="(/static/[^"]+)"`)
		importRef    = regexp.MustCompile(`from "(/static/[^"]+)"`)
	)
	for _, page := range wall.StaffPages {
		t.Run(page, func(t *testing.T) {
			res := f.get(t, "/e/ev/"+page, http.StatusOK, nil)
			if got := res.Header.Get("Content-Security-Policy"); got != wall.CSP {
				t.Errorf("CSP = %q, want %q", got, wall.CSP)
			}
			if got := res.Header.Get("Content-Type"); !strings.HasPrefix(got, "text/html") {
				t.Errorf("Content-Type = %q", got)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", got)
			}
			body := fetchStaffPage(t, f.http.URL+"/e/ev/"+page)
			for name, re := range map[string]*regexp.Regexp{
				"inline script": inlineScript, "<style>": styleTag, "style attribute": styleAttr,
				"event handler attribute": handlerAttr, "javascript: URL": jsURL,
			} {
				if m := re.FindString(body); m != "" {
					t.Errorf("%s in %s.html: %q", name, page, m)
				}
			}
			for _, m := range scriptTag.FindAllStringSubmatch(body, -1) {
				if !strings.Contains(m[1], `type="module"`) || !strings.Contains(m[1], `src="/static/`) {
					t.Errorf("script tag %q is not a module from /static/", m[0])
				}
			}
			// Every asset the page names, and every module its script imports, is served from here.
			refs := assetRef.FindAllStringSubmatch(body, -1)
			if len(refs) < 3 {
				t.Fatalf("%s.html names %d assets, want its script, common.css and its styles", page, len(refs))
			}
			seen := map[string]bool{}
			var check func(path string)
			check = func(path string) {
				if seen[path] {
					return
				}
				seen[path] = true
				res, err := http.Get(f.http.URL + path)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != http.StatusOK || len(b) == 0 {
					t.Errorf("GET %s = %d (%d bytes)", path, res.StatusCode, len(b))
					return
				}
				ct := res.Header.Get("Content-Type")
				if strings.HasSuffix(path, ".js") {
					if !strings.Contains(ct, "javascript") {
						t.Errorf("GET %s: Content-Type %q", path, ct)
					}
					for _, m := range importRef.FindAllStringSubmatch(string(b), -1) {
						check(m[1])
					}
				}
				if strings.HasSuffix(path, ".css") && !strings.HasPrefix(ct, "text/css") {
					t.Errorf("GET %s: Content-Type %q", path, ct)
				}
			}
			for _, m := range refs {
				check(m[1])
			}
			for _, want := range []string{"/static/common.css", "/static/staff.js", "/static/staff.css"} {
				if !seen[want] {
					t.Errorf("%s.html does not load %s", page, want)
				}
			}
		})
	}
}

func TestStaffPageUnknownEventIs404(t *testing.T) {
	f := newFixture(t)
	for _, page := range wall.StaffPages {
		f.get(t, "/e/nope/"+page, http.StatusNotFound, nil)
	}
}

// A script is revalidated by its ETag: a reload costs a 304, and a new
// binary's script is never mixed with an old page.
func TestStaffAssetETag(t *testing.T) {
	f := newFixture(t)
	res := f.get(t, "/static/moderate.js", http.StatusOK, nil)
	etag := res.Header.Get("ETag")
	if etag == "" || res.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, res.Header.Get("Cache-Control"))
	}
	req, _ := http.NewRequest(http.MethodGet, f.http.URL+"/static/moderate.js", nil)
	req.Header.Set("If-None-Match", etag)
	res2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res2.Body.Close()
	if res2.StatusCode != http.StatusNotModified {
		t.Errorf("with If-None-Match: %d, want 304", res2.StatusCode)
	}
}

func fetchStaffPage(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
