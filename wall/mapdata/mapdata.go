// Package mapdata holds the coastlines the index page's map is drawn on:
// the British Isles and the nearby coast from Natural Earth's public-domain
// 1:50m country boundaries, simplified, embedded in the binary so no map
// is ever fetched from another host. SOURCES.md says where it came from
// and how gen/ derived it.
package mapdata

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"sync"
)

//go:embed uk.json
var ukJSON []byte

// Point is a place in degrees.
type Point struct{ Lon, Lat float64 }

// Country is one country's land: closed rings (the last point is not
// repeated), outer boundaries only.
type Country struct {
	// Code is the ISO 3166-1 alpha-2 code ("GB", "IE").
	Code  string
	Rings [][]Point
}

// Land is the whole embedded data set.
type Land struct {
	// Source says where the data came from, for SOURCES.md and tests.
	Source string
	// West, South, East and North bound the area the data covers: beyond
	// it the map has no land, only sea.
	West, South, East, North float64
	Countries                []Country
}

var (
	once sync.Once
	land Land
	err  error
)

// UK returns the embedded land of the British Isles and the nearby coast.
// It is parsed once; callers must not change it.
func UK() (Land, error) {
	once.Do(func() { land, err = parse(ukJSON) })
	return land, err
}

func parse(b []byte) (Land, error) {
	var f struct {
		Source    string `json:"source"`
		Box       [4]int `json:"box"`
		Countries []struct {
			Code  string  `json:"code"`
			Rings [][]int `json:"rings"`
		} `json:"countries"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return Land{}, fmt.Errorf("mapdata: %w", err)
	}
	l := Land{Source: f.Source, West: float64(f.Box[0]) / 100, South: float64(f.Box[1]) / 100,
		East: float64(f.Box[2]) / 100, North: float64(f.Box[3]) / 100}
	for _, c := range f.Countries {
		cc := Country{Code: c.Code}
		for _, r := range c.Rings {
			if len(r)%2 != 0 || len(r) < 6 {
				return Land{}, fmt.Errorf("mapdata: %s: a ring of %d numbers", c.Code, len(r))
			}
			ring := make([]Point, 0, len(r)/2)
			for i := 0; i < len(r); i += 2 {
				ring = append(ring, Point{Lon: float64(r[i]) / 100, Lat: float64(r[i+1]) / 100})
			}
			cc.Rings = append(cc.Rings, ring)
		}
		l.Countries = append(l.Countries, cc)
	}
	return l, nil
}

// Contains reports whether p is on the land of country code (even-odd
// rule over its rings), for tests that check a place falls where it should.
func (l Land) Contains(code string, p Point) bool {
	for _, c := range l.Countries {
		if c.Code != code {
			continue
		}
		for _, r := range c.Rings {
			if inRing(r, p) {
				return true
			}
		}
	}
	return false
}

func inRing(r []Point, p Point) bool {
	in := false
	for i, j := 0, len(r)-1; i < len(r); j, i = i, i+1 {
		a, b := r[i], r[j]
		if (a.Lat > p.Lat) != (b.Lat > p.Lat) && p.Lon < (b.Lon-a.Lon)*(p.Lat-a.Lat)/(b.Lat-a.Lat)+a.Lon {
			in = !in
		}
	}
	return in
}
