package config

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

var exampleEnv = map[string]string{
	"L4L_MASTODON_TOKEN":         "tok-abc",
	"L4L_MODERATOR_PASSPHRASE":   "back of the room",
	"L4L_FACILITATOR_PASSPHRASE": "on the stage now",
	"L4L_FACILITATOR_TOKENS":     "token-one-0123456789, token-two-0123456789,",
	"L4L_BSKY_PASSWORD":          "abcd-efgh-ijkl-mnop",
	"L4L_SESSION_KEY":            "0123456789abcdef0123456789abcdef-shared-by-nodes",
}

func TestExampleFileLoads(t *testing.T) {
	c, err := LoadEnv("../docs/example-events.yaml", envOf(exampleEnv))
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	if got := len(c.Events); got != 2 {
		t.Fatalf("events = %d, want 2", got)
	}
	e := c.Event("leaders4leeds")
	if e == nil {
		t.Fatal("no event leaders4leeds")
	}
	if e.Sources[0].Token != "tok-abc" || !e.Sources[0].Streaming() {
		t.Errorf("mastodon source 0 = %+v, want token from env and streaming", e.Sources[0])
	}
	if e.Sources[1].Streaming() {
		t.Errorf("source without token streams by default")
	}
	if r := e.Sources[3]; r.Name() != "rss:mastodon.social/tags/Leaders4Leeds.rss" {
		t.Errorf("rss source name = %q", r.Name())
	}
	if b := e.Sources[2]; b.Name() != "bluesky" || len(b.Jetstream) != 2 || b.Password != "abcd-efgh-ijkl-mnop" || b.Handle != "leeds.example.org" {
		t.Errorf("bluesky source = %+v", b)
	}
	if got := e.Sources[0].Name(); got != "mastodon:mastodon.social" {
		t.Errorf("Name = %q", got)
	}
	if e.Roles.Moderator.Passphrase != "back of the room" {
		t.Errorf("moderator passphrase = %q", e.Roles.Moderator.Passphrase)
	}
	if got := e.Roles.Facilitator.Tokens; len(got) != 2 || got[0] != "token-one-0123456789" || got[1] != "token-two-0123456789" {
		t.Errorf("facilitator tokens = %q", got)
	}
	if l := e.Location; l == nil || l.Lat != 53.8018 || l.Lon != -1.5480 {
		t.Errorf("location = %+v", l)
	}
	if e.LeadIn != time.Hour || !e.End.After(e.Start) {
		t.Errorf("times: start %v end %v lead-in %v", e.Start, e.End, e.LeadIn)
	}
	if !e.Live(e.Start.Add(-30*time.Minute)) || e.Live(e.Start.Add(-2*time.Hour)) || e.Live(e.End) {
		t.Errorf("Live window wrong")
	}
	if d := e.Display.Map(); d["layout"] != "grid" || d["show_avatars"] != "true" || d["brand_colour"] != "#1a7f5a" {
		t.Errorf("display map = %v", d)
	}
	o := c.Event("ourday-rehearsal")
	if o == nil || o.Title != "#OurDay" || o.Moderation.Mode != event.ModeAuto || o.Sources[0].Rate != 30 {
		t.Errorf("second event = %+v", o)
	}
	if !o.Moderation.ProfanityOn() {
		t.Errorf("profanity should default on")
	}
	if c.Listen != ":8080" || c.Data != "./data" {
		t.Errorf("server settings = %q %q", c.Listen, c.Data)
	}
	if string(c.SessionKey) != exampleEnv["L4L_SESSION_KEY"] {
		t.Errorf("session key = %q", c.SessionKey)
	}
	if len(c.Proxies) != 2 || c.Proxies[0].String() != "127.0.0.1/32" || c.Proxies[1].String() != "10.0.0.0/8" {
		t.Errorf("trusted proxies = %v", c.Proxies)
	}
}

// minimal is a valid file; bad cases below change one thing in it.
const minimal = `events:
  - slug: ev
    hashtags: [Tag]
    sources:
      - type: rehearsal
`

func TestParseGood(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		check func(t *testing.T, c *Config)
	}{
		{"minimal gets defaults", minimal, func(t *testing.T, c *Config) {
			e := c.Events[0]
			if e.Title != "#Tag" || e.Moderation.Mode != event.ModePre || e.Sources[0].Rate != DefaultRehearsalRate {
				t.Errorf("defaults not applied: %+v", e)
			}
			if c.Listen != DefaultListen || c.LogFormat != "text" {
				t.Errorf("server defaults: %q %q", c.Listen, c.LogFormat)
			}
			want := Server{MaxSocketsPerAddress: DefaultMaxSocketsPerAddress, BodyTimeout: DefaultBodyTimeout, HeaderTimeout: DefaultHeaderTimeout, IdleTimeout: DefaultIdleTimeout}
			if c.Server != want {
				t.Errorf("server limits = %+v, want %+v", c.Server, want)
			}
		}},
		{"server limits", "server:\n  max_sockets_per_address: 50\n  max_sockets: 400\n  fd_reserve: 300\n  body_timeout: 2s\n  idle_timeout: 30s\n" + minimal, func(t *testing.T, c *Config) {
			want := Server{MaxSocketsPerAddress: 50, MaxSockets: 400, FDReserve: 300, BodyTimeout: 2 * time.Second, HeaderTimeout: DefaultHeaderTimeout, IdleTimeout: 30 * time.Second}
			if c.Server != want {
				t.Errorf("server = %+v, want %+v", c.Server, want)
			}
		}},
		{"slug from hashtag", "events:\n  - hashtags: [OurDay]\n", func(t *testing.T, c *Config) {
			if c.Events[0].Slug != "ourday" {
				t.Errorf("slug = %q", c.Events[0].Slug)
			}
		}},
		{"trailing slash trimmed", "events:\n  - hashtags: [A]\n    sources:\n      - {type: mastodon, server: 'https://m.example/', stream: false}\n", func(t *testing.T, c *Config) {
			if s := c.Events[0].Sources[0]; s.Server != "https://m.example" || s.Streaming() {
				t.Errorf("source = %+v", s)
			}
		}},
		{"display aliases read as the names they stand for", "events:\n  - slug: ev\n    hashtags: [T]\n    display: {layout: masonry, theme: high-contrast, logo: /logo.png}\n", func(t *testing.T, c *Config) {
			// The fold starts from Map, so the screens never see an alias.
			m := c.Events[0].Display.Map()
			if m["layout"] != "grid" || m["theme"] != "contrast" || m["logo"] != "/logo.png" {
				t.Errorf("display = %v", m)
			}
			if err := event.Display(m).Validate(); err != nil {
				t.Errorf("the config's display is refused by the settings rule: %v", err)
			}
		}},
		{"carousel is the spotlight", "events:\n  - slug: ev\n    hashtags: [T]\n    display: {layout: carousel, theme: light}\n", func(t *testing.T, c *Config) {
			if d := c.Events[0].Display; d.Layout != "spotlight" || d.Theme != "light" {
				t.Errorf("display = %+v", d)
			}
		}},
		{"location beside the place", "map_tiles: {url: 'https://tiles.example.org/{z}/{x}/{y}.png', attribution: '© OpenStreetMap contributors'}\nevents:\n  - slug: ev\n    hashtags: [T]\n    place: Leeds Town Hall\n    location: {lat: 53.8008, lon: -1.5491}\n  - slug: nowhere\n    hashtags: [U]\n", func(t *testing.T, c *Config) {
			if l := c.Events[0].Location; l == nil || l.Lat != 53.8008 || l.Lon != -1.5491 {
				t.Errorf("location = %+v", l)
			}
			if c.Events[1].Location != nil {
				t.Errorf("an event without a location has %+v", c.Events[1].Location)
			}
			if c.MapTiles == nil || c.MapTiles.URL != "https://tiles.example.org/{z}/{x}/{y}.png" || c.MapTiles.Attribution == "" {
				t.Errorf("map tiles = %+v", c.MapTiles)
			}
		}},
		{"the edges of the range", "events:\n  - slug: ev\n    hashtags: [T]\n    location: {lat: -90, lon: 180}\n", func(t *testing.T, c *Config) {
			if l := c.Events[0].Location; l == nil || l.Lat != -90 || l.Lon != 180 {
				t.Errorf("location = %+v", l)
			}
		}},
		{"unicode hashtag with slug", "events:\n  - slug: cafe\n    hashtags: [Café_2026]\n", func(t *testing.T, c *Config) {
			if c.Events[0].Hashtags[0] != "Café_2026" {
				t.Errorf("hashtag = %q", c.Events[0].Hashtags[0])
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.check == nil {
				return
			}
			c, err := Parse("events.yaml", []byte(tt.yaml), envOf(nil))
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c)
		})
	}
}

func TestParseBad(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		env  map[string]string
		want string // the whole first line of the message, or a prefix of it
	}{
		{"not a URL", `events:
  - slug: ev
    hashtags: [Tag]
    sources:
      - type: rehearsal
      - type: mastodon
        server: mastodon.social
`, nil, `events.yaml:7: events[0].sources[1].server: not a URL: "mastodon.social"`},
		{"unknown field", `events:
  - slug: ev
    hashtags: [Tag]
    sorces: []
`, nil, `events.yaml:4: events[0].sorces: unknown field (known: display, end, form, hashtags,`},
		{"unknown top-level field", "listen: ':1'\nevent: []\n", nil, `events.yaml:2: event: unknown field`},
		{"syntax error", "events:\n  - slug: [\n", nil, `events.yaml:2: did not find expected node content`},
		{"type error", "events:\n  - slug: ev\n    hashtags: [T]\n    lead_in: soon\n", nil, `events.yaml:4: events[0].lead_in: "soon" is not a duration such as 90m or 1h`},
		{"bad start time", "events:\n  - slug: ev\n    hashtags: [T]\n    start: yesterday\n", nil, `events.yaml:4: events[0].start: "yesterday" is not a time: write it as 2026-03-12T09:30:00Z`},
		{"time without zone", "events:\n  - slug: ev\n    hashtags: [T]\n    end: 2026-03-12 17:00\n", nil, `events.yaml:4: events[0].end: "2026-03-12 17:00" is not a time`},
		{"rate not a number", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: rehearsal\n        rate: lots\n", nil, `events.yaml:6: events[0].sources[0].rate: "lots" is not a number`},
		{"empty file", "", nil, `events.yaml: empty file`},
		{"no events", "listen: ':8080'\n", nil, `events.yaml: events: no events`},
		{"hash in hashtag", "events:\n  - slug: ev\n    hashtags: ['#Tag']\n", nil, `events.yaml:3: events[0].hashtags[0]: write "#Tag" without '#'`},
		{"hashtag with space", "events:\n  - slug: ev\n    hashtags: ['a b']\n", nil, `events.yaml:3: events[0].hashtags[0]: "a b" is not a hashtag`},
		{"unknown time zone", "events:\n  - slug: ev\n    hashtags: [T]\n    timezone: Europe/Londres\n", nil, `events.yaml:4: events[0].timezone: unknown time zone "Europe/Londres": give an IANA name`},
		{"no hashtags", "events:\n  - slug: ev\n", nil, `events.yaml:2: events[0].hashtags: at least one hashtag is required`},
		{"slug not URL-safe", "events:\n  - slug: Big Day\n    hashtags: [T]\n", nil, `events.yaml:2: events[0].slug: "Big Day" is not URL-safe`},
		{"slug twice", "events:\n  - {slug: a, hashtags: [T]}\n  - {slug: a, hashtags: [U]}\n", nil, `events.yaml:3: events[1].slug: "a" is already the slug of events[0]`},
		{"times out of order", "events:\n  - slug: ev\n    hashtags: [T]\n    start: 2026-03-12T10:00:00Z\n    end: 2026-03-12T09:00:00Z\n", nil, `events.yaml:5: events[0].end: must be after start`},
		{"lead-in without start", "events:\n  - slug: ev\n    hashtags: [T]\n    lead_in: 1h\n", nil, `events.yaml:4: events[0].lead_in: needs a start time`},
		{"unknown source type", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: twitter\n", nil, `events.yaml:5: events[0].sources[0].type: unknown source type "twitter"`},
		{"source twice", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - {type: mastodon, server: 'https://a.example'}\n      - {type: mastodon, server: 'https://A.example/'}\n", nil, `events.yaml:6: events[0].sources[1]: source mastodon:a.example is already`},
		{"bluesky appview URL", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: bluesky\n        appview: ftp://appview.example\n", nil, `events.yaml:6: events[0].sources[0].appview: not a base URL`},
		{"bluesky search host with a path", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: bluesky\n        search_host: https://pds.example/xrpc\n", nil, `events.yaml:6: events[0].sources[0].search_host: not a base URL`},
		{"appview on a mastodon source", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: mastodon\n        server: https://m.example\n        appview: https://appview.example\n", nil, `events.yaml:7: events[0].sources[0].appview: a mastodon source has no appview`},
		{"bluesky jetstream URL", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: bluesky\n        jetstream: [https://jetstream.example]\n", nil, `events.yaml:6: events[0].sources[0].jetstream[0]: not a websocket URL`},
		{"bluesky handle without password", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: bluesky\n        handle: ada.bsky.social\n", nil, `events.yaml:6: events[0].sources[0].handle: handle and password_env go together`},
		{"field of another type", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: bluesky\n        server: https://bsky.social\n", nil, `events.yaml:6: events[0].sources[0].server: a bluesky source has no server (that is for mastodon)`},
		{"rss URL", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: rss\n        url: blog.example.org/feed\n", nil, `events.yaml:6: events[0].sources[0].url: not a URL`},
		{"rehearsal rate", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: rehearsal\n        rate: -1\n", nil, `events.yaml:6: events[0].sources[0].rate: posts per minute`},
		{"token env unset", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: mastodon\n        server: https://m.example\n        token_env: NOPE\n", nil, `events.yaml:7: events[0].sources[0].token_env: environment variable NOPE is not set`},
		{"x without token", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: x\n        budget_usd: 5\n", nil, `events.yaml:5: events[0].sources[0].bearer_token_env: required for an x source`},
		{"x token env unset", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: x\n        bearer_token_env: NOPE_X\n", nil, `events.yaml:6: events[0].sources[0].bearer_token_env: environment variable NOPE_X is not set`},
		{"threads without token", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: threads\n        mode: tag\n", nil, `events.yaml:5: events[0].sources[0].token_env: required for a threads source`},
		{"threads bad mode", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: threads\n        token_env: TT\n        mode: hashtag\n", map[string]string{"TT": "tok"}, `events.yaml:7: events[0].sources[0].mode: must be tag or keyword, not "hashtag"`},
		{"threads allowance over Meta's", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: threads\n        token_env: TT\n        daily_queries: 5000\n", map[string]string{"TT": "tok"}, `events.yaml:7: events[0].sources[0].daily_queries: must be between 1 and Meta's 2200`},
		{"mode on mastodon", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: mastodon\n        server: https://m.example\n        mode: tag\n", nil, `events.yaml:7: events[0].sources[0].mode: a mastodon source has no mode (that is for threads)`},
		{"x negative budget", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: x\n        bearer_token_env: XT\n        budget_usd: -1\n", map[string]string{"XT": "tok"}, `events.yaml:7: events[0].sources[0].budget_usd: must not be negative`},
		{"x field on mastodon", "events:\n  - slug: ev\n    hashtags: [T]\n    sources:\n      - type: mastodon\n        server: https://m.example\n        budget_usd: 3\n", nil, `events.yaml:7: events[0].sources[0].budget_usd: a mastodon source has no budget_usd (that is for x)`},
		{"moderation mode", "events:\n  - slug: ev\n    hashtags: [T]\n    moderation:\n      mode: post\n", nil, `events.yaml:5: events[0].moderation.mode: must be pre or auto, not "post"`},
		{"latitude out of range", "events:\n  - slug: ev\n    hashtags: [T]\n    place: Leeds\n    location: {lat: 95.2, lon: -1.5491}\n", nil, `events.yaml:5: events[0].location.lat: 95.2 is out of range: lat is from -90 to 90 degrees`},
		{"longitude out of range on its own line", "events:\n  - slug: ev\n    hashtags: [T]\n    location:\n      lat: 53.8\n      lon: -181\n", nil, `events.yaml:6: events[0].location.lon: -181 is out of range: lon is from -180 to 180 degrees`},
		{"latitude not a number", "events:\n  - slug: ev\n    hashtags: [T]\n    location: {lat: .nan, lon: 0}\n", nil, `events.yaml:4: events[0].location.lat: NaN is out of range`},
		{"location without longitude", "events:\n  - slug: ev\n    hashtags: [T]\n    location: {lat: 53.8}\n", nil, `events.yaml:4: events[0].location.lon: required: write the location as {lat: 53.8008, lon: -1.5491}`},
		{"location in words", "events:\n  - slug: ev\n    hashtags: [T]\n    location: {lat: north, lon: 0}\n", nil, `events.yaml:4: events[0].location.lat: "north" is not a number`},
		{"map tiles without placeholders", "map_tiles:\n  url: https://tiles.example.org/tile.png\nevents:\n  - {slug: ev, hashtags: [T]}\n", nil, `events.yaml:2: map_tiles.url: needs {z}, {x} and {y}`},
		{"map tiles not http", "map_tiles: {url: 'ftp://tiles.example.org/{z}/{x}/{y}.png'}\nevents:\n  - {slug: ev, hashtags: [T]}\n", nil, `events.yaml:1: map_tiles.url: not an http(s) URL with a fixed host`},
		{"blocked domain", "events:\n  - slug: ev\n    hashtags: [T]\n    moderation:\n      blocked_domains: [spam.example, 'not a domain']\n", nil, `events.yaml:5: events[0].moderation.blocked_domains[1]: "not a domain" is not a domain`},
		{"checks off", "events:\n  - slug: ev\n    hashtags: [T]\n    moderation:\n      checks_off: [postcode, phones]\n", nil, `events.yaml:5: events[0].moderation.checks_off[1]: "phones" is not a rule's name: one of phone, email, nhs_number, postcode, date_of_birth, hospital, duplicate, links, flood`},
		{"display questions", "events:\n  - slug: ev\n    hashtags: [T]\n    display:\n      questions: top20\n", nil, `events.yaml:5: events[0].display.questions: must be off or top1 to top10, not "top20"`},
		{"bad bcrypt", "events:\n  - slug: ev\n    hashtags: [T]\n    roles:\n      moderator:\n        users:\n          ada: plaintext\n", nil, `events.yaml:7: events[0].roles.moderator.users.ada: not a bcrypt hash`},
		{"short passphrase", "events:\n  - slug: ev\n    hashtags: [T]\n    roles:\n      facilitator:\n        passphrase_env: P\n", map[string]string{"P": "abc"}, `events.yaml:6: events[0].roles.facilitator.passphrase_env: the passphrase is shorter than 8 characters`},
		{"colour", "events:\n  - slug: ev\n    hashtags: [T]\n    display:\n      brand_colour: green\n", nil, `events.yaml:5: events[0].display.brand_colour: "green" is not a colour`},
		{"logo over http", "events:\n  - slug: ev\n    hashtags: [T]\n    display:\n      logo: http://x.example/l.png\n", nil, `events.yaml:5: events[0].display.logo:`},
		{"layout", "events:\n  - slug: ev\n    hashtags: [T]\n    display: {layout: slideshow}\n", nil, `events.yaml:4: events[0].display.layout: must be one of grid, column, spotlight, ticker (or masonry, carousel), not "slideshow"`},
		{"theme", "events:\n  - slug: ev\n    hashtags: [T]\n    display:\n      theme: neon\n", nil, `events.yaml:5: events[0].display.theme: must be one of dark, light, contrast (or high-contrast, highcontrast), not "neon"`},
		{"protocol-relative logo", "events:\n  - slug: ev\n    hashtags: [T]\n    display:\n      logo: //x.example/l.png\n", nil, `events.yaml:5: events[0].display.logo: "//x.example/l.png" is not an https URL or a path starting with /`},
		{"list where mapping", "events:\n  - slug: ev\n    hashtags: [T]\n    roles: [a]\n", nil, `events.yaml:4: events[0].roles: must be a mapping of fields`},
		{"redis URL", "redis: 'http://x'\n" + minimal, nil, `events.yaml:1: redis: not a redis:// URL`},
		{"sentinel URL without a name", "redis: 'redis-sentinel://s1:26379,s2:26379'\n" + minimal, nil, `events.yaml:1: redis: not a redis:// URL: redis-sentinel://hosts/NAME[/db]`},
		{"allowed origin with a path", "allowed_origins: ['http://localhost:8080/wall']\n" + minimal, nil, `events.yaml:1: allowed_origins[0]: "http://localhost:8080/wall" is not an origin`},
		{"placeholder session key", "session_key_env: K\n" + minimal, map[string]string{"K": "replace-with-64-hex-characters-from-openssl-rand-hex-32-xxxxxxxxx"}, `events.yaml:1: session_key_env: environment variable K holds a placeholder from the examples`},
		{"listen", "listen: '8080'\n" + minimal, nil, `events.yaml:1: listen: not a listen address`},
		{"metrics listen", "metrics_listen: '9100'\n" + minimal, nil, `events.yaml:1: metrics_listen: not a listen address`},
		{"metrics listen is listen", "listen: ':8080'\nmetrics_listen: ':8080'\n" + minimal, nil, `events.yaml:2: metrics_listen: is the same address as listen`},
		{"trusted proxy", "trusted_proxies: [10.0.0.0/8, proxy.example]\n" + minimal, nil, `events.yaml:1: trusted_proxies[1]: "proxy.example" is not an address`},
		{"short session key", "session_key_env: K\n" + minimal, map[string]string{"K": "short"}, `events.yaml:1: session_key_env: the key is 5 bytes; at least 32`},
		{"sockets per address", "server:\n  max_sockets_per_address: -1\n" + minimal, nil, `events.yaml:2: server.max_sockets_per_address: must be at least 1, not -1`},
		{"fd reserve", "server:\n  fd_reserve: -5\n" + minimal, nil, `events.yaml:2: server.fd_reserve: must not be negative`},
		{"max sockets", "server:\n  max_sockets: -5\n" + minimal, nil, `events.yaml:2: server.max_sockets: must not be negative`},
		{"body timeout", "server:\n  body_timeout: 1ms\n" + minimal, nil, `events.yaml:2: server.body_timeout: must be between 100ms and 1h, not 1ms`},
		{"idle timeout type", "server:\n  idle_timeout: forever\n" + minimal, nil, `events.yaml:2: server.idle_timeout: "forever" is not a duration`},
		{"unknown server field", "server:\n  max_conns: 5\n" + minimal, nil, `events.yaml:2: server.max_conns: unknown field (known: body_timeout, fd_reserve, header_timeout, idle_timeout, max_sockets, max_sockets_per_address)`},
		{"short token", "events:\n  - slug: ev\n    hashtags: [T]\n    roles:\n      moderator:\n        tokens_env: TOK\n", map[string]string{"TOK": "abc"}, `events.yaml:6: events[0].roles.moderator.tokens_env: token 1 is 3 characters`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("events.yaml", []byte(tt.yaml), envOf(tt.env))
			if err == nil {
				t.Fatalf("accepted; want error %q", tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("error %T %v is not a *config.Error", err, err)
			}
			first := strings.SplitN(err.Error(), "\n", 2)[0]
			if !strings.HasPrefix(first, tt.want) {
				t.Errorf("error\n got: %s\nwant: %s...", err, tt.want)
			}
		})
	}
}

func TestParseReportsEveryProblem(t *testing.T) {
	_, err := Parse("e.yaml", []byte("events:\n  - slug: A\n    hashtags: ['#x']\n    moderation: {mode: none}\n"), envOf(nil))
	for _, want := range []string{"e.yaml:2: events[0].slug", "e.yaml:3: events[0].hashtags[0]", "e.yaml:4: events[0].moderation.mode"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %s", err, want)
		}
	}
}

func buildFlags(t *testing.T, args []string, env map[string]string) (*Config, error) {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	var f Flags
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return f.Build(envOf(env))
}

func TestFlagsFirstRun(t *testing.T) {
	c, err := buildFlags(t, []string{"--tag", "Leaders4Leeds", "--mastodon", "https://mastodon.social", "--mastodon", "hachyderm.io", "--bluesky", "--rehearse"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Events) != 1 {
		t.Fatalf("events = %d", len(c.Events))
	}
	e := c.Events[0]
	if e.Slug != "leaders4leeds" || e.Title != "#Leaders4Leeds" || e.Moderation.Mode != event.ModePre {
		t.Errorf("event = %+v", e)
	}
	var names []string
	for _, s := range e.Sources {
		names = append(names, s.Name())
	}
	if strings.Join(names, " ") != "mastodon:mastodon.social mastodon:hachyderm.io bluesky rehearsal" {
		t.Errorf("sources = %v", names)
	}
	if c.Listen != ":8080" || c.Data != "./data" || c.Redis != "" {
		t.Errorf("server settings %q %q %q", c.Listen, c.Data, c.Redis)
	}
}

func TestFlagsEnvAndPrecedence(t *testing.T) {
	env := map[string]string{
		"BACKCHANNEL_LISTEN":     "127.0.0.1:9000",
		"BACKCHANNEL_DATA":       "/tmp/env-data",
		"BACKCHANNEL_TAG":        "OurDay,Second",
		"BACKCHANNEL_REHEARSE":   "true",
		"BACKCHANNEL_MODERATION": "auto",
	}
	c, err := buildFlags(t, []string{"--data", "/tmp/flag-data"}, env)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != "127.0.0.1:9000" {
		t.Errorf("listen from env = %q", c.Listen)
	}
	if c.Data != "/tmp/flag-data" {
		t.Errorf("flag should beat env: data = %q", c.Data)
	}
	e := c.Events[0]
	if e.Slug != "ourday" || len(e.Hashtags) != 2 || e.Sources[0].Type != SourceRehearsal || e.Moderation.Mode != event.ModeAuto {
		t.Errorf("event from env = %+v", e)
	}
}

func TestFlagsOverrideFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "events.yaml")
	if err := os.WriteFile(file, []byte("listen: ':7000'\n"+minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := buildFlags(t, []string{"--config", file, "--listen", ":7001", "--moderation", "auto", "--tag", "Extra"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen != ":7001" {
		t.Errorf("listen = %q, want the flag's", c.Listen)
	}
	if len(c.Events) != 2 || c.Events[1].Slug != "extra" {
		t.Fatalf("events = %+v", c.Events)
	}
	for _, e := range c.Events {
		if e.Moderation.Mode != event.ModeAuto {
			t.Errorf("%s mode = %s, want auto from the flag", e.Slug, e.Moderation.Mode)
		}
	}

	// A file with no events is completed by --tag.
	empty := filepath.Join(dir, "server.yaml")
	if err := os.WriteFile(empty, []byte("listen: ':7000'\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err = buildFlags(t, []string{"--config", empty, "--tag", "Only"}, nil)
	if err != nil || len(c.Events) != 1 || c.Listen != ":7000" {
		t.Fatalf("file without events plus --tag: %v %+v", err, c)
	}
}

func TestFlagsSocketsPerAddress(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "events.yaml")
	if err := os.WriteFile(file, []byte("server: {max_sockets_per_address: 200}\n"+minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		env  map[string]string
		want int
	}{
		{[]string{"--config", file}, nil, 200},
		{[]string{"--config", file}, map[string]string{"BACKCHANNEL_MAX_SOCKETS_PER_ADDRESS": "1500"}, 1500},
		{[]string{"--config", file, "--max-sockets-per-address", "3000"}, map[string]string{"BACKCHANNEL_MAX_SOCKETS_PER_ADDRESS": "1500"}, 3000},
		{[]string{"--tag", "T"}, nil, DefaultMaxSocketsPerAddress},
	} {
		c, err := buildFlags(t, tt.args, tt.env)
		if err != nil {
			t.Fatalf("%v %v: %v", tt.args, tt.env, err)
		}
		if c.Server.MaxSocketsPerAddress != tt.want {
			t.Errorf("%v %v: max_sockets_per_address = %d, want %d", tt.args, tt.env, c.Server.MaxSocketsPerAddress, tt.want)
		}
	}
}

func TestFlagsBad(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want string
	}{
		{nil, nil, "--tag: nothing to serve"},
		{[]string{"--mastodon", "https://m.example"}, nil, "--tag: --mastodon, --bluesky and --rehearse add sources"},
		{[]string{"--tag", "a b"}, nil, `--tag: "a b" is not a hashtag`},
		{[]string{"--tag", "T", "--mastodon", "https://m.example/path"}, nil, "--mastodon: give the server's base URL only"},
		{[]string{"--tag", "T", "--moderation", "post"}, nil, `--moderation: must be pre or auto`},
		{[]string{"--tag", "T"}, map[string]string{"BACKCHANNEL_REHEARSE": "maybe"}, "BACKCHANNEL_REHEARSE:"},
		{[]string{"--tag", "T", "--log-format", "xml"}, nil, "log_format: must be text or json"},
		{[]string{"--tag", "T", "--max-sockets-per-address", "-3"}, nil, "server.max_sockets_per_address: must be at least 1"},
		{[]string{"--tag", "T"}, map[string]string{"BACKCHANNEL_MAX_SOCKETS_PER_ADDRESS": "many"}, `BACKCHANNEL_MAX_SOCKETS_PER_ADDRESS: "many" is not a whole number`},
		{[]string{"--config", "/nonexistent/events.yaml"}, nil, "config: open /nonexistent/events.yaml"},
	}
	for _, tt := range tests {
		_, err := buildFlags(t, tt.args, tt.env)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q...", tt.args, err, tt.want)
		}
	}
}

func TestEnsurePassphrases(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c, err := Parse("e.yaml", []byte(`events:
  - slug: ev
    hashtags: [T]
    roles:
      moderator:
        passphrase_env: MOD
`), envOf(map[string]string{"MOD": "configured-pass"}))
	if err != nil {
		t.Fatal(err)
	}
	path, gen, err := EnsurePassphrases(dir, c)
	if err != nil || !gen {
		t.Fatalf("EnsurePassphrases: %v generated=%v", err, gen)
	}
	e := &c.Events[0]
	if e.Roles.Moderator.Passphrase != "configured-pass" || e.Roles.Moderator.Generated {
		t.Errorf("configured moderator passphrase replaced: %+v", e.Roles.Moderator)
	}
	fac := e.Roles.Facilitator.Passphrase
	if len(fac) != 19 || !e.Roles.Facilitator.Generated {
		t.Errorf("facilitator passphrase %q not generated", fac)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("passphrase file %s: %v mode %v", path, err, st.Mode())
	}

	// A second run reads the same passphrase back.
	c2, _ := Parse("e.yaml", []byte(minimal), envOf(nil))
	c2.Events[0].Slug = "ev"
	if _, _, err := EnsurePassphrases(dir, c2); err != nil {
		t.Fatal(err)
	}
	if got := c2.Events[0].Roles.Facilitator.Passphrase; got != fac {
		t.Errorf("second run facilitator passphrase %q, want %q", got, fac)
	}
	if c2.Events[0].Roles.Moderator.Passphrase == "" || c2.Events[0].Roles.Moderator.Passphrase == fac {
		t.Errorf("moderator passphrase not generated or equal to the facilitator's")
	}
}

func TestEnsureSessionKey(t *testing.T) {
	dir := t.TempDir()
	c, err := Parse("e.yaml", []byte(minimal), envOf(nil))
	if err != nil {
		t.Fatal(err)
	}
	path, gen, err := EnsureSessionKey(dir, c)
	if err != nil || !gen || len(c.SessionKey) != MinSessionKey {
		t.Fatalf("first run: %v generated=%v key %d bytes", err, gen, len(c.SessionKey))
	}
	if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", err, st)
	}
	c2, _ := Parse("e.yaml", []byte(minimal), envOf(nil))
	if _, gen, err := EnsureSessionKey(dir, c2); err != nil || gen || string(c2.SessionKey) != string(c.SessionKey) {
		t.Errorf("second run: %v generated=%v, same key %v", err, gen, string(c2.SessionKey) == string(c.SessionKey))
	}
	// A configured key wins and nothing is written.
	c3, err := Parse("e.yaml", []byte("session_key_env: K\n"+minimal), envOf(map[string]string{"K": strings.Repeat("k", 40)}))
	if err != nil {
		t.Fatal(err)
	}
	if _, gen, err := EnsureSessionKey(t.TempDir(), c3); err != nil || gen || string(c3.SessionKey) != strings.Repeat("k", 40) {
		t.Errorf("configured key: %v %v %q", err, gen, c3.SessionKey)
	}
	// A damaged file is an error, not a silent new key.
	if err := os.WriteFile(path, []byte("nothex"), 0o600); err != nil {
		t.Fatal(err)
	}
	c4, _ := Parse("e.yaml", []byte(minimal), envOf(nil))
	if _, _, err := EnsureSessionKey(dir, c4); err == nil {
		t.Error("damaged key file accepted")
	}
}

// TestParseReportsEveryDecodeProblem: fields of the wrong type, unknown
// fields and unset environment variables are all reported at once, with
// the validation errors of the rest, each as file:line: field. Before,
// the first field of the wrong type hid everything else.
func TestParseReportsEveryDecodeProblem(t *testing.T) {
	file := `listen: '8080'
events:
  - slug: ev
    hashtags: [T]
    lead_in: soon
    start: yesterday
    colour: red
    sources:
      - type: rehearsal
        rate: lots
      - type: mastodon
        server: https://m.example
        token_env: NOPE
    roles:
      moderator:
        passphrase_env: ALSO_NOPE
  - slug: Big Day
    hashtags: [U]
`
	want := []string{
		`e.yaml:1: listen: not a listen address`,
		`e.yaml:5: events[0].lead_in: "soon" is not a duration`,
		`e.yaml:6: events[0].start: "yesterday" is not a time`,
		`e.yaml:7: events[0].colour: unknown field`,
		`e.yaml:10: events[0].sources[0].rate: "lots" is not a number`,
		`e.yaml:13: events[0].sources[1].token_env: environment variable NOPE is not set`,
		`e.yaml:16: events[0].roles.moderator.passphrase_env: environment variable ALSO_NOPE is not set`,
		`e.yaml:17: events[1].slug: "Big Day" is not URL-safe`,
	}
	check := func(t *testing.T, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("accepted")
		}
		lines := strings.Split(err.Error(), "\n")
		for _, w := range want {
			if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, w) }) {
				t.Errorf("no line starting %q in:\n%s", w, err)
			}
		}
		if len(lines) != len(want) {
			t.Errorf("%d lines, want %d (one per mistake):\n%s", len(lines), len(want), err)
		}
	}
	t.Run("Parse", func(t *testing.T) {
		_, err := Parse("e.yaml", []byte(file), envOf(nil))
		check(t, err)
	})
	t.Run("flags with --config", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "e.yaml")
		if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := buildFlags(t, []string{"--config", path}, nil)
		for i, w := range want {
			want[i] = path + strings.TrimPrefix(w, "e.yaml")
		}
		check(t, err)
	})
}

// TestMetricsListenPrecedence: metrics_listen comes from the file, the
// environment or the flag, in that rising order, and is empty by default
// (/metrics on the main listener).
func TestMetricsListenPrecedence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "e.yaml")
	if err := os.WriteFile(path, []byte("metrics_listen: 127.0.0.1:9100\n"+minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--tag", "T"}, nil, ""},
		{[]string{"--config", path}, nil, "127.0.0.1:9100"},
		{[]string{"--config", path}, map[string]string{"BACKCHANNEL_METRICS_LISTEN": "10.0.0.5:9100"}, "10.0.0.5:9100"},
		{[]string{"--config", path, "--metrics-listen", "[::1]:9200"}, map[string]string{"BACKCHANNEL_METRICS_LISTEN": "10.0.0.5:9100"}, "[::1]:9200"},
	} {
		cfg, err := buildFlags(t, c.args, c.env)
		if err != nil {
			t.Errorf("%v %v: %v", c.args, c.env, err)
			continue
		}
		if cfg.MetricsListen != c.want {
			t.Errorf("%v %v: metrics listen %q, %v; want %q", c.args, c.env, cfg.MetricsListen, err, c.want)
		}
	}
}
