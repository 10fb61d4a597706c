// Command gen derives wall/mapdata/uk.json from Natural Earth's 1:50m
// country boundaries as the npm package world-atlas (2.0.2) ships them
// (countries-50m.json, TopoJSON): it keeps the British Isles and the
// nearby coast, clips them to a box around the islands, simplifies each
// ring (Douglas–Peucker) and drops the smallest islets. See
// wall/mapdata/SOURCES.md for the commands that fetch the input.
//
//	go run ./wall/mapdata/gen -in /tmp/wa/package/countries-50m.json -out wall/mapdata/uk.json
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"math"
	"os"
	"slices"
)

// countries kept, by ISO 3166-1 numeric code.
var countries = map[string]string{
	"826": "GB", "372": "IE", "833": "IM", "831": "GG", "832": "JE",
	"250": "FR", "056": "BE", "528": "NL", "234": "FO",
}

// The box kept, in degrees.
const (
	west, east   = -12.0, 4.0
	south, north = 48.5, 62.5
)

type topology struct {
	Transform struct {
		Scale     [2]float64 `json:"scale"`
		Translate [2]float64 `json:"translate"`
	} `json:"transform"`
	Arcs    [][][2]float64 `json:"arcs"`
	Objects map[string]struct {
		Geometries []struct {
			ID   string          `json:"id"`
			Type string          `json:"type"`
			Arcs json.RawMessage `json:"arcs"`
		} `json:"geometries"`
	} `json:"objects"`
}

type pt struct{ lon, lat float64 }

// Country is one country's rings in the output.
type Country struct {
	// Code is the ISO 3166-1 alpha-2 code.
	Code string `json:"code"`
	// Rings are closed rings, each a flat list lon0, lat0, lon1, lat1, ...
	// in hundredths of a degree (the last point is not repeated).
	Rings [][]int `json:"rings"`
}

// File is uk.json.
type File struct {
	Source    string    `json:"source"`
	Box       [4]int    `json:"box"` // west, south, east, north in hundredths of a degree
	Countries []Country `json:"countries"`
}

func main() {
	in := flag.String("in", "countries-50m.json", "world-atlas countries-50m.json")
	out := flag.String("out", "wall/mapdata/uk.json", "output file")
	tol := flag.Float64("tolerance", 0.01, "Douglas-Peucker tolerance in degrees of latitude")
	minArea := flag.Float64("min-area", 0.0015, "drop rings smaller than this, in square degrees of latitude (about 12,300 km² each)")
	flag.Parse()

	b, err := os.ReadFile(*in)
	if err != nil {
		log.Fatal(err)
	}
	var t topology
	if err := json.Unmarshal(b, &t); err != nil {
		log.Fatal(err)
	}
	arcs := decodeArcs(&t)
	f := File{Source: "Natural Earth 1:50m Admin 0 countries v4.1.0 (public domain), via world-atlas 2.0.2 countries-50m.json",
		Box: [4]int{west * 100, south * 100, east * 100, north * 100}}
	points, kept := 0, 0
	for _, g := range t.Objects["countries"].Geometries {
		code, ok := countries[g.ID]
		if !ok {
			continue
		}
		var polys [][][]int
		switch g.Type {
		case "Polygon":
			var p [][]int
			if err := json.Unmarshal(g.Arcs, &p); err != nil {
				log.Fatal(err)
			}
			polys = [][][]int{p}
		case "MultiPolygon":
			if err := json.Unmarshal(g.Arcs, &polys); err != nil {
				log.Fatal(err)
			}
		default:
			continue
		}
		c := Country{Code: code}
		for _, poly := range polys {
			// Only outer rings: lakes are too small to show at this scale.
			ring := clip(stitch(arcs, poly[0]))
			if len(ring) < 3 || area(ring) < *minArea {
				continue
			}
			ring = simplify(ring, *tol)
			if len(ring) < 3 {
				continue
			}
			flat := make([]int, 0, 2*len(ring))
			for _, p := range ring {
				flat = append(flat, int(math.Round(p.lon*100)), int(math.Round(p.lat*100)))
			}
			c.Rings = append(c.Rings, flat)
			points += len(ring)
			kept++
		}
		if len(c.Rings) > 0 {
			f.Countries = append(f.Countries, c)
		}
	}
	slices.SortFunc(f.Countries, func(a, b Country) int {
		if a.Code < b.Code {
			return -1
		}
		return 1
	})
	var buf []byte
	buf = append(buf, "{\"source\":"...)
	s, _ := json.Marshal(f.Source)
	buf = append(buf, s...)
	bx, _ := json.Marshal(f.Box)
	buf = append(buf, ",\n\"box\":"...)
	buf = append(buf, bx...)
	buf = append(buf, ",\n\"countries\":["...)
	for i, c := range f.Countries {
		if i > 0 {
			buf = append(buf, ',')
		}
		cb, _ := json.Marshal(c)
		buf = append(buf, '\n')
		buf = append(buf, cb...)
	}
	buf = append(buf, "\n]}\n"...)
	if err := os.WriteFile(*out, buf, 0o644); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s: %d countries, %d rings, %d points, %d bytes\n", *out, len(f.Countries), kept, points, len(buf))
}

// decodeArcs undoes the quantisation and delta encoding of TopoJSON arcs.
func decodeArcs(t *topology) [][]pt {
	out := make([][]pt, len(t.Arcs))
	for i, a := range t.Arcs {
		var x, y float64
		for _, d := range a {
			x += d[0]
			y += d[1]
			out[i] = append(out[i], pt{x*t.Transform.Scale[0] + t.Transform.Translate[0], y*t.Transform.Scale[1] + t.Transform.Translate[1]})
		}
	}
	return out
}

// stitch joins a ring's arcs: index ~i is arc i reversed; each arc's first
// point repeats the previous one's last.
func stitch(arcs [][]pt, idx []int) []pt {
	var ring []pt
	for _, i := range idx {
		var a []pt
		if i >= 0 {
			a = arcs[i]
		} else {
			a = slices.Clone(arcs[^i])
			slices.Reverse(a)
		}
		if len(ring) > 0 {
			a = a[1:]
		}
		ring = append(ring, a...)
	}
	if n := len(ring); n > 1 && ring[0] == ring[n-1] {
		ring = ring[:n-1]
	}
	return ring
}

// clip cuts a ring to the box (Sutherland–Hodgman, one edge at a time).
func clip(ring []pt) []pt {
	type edge struct {
		in  func(pt) bool
		cut func(a, b pt) pt
	}
	at := func(a, b pt, t float64) pt { return pt{a.lon + (b.lon-a.lon)*t, a.lat + (b.lat-a.lat)*t} }
	edges := []edge{
		{func(p pt) bool { return p.lon >= west }, func(a, b pt) pt { return at(a, b, (west-a.lon)/(b.lon-a.lon)) }},
		{func(p pt) bool { return p.lon <= east }, func(a, b pt) pt { return at(a, b, (east-a.lon)/(b.lon-a.lon)) }},
		{func(p pt) bool { return p.lat >= south }, func(a, b pt) pt { return at(a, b, (south-a.lat)/(b.lat-a.lat)) }},
		{func(p pt) bool { return p.lat <= north }, func(a, b pt) pt { return at(a, b, (north-a.lat)/(b.lat-a.lat)) }},
	}
	for _, e := range edges {
		if len(ring) == 0 {
			return nil
		}
		var out []pt
		prev := ring[len(ring)-1]
		for _, p := range ring {
			switch {
			case e.in(p) && e.in(prev):
				out = append(out, p)
			case e.in(p):
				out = append(out, e.cut(prev, p), p)
			case e.in(prev):
				out = append(out, e.cut(prev, p))
			}
			prev = p
		}
		ring = out
	}
	return ring
}

// area is the ring's area in square degrees of latitude (longitude scaled
// by the cosine of the ring's latitude).
func area(ring []pt) float64 {
	k := math.Cos(ring[0].lat * math.Pi / 180)
	var s float64
	for i := range ring {
		a, b := ring[i], ring[(i+1)%len(ring)]
		s += a.lon*b.lat - b.lon*a.lat
	}
	return math.Abs(s) * k / 2
}

// simplify is Douglas–Peucker on a closed ring, in degrees with longitude
// scaled by cos(lat), split at the ring's first point and its farthest.
func simplify(ring []pt, tol float64) []pt {
	far, best := 0, -1.0
	for i, p := range ring {
		if d := dist(p, ring[0]); d > best {
			far, best = i, d
		}
	}
	keep := make([]bool, len(ring))
	keep[0], keep[far] = true, true
	var dp func(i, j int, pts []pt)
	dp = func(i, j int, pts []pt) {
		if j <= i+1 {
			return
		}
		k, worst := -1, tol
		for m := i + 1; m < j; m++ {
			if d := segDist(pts[m], pts[i], pts[j]); d > worst {
				k, worst = m, d
			}
		}
		if k < 0 {
			return
		}
		keep[k%len(ring)] = true
		dp(i, k, pts)
		dp(k, j, pts)
	}
	closed := append(slices.Clone(ring), ring[0])
	dp(0, far, closed)
	dp(far, len(ring), closed)
	var out []pt
	for i, p := range ring {
		if keep[i] {
			out = append(out, p)
		}
	}
	return out
}

func scaled(p pt) (float64, float64) {
	return p.lon * math.Cos(p.lat*math.Pi/180), p.lat
}

func dist(a, b pt) float64 {
	ax, ay := scaled(a)
	bx, by := scaled(b)
	return math.Hypot(ax-bx, ay-by)
}

func segDist(p, a, b pt) float64 {
	px, py := scaled(p)
	ax, ay := scaled(a)
	bx, by := scaled(b)
	dx, dy := bx-ax, by-ay
	l := dx*dx + dy*dy
	if l == 0 {
		return math.Hypot(px-ax, py-ay)
	}
	t := max(0, min(1, ((px-ax)*dx+(py-ay)*dy)/l))
	return math.Hypot(px-ax-t*dx, py-ay-t*dy)
}
