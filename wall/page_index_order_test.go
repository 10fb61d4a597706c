package wall_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/wall"
)

// The index lists the live event first, then the coming ones by start,
// then those with no time, then the past ones; the fixture's clock is
// 2026-03-12 08:30 UTC and its event "ev" is live (lead-in from 08:00).
func TestIndexOrder(t *testing.T) {
	f := newFixture(t)
	at := func(h int) time.Time { return time.Date(2026, 3, 12, h, 0, 0, 0, time.UTC) }
	for _, e := range []*config.Event{
		{Slug: "untimed", Title: "Untimed", Hashtags: []string{"U"}},
		{Slug: "later", Title: "Later", Hashtags: []string{"L"}, Start: at(20), End: at(22)},
		{Slug: "past", Title: "Past", Hashtags: []string{"P"}, Start: at(1), End: at(2)},
		{Slug: "soon", Title: "Soon", Hashtags: []string{"S"}, Start: at(12), End: at(13)},
	} {
		e.Moderation = config.Moderation{Mode: event.ModePre}
		if err := f.srv.AddEvent(&wall.Event{Config: e, Log: f.ev.Log, Live: f.ev.Live}); err != nil {
			t.Fatal(err)
		}
	}
	_, body := getPage(t, f, "/", nil)
	var got []string
	for _, m := range regexp.MustCompile(`<h2><a href="/e/([a-z]+)">`).FindAllStringSubmatch(body, -1) {
		got = append(got, m[1])
	}
	if want := "ev soon later untimed past"; strings.Join(got, " ") != want {
		t.Errorf("index order %q, want %q", strings.Join(got, " "), want)
	}
	if !strings.Contains(body, "Live, any time") {
		t.Error("the untimed event is not labelled Live, any time")
	}
}

// The wall page carries the event's window, in the event's own offset,
// for its status to say "Starts at 09:00" or "Ended" instead of "Live".
func TestWallPageCarriesTheEventWindow(t *testing.T) {
	f := newFixture(t)
	_, body := getPage(t, f, "/e/ev/wall", nil)
	for _, want := range []string{`data-start="2026-03-12T09:00:00Z"`, `data-end="2026-03-12T17:00:00Z"`, `data-dwell=""`} {
		if !strings.Contains(body, want) {
			t.Errorf("wall page lacks %s", want)
		}
	}
}
