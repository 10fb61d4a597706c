package wall

import (
	"cmp"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/backchannel/backchannel/wall/mapdata"
)

// The map of the events, on the index page and on an event's report when
// the deployment serves a series: the server draws it as inline SVG
// (static/eventmap.html, styled by static/map.css), a pin per event that
// has a location, on the coastlines shipped in the binary
// (package mapdata) or, when the operator configured a tile server, on its
// tiles. It is Web Mercator (the projection of every tile server), fitted
// to the pins' bounding box with room for a pin's tooltip above it.

// Map geometry, in the SVG's user units: the view is MapWidth wide and as
// tall as the pins need, between MinAspect and MaxAspect times as tall.
const (
	MapWidth  = 400.0
	MinAspect = 0.75
	MaxAspect = 1.5
	// mapMinSpan is the smallest extent shown, in degrees of latitude at
	// the pins' middle: one event, or a town's worth, still shows the coast.
	mapMinSpan = 2.5
	// mapMargin widens the pins' box on every side by this share of its
	// larger side.
	mapMargin  = 0.12
	mapPadSide = 22.0
	mapPadFoot = 22.0
	// The tooltip's size: three lines of text.
	tipFont  = 13.0
	tipLine  = 17.0
	tipPad   = 7.0
	tipH     = 3*tipLine + 2*tipPad - 4
	tipGap   = 14.0 // from the pin's centre to the tooltip's bottom
	mapPadTo = tipH + tipGap + 8
	// maxLat is Web Mercator's limit.
	maxLat = 85.05112878
)

// MapPlace is one event placed on the map.
type MapPlace struct {
	Slug, Title, Place string
	Hashtags           []string
	Live, Past         bool
	// This marks the event the page is about (the report's own): its pin
	// is a diamond named "this event" on the map.
	This bool
	// When is the time in words, as the list has it; Start and End are
	// RFC 3339 ("" when open) for the page's script to show in the
	// reader's zone.
	When, Start, End string
	Lat, Lon         float64
}

// MapProjection turns degrees into the map's user units: Web Mercator in
// world units (0 to 1 across the world) scaled by K and shifted so that
// (X0, Y0) is the view's top-left corner.
type MapProjection struct {
	X0, Y0, K float64
	// W and H are the view's size.
	W, H float64
}

// Point is where (lat, lon) is drawn.
func (p MapProjection) Point(lat, lon float64) (x, y float64) {
	mx, my := mercator(lat, lon)
	return (mx - p.X0) * p.K, (my - p.Y0) * p.K
}

// mercator is Web Mercator in world units: x from 0 (180°W) to 1, y from
// 0 (85°N) to 1 (85°S).
func mercator(lat, lon float64) (x, y float64) {
	lat = max(-maxLat, min(maxLat, lat))
	phi := lat * math.Pi / 180
	return (lon + 180) / 360, (1 - math.Log(math.Tan(phi)+1/math.Cos(phi))/math.Pi) / 2
}

// FitMap is the projection that shows every place, with room for a
// tooltip above the northernmost. It needs at least one place.
func FitMap(places []MapPlace) MapProjection {
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	latSum := 0.0
	for _, pl := range places {
		x, y := mercator(pl.Lat, pl.Lon)
		minX, maxX = min(minX, x), max(maxX, x)
		minY, maxY = min(minY, y), max(maxY, y)
		latSum += pl.Lat
	}
	// The smallest extent: mapMinSpan degrees of latitude at the middle,
	// as Mercator stretches it there, both ways.
	midLat := max(-80, min(80, latSum/float64(len(places))))
	span := mapMinSpan / 360 / math.Cos(midLat*math.Pi/180)
	grow := func(lo, hi float64) (float64, float64) {
		if d := span - (hi - lo); d > 0 {
			return lo - d/2, hi + d/2
		}
		return lo, hi
	}
	minX, maxX = grow(minX, maxX)
	minY, maxY = grow(minY, maxY)
	// A margin of land and sea around the pins, so none sits on the edge.
	margin := mapMargin * max(maxX-minX, maxY-minY)
	minX, maxX, minY, maxY = minX-margin, maxX+margin, minY-margin, maxY+margin
	bw, bh := maxX-minX, maxY-minY

	p := MapProjection{W: MapWidth}
	p.K = (p.W - 2*mapPadSide) / bw
	p.H = bh*p.K + mapPadTo + mapPadFoot
	switch {
	case p.H > MaxAspect*p.W:
		p.H = MaxAspect * p.W
		p.K = (p.H - mapPadTo - mapPadFoot) / bh
	case p.H < MinAspect*p.W:
		p.H = MinAspect * p.W
	}
	slackY := p.H - mapPadTo - mapPadFoot - bh*p.K
	p.X0 = (minX+maxX)/2 - p.W/2/p.K
	p.Y0 = minY - (mapPadTo+slackY/2)/p.K
	return p
}

// EventMap is what the index template draws.
type EventMap struct {
	Proj MapProjection
	// ViewBox is the SVG's viewBox.
	ViewBox string
	// W and H are the view's size, formatted.
	W, H string
	// Land is a path per country, when no tiles are configured.
	Land []MapLand
	// Tiles are the tile images under the pins, when configured.
	Tiles []MapTile
	// Pins are the events, north first: document order is the order
	// keyboard focus takes, and a pin's tooltip (drawn above it) then
	// covers only pins drawn before it.
	Pins []MapPin
	// This, Live, Coming and Past say which kinds of pin the legend
	// explains; a pin marked This counts as none of the others.
	This, Live, Coming, Past bool
	// Unplaced counts the events with no location.
	Unplaced int
	// Attribution credits the tiles (configured) or the coastlines.
	Attribution string
	// Tip lays out every pin's tooltip.
	Tip MapTip
}

// MapLand is one country's land as an SVG path.
type MapLand struct {
	Code string
	D    string
}

// MapTile is one tile image.
type MapTile struct {
	Href       string
	X, Y, Size string
}

// MapPin is one event's pin.
type MapPin struct {
	MapPlace
	// Href is the event's participant page; "" draws the pin as a shape
	// that links nowhere (the saved report).
	Href string
	// Label is the pin's accessible name: title, state, place, time, hashtags.
	Label string
	// X and Y place the pin; TipX and TipY its tooltip, relative to the pin.
	X, Y, TipX, TipY, TipW string
	// Tags is the hashtags as one line.
	Tags string
	// ThisX and ThisAnchor place the words "this event" beside a pin
	// marked This: to its right, or to its left near the view's right edge.
	ThisX, ThisAnchor string
	y                 float64 // Y unformatted, to sort by
}

// Kind is the pin's class, which says how it is drawn.
func (p MapPin) Kind() string {
	switch {
	case p.This:
		return "pin-this"
	case p.Live:
		return "pin-live"
	case p.Past:
		return "pin-past"
	}
	return "pin-coming"
}

// MapTip is the tooltip's layout inside its box, the same for every pin.
type MapTip struct {
	H, TextX, Line1, Line2, Line3 string
}

// tipLayout is MapTip for the constants above.
var tipLayout = MapTip{H: num(tipH), TextX: num(tipPad), Line1: num(tipPad + tipFont - 1),
	Line2: num(tipPad + tipFont - 1 + tipLine), Line3: num(tipPad + tipFont - 1 + 2*tipLine)}

// NewEventMap draws places (nil when there are none). unplaced is how
// many events have no location; tiles, when not "", is a tile URL
// template (config.MapTiles) to draw the map on instead of the embedded
// coastlines, credited with attribution.
func NewEventMap(places []MapPlace, unplaced int, tiles, attribution string) *EventMap {
	if len(places) == 0 {
		return nil
	}
	p := FitMap(places)
	m := &EventMap{Proj: p, ViewBox: "0 0 " + num(p.W) + " " + num(p.H), W: num(p.W), H: num(p.H), Unplaced: unplaced, Tip: tipLayout}
	if tiles != "" {
		m.Tiles = tileImages(p, tiles)
		m.Attribution = attribution
	} else {
		m.Land = landPaths(p)
		m.Attribution = "Coastlines: Natural Earth"
	}
	for _, pl := range places {
		x, y := p.Point(pl.Lat, pl.Lon)
		pin := MapPin{MapPlace: pl, Href: "/e/" + pl.Slug, X: num(x), Y: num(y), y: y}
		state := "coming up"
		switch {
		case pl.Live:
			state = "live now"
		case pl.Past:
			state = "ended"
		}
		switch {
		case pl.This:
			m.This = true
			state = "this event, " + state
			pin.ThisX, pin.ThisAnchor = "12", "start"
			if x > p.W-thisLabelW-16 {
				pin.ThisX, pin.ThisAnchor = "-12", "end"
			}
		case pl.Live:
			m.Live = true
		case pl.Past:
			m.Past = true
		default:
			m.Coming = true
		}
		tags := make([]string, len(pl.Hashtags))
		for i, h := range pl.Hashtags {
			tags[i] = "#" + h
		}
		pin.Tags = strings.Join(tags, " ")
		parts := []string{pl.Title, state}
		for _, s := range []string{pl.Place, pl.When, pin.Tags} {
			if s != "" {
				parts = append(parts, s)
			}
		}
		pin.Label = strings.Join(parts, ", ")
		// The tooltip sits above the pin, centred, kept inside the view;
		// its width is estimated here and measured by the page's script.
		w := tipPad*2 + tipFont*0.56*float64(max(len([]rune(pl.Title)), len([]rune(pl.When)), len([]rune(pin.Tags)), 8))
		w = min(w, p.W-8)
		tx := max(4-x, min(p.W-4-w-x, -w/2))
		pin.TipX, pin.TipY, pin.TipW = num(tx), num(-tipGap-tipH), num(w)
		m.Pins = append(m.Pins, pin)
	}
	slices.SortStableFunc(m.Pins, func(a, b MapPin) int { return cmp.Compare(a.y, b.y) })
	return m
}

// thisLabelW is about how wide "this event" is drawn, in the map's units.
const thisLabelW = 66.0

// Unlink makes every pin a shape that links nowhere, for a page that
// must not lead back to the server (the saved report).
func (m *EventMap) Unlink() {
	for i := range m.Pins {
		m.Pins[i].Href = ""
	}
}

// landPaths projects the embedded coastlines, leaving out rings wholly
// outside the view.
func landPaths(p MapProjection) []MapLand {
	land, err := mapdata.UK()
	if err != nil {
		return nil // tested in mapdata: the embedded file parses
	}
	var out []MapLand
	for _, c := range land.Countries {
		var d strings.Builder
		for _, r := range c.Rings {
			pts := make([][2]float64, len(r))
			minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
			for i, pt := range r {
				x, y := p.Point(pt.Lat, pt.Lon)
				pts[i] = [2]float64{x, y}
				minX, maxX, minY, maxY = min(minX, x), max(maxX, x), min(minY, y), max(maxY, y)
			}
			if maxX < 0 || maxY < 0 || minX > p.W || minY > p.H {
				continue
			}
			last := ""
			for i, pt := range pts {
				s := num(pt[0]) + " " + num(pt[1])
				if s == last {
					continue
				}
				if i == 0 {
					d.WriteString("M")
				} else {
					d.WriteString("L")
				}
				d.WriteString(s)
				last = s
			}
			d.WriteString("Z")
		}
		if d.Len() > 0 {
			out = append(out, MapLand{Code: c.Code, D: d.String()})
		}
	}
	return out
}

// maxTiles bounds the images one map asks the tile server for.
const maxTiles = 64

// tileImages lays the XYZ tiles that cover the view, at the zoom whose
// 256-pixel tiles are nearest 256 of the view's units: the page draws a
// unit at 0.9 (phone) to 1.4 (wide screen) pixels, so a tile's labels
// show at about their own size.
func tileImages(p MapProjection, tmpl string) []MapTile {
	z := int(math.Round(math.Log2(p.K / 256)))
	z = max(0, min(19, z))
	n := 1 << z
	size := p.K / float64(n)
	x0, x1 := int(math.Floor(p.X0*float64(n))), int(math.Floor((p.X0+p.W/p.K)*float64(n)))
	y0, y1 := max(0, int(math.Floor(p.Y0*float64(n)))), min(n-1, int(math.Floor((p.Y0+p.H/p.K)*float64(n))))
	var out []MapTile
	for ty := y0; ty <= y1; ty++ {
		for tx := x0; tx <= x1 && len(out) < maxTiles; tx++ {
			wx := ((tx % n) + n) % n
			r := strings.NewReplacer("{z}", strconv.Itoa(z), "{x}", strconv.Itoa(wx), "{y}", strconv.Itoa(ty))
			out = append(out, MapTile{Href: r.Replace(tmpl),
				X: num((float64(tx)/float64(n) - p.X0) * p.K), Y: num((float64(ty)/float64(n) - p.Y0) * p.K), Size: num(size + 0.5)})
		}
	}
	return out
}

// num formats a coordinate to a tenth of a unit, which is finer than a
// pixel at any size the page draws the map.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}

// MapCSP is the Content-Security-Policy of the index page for the tile
// URL template tiles: CSP with the tile server's origin added to img-src,
// so the page may load its images. Without tiles ("") it is CSP unchanged.
func MapCSP(tiles string) string {
	if tiles == "" {
		return CSP
	}
	u, err := url.Parse(tiles)
	if err != nil || u.Host == "" {
		return CSP // config validation refuses such a URL
	}
	origin := u.Scheme + "://" + u.Host
	return strings.Replace(CSP, "img-src 'self'", fmt.Sprintf("img-src 'self' %s", origin), 1)
}

// eventMap is the index's map of the events in list that have a location.
func (s *Server) eventMap(list []IndexEntry) *EventMap {
	var places []MapPlace
	for _, e := range list {
		if e.Location == nil {
			continue
		}
		pl := MapPlace{Slug: e.Slug, Title: e.Title, Place: e.Place, Hashtags: e.Hashtags, Live: e.Live, Past: e.Past,
			When: e.When, Lat: e.Location.Lat, Lon: e.Location.Lon}
		if !e.Start.IsZero() {
			pl.Start = e.Start.Format(time.RFC3339)
		}
		if !e.End.IsZero() {
			pl.End = e.End.Format(time.RFC3339)
		}
		places = append(places, pl)
	}
	return NewEventMap(places, len(list)-len(places), s.opts.MapTiles, s.opts.MapAttribution)
}
