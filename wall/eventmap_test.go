package wall_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/wall"
)

var ukPlaces = []wall.MapPlace{
	{Slug: "leeds", Title: "Leaders for Leeds", Lat: 53.8008, Lon: -1.5491, Live: true},
	{Slug: "london", Title: "London Voices", Lat: 51.5072, Lon: -0.1276},
	{Slug: "cardiff", Title: "Cardiff Talks", Lat: 51.4816, Lon: -3.1791, Past: true},
	{Slug: "edinburgh", Title: "Edinburgh Asks", Lat: 55.9533, Lon: -3.1883},
	{Slug: "belfast", Title: "Belfast Listens", Lat: 54.5973, Lon: -5.9301},
}

// The fitted view holds every place away from its edges, keeps north up
// and west left, stays within its aspect bounds, and shows a region, not
// a street, around a single place.
func TestFitMap(t *testing.T) {
	p := wall.FitMap(ukPlaces)
	if p.W != wall.MapWidth || p.H < wall.MinAspect*p.W || p.H > wall.MaxAspect*p.W {
		t.Fatalf("view %gx%g", p.W, p.H)
	}
	at := map[string][2]float64{}
	for _, pl := range ukPlaces {
		x, y := p.Point(pl.Lat, pl.Lon)
		if x < 20 || x > p.W-20 || y < 60 || y > p.H-20 {
			t.Errorf("%s at (%.1f, %.1f) is at the edge of %gx%g (the top keeps room for a tooltip)", pl.Slug, x, y, p.W, p.H)
		}
		at[pl.Slug] = [2]float64{x, y}
	}
	if !(at["edinburgh"][1] < at["leeds"][1] && at["leeds"][1] < at["london"][1]) {
		t.Errorf("north is not up: %v", at)
	}
	if !(at["cardiff"][0] < at["london"][0] && at["belfast"][0] < at["edinburgh"][0]) {
		t.Errorf("west is not left: %v", at)
	}
	// The same scale both ways (a conformal projection): London to
	// Cardiff is nearly due west, so its length in units over the
	// longitude difference is K/360 per degree, like any east-west line.
	dx := at["london"][0] - at["cardiff"][0]
	if want := p.K * (-0.1276 + 3.1791) / 360; math.Abs(dx-want) > 0.01 {
		t.Errorf("London-Cardiff %.2f units, want %.2f", dx, want)
	}

	one := wall.FitMap(ukPlaces[:1])
	_, top := one.Point(53.8008+1.25, -1.5491)
	_, bottom := one.Point(53.8008-1.25, -1.5491)
	if bottom-top > one.H {
		t.Errorf("one place: 2.5 degrees of latitude (%.0f units) do not fit in %.0f", bottom-top, one.H)
	}
	if x, y := one.Point(53.8008, -1.5491); math.Abs(x-one.W/2) > 0.5 || y < 0 || y > one.H {
		t.Errorf("one place at (%.1f, %.1f) of %gx%g", x, y, one.W, one.H)
	}
}

// mapServer serves an event per place (nil location for the unplaced),
// with tiles as the tile template.
func mapServer(t *testing.T, tiles string, locations map[string]*config.Location) *httptest.Server {
	t.Helper()
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var folds sync.WaitGroup
	t.Cleanup(func() { cancel(); folds.Wait(); _ = store.Close() })
	srv := wall.New(wall.Options{Store: store, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		MapTiles: tiles, MapAttribution: "© Test Tiles"})
	now := time.Now()
	for _, pl := range ukPlaces {
		loc, ok := locations[pl.Slug]
		if !ok {
			loc = &config.Location{Lat: pl.Lat, Lon: pl.Lon}
		}
		log, err := store.Log(ctx, pl.Slug)
		if err != nil {
			t.Fatal(err)
		}
		cfg := &config.Event{Slug: pl.Slug, Title: pl.Title, Hashtags: []string{"UKWeek"}, Location: loc,
			Moderation: config.Moderation{Mode: event.ModePre}}
		switch {
		case pl.Past:
			cfg.Start, cfg.End = now.Add(-48*time.Hour), now.Add(-40*time.Hour)
		case !pl.Live:
			cfg.Start, cfg.End = now.Add(24*time.Hour), now.Add(30*time.Hour)
		}
		live := fold.NewLive(log, fold.SettingsView{Title: cfg.Title, Moderation: event.ModePre})
		folds.Go(func() { _ = live.Run(ctx) })
		if err := srv.AddEvent(&wall.Event{Config: cfg, Log: log, Live: live}); err != nil {
			t.Fatal(err)
		}
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return hs
}

func fetch(t *testing.T, url string) (http.Header, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("GET %s: %s", url, res.Status)
	}
	return res.Header, string(b)
}

// The index draws a pin per located event, north first, each a labelled
// link to its event; the coastlines under them; live pins with a ring;
// no inline style; and says how many events are not on the map.
func TestIndexMapMarkup(t *testing.T) {
	hs := mapServer(t, "", map[string]*config.Location{"cardiff": nil})
	_, body := fetch(t, hs.URL+"/")
	pinRe := regexp.MustCompile(`<a class="pin ([a-z-]+)" href="([^"]+)" aria-label="([^"]+)" transform="translate\(([-\d.]+) ([-\d.]+)\)"`)
	pins := pinRe.FindAllStringSubmatch(body, -1)
	if len(pins) != 4 {
		t.Fatalf("%d pins, want 4 (Cardiff has no location):\n%s", len(pins), body)
	}
	var order []string
	lastY := math.Inf(-1)
	for _, p := range pins {
		order = append(order, p[2])
		y, _ := strconv.ParseFloat(p[5], 64)
		if y < lastY {
			t.Errorf("pins not north first: %v", order)
		}
		lastY = y
	}
	if got := strings.Join(order, " "); got != "/e/edinburgh /e/belfast /e/leeds /e/london" {
		t.Errorf("pin order %s", got)
	}
	for _, p := range pins {
		switch p[2] {
		case "/e/leeds":
			if p[1] != "pin-live" || !strings.HasPrefix(p[3], "Leaders for Leeds, live now, ") || !strings.HasSuffix(p[3], "#UKWeek") {
				t.Errorf("Leeds pin %q %q", p[1], p[3])
			}
		case "/e/london":
			if p[1] != "pin-coming" || !strings.Contains(p[3], "coming up") {
				t.Errorf("London pin %q %q", p[1], p[3])
			}
		}
	}
	for _, want := range []string{`class="land land-GB" d="M`, `class="land land-IE"`, `<circle class="ring"`, `1 event has no place on the map`,
		"Coastlines: Natural Earth", `<title>Leaders for Leeds, live now`} {
		if !strings.Contains(body, want) {
			t.Errorf("index lacks %s", want)
		}
	}
	if strings.Contains(body, "<image") || strings.Contains(body, " style=") {
		t.Error("tiles or an inline style in the map")
	}
	if n := len(body); n > 60000 {
		t.Errorf("the index is %d bytes with its map", n)
	}
}

// Without a tile server the index keeps the strict CSP; with one its
// origin, and only its origin, is added to img-src, on the index only.
func TestIndexMapCSP(t *testing.T) {
	plain := mapServer(t, "", nil)
	h, _ := fetch(t, plain.URL+"/")
	if got := h.Get("Content-Security-Policy"); got != wall.CSP {
		t.Errorf("no tiles: CSP %q, want %q", got, wall.CSP)
	}

	tiled := mapServer(t, "http://tiles.test:8080/osm/{z}/{x}/{y}.png", nil)
	h, body := fetch(t, tiled.URL+"/")
	want := strings.Replace(wall.CSP, "img-src 'self' ", "img-src 'self' http://tiles.test:8080 ", 1)
	if got := h.Get("Content-Security-Policy"); got != want || got == wall.CSP {
		t.Errorf("tiles: CSP\n %q\nwant\n %q", got, want)
	}
	if !strings.Contains(body, `<image href="http://tiles.test:8080/osm/`) || strings.Contains(body, `class="land`) || !strings.Contains(body, "© Test Tiles") {
		t.Error("the tiled map lacks its tiles or its credit, or draws the coastlines over them")
	}
	h, _ = fetch(t, tiled.URL+"/e/leeds")
	if got := h.Get("Content-Security-Policy"); got != wall.CSP {
		t.Errorf("participant page with tiles configured: CSP %q", got)
	}

	// Tiles configured but no event on the map: nothing to load, no widening.
	none := map[string]*config.Location{}
	for _, pl := range ukPlaces {
		none[pl.Slug] = nil
	}
	empty := mapServer(t, "http://tiles.test:8080/osm/{z}/{x}/{y}.png", none)
	h, body = fetch(t, empty.URL+"/")
	if got := h.Get("Content-Security-Policy"); got != wall.CSP || strings.Contains(body, "<svg") {
		t.Errorf("no located events: CSP %q, map drawn %v", got, strings.Contains(body, "<svg"))
	}
}

// Each tile is where the slippy-map scheme puts it: the tile drawn under
// a place is the one whose numbers contain it.
func TestMapTilesPlacement(t *testing.T) {
	m := wall.NewEventMap(ukPlaces, 0, "https://t.example/{z}/{x}/{y}.png", "")
	if len(m.Tiles) == 0 || len(m.Tiles) > 64 {
		t.Fatalf("%d tiles", len(m.Tiles))
	}
	hrefRe := regexp.MustCompile(`/(\d+)/(\d+)/(\d+)\.png$`)
	for _, pl := range ukPlaces {
		px, py := m.Proj.Point(pl.Lat, pl.Lon)
		found := false
		for _, tl := range m.Tiles {
			x, _ := strconv.ParseFloat(tl.X, 64)
			y, _ := strconv.ParseFloat(tl.Y, 64)
			size, _ := strconv.ParseFloat(tl.Size, 64)
			if px < x || px >= x+size-0.5 || py < y || py >= y+size-0.5 {
				continue
			}
			found = true
			g := hrefRe.FindStringSubmatch(tl.Href)
			z, _ := strconv.Atoi(g[1])
			n := math.Exp2(float64(z))
			// The standard formulas (OpenStreetMap wiki, "Slippy map tilenames").
			wantX := int(math.Floor((pl.Lon + 180) / 360 * n))
			latR := pl.Lat * math.Pi / 180
			wantY := int(math.Floor((1 - math.Asinh(math.Tan(latR))/math.Pi) / 2 * n))
			if g[2] != strconv.Itoa(wantX) || g[3] != strconv.Itoa(wantY) {
				t.Errorf("%s: under tile %s, want %d/%d/%d", pl.Slug, tl.Href, z, wantX, wantY)
			}
		}
		if !found {
			t.Errorf("%s: no tile under (%.1f, %.1f)", pl.Slug, px, py)
		}
	}
}

// MapCSP widens nothing without tiles.
func TestMapCSP(t *testing.T) {
	if wall.MapCSP("") != wall.CSP {
		t.Error("MapCSP(\"\") changed the CSP")
	}
	got := wall.MapCSP("https://a.tile.example.org/{z}/{x}/{y}.png")
	if !strings.Contains(got, "img-src 'self' https://a.tile.example.org https: data:") || strings.Count(got, "tile.example") != 1 {
		t.Errorf("MapCSP = %q", got)
	}
}
