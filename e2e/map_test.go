package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/wall"
)

// mapCity is one of the five events across the UK the map tests serve.
type mapCity struct {
	slug, title, place string
	lat, lon           float64
	// start and end are offsets from now; zero is open.
	start, end time.Duration
}

var mapCities = []mapCity{
	{"leeds", "Leaders for Leeds", "Leeds Town Hall", 53.8008, -1.5491, -time.Hour, 3 * time.Hour},
	{"london", "London Voices", "Guildhall, London", 51.5072, -0.1276, 48 * time.Hour, 56 * time.Hour},
	{"cardiff", "Cardiff Talks", "City Hall, Cardiff", 51.4816, -3.1791, -72 * time.Hour, -64 * time.Hour},
	{"edinburgh", "Edinburgh Asks", "City Chambers, Edinburgh", 55.9533, -3.1883, -30 * time.Minute, 5 * time.Hour},
	{"belfast", "Belfast Listens", "Belfast City Hall", 54.5973, -5.9301, 24 * time.Hour, 30 * time.Hour},
}

// startMapServer serves the five city events (each with its own log and
// fold) on a loopback port, with tiles as the map tile template ("" for
// none), and returns its base URL.
func startMapServer(t *testing.T, tiles string) string {
	t.Helper()
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var folds sync.WaitGroup
	t.Cleanup(func() { cancel(); folds.Wait(); _ = store.Close() })
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := wall.New(wall.Options{Store: store, Logger: quiet, MapTiles: tiles, MapAttribution: "Tiles: the test tile server"})
	now := time.Now()
	for _, c := range mapCities {
		log, err := store.Log(ctx, c.slug)
		if err != nil {
			t.Fatal(err)
		}
		cfg := &config.Event{Slug: c.slug, Title: c.title, Hashtags: []string{strings.ReplaceAll(c.title, " ", ""), "UKWeek"},
			Place: c.place, Location: &config.Location{Lat: c.lat, Lon: c.lon}, Start: now.Add(c.start), End: now.Add(c.end),
			Moderation: config.Moderation{Mode: event.ModePre}}
		live := fold.NewLive(log, fold.SettingsView{Title: cfg.Title, Moderation: event.ModePre})
		folds.Go(func() { _ = live.Run(ctx) })
		if err := srv.AddEvent(&wall.Event{Config: cfg, Log: log, Live: live}); err != nil {
			t.Fatal(err)
		}
	}
	return serveLoopback(t, srv)
}

// serveLoopback serves h on a free loopback port until the test ends.
func serveLoopback(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	done := make(chan struct{})
	go func() { defer close(done); _ = hs.Serve(ln) }()
	t.Cleanup(func() { _ = hs.Close(); <-done })
	return "http://" + ln.Addr().String()
}

// requestLog records every URL the tab asks for, from before the page
// starts loading.
type requestLog struct {
	mu   sync.Mutex
	urls []string
}

func listenRequests(t *testing.T, tab context.Context) *requestLog {
	t.Helper()
	rl := &requestLog{}
	err := chromedp.Listen(tab, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			rl.mu.Lock()
			rl.urls = append(rl.urls, e.Request.URL)
			rl.mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return rl
}

// elsewhere lists the requests to any origin but those allowed.
func (rl *requestLog) elsewhere(allowed ...string) (all, bad []string) {
	rl.mu.Lock()
	defer rl.mu.Unlock()
	for _, u := range rl.urls {
		ok := false
		for _, a := range allowed {
			ok = ok || strings.HasPrefix(u, a+"/")
		}
		if !ok {
			bad = append(bad, u)
		}
	}
	return append([]string(nil), rl.urls...), bad
}

// renderedPin is what the browser says of one pin.
type renderedPin struct {
	Slug  string
	CX    float64 // the pin's dot's centre on the screen, CSS px
	CY    float64
	UX    float64 // the pin's place in the SVG's user units
	UY    float64
	OnGB  bool // the GB land path is under the pin
	Label string
	Class string
}

type renderedMap struct {
	Left, Top, Width, Height float64 // the SVG's content box on the screen
	VBW, VBH                 float64
	Pins                     []renderedPin
}

const readMapJS = `(() => {
  const svg = document.querySelector(".event-map");
  const r = svg.getBoundingClientRect(), cs = getComputedStyle(svg);
  const bl = parseFloat(cs.borderLeftWidth), bt = parseFloat(cs.borderTopWidth);
  const gb = svg.querySelector(".land-GB");
  return {
    Left: r.left + bl, Top: r.top + bt, Width: r.width - bl - parseFloat(cs.borderRightWidth), Height: r.height - bt - parseFloat(cs.borderBottomWidth),
    VBW: svg.viewBox.baseVal.width, VBH: svg.viewBox.baseVal.height,
    Pins: [...svg.querySelectorAll("a.pin")].map(a => {
      const d = a.querySelector(".dot").getBoundingClientRect();
      const m = a.transform.baseVal.consolidate().matrix;
      return {Slug: a.dataset.slug, CX: d.left + d.width / 2, CY: d.top + d.height / 2, UX: m.e, UY: m.f,
        OnGB: !!gb && gb.isPointInFill(new DOMPoint(m.e, m.f)), Label: a.getAttribute("aria-label"), Class: a.getAttribute("class")};
    }),
  };
})()`

// webMercator is the projection written out again here, independent of
// package wall: x, y in world units.
func webMercator(lat, lon float64) (float64, float64) {
	phi := lat * math.Pi / 180
	return (lon + 180) / 360, (1 - math.Log(math.Tan(phi)+1/math.Cos(phi))/math.Pi) / 2
}

// The index shows the five events across the UK on a map beside the
// list, at a projector's size and a phone's: every pin where its
// coordinates say (against the server's projection and, independently,
// against Web Mercator through London and Edinburgh), on Britain's land,
// in the right order north to south and west to east, labelled for screen
// readers, reachable by Tab, its tooltip shown on focus and Enter going to
// the event's page; and nothing is fetched from any other host.
func TestIndexMap(t *testing.T) {
	base := startMapServer(t, "")
	places := make([]wall.MapPlace, len(mapCities))
	for i, c := range mapCities {
		places[i] = wall.MapPlace{Slug: c.slug, Lat: c.lat, Lon: c.lon}
	}
	proj := wall.FitMap(places)

	for _, vp := range []struct {
		name string
		w, h int64
	}{{"1920x1080", 1920, 1080}, {"390x844", 390, 844}} {
		t.Run(vp.name, func(t *testing.T) {
			tab := newTab(t, vp.w, vp.h)
			reqs := listenRequests(t, tab)
			open(t, tab, base+"/")
			WaitJS(t, tab, `document.readyState === "complete" && document.querySelectorAll(".event-map a.pin").length === 5`, 5*time.Second)

			var m renderedMap
			EvalJS(t, tab, readMapJS, &m)
			if len(m.Pins) != 5 || m.Width < 200 {
				t.Fatalf("map %+v", m)
			}
			// xMidYMid meet: the view is scaled to fit and centred.
			s := math.Min(m.Width/m.VBW, m.Height/m.VBH)
			ox, oy := m.Left+(m.Width-m.VBW*s)/2, m.Top+(m.Height-m.VBH*s)/2
			at := map[string]renderedPin{}
			for _, p := range m.Pins {
				at[p.Slug] = p
			}
			for _, c := range mapCities {
				p, ok := at[c.slug]
				if !ok {
					t.Fatalf("no pin for %s", c.slug)
				}
				ux, uy := proj.Point(c.lat, c.lon)
				wx, wy := ox+ux*s, oy+uy*s
				if d := math.Hypot(p.CX-wx, p.CY-wy); d > 1.5 {
					t.Errorf("%s: pin at (%.1f, %.1f) px, the projection puts %.4f,%.4f at (%.1f, %.1f): %.1f px off", c.slug, p.CX, p.CY, c.lat, c.lon, wx, wy, d)
				}
				if !p.OnGB {
					t.Errorf("%s: the pin at (%.1f, %.1f) is not on the United Kingdom's land", c.slug, p.UX, p.UY)
				}
				if !strings.Contains(p.Label, c.title) || !strings.Contains(p.Label, c.place) || !strings.Contains(p.Label, "#UKWeek") {
					t.Errorf("%s: label %q", c.slug, p.Label)
				}
			}
			// Independently of package wall: Web Mercator, scaled and
			// shifted through London and Edinburgh, predicts the others.
			lx, ly := webMercator(51.5072, -0.1276)
			ex, ey := webMercator(55.9533, -3.1883)
			k := math.Hypot(at["london"].CX-at["edinburgh"].CX, at["london"].CY-at["edinburgh"].CY) / math.Hypot(lx-ex, ly-ey)
			for _, c := range mapCities {
				x, y := webMercator(c.lat, c.lon)
				px, py := at["london"].CX+(x-lx)*k, at["london"].CY+(y-ly)*k
				if d := math.Hypot(at[c.slug].CX-px, at[c.slug].CY-py); d > 2 {
					t.Errorf("%s: pin %.1f px from where Web Mercator through London and Edinburgh puts it", c.slug, d)
				}
			}
			north := func(a, b string) {
				if at[a].CY >= at[b].CY {
					t.Errorf("%s (y %.0f) is not north of %s (y %.0f)", a, at[a].CY, b, at[b].CY)
				}
			}
			west := func(a, b string) {
				if at[a].CX >= at[b].CX {
					t.Errorf("%s (x %.0f) is not west of %s (x %.0f)", a, at[a].CX, b, at[b].CX)
				}
			}
			north("edinburgh", "leeds")
			north("leeds", "london")
			west("cardiff", "london")
			west("belfast", "edinburgh")
			// Live pins are marked by shape as well as colour: a ring.
			for _, c := range mapCities {
				live := c.start < 0 && c.end > 0
				if got := strings.Contains(at[c.slug].Class, "pin-live"); got != live {
					t.Errorf("%s: class %q, live %v", c.slug, at[c.slug].Class, live)
				}
				var rings int
				EvalJS(t, tab, fmt.Sprintf(`document.querySelectorAll('.event-map a.pin[data-slug=%q] .ring').length`, c.slug), &rings)
				if (rings == 1) != live {
					t.Errorf("%s: %d rings, live %v", c.slug, rings, live)
				}
				if live && !strings.Contains(at[c.slug].Label, "live now") {
					t.Errorf("%s: label %q does not say it is live", c.slug, at[c.slug].Label)
				}
			}

			// Screen readers find each pin as a link named for its event.
			ax, err := chromedp.Call(tab, accessibility.GetFullAXTree, accessibility.GetFullAXTreeParams{})
			if err != nil {
				t.Fatal(err)
			}
			named := map[string]bool{}
			for _, n := range ax.Nodes {
				if n.Ignored || n.Role == nil || n.Name == nil {
					continue
				}
				var role, name string
				_ = json.Unmarshal([]byte(n.Role.Value), &role)
				_ = json.Unmarshal([]byte(n.Name.Value), &name)
				if role == "link" {
					named[name] = true
				}
			}
			for _, p := range m.Pins {
				if !named[p.Label] {
					t.Errorf("no link named %q in the accessibility tree", p.Label)
				}
			}

			// The list first, then the map: Tab from the list's last link
			// reaches the northernmost pin, whose tooltip shows.
			EvalJS(t, tab, `(() => { const a = [...document.querySelectorAll(".events a")]; a[a.length - 1].focus(); return true })()`, new(bool))
			if err := chromedp.Do(tab, chromedp.KeyEvent("\t")); err != nil {
				t.Fatal(err)
			}
			WaitJS(t, tab, `document.activeElement && document.activeElement.matches(".event-map a.pin[data-slug=edinburgh]")`, 2*time.Second)
			var tip struct {
				Visibility                string
				Left, Top, Right, Bottom  float64
				SVGLeft, SVGTop, SVGRight float64
				TextW, RectW              float64
				Text                      string
				HiddenOthers              bool
			}
			EvalJS(t, tab, `(() => { const a = document.activeElement, tip = a.querySelector(".tip"), r = tip.getBoundingClientRect(), s = document.querySelector(".event-map").getBoundingClientRect();
			  return {Visibility: getComputedStyle(tip).visibility, Left: r.left, Top: r.top, Right: r.right, Bottom: r.bottom, SVGLeft: s.left, SVGTop: s.top, SVGRight: s.right,
			    TextW: tip.querySelector("text").getBBox().width, RectW: tip.querySelector("rect").width.baseVal.value, Text: tip.textContent,
			    HiddenOthers: [...document.querySelectorAll(".event-map a.pin:not(:focus) .tip")].every(t => getComputedStyle(t).visibility === "hidden")} })()`, &tip)
			if tip.Visibility != "visible" || !tip.HiddenOthers {
				t.Errorf("focused pin's tooltip %q, the others hidden: %v", tip.Visibility, tip.HiddenOthers)
			}
			if tip.Left < tip.SVGLeft-0.5 || tip.Right > tip.SVGRight+0.5 || tip.Top < tip.SVGTop-0.5 || tip.Bottom > at["edinburgh"].CY {
				t.Errorf("tooltip (%.0f,%.0f)-(%.0f,%.0f) is not inside the map above its pin (map from x %.0f to %.0f, top %.0f)", tip.Left, tip.Top, tip.Right, tip.Bottom, tip.SVGLeft, tip.SVGRight, tip.SVGTop)
			}
			if tip.RectW < tip.TextW || tip.RectW > tip.TextW+20 {
				t.Errorf("tooltip box %.0f wide for text %.0f wide", tip.RectW, tip.TextW)
			}
			if !strings.Contains(tip.Text, "Edinburgh Asks") || !strings.Contains(tip.Text, "#EdinburghAsks #UKWeek") {
				t.Errorf("tooltip text %q", tip.Text)
			}
			if vp.w >= 1280 {
				Screenshot(t, tab, "index-map-"+vp.name)
			} else {
				fullScreenshot(t, tab, "index-map-"+vp.name+"-full")
			}
			all, bad := reqs.elsewhere(base)
			if len(all) == 0 {
				t.Fatal("no request seen: the listener is not working")
			}
			if len(bad) > 0 {
				t.Errorf("requests to other hosts while the index loaded: %v", bad)
			}
			// Enter on the focused pin opens the event's participant page.
			if err := chromedp.Do(tab, chromedp.KeyEvent("\r")); err != nil {
				t.Fatal(err)
			}
			WaitJS(t, tab, `location.pathname === "/e/edinburgh"`, 3*time.Second)
		})
	}
}

// fullScreenshot saves the whole page, beyond the viewport, as
// artifacts/screenshots/name.png.
func fullScreenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	buf, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(ArtifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ArtifactsDir, name+".png"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
}

// With a tile server configured, the index draws the map on its tiles and
// its CSP lets the page load them; the browser asks that server and this
// one, and no other.
func TestIndexMapTiles(t *testing.T) {
	var tileHits atomic.Int64
	tileMux := http.NewServeMux()
	tileMux.HandleFunc("GET /tiles/{z}/{x}/{y}", func(w http.ResponseWriter, r *http.Request) {
		tileHits.Add(1)
		serveTile(w, r)
	})
	tileBase := serveLoopback(t, tileMux)
	// Another port is another origin: without the widened img-src the
	// strict CSP would stop every tile.
	base := startMapServer(t, tileBase+"/tiles/{z}/{x}/{y}")
	tab := newTab(t, 1280, 800)
	reqs := listenRequests(t, tab)
	open(t, tab, base+"/")
	WaitJS(t, tab, `document.readyState === "complete" && document.querySelectorAll(".event-map image").length > 0`, 5*time.Second)
	var tiles int
	EvalJS(t, tab, `document.querySelectorAll(".event-map image").length`, &tiles)
	deadline := time.Now().Add(5 * time.Second)
	for tileHits.Load() < int64(tiles) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond) // polling a counter the browser's requests raise
	}
	if got := tileHits.Load(); got < int64(tiles) {
		t.Errorf("the tile server had %d requests for %d tiles: the CSP stopped them?", got, tiles)
	}
	var land int
	EvalJS(t, tab, `document.querySelectorAll(".event-map .land").length`, &land)
	if land != 0 {
		t.Errorf("%d coastline paths drawn over the tiles", land)
	}
	_, bad := reqs.elsewhere(base, tileBase)
	if len(bad) > 0 {
		t.Errorf("requests to other hosts: %v", bad)
	}
	Screenshot(t, tab, "index-map-tiles-1280x800")
}

// serveTile draws a 256-pixel tile in a colour of its own with a dark
// edge, so a screenshot shows the tiles' grid.
func serveTile(w http.ResponseWriter, r *http.Request) {
	var sum uint32
	for _, c := range r.PathValue("z") + "/" + r.PathValue("x") + "/" + r.PathValue("y") {
		sum = sum*31 + uint32(c)
	}
	img := image.NewRGBA(image.Rect(0, 0, 256, 256))
	fill := color.RGBA{R: uint8(40 + sum%60), G: uint8(60 + (sum/7)%60), B: uint8(80 + (sum/49)%60), A: 255}
	edge := color.RGBA{R: 10, G: 12, B: 16, A: 255}
	for y := 0; y < 256; y++ {
		for x := 0; x < 256; x++ {
			c := fill
			if x < 2 || y < 2 {
				c = edge
			}
			img.Set(x, y, c)
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(b.Bytes())
}
