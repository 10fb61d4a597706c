package e2e

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/report/reporttest"
	"github.com/backchannel/backchannel/wall"
)

// startSeriesNode serves the five city events of the map tests with the
// staff pages (a moderator token for Leeds), the recorded hour of
// reporttest in Leeds's log. It returns the base URL and a stop function
// (also a cleanup) that closes the server and its store.
func startSeriesNode(t *testing.T) (string, func()) {
	t.Helper()
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var folds sync.WaitGroup
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := wall.New(wall.Options{Store: store, Logger: quiet})
	now := time.Now()
	var leeds *wall.Event
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
		ev := &wall.Event{Config: cfg, Log: log, Live: live}
		if err := srv.AddEvent(ev); err != nil {
			t.Fatal(err)
		}
		if c.slug == "leeds" {
			leeds = ev
		}
	}
	a, err := auth.New(auth.Options{
		Key:    []byte("e2e-test-key-0123456789abcdef0123"),
		Events: map[string]auth.EventCredentials{"leeds": {Moderator: auth.RoleCredentials{Tokens: []string{ModToken}}}},
		Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.MountStaff(wall.StaffOptions{Auth: a}); err != nil {
		t.Fatal(err)
	}
	entries, _ := reporttest.Hour(1)
	var last uint64
	for _, e := range entries {
		e.Pos = 0
		last = Append(t, leeds.Log, e)
	}
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	if err := leeds.Live.WaitFor(wctx, last); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = hs.Serve(ln) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = hs.Close()
			<-served
			cancel()
			folds.Wait()
			_ = store.Close()
		})
	}
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

// seriesMapJS reads the report's map: its size, each pin's dot centre on
// the screen, what the pin is (a link or a shape) and the words beside
// this event's pin.
const seriesMapJS = `(() => {
  const svg = document.querySelector("#s-map .event-map");
  const r = svg.getBoundingClientRect(), cs = getComputedStyle(svg);
  const bl = parseFloat(cs.borderLeftWidth), bt = parseFloat(cs.borderTopWidth);
  const label = svg.querySelector(".pin-this .this-label");
  const sec = document.getElementById("s-map").getBoundingClientRect();
  return {
    Left: r.left + bl, Top: r.top + bt, Width: r.width - bl - parseFloat(cs.borderRightWidth), Height: r.height - bt - parseFloat(cs.borderBottomWidth),
    VBW: svg.viewBox.baseVal.width, VBH: svg.viewBox.baseVal.height,
    Sea: getComputedStyle(svg.querySelector(".sea")).fill,
    Links: svg.querySelectorAll("a, [href]").length,
    ThisLabel: label ? label.textContent : "", ThisLabelW: label ? label.getBBox().width : 0,
    ThisLabelVisible: label ? getComputedStyle(label).visibility : "",
    SectionH: sec.height, BreakInside: getComputedStyle(document.getElementById("s-map")).breakInside,
    Pins: [...svg.querySelectorAll(".pin")].map(p => {
      const d = p.querySelector(".dot").getBoundingClientRect();
      return {Slug: p.dataset.slug, CX: d.left + d.width / 2, CY: d.top + d.height / 2, Tag: p.tagName,
        Href: p.getAttribute("href") || "", Class: p.getAttribute("class"), Label: p.getAttribute("aria-label")};
    }),
  };
})()`

type seriesMapShown struct {
	Left, Top, Width, Height float64
	VBW, VBH                 float64
	Sea                      string
	Links                    int
	ThisLabel                string
	ThisLabelW               float64
	ThisLabelVisible         string
	SectionH                 float64
	BreakInside              string
	Pins                     []struct {
		Slug, Tag, Href, Class, Label string
		CX, CY                        float64
	}
}

// check asserts the map shows the five cities where the projection puts
// them, Leeds marked as this event in words, on the report's paper colours;
// links says whether the pins should be links.
func (m seriesMapShown) check(t *testing.T, where string, links bool) {
	t.Helper()
	if len(m.Pins) != len(mapCities) || m.Width < 250 {
		t.Fatalf("%s: map %+v", where, m)
	}
	places := make([]wall.MapPlace, len(mapCities))
	for i, c := range mapCities {
		places[i] = wall.MapPlace{Slug: c.slug, Lat: c.lat, Lon: c.lon}
	}
	proj := wall.FitMap(places)
	s := math.Min(m.Width/m.VBW, m.Height/m.VBH)
	ox, oy := m.Left+(m.Width-m.VBW*s)/2, m.Top+(m.Height-m.VBH*s)/2
	at := map[string]int{}
	for i, p := range m.Pins {
		at[p.Slug] = i
	}
	for _, c := range mapCities {
		i, ok := at[c.slug]
		if !ok {
			t.Errorf("%s: no pin for %s", where, c.slug)
			continue
		}
		p := m.Pins[i]
		ux, uy := proj.Point(c.lat, c.lon)
		if d := math.Hypot(p.CX-(ox+ux*s), p.CY-(oy+uy*s)); d > 1.5 {
			t.Errorf("%s: %s's pin is %.1f px from its coordinates", where, c.slug, d)
		}
		this := c.slug == "leeds"
		if strings.Contains(p.Class, "pin-this") != this || strings.Contains(p.Label, "this event") != this {
			t.Errorf("%s: %s: class %q label %q", where, c.slug, p.Class, p.Label)
		}
		if links && (p.Tag != "a" || p.Href != "/e/"+c.slug) {
			t.Errorf("%s: %s's pin is a <%s> to %q; want a link to its page", where, c.slug, p.Tag, p.Href)
		}
		if !links && p.Tag != "g" {
			t.Errorf("%s: %s's pin is a <%s>; want a shape", where, c.slug, p.Tag)
		}
	}
	if m.ThisLabel != "this event" || m.ThisLabelW < 20 || m.ThisLabelVisible != "visible" {
		t.Errorf("%s: this event's label %q, %.0f wide, %s", where, m.ThisLabel, m.ThisLabelW, m.ThisLabelVisible)
	}
	if !links && m.Links != 0 {
		t.Errorf("%s: %d links in the map", where, m.Links)
	}
	// The map's style (map.css, inlined with report.css) applied: the
	// report's light sea, not the index's dark one.
	if m.Sea != "rgb(221, 232, 241)" {
		t.Errorf("%s: the sea is %s: the map's style did not apply", where, m.Sea)
	}
}

// The report of an event in a series of five across the UK shows the
// series' map at 1920x1080, on A4 on one page, and in the saved file
// opened with the server stopped, which loads nothing.
func TestReportSeriesMap(t *testing.T) {
	needBrowser(t)
	base, stop := startSeriesNode(t)
	tab := newTab(t, 1920, 1080)
	rec := &requests{}
	rec.listen(t, tab)
	bearer := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Authorization": "Bearer " + ModToken}})
		return err
	})
	if err := chromedp.Do(tab, bearer, chromedp.Navigate(base+"/e/leeds/report")); err != nil {
		t.Fatal(err)
	}
	WaitJS(t, tab, `document.body.dataset.ready === "1" && document.querySelectorAll("#s-map .event-map .pin").length === 5`, 10*time.Second)
	var m seriesMapShown
	EvalJS(t, tab, seriesMapJS, &m)
	m.check(t, "the page", true)
	EvalJS(t, tab, `(() => { document.getElementById("s-map").scrollIntoView(); return true })()`, new(bool))
	Screenshot(t, tab, "report-series-1920x1080")
	urls, failed := rec.snapshot()
	if len(failed) > 0 {
		t.Errorf("loads failed on the live page: %v", failed)
	}
	for _, u := range urls {
		if !strings.HasPrefix(u, base+"/") {
			t.Errorf("the page asked another host: %s", u)
		}
	}

	// On A4: the section is kept whole, and fits a page (269 mm of it, at
	// 96 CSS px to the inch, is 1016 px).
	var pdf []byte
	if err := chromedp.Do(tab, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		yes := true
		res, err := cdp.Call(ctx, tg, page.PrintToPDF, page.PrintToPDFParams{PreferCSSPageSize: &yes, PrintBackground: &yes})
		pdf = res.Data
		return err
	})); err != nil {
		t.Fatal(err)
	}
	writeArtifact(t, "report-series-a4.pdf", pdf)
	if pages := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pdf, -1)); pages < 2 || pages > 7 {
		t.Errorf("the report with its map prints on %d A4 pages; want 2 to 7", pages)
	}
	printMedia := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
		return err
	})
	if err := chromedp.Do(tab, chromedp.EmulateViewport(703, 1000), printMedia); err != nil {
		t.Fatal(err)
	}
	WaitJS(t, tab, `getComputedStyle(document.querySelector(".report-bar")).display === "none"`, 5*time.Second)
	var p seriesMapShown
	EvalJS(t, tab, seriesMapJS, &p)
	p.check(t, "in print", true)
	if p.BreakInside != "avoid" || p.SectionH > 1016 {
		t.Errorf("in print the section is %.0f px tall, break-inside %q: it may be split over a page", p.SectionH, p.BreakInside)
	}
	if p.Width > 400 {
		t.Errorf("in print the map is %.0f px wide; want it beside its list", p.Width)
	}
	printed, err := chromedp.Run(tab, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	writeArtifact(t, "report-series-print.jpeg", printed)
	section, err := chromedp.Run(tab, chromedp.Screenshot(chromedp.ID("s-map")))
	if err != nil {
		t.Fatal(err)
	}
	writeArtifact(t, "report-series-print-section.png", section)

	// The saved file, with the server stopped: the map, and no request.
	file, err := chromedp.Run(tab, chromedp.Evaluate[string](`fetch("report.html?download=1").then((r) => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(file, `id="s-map"`) {
		t.Fatalf("the download has no series map: %.200s", file)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	stop()
	offline := newTab(t, 1920, 1080)
	orec := &requests{}
	orec.listen(t, offline)
	if err := chromedp.Do(offline, chromedp.Navigate("file://"+path)); err != nil {
		t.Fatal(err)
	}
	WaitJS(t, offline, `document.readyState === "complete" && document.querySelectorAll("#s-map .event-map .pin").length === 5`, 10*time.Second)
	var f seriesMapShown
	EvalJS(t, offline, seriesMapJS, &f)
	f.check(t, "the saved file", false)
	EvalJS(t, offline, `(() => { document.getElementById("s-map").scrollIntoView(); return true })()`, new(bool))
	Screenshot(t, offline, "report-series-file-offline")
	urls, failed = orec.snapshot()
	if len(failed) > 0 {
		t.Errorf("the saved file failed to load: %v", failed)
	}
	for _, u := range urls {
		if u != "file://"+path {
			t.Errorf("the saved file asked for %s", u)
		}
	}
}
