package clientaddr

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	cases := []struct {
		remote, xff, want string
	}{
		{"192.0.2.1:5", "", "192.0.2.1"},
		{"192.0.2.1:5", "203.0.113.7", "192.0.2.1"}, // untrusted peer: header ignored
		{"10.0.0.2:5", "203.0.113.7", "203.0.113.7"},
		{"10.0.0.2:5", "1.1.1.1, 203.0.113.7, 10.0.0.9", "203.0.113.7"}, // the left part is the client's to forge
		{"10.0.0.2:5", "garbage", "10.0.0.2"},
		{"[::1]:5", "2001:db8::1", "2001:db8::1"},
		{"[::ffff:192.0.2.9]:5", "", "192.0.2.9"},
	}
	for _, tc := range cases {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = tc.remote
		if tc.xff != "" {
			req.Header.Set("X-Forwarded-For", tc.xff)
		}
		if got := From(req, trusted); got.String() != tc.want {
			t.Errorf("%s via %q: %s, want %s", tc.remote, tc.xff, got, tc.want)
		}
	}
	if k := Key(netip.MustParseAddr("2001:db8:1:2:3:4:5:6")); k != "2001:db8:1:2::/64" {
		t.Errorf("v6 key %s", k)
	}
	if k := Key(netip.Addr{}); k != "unknown" {
		t.Errorf("zero key %s", k)
	}
}

func TestFromTrustedProxy(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for remote, want := range map[string]bool{"10.0.0.2:5": true, "192.0.2.1:5": false, "garbage": false} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = remote
		if got := FromTrustedProxy(req, trusted); got != want {
			t.Errorf("FromTrustedProxy(%s) = %v, want %v", remote, got, want)
		}
	}
}
