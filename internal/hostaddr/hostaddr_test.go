package hostaddr

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

// The address found is the machine's own and never loopback; the base URL
// carries the port given.
func TestBaseURL(t *testing.T) {
	base, detected := BaseURL("8080")
	if !strings.HasPrefix(base, "http://") || !strings.HasSuffix(base, ":8080") {
		t.Fatalf("BaseURL = %q", base)
	}
	host := strings.TrimSuffix(strings.TrimPrefix(base, "http://"), ":8080")
	host = strings.Trim(host, "[]")
	if a, err := netip.ParseAddr(host); err == nil {
		if a.IsLoopback() || a.IsUnspecified() {
			t.Errorf("BaseURL uses %s", a)
		}
	} else if h, _ := os.Hostname(); host != h {
		t.Errorf("BaseURL host %q is neither an address nor the host name %q", host, h)
	}
	if a, ok := Primary(); ok != detected || (ok && a.IsLoopback()) {
		t.Errorf("Primary = %v %v, BaseURL detected %v", a, ok, detected)
	}
	if b, _ := BaseURL(""); strings.Count(b, ":") > 1 && !strings.Contains(b, "[") {
		t.Errorf("BaseURL without a port = %q", b)
	}
	for in, want := range map[string]string{"[::]:8080": "8080", ":80": "80", "x": "", "h:p": ""} {
		if got := PortOf(in); got != want {
			t.Errorf("PortOf(%q) = %q, want %q", in, got, want)
		}
	}
}
