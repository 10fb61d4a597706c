package config

import (
	"fmt"
	"net/url"
	"strings"
)

// The public address is where the people in the room reach the server:
// the QR code on the wall, the join text and the addresses printed at
// start come from it, never from a request's Host header, which anyone can
// write (a shared cache would then hand the forged QR code to the room).

// validatePublicURLs checks the server's public_url and each event's,
// writes them in their normal form (no trailing '/') and gives each event
// without its own the server's.
func (c *Config) validatePublicURLs() []error {
	var errs []error
	norm, err := normalPublicURL(c.PublicURL)
	if err != nil {
		errs = append(errs, c.errAt("public_url", err.Error()))
	}
	c.PublicURL = norm
	for i := range c.Events {
		e := &c.Events[i]
		en, err := normalPublicURL(e.PublicURL)
		if err != nil {
			errs = append(errs, c.errAt(fmt.Sprintf("events[%d].public_url", i), err.Error()))
		}
		if en == "" {
			en = c.PublicURL
		}
		e.PublicURL = en
	}
	return errs
}

// normalPublicURL is u as scheme://host[:port] with nothing after, or an
// error saying what is wrong. "" stays "" (not configured).
func normalPublicURL(u string) (string, error) {
	u = strings.TrimSpace(u)
	if u == "" {
		return "", nil
	}
	p, err := url.Parse(u)
	if err != nil || p.Host == "" || (p.Scheme != "http" && p.Scheme != "https") {
		return "", fmt.Errorf("%q is not an http:// or https:// address like https://wall.example.org", u)
	}
	if p.User != nil || p.RawQuery != "" || p.Fragment != "" || (p.Path != "" && p.Path != "/") {
		return "", fmt.Errorf("%q: give the address only (scheme, host and port), without a path, user, query or fragment", u)
	}
	return p.Scheme + "://" + strings.ToLower(p.Host), nil
}
