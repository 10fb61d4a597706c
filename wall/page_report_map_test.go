package wall_test

import (
	"context"
	"net/http"
	"regexp"
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

// seriesNode serves "ev" (its title "#Ev") at Leeds (when leeds is set) and beside it the
// events others, each with its own log and fold, as a deployment serving
// a series does.
func seriesNode(t *testing.T, leeds bool, others ...*config.Event) *staffNode {
	t.Helper()
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	clk := newClock()
	n := startNode(t, store, clk, func(_ *wall.StaffOptions, ev *wall.Event) {
		ev.Config.Place = "Leeds Town Hall"
		ev.Config.Start, ev.Config.End = clk.Now().Add(-time.Hour), clk.Now().Add(3*time.Hour)
		if leeds {
			ev.Config.Location = &config.Location{Lat: 53.8008, Lon: -1.5491}
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	var folds sync.WaitGroup
	t.Cleanup(func() { cancel(); folds.Wait() })
	for _, cfg := range others {
		log, err := store.Log(ctx, cfg.Slug)
		if err != nil {
			t.Fatal(err)
		}
		cfg.Moderation = config.Moderation{Mode: event.ModePre}
		live := fold.NewLive(log, fold.SettingsView{Title: cfg.Title, Moderation: event.ModePre})
		folds.Go(func() { _ = live.Run(ctx) })
		if err := n.srv.AddEvent(&wall.Event{Config: cfg, Log: log, Live: live}); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// The other events of the series: one ended, one coming, one with no place.
func seriesOthers() []*config.Event {
	at := newClock().Now()
	return []*config.Event{
		{Slug: "london", Title: "London Voices", Place: "Guildhall, London", Hashtags: []string{"LondonVoices"},
			Location: &config.Location{Lat: 51.5072, Lon: -0.1276}, Start: at.Add(-72 * time.Hour), End: at.Add(-64 * time.Hour)},
		{Slug: "edinburgh", Title: "Edinburgh Asks", Place: "City Chambers", Hashtags: []string{"EdinburghAsks"},
			Location: &config.Location{Lat: 55.9533, Lon: -3.1883}, Start: at.Add(48 * time.Hour), End: at.Add(52 * time.Hour)},
		{Slug: "online", Title: "Online Q&A", Hashtags: []string{"UKWeekOnline"}, Start: at.Add(24 * time.Hour)},
	}
}

// eventMapSVG is the map's SVG element in page.
var eventMapSVG = regexp.MustCompile(`(?s)<svg class="event-map[^"]*".*?</svg>\s*<ul class="map-legend".*?</ul>`)

// The report of an event in a series carries the series' map with this
// event's pin marked, in shape and words; on the page the other pins are
// links to their events, and in the saved file no pin links anywhere.
func TestReportSeriesMap(t *testing.T) {
	n := seriesNode(t, true, seriesOthers()...)

	status, b := n.do(t, "GET", "/e/ev/report", modCred, nil)
	page := string(b)
	if status != http.StatusOK {
		t.Fatalf("GET /e/ev/report = %d %s", status, page)
	}
	if !strings.Contains(page, `<h2 id="map-heading">The series on the map</h2>`) {
		t.Fatal("the report of an event in a series has no map section")
	}
	svg := eventMapSVG.FindString(page)
	if svg == "" {
		t.Fatal("no map in the series section")
	}
	for _, want := range []string{
		`<a class="pin pin-this" href="/e/ev" aria-label="#Ev, this event, live now, Leeds Town Hall`,
		`>this event</text>`,
		`<a class="pin pin-past" href="/e/london"`, `<a class="pin pin-coming" href="/e/edinburgh"`,
		`class="land land-GB" d="M`, `<li><svg viewBox="-11 -11 22 22" class="key pin-this">`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("the page's map lacks %s", want)
		}
	}
	if got := strings.Count(svg, `class="pin `); got != 3 {
		t.Errorf("%d pins; want 3 (the online event has no place)", got)
	}
	if strings.Contains(svg, `data-slug="online"`) || !strings.Contains(page, `Online Q&amp;A</td><td> <span class="muted">(not on the map)</span>`) {
		t.Error("the event with no place is on the map, or not listed as off it")
	}
	if strings.Contains(svg, "<image") {
		t.Error("the report's map loads images")
	}

	// The saved file: the same map, with nothing to follow.
	status, b = n.do(t, "GET", "/e/ev/report.html?download=1", modCred, nil)
	file := string(b)
	if status != http.StatusOK {
		t.Fatalf("GET report.html = %d", status)
	}
	svg = eventMapSVG.FindString(file)
	if svg == "" {
		t.Fatal("the saved file has no map")
	}
	if strings.Contains(svg, "<a") || strings.Contains(svg, "href") {
		t.Errorf("the saved file's map links somewhere:\n%s", svg)
	}
	for _, want := range []string{
		`<g class="pin pin-this" tabindex="0" role="img" aria-label="#Ev, this event, live now`,
		`>this event</text>`, `<g class="pin pin-past" tabindex="0" role="img" aria-label="London Voices, ended`,
	} {
		if !strings.Contains(svg, want) {
			t.Errorf("the saved file's map lacks %s", want)
		}
	}
	// The map's style is in the file's one inline style, which its CSP
	// allows by hash (TestReportPageShowsTheLogsFigures checks the hash).
	if style := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(file); style == nil ||
		!strings.Contains(style[1], ".pin-this .dot") || !strings.Contains(style[1], ".cover h1") {
		t.Error("the saved file's style lacks the map's rules or the report's")
	}
}

// One event, or a series in which this event has no place, gets no map.
func TestReportNoSeriesMap(t *testing.T) {
	for _, c := range []struct {
		name   string
		leeds  bool
		others []*config.Event
	}{
		{"one event", true, nil},
		{"this event has no place", false, seriesOthers()},
		{"no other event has a place", true, seriesOthers()[2:]},
	} {
		t.Run(c.name, func(t *testing.T) {
			n := seriesNode(t, c.leeds, c.others...)
			for _, path := range []string{"/e/ev/report", "/e/ev/report.html"} {
				status, b := n.do(t, "GET", path, modCred, nil)
				if status != http.StatusOK || !strings.Contains(string(b), `id="fig-received"`) {
					t.Fatalf("GET %s = %d", path, status)
				}
				if strings.Contains(string(b), `id="s-map"`) || strings.Contains(string(b), `class="event-map`) {
					t.Errorf("%s shows a series map", path)
				}
			}
		})
	}
}
