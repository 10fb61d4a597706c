package config

import (
	"flag"
	"strings"
	"testing"
)

// public_url: the server's, an event's own, the flag and its variable;
// bad ones named with their line.
func TestPublicURL(t *testing.T) {
	c, err := Parse("events.yaml", []byte(`public_url: https://Wall.Example.org/
events:
  - hashtags: [A]
  - hashtags: [B]
    public_url: http://192.168.1.20:8080
`), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if c.PublicURL != "https://wall.example.org" || c.Events[0].PublicURL != "https://wall.example.org" || c.Events[1].PublicURL != "http://192.168.1.20:8080" {
		t.Errorf("public urls: %q %q %q", c.PublicURL, c.Events[0].PublicURL, c.Events[1].PublicURL)
	}
	_, err = Parse("events.yaml", []byte(`public_url: wall.example.org
events:
  - hashtags: [A]
    public_url: https://x.example/e/a
`), func(string) string { return "" })
	for _, want := range []string{`events.yaml:1: public_url: "wall.example.org" is not an http:// or https:// address`, `events.yaml:4: events[0].public_url: "https://x.example/e/a": give the address only`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	for _, env := range []bool{false, true} {
		var f Flags
		fs := flag.NewFlagSet("t", flag.ContinueOnError)
		f.Register(fs)
		args := []string{"--tag", "A"}
		getenv := func(string) string { return "" }
		if env {
			getenv = func(k string) string {
				if k == "BACKCHANNEL_PUBLIC_URL" {
					return "http://10.1.2.3:8080"
				}
				return ""
			}
		} else {
			args = append(args, "--public-url", "http://10.1.2.3:8080")
		}
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		c, err := f.Build(getenv)
		if err != nil {
			t.Fatal(err)
		}
		if c.Events[0].PublicURL != "http://10.1.2.3:8080" {
			t.Errorf("env %v: event public url %q", env, c.Events[0].PublicURL)
		}
	}
}

// The web form's limits: defaults, settings, and a bad one with its line.
func TestFormLimits(t *testing.T) {
	c, err := Parse("events.yaml", []byte(`events:
  - hashtags: [A]
  - hashtags: [B]
    form:
      per_device: 5
      per_address: 200
      per_event: 2000
`), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if f := c.Events[0].Form; f != (Form{3, 60, 600}) {
		t.Errorf("defaults %+v", f)
	}
	if f := c.Events[1].Form; f != (Form{5, 200, 2000}) {
		t.Errorf("set %+v", f)
	}
	_, err = Parse("events.yaml", []byte(`events:
  - hashtags: [A]
    form:
      per_address: -1
`), func(string) string { return "" })
	if want := "events.yaml:4: events[0].form.per_address: -1 posts a minute"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v lacks %q", err, want)
	}
}
