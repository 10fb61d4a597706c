package mapdata

import "testing"

// The simplified coastline still puts known cities on the right land, and
// the sea between them is still sea.
func TestKnownPlaces(t *testing.T) {
	l, err := UK()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, code string
		p          Point
	}{
		{"Leeds", "GB", Point{-1.5491, 53.8008}},
		{"London", "GB", Point{-0.1276, 51.5072}},
		{"Cardiff", "GB", Point{-3.1791, 51.4816}},
		{"Edinburgh", "GB", Point{-3.1883, 55.9533}},
		{"Belfast", "GB", Point{-5.9301, 54.5973}},
		{"Inverness", "GB", Point{-4.2247, 57.4778}},
		{"Dublin", "IE", Point{-6.2603, 53.3498}},
		{"Cork", "IE", Point{-8.4756, 51.8985}},
		{"Douglas", "IM", Point{-4.4821, 54.1523}},
		{"Lille", "FR", Point{3.0573, 50.6292}},
	} {
		if !l.Contains(c.code, c.p) {
			t.Errorf("%s (%v) is not on %s's land", c.name, c.p, c.code)
		}
	}
	for _, c := range []struct {
		name string
		p    Point
	}{
		{"Irish Sea", Point{-5.0, 53.5}},
		{"North Sea", Point{2.0, 55.0}},
		{"English Channel", Point{-2.0, 50.2}},
		{"Atlantic", Point{-11.0, 54.0}},
	} {
		for _, code := range []string{"GB", "IE", "IM", "FR"} {
			if l.Contains(code, c.p) {
				t.Errorf("the %s (%v) is land of %s", c.name, c.p, code)
			}
		}
	}
	if l.West >= l.East || l.South >= l.North || l.Source == "" {
		t.Errorf("box %v,%v,%v,%v source %q", l.West, l.South, l.East, l.North, l.Source)
	}
}

// A ring with an odd count of numbers is refused, not half-read.
func TestParseRefusesBrokenRing(t *testing.T) {
	if _, err := parse([]byte(`{"box":[0,0,1,1],"countries":[{"code":"GB","rings":[[1,2,3,4,5]]}]}`)); err == nil {
		t.Error("a ring of five numbers was accepted")
	}
}
