// Package config describes what one backchannel deployment serves: its
// events (hashtags, sources, moderation, role credentials, display) and the
// server's own settings, read from a YAML file and from flags, with secrets
// read only from environment variables the file names.
package config

import (
	"net/netip"
	"net/url"
	"time"

	"github.com/backchannel/backchannel/event"
)

// Defaults for the server settings.
const (
	DefaultListen = ":8080"
	DefaultData   = "./data"
	// DefaultRehearsalRate is how many posts per minute a rehearsal source
	// makes when the file does not say.
	DefaultRehearsalRate = 12.0

	// DefaultMaxSocketsPerAddress is how many public websockets one client
	// address may hold: a venue NAT puts a few hundred phones, each with a
	// wall or participant page open, behind one address.
	DefaultMaxSocketsPerAddress = 1000
	// DefaultBodyTimeout bounds reading one request's body.
	DefaultBodyTimeout = 15 * time.Second
	// DefaultHeaderTimeout bounds reading one request's headers.
	DefaultHeaderTimeout = 10 * time.Second
	// DefaultIdleTimeout is how long a keep-alive connection may wait for
	// its next request.
	DefaultIdleTimeout = 2 * time.Minute
)

// Config is a whole deployment: the server's settings and its events.
type Config struct {
	// Listen is the HTTP address, e.g. ":8080" or "127.0.0.1:8080".
	Listen string `yaml:"listen"`
	// MetricsListen, when set, is the address /metrics is served on, and
	// only there: the main listener then answers 404 for it. Bind it to
	// loopback or an internal interface to keep the metrics private.
	MetricsListen string `yaml:"metrics_listen"`
	// Data is the embedded log's directory; it also holds generated
	// first-run passphrases.
	Data string `yaml:"data"`
	// Redis, when set, is a Redis URL: the logs live in Redis Streams
	// instead of the embedded log. One server (redis://host:6379/0), a
	// primary watched by Sentinel (redis-sentinel://h1,h2,h3/name) or a
	// Cluster (redis-cluster://h1,h2): see internal/redisurl.
	Redis string `yaml:"redis"`
	// LogFormat is "text" (default) or "json".
	LogFormat string `yaml:"log_format"`
	// SessionKeyEnv names the environment variable holding the key that
	// signs login sessions (at least 32 bytes). Every node of a deployment
	// must share it; a single node without it generates one into Data.
	SessionKeyEnv string `yaml:"session_key_env"`
	// TrustedProxies are the reverse proxies (CIDR prefixes, or single
	// addresses) whose X-Forwarded-For and X-Forwarded-Proto are believed,
	// for rate limits and secure cookies.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// PublicURL is the address people open to reach this server, e.g.
	// https://wall.example.org or http://192.168.1.20:8080: the QR code,
	// the join text and every absolute link a page shows use it (see
	// publicurl.go). Empty: the machine's address on its network.
	PublicURL string `yaml:"public_url"`
	// MapTiles, when set, draws the index page's map on this tile
	// server's street-level tiles instead of the embedded coastline, and
	// lets the page load images from it. Off by default: no reader's
	// browser is sent to a third-party host unless the operator says so.
	MapTiles *MapTiles `yaml:"map_tiles"`
	// Server holds the HTTP server's limits: sockets and timeouts.
	Server Server `yaml:"server"`
	// AllowedOrigins are browser origins (scheme://host[:port]) accepted
	// by the websockets and the staff API besides the request's own Host:
	// a page served under another name than the one the node is asked
	// for (a proxy that rewrites Host).
	AllowedOrigins []string `yaml:"allowed_origins"`
	// SocketMaxAge is how long a websocket stays on one node before it is
	// asked to reconnect (and may land on another), each socket between
	// half and one and a half times this; 0 means 15m, negative never.
	SocketMaxAge time.Duration `yaml:"socket_max_age"`
	// Events are the events this deployment serves.
	Events []Event `yaml:"events"`

	// SessionKey is the key read from SessionKeyEnv, or generated.
	SessionKey []byte `yaml:"-"`
	// Proxies are TrustedProxies parsed.
	Proxies []netip.Prefix `yaml:"-"`

	// File is the file the config was read from, "" when built from flags.
	File string `yaml:"-"`
	// lines maps a field path ("events[0].sources[1].server") to the line
	// it was written on, for error messages.
	lines map[string]int
}

// Server is the HTTP server's limits, so that no one client can exhaust
// the process (docs/SECURITY.md, "Sockets and timeouts").
type Server struct {
	// MaxSocketsPerAddress caps the public websockets of one client
	// address (an IPv6 client's /64); default DefaultMaxSocketsPerAddress.
	// Staff sockets are not counted here.
	MaxSocketsPerAddress int `yaml:"max_sockets_per_address"`
	// MaxSockets caps the public websockets of the process. Zero derives
	// it from the open-file limit: the limit less FDReserve. A value above
	// that is lowered to it.
	MaxSockets int `yaml:"max_sockets"`
	// FDReserve is how many file descriptors are kept from public sockets
	// for the log's files, Redis, outgoing source connections, HTTP
	// requests and staff sockets (half of it). Zero means a tenth of the
	// open-file limit, at least 256.
	FDReserve int `yaml:"fd_reserve"`
	// BodyTimeout bounds reading one request's body (websockets are
	// exempt); default DefaultBodyTimeout.
	BodyTimeout time.Duration `yaml:"body_timeout"`
	// HeaderTimeout bounds reading one request's headers; default
	// DefaultHeaderTimeout.
	HeaderTimeout time.Duration `yaml:"header_timeout"`
	// IdleTimeout closes a keep-alive connection idle this long; default
	// DefaultIdleTimeout.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
}

// Event is one live event.
type Event struct {
	// Slug names the event in URLs: lower-case letters, digits and '-'.
	// Defaults to the first hashtag in lower case.
	Slug string `yaml:"slug"`
	// Title is shown on the wall; defaults to "#FirstHashtag".
	Title string `yaml:"title"`
	// Hashtags are followed at every source, written without '#'.
	Hashtags []string `yaml:"hashtags"`
	// Place is where the event happens, in words.
	Place string `yaml:"place"`
	// Location is where Place is on the map of the index page; nil keeps
	// the event off the map.
	Location *Location `yaml:"location"`
	// Start and End bound the event; either may be zero (open-ended).
	Start time.Time `yaml:"start"`
	End   time.Time `yaml:"end"`
	// LeadIn is how long before Start the sources start collecting and
	// the event counts as live.
	LeadIn time.Duration `yaml:"lead_in"`
	// Sources are where posts come from.
	Sources []Source `yaml:"sources"`
	// Moderation is the mode and the rules applied to arriving posts.
	Moderation Moderation `yaml:"moderation"`
	// Roles holds the moderators' and facilitators' credentials.
	Roles Roles `yaml:"roles"`
	// Display holds the screens' options.
	Display Display `yaml:"display"`
	// PublicURL is this event's public address when it differs from the
	// server's (another host name in front of the same server); Validate
	// fills it from Config.PublicURL when empty.
	PublicURL string `yaml:"public_url"`
	// Form holds the web form's limits.
	Form Form `yaml:"form"`
	// PrivacyNotice is shown to participants on the web form and the wall's
	// footer: what is collected and how long it is kept.
	PrivacyNotice string `yaml:"privacy_notice"`
	// Timezone is the IANA name of the event's time zone
	// ("Europe/London"), in which exports give their times; empty means
	// the server's local zone (Zone).
	Timezone string `yaml:"timezone"`
}

// Live reports whether the event is live at now: between Start-LeadIn and
// End, where a zero bound is open.
func (e *Event) Live(now time.Time) bool {
	if !e.Start.IsZero() && now.Before(e.Start.Add(-e.LeadIn)) {
		return false
	}
	if !e.End.IsZero() && !now.Before(e.End) {
		return false
	}
	return true
}

// Location is a place on the Earth in decimal degrees (WGS 84).
type Location struct {
	// Lat is from -90 (south) to 90 (north).
	Lat float64 `yaml:"lat"`
	// Lon is from -180 (west) to 180 (east).
	Lon float64 `yaml:"lon"`
}

// MapTiles is a raster tile server in the XYZ (slippy map) scheme.
type MapTiles struct {
	// URL is an http(s) URL template with {z}, {x} and {y}:
	// "https://tiles.example.org/{z}/{x}/{y}.png".
	URL string `yaml:"url"`
	// Attribution is the credit the tiles' licence asks for, shown under
	// the map ("© OpenStreetMap contributors").
	Attribution string `yaml:"attribution"`
}

// Source types.
const (
	SourceMastodon  = "mastodon"
	SourceBluesky   = "bluesky"
	SourceRSS       = "rss"
	SourceRehearsal = "rehearsal"
	SourceX         = "x"
	SourceThreads   = "threads"
)

// DefaultJetstream are the public Jetstream hosts a bluesky source reads
// when the file names none, tried in turn.
var DefaultJetstream = []string{
	"wss://jetstream1.us-east.bsky.network",
	"wss://jetstream2.us-east.bsky.network",
}

// Source is one place posts come from. Type says which fields apply; the
// others must be empty. New types (bluesky, rss) add their own fields here.
type Source struct {
	// Type is "mastodon", "bluesky", "rss" or "rehearsal".
	Type string `yaml:"type"`

	// Server is the Mastodon server's base URL (mastodon).
	Server string `yaml:"server"`
	// TokenEnv names the environment variable holding an access token
	// (mastodon, optional: some servers require one for hashtag streaming;
	// threads, required: a Threads user token).
	TokenEnv string `yaml:"token_env"`
	// Stream turns the streaming API on beside polling (mastodon). Default:
	// on when a token is configured, off otherwise. For x it chooses the
	// filtered stream (default on) or recent search only (plans without it).
	Stream *bool `yaml:"stream"`

	// Jetstream are the Jetstream websocket URLs to follow, tried in turn
	// (bluesky); default DefaultJetstream.
	Jetstream []string `yaml:"jetstream"`
	// Handle is a Bluesky account used to search for posts older than
	// Jetstream can replay (bluesky, optional); PasswordEnv names the
	// environment variable holding its app password.
	Handle      string `yaml:"handle"`
	PasswordEnv string `yaml:"password_env"`
	// AppView is where authors' profiles are looked up (bluesky); default
	// https://public.api.bsky.app.
	AppView string `yaml:"appview"`
	// SearchHost is where back-fill logs in and searches (bluesky, with
	// handle); default https://bsky.social.
	SearchHost string `yaml:"search_host"`

	// URL is the RSS or Atom feed (rss): a Mastodon hashtag feed
	// (https://server/tags/Tag.rss) or an organiser's blog feed.
	URL string `yaml:"url"`

	// Rate is posts per minute (rehearsal); default DefaultRehearsalRate.
	Rate float64 `yaml:"rate"`

	// BearerTokenEnv names the environment variable holding the X app's
	// bearer token (x, required). See docs/SOURCES-X.md.
	BearerTokenEnv string `yaml:"bearer_token_env"`
	// BudgetUSD pauses the event's X source once its estimated spend
	// reaches it (x); 0 means no budget.
	BudgetUSD float64 `yaml:"budget_usd"`
	// PostReadUSD and UserReadUSD are X's prices per resource read (x);
	// defaults 0.005 and 0.010 (pay-per-use, 2026).
	PostReadUSD float64 `yaml:"post_read_usd"`
	UserReadUSD float64 `yaml:"user_read_usd"`
	// Query replaces the X rule and search query built from the hashtags
	// (x), e.g. "(#Leaders4Leeds OR #L4L26) -is:retweet lang:en".
	Query string `yaml:"query"`

	// Mode is the Threads search mode (threads): "tag" (default, topic
	// tags) or "keyword" (the hashtag as a word in the text).
	Mode string `yaml:"mode"`
	// DailyQueries is the Threads token's query allowance per rolling 24 h
	// given to this source (threads); default 2200. See docs/SOURCES-X.md.
	DailyQueries int `yaml:"daily_queries"`

	// BearerToken is the token read from BearerTokenEnv.
	BearerToken string `yaml:"-"`

	// Token is the token read from TokenEnv when the config was loaded.
	Token string `yaml:"-"`
	// Password is the app password read from PasswordEnv.
	Password string `yaml:"-"`
}

// Name is the source's name within its event, as ingest.Source.Name gives
// it: "mastodon:mastodon.social", "rehearsal".
func (s *Source) Name() string {
	switch s.Type {
	case SourceMastodon:
		return "mastodon:" + hostOf(s.Server)
	case SourceRSS:
		if u, err := url.Parse(s.URL); err == nil && u.Host != "" {
			return "rss:" + u.Host + u.Path // as ingest/feed names it
		}
		return "rss:" + s.URL
	default:
		return s.Type
	}
}

// Streaming reports whether the Mastodon streaming API (or X's filtered
// stream) should be used.
func (s *Source) Streaming() bool {
	if s.Stream != nil {
		return *s.Stream
	}
	if s.Type == SourceX {
		return true
	}
	return s.Token != ""
}

// Moderation is an event's moderation mode and rules. Lists match without
// regard to case; accounts are handles ("@ada@mastodon.social") or author
// ids, domains are server names ("spam.example").
type Moderation struct {
	// Mode is "pre" (default: a moderator approves every post) or "auto"
	// (posts the rules do not hold are approved at once).
	Mode            event.Mode `yaml:"mode"`
	BlockedWords    []string   `yaml:"blocked_words"`
	BlockedAccounts []string   `yaml:"blocked_accounts"`
	BlockedDomains  []string   `yaml:"blocked_domains"`
	TrustedAccounts []string   `yaml:"trusted_accounts"`
	TrustedDomains  []string   `yaml:"trusted_domains"`
	// Profanity holds posts with common profanity for a moderator, even in
	// auto mode. Default on.
	Profanity *bool `yaml:"profanity"`
	// ChecksOff switches off personal-data and spam rules, by name
	// (moderation.Checks: phone, email, nhs_number, postcode,
	// date_of_birth, hospital, duplicate, links, flood). All are on.
	ChecksOff []string `yaml:"checks_off"`
	// HoldMedia holds every post with images for a moderator, even in
	// auto mode: media reaches the wall only after a moderator looked.
	HoldMedia bool `yaml:"hold_media"`
	// FloodPerMinute is how many posts an author may make a minute before
	// the next is held (default 5).
	FloodPerMinute int `yaml:"flood_per_minute"`
	// AllowedLinkDomains are domains whose links are never held, even from
	// new accounts.
	AllowedLinkDomains []string `yaml:"allowed_link_domains"`
}

// ProfanityOn reports whether the profanity rule is on.
func (m *Moderation) ProfanityOn() bool { return m.Profanity == nil || *m.Profanity }

// Roles are the credentials of the roles that act through the API.
type Roles struct {
	Moderator   Role `yaml:"moderator"`
	Facilitator Role `yaml:"facilitator"`
}

// Role is how one role logs in. Any combination may be set; when none is,
// a passphrase is generated on first run (see EnsurePassphrases).
type Role struct {
	// PassphraseEnv names the environment variable holding a shared passphrase.
	PassphraseEnv string `yaml:"passphrase_env"`
	// Users maps a user name to a bcrypt hash of that user's password.
	Users map[string]string `yaml:"users"`
	// TokensEnv names the environment variable holding API tokens,
	// separated by commas, for scripts and other tools.
	TokensEnv string `yaml:"tokens_env"`

	// Passphrase is the shared passphrase: read from PassphraseEnv, or
	// generated on first run.
	Passphrase string `yaml:"-"`
	// Tokens are the API tokens read from TokensEnv.
	Tokens []string `yaml:"-"`
	// Generated reports that Passphrase was generated, not configured.
	Generated bool `yaml:"-"`
	// SharedKey, when set, is the Redis key the generated Passphrase is
	// shared under by every node of a deployment.
	SharedKey string `yaml:"-"`
}

// Configured reports whether any credential is configured for the role.
func (r *Role) Configured() bool {
	return r.Passphrase != "" || len(r.Users) > 0 || len(r.Tokens) > 0
}

// Display holds the screens' options. The zero value shows avatars and
// handles. What each option takes is package event's rule (event.Display,
// ValidateDisplayOption), the same as the settings API's; the yaml names
// are event.DisplayKeys.
type Display struct {
	// Layout is the wall's layout, one of event.Layouts: "grid" (default;
	// also "masonry"), "column", "spotlight" (also "carousel": one post at
	// a time) or "ticker". Validate replaces an alias by the name it
	// stands for.
	Layout string `yaml:"layout"`
	// Theme is one of event.Themes: "dark" (default, for projectors),
	// "light" or "contrast" (also "high-contrast"). Validate replaces an
	// alias by the name it stands for.
	Theme       string `yaml:"theme"`
	ShowAvatars *bool  `yaml:"show_avatars"`
	ShowHandles *bool  `yaml:"show_handles"`
	// BrandColour is a CSS hex colour, "#1a7f5a" (event.ValidColour).
	BrandColour string `yaml:"brand_colour"`
	// Logo is an https URL or a path served by this server ("/logo.png")
	// (event.ValidLogo).
	Logo string `yaml:"logo"`
	// Dwell is the least time a post stays the big one on the wall's
	// spotlight and ticker layouts, a Go duration from 1s to 10m ("8s",
	// the default when empty) (event.ValidateDisplayOption).
	Dwell string `yaml:"dwell"`
	// Questions shows the most voted open questions on the wall and the
	// overlay: "off" (default) or "top1" to "top10" (event.TopQuestions).
	Questions string `yaml:"questions"`
}

// Map gives the display options as the fold's settings hold them
// (fold.SettingsView.Display): only the options that are set.
func (d *Display) Map() map[string]string {
	m := map[string]string{}
	put := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	put("layout", d.Layout)
	put("theme", d.Theme)
	if d.ShowAvatars != nil {
		m["show_avatars"] = boolString(*d.ShowAvatars)
	}
	if d.ShowHandles != nil {
		m["show_handles"] = boolString(*d.ShowHandles)
	}
	put("brand_colour", d.BrandColour)
	put("logo", d.Logo)
	put("dwell", d.Dwell)
	put("questions", d.Questions)
	return m
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// Event returns the event with this slug, or nil.
func (c *Config) Event(slug string) *Event {
	for i := range c.Events {
		if c.Events[i].Slug == slug {
			return &c.Events[i]
		}
	}
	return nil
}

// TileURL is the tile URL template, "" when no tile server is configured.
func (t *MapTiles) TileURL() string {
	if t == nil {
		return ""
	}
	return t.URL
}

// Credit is the tiles' attribution, "" when none is configured.
func (t *MapTiles) Credit() string {
	if t == nil {
		return ""
	}
	return t.Attribution
}
