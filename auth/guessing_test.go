package auth

import (
	"encoding/json"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// attempt posts a JSON login with password to the demo event from addr.
func (f *fixture) attempt(addr, password string) *httptest.ResponseRecorder {
	body, _ := json.Marshal(map[string]string{"password": password})
	req := httptest.NewRequest("POST", "/e/demo/login", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/json")
	return f.do(req, addr)
}

func addrN(prefix [3]byte, i int) string {
	return netip.AddrFrom4([4]byte{prefix[0], prefix[1], prefix[2], byte(i)}).String() + ":1"
}

// Five wrong passphrases from the venue's shared address, then the real
// moderator's right one from the same address: it is accepted.
func TestSharedAddressGuessesDoNotLockOutModerator(t *testing.T) {
	f := newFixture(t)
	const venue = "192.0.2.40:1"
	for i := range 5 {
		if rec := f.attempt(venue, "guess"); rec.Code != 401 {
			t.Fatalf("wrong attempt %d: %d", i+1, rec.Code)
		}
	}
	if rec := f.attempt(venue, modPass); rec.Code != 200 {
		t.Fatalf("the moderator's right passphrase after 5 wrong ones from the same address: %d %s", rec.Code, rec.Body)
	}
	for i := range 20 { // far past the address's budget of wrong attempts, at a pace the cap of checks allows
		f.clock.Add(200 * time.Millisecond)
		if rec := f.attempt(venue, "guess"); rec.Code != 429 {
			t.Fatalf("wrong attempt past the budget %d: %d", i+1, rec.Code)
		}
	}
	if rec := f.attempt(venue, facPass); rec.Code != 200 {
		t.Fatalf("the facilitator's right passphrase from an address past its budget: %d %s", rec.Code, rec.Body)
	}
}

// 20 wrong guesses from six addresses, then a right one, from a seventh
// address and from one of the six: both accepted.
func TestManyAddressesGuessesDoNotLockOutEvent(t *testing.T) {
	// The cap of checks is out of the way: the budgets are what is tested.
	f := newFixture(t, func(o *Options) { o.LoginChecks = Rate{Burst: 1000, Every: time.Millisecond} })
	for i := range 20 {
		rec := f.attempt(addrN([3]byte{198, 51, 100}, i%6), "guess")
		if rec.Code != 401 && rec.Code != 429 {
			t.Fatalf("wrong attempt %d: %d", i+1, rec.Code)
		}
	}
	if rec := f.attempt(addrN([3]byte{198, 51, 100}, 6), "guess"); rec.Code != 429 {
		t.Fatalf("a wrong attempt past the event's budget: %d, want 429", rec.Code)
	}
	if rec := f.attempt("203.0.113.9:1", modPass); rec.Code != 200 {
		t.Fatalf("right passphrase from a 7th address after 20 wrong from six: %d %s", rec.Code, rec.Body)
	}
	if rec := f.attempt(addrN([3]byte{198, 51, 100}, 0), modPass); rec.Code != 200 {
		t.Fatalf("right passphrase from a guessing address: %d %s", rec.Code, rec.Body)
	}
}

// A flood of wrong guesses from many addresses, half a minute on the
// test's clock: the credentials checked stay within the stated bound,
// 2 × (10 + 5/s × t), and everything over it is answered 429 unchecked.
func TestLoginGuessFloodStaysUnderBound(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := newFixture(t, func(o *Options) { o.Registerer = reg; o.LoginCheckWait = -1 })
	const (
		seconds  = 30
		perStep  = 50 // guesses per 100ms of the clock: 500 a second
		stepsSec = 10
	)
	codes := map[int]int{}
	for step := range seconds * stepsSec {
		for i := range perStep {
			codes[f.attempt(addrN([3]byte{10 + byte(i%4), 9, byte(i / 4)}, step%50), "guess").Code]++
		}
		f.clock.Add(time.Second / stepsSec)
	}
	checked := counterValue(t, f.a.metrics.checks.WithLabelValues("demo", "wrong"))
	bound := 2 * (float64(DefaultLoginChecks.Burst) + seconds*float64(time.Second/DefaultLoginChecks.Every))
	t.Logf("%d guesses in %ds: %v; %v credentials checked, bound %v", seconds*stepsSec*perStep, seconds, codes, checked, bound)
	if checked > bound {
		t.Errorf("%v credentials checked, over the bound %v", checked, bound)
	}
	if checked == 0 || codes[200] != 0 || codes[429] == 0 {
		t.Errorf("the flood was not checked and refused as expected: %v", codes)
	}
	refused := counterValue(t, f.a.metrics.refusal.WithLabelValues("demo", "checks"))
	if int(refused)+int(checked) != seconds*stepsSec*perStep {
		t.Errorf("%v refused unchecked + %v checked != %d attempts", refused, checked, seconds*stepsSec*perStep)
	}
}

// A flood from one address (past its budget after five wrong attempts)
// uses only the checks of guessing addresses: a moderator on another
// address is checked at once.
func TestGuessFloodLeavesChecksForOthers(t *testing.T) {
	f := newFixture(t, func(o *Options) { o.LoginCheckWait = -1 })
	for range 500 {
		f.attempt("192.0.2.66:1", "guess")
	}
	if rec := f.attempt("203.0.113.9:1", modPass); rec.Code != 200 {
		t.Fatalf("right passphrase from another address during a flood: %d %s", rec.Code, rec.Body)
	}
}

// An attempt over the cap waits for its turn rather than being refused.
func TestLoginWaitsForItsTurn(t *testing.T) {
	f := newFixture(t, func(o *Options) {
		o.Now = time.Now
		o.LoginChecks = Rate{Burst: 1, Every: 50 * time.Millisecond}
	})
	start := time.Now()
	for i := range 3 {
		if rec := f.attempt("192.0.2.7:1", modPass); rec.Code != 200 {
			t.Fatalf("login %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	if d := time.Since(start); d < 90*time.Millisecond {
		t.Errorf("three logins with one check per 50ms took %v", d)
	}
}

func counterValue(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
