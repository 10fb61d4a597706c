// Package weburl holds backchannel's one answer to "is this a web address?":
// an absolute http or https URL with a host, the only kind a page may load or
// link and the only kind a source may be configured with.
package weburl

import (
	"net/url"
	"strings"
)

// Parse returns s as a URL when it is an absolute http or https URL with a
// host (scheme in any case, surrounding space ignored), and false otherwise.
func Parse(s string) (*url.URL, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, false
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Hostname() == "" {
		return nil, false
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return u, true
	}
	return nil, false
}

// Valid reports whether s is an absolute http or https URL with a host.
func Valid(s string) bool {
	_, ok := Parse(s)
	return ok
}
