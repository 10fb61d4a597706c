package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/internal/redisurl"
	"github.com/backchannel/backchannel/internal/weburl"
	"github.com/backchannel/backchannel/moderation"
)

var (
	slugRe    = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)
	hashtagRe = regexp.MustCompile(`^[\p{L}\p{N}_]+$`)
	userRe    = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,64}$`)
	domainRe  = regexp.MustCompile(`^(?i)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$`)
)

// Lengths of secrets, as package auth requires them.
const (
	MinSessionKey  = 32
	MinTokenLength = 16
)

// Validate reports everything wrong with c, each as an *Error naming the
// field (and the line, when c was read from a file), joined with errors.Join.
func (c *Config) Validate() error {
	if c.lines == nil {
		c.lines = map[string]int{}
	}
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, c.errAt(path, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen", "not a listen address like :8080 or 127.0.0.1:8080")
	}
	if c.MetricsListen != "" {
		if _, port, err := net.SplitHostPort(c.MetricsListen); err != nil {
			bad("metrics_listen", "not a listen address like 127.0.0.1:9100")
		} else if c.MetricsListen == c.Listen && port != "0" {
			bad("metrics_listen", "is the same address as listen: leave it out to serve /metrics there")
		}
	}
	if c.Redis != "" {
		if _, err := redisurl.Parse(c.Redis); err != nil {
			bad("redis", "not a redis:// URL: %v", err)
		}
	}
	for i, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.User != nil {
			bad(fmt.Sprintf("allowed_origins[%d]", i), "%q is not an origin like https://wall.example.org or http://localhost:8080", o)
		}
	}
	if c.Redis == "" && c.Data == "" {
		bad("data", "required when redis is not set")
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("log_format", "must be text or json, not %q", c.LogFormat)
	}
	if c.SessionKeyEnv != "" && len(c.SessionKey) > 0 && len(c.SessionKey) < MinSessionKey {
		bad("session_key_env", "the key is %d bytes; at least %d are needed", len(c.SessionKey), MinSessionKey)
	}
	c.Proxies = c.Proxies[:0]
	for i, p := range c.TrustedProxies {
		pfx, err := netip.ParsePrefix(p)
		if err != nil {
			a, aerr := netip.ParseAddr(p)
			if aerr != nil {
				bad(fmt.Sprintf("trusted_proxies[%d]", i), "%q is not an address or CIDR prefix like 10.0.0.0/8", p)
				continue
			}
			pfx = netip.PrefixFrom(a, a.BitLen())
		}
		c.Proxies = append(c.Proxies, pfx.Masked())
	}
	if t := c.MapTiles; t != nil {
		u, err := url.Parse(t.URL)
		switch {
		case t.URL == "":
			bad("map_tiles.url", "required: a tile URL like https://tiles.example.org/{z}/{x}/{y}.png")
		case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.ContainsAny(u.Host, "{}"):
			bad("map_tiles.url", "not an http(s) URL with a fixed host: %q", t.URL)
		case !strings.Contains(t.URL, "{z}") || !strings.Contains(t.URL, "{x}") || !strings.Contains(t.URL, "{y}"):
			bad("map_tiles.url", "needs {z}, {x} and {y} where the tile's zoom and numbers go: %q", t.URL)
		}
		if len(t.Attribution) > 300 {
			bad("map_tiles.attribution", "longer than 300 bytes")
		}
	}
	errs = append(errs, c.validateServer("server", &c.Server)...)
	if len(c.Events) == 0 {
		bad("events", "no events: add at least one (or run with --tag)")
	}
	errs = append(errs, c.validatePublicURLs()...)
	errs = append(errs, c.validateTimezones()...)
	errs = append(errs, c.validateForms()...)
	slugs := map[string]int{}
	for i := range c.Events {
		e := &c.Events[i]
		p := fmt.Sprintf("events[%d]", i)
		if j, dup := slugs[e.Slug]; dup && e.Slug != "" {
			bad(p+".slug", "%q is already the slug of events[%d]", e.Slug, j)
		}
		slugs[e.Slug] = i
		errs = append(errs, c.validateEvent(p, e)...)
	}
	return errors.Join(errs...)
}

// validateServer checks the server's limits. Whether the sockets fit the
// open-file limit is known only at start, where it is checked again.
func (c *Config) validateServer(sp string, s *Server) []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, c.errAt(path, fmt.Sprintf(format, args...)))
	}
	if s.MaxSocketsPerAddress < 1 {
		bad(sp+".max_sockets_per_address", "must be at least 1, not %d", s.MaxSocketsPerAddress)
	}
	if s.MaxSockets < 0 {
		bad(sp+".max_sockets", "must not be negative (0 derives it from the open-file limit)")
	}
	if s.FDReserve < 0 {
		bad(sp+".fd_reserve", "must not be negative (0 keeps a tenth of the open-file limit, at least 256)")
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"body_timeout", s.BodyTimeout}, {"header_timeout", s.HeaderTimeout}, {"idle_timeout", s.IdleTimeout}} {
		if d.v < 100*time.Millisecond || d.v > time.Hour {
			bad(sp+"."+d.name, "must be between 100ms and 1h, not %s", d.v)
		}
	}
	return errs
}

func (c *Config) validateEvent(p string, e *Event) []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, c.errAt(path, fmt.Sprintf(format, args...)))
	}
	switch {
	case e.Slug == "":
		bad(p+".slug", "required (or give a hashtag)")
	case !slugRe.MatchString(e.Slug):
		bad(p+".slug", "%q is not URL-safe: use lower-case letters, digits and '-', at most 64", e.Slug)
	}
	if strings.TrimSpace(e.Title) == "" && len(e.Hashtags) > 0 {
		bad(p+".title", "required")
	}
	if len(e.Hashtags) == 0 {
		bad(p+".hashtags", "at least one hashtag is required")
	}
	tags := map[string]bool{}
	for j, h := range e.Hashtags {
		hp := fmt.Sprintf("%s.hashtags[%d]", p, j)
		switch {
		case strings.HasPrefix(h, "#"):
			bad(hp, "write %q without '#'", h)
		case !hashtagRe.MatchString(h):
			bad(hp, "%q is not a hashtag: letters, digits and '_' only", h)
		case tags[strings.ToLower(h)]:
			bad(hp, "%q is listed twice", h)
		}
		tags[strings.ToLower(h)] = true
	}
	if !e.Start.IsZero() && !e.End.IsZero() && !e.End.After(e.Start) {
		bad(p+".end", "must be after start (%s)", e.Start.Format("2006-01-02 15:04 MST"))
	}
	if l := e.Location; l != nil {
		lp := p + ".location"
		for _, f := range []struct {
			name string
			v    float64
			lim  float64
		}{{"lat", l.Lat, 90}, {"lon", l.Lon, 180}} {
			_, written := c.lines[lp+"."+f.name]
			switch {
			case c.File != "" && !written:
				bad(lp+"."+f.name, "required: write the location as {lat: 53.8008, lon: -1.5491}")
			case math.IsNaN(f.v) || f.v < -f.lim || f.v > f.lim:
				bad(lp+"."+f.name, "%g is out of range: %s is from %g to %g degrees", f.v, f.name, -f.lim, f.lim)
			}
		}
	}
	if e.LeadIn < 0 {
		bad(p+".lead_in", "must not be negative")
	}
	if e.LeadIn > 0 && e.Start.IsZero() {
		bad(p+".lead_in", "needs a start time")
	}
	names := map[string]int{}
	for j := range e.Sources {
		s := &e.Sources[j]
		sp := fmt.Sprintf("%s.sources[%d]", p, j)
		errs = append(errs, c.validateSource(sp, s)...)
		if k, dup := names[s.Name()]; dup {
			bad(sp, "source %s is already events%s.sources[%d]", s.Name(), strings.TrimPrefix(p, "events"), k)
		}
		names[s.Name()] = j
	}
	errs = append(errs, c.validateModeration(p+".moderation", &e.Moderation)...)
	errs = append(errs, c.validateRole(p+".roles.moderator", &e.Roles.Moderator)...)
	errs = append(errs, c.validateRole(p+".roles.facilitator", &e.Roles.Facilitator)...)
	errs = append(errs, c.validateDisplay(p+".display", &e.Display)...)
	if len(e.PrivacyNotice) > 4000 {
		bad(p+".privacy_notice", "longer than 4000 bytes")
	}
	return errs
}

func (c *Config) validateSource(sp string, s *Source) []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, c.errAt(path, fmt.Sprintf(format, args...)))
	}
	switch s.Type {
	case SourceMastodon:
		u, ok := weburl.Parse(s.Server)
		switch {
		case s.Server == "":
			bad(sp+".server", "required for a mastodon source")
		case !ok:
			bad(sp+".server", "not a URL: %q (write it as https://mastodon.social)", s.Server)
		case u.Path != "" || u.RawQuery != "":
			bad(sp+".server", "give the server's base URL only, without a path: %q", s.Server)
		}
		if s.Rate != 0 {
			bad(sp+".rate", "only a rehearsal source has a rate")
		}
		errs = append(errs, c.onlyFor(sp, s, SourceMastodon)...)
	case SourceBluesky:
		for k, h := range s.Jetstream {
			u, err := url.Parse(h)
			if err != nil || (u.Scheme != "wss" && u.Scheme != "ws") || u.Host == "" {
				bad(fmt.Sprintf("%s.jetstream[%d]", sp, k), "not a websocket URL: %q (write it as wss://jetstream1.us-east.bsky.network)", h)
			}
		}
		for _, f := range []struct{ name, v string }{{"appview", s.AppView}, {"search_host", s.SearchHost}} {
			if u, ok := weburl.Parse(f.v); f.v != "" && (!ok || (u.Path != "" && u.Path != "/") || u.RawQuery != "") {
				bad(sp+"."+f.name, "not a base URL: %q (write it as https://public.api.bsky.app)", f.v)
			}
		}
		if (s.Handle == "") != (s.PasswordEnv == "") {
			bad(sp+".handle", "handle and password_env go together: the account searches for posts older than Jetstream replays")
		}
		errs = append(errs, c.onlyFor(sp, s, SourceBluesky)...)
	case SourceRSS:
		switch {
		case s.URL == "":
			bad(sp+".url", "required for an rss source")
		case !weburl.Valid(s.URL):
			bad(sp+".url", "not a URL: %q (write it as https://blog.example.org/feed/)", s.URL)
		}
		errs = append(errs, c.onlyFor(sp, s, SourceRSS)...)
	case SourceX:
		if s.BearerTokenEnv == "" {
			bad(sp+".bearer_token_env", "required for an x source: the environment variable holding the app's bearer token")
		}
		for _, f := range []struct {
			name string
			v    float64
		}{{"budget_usd", s.BudgetUSD}, {"post_read_usd", s.PostReadUSD}, {"user_read_usd", s.UserReadUSD}} {
			if f.v < 0 {
				bad(sp+"."+f.name, "must not be negative, not %g", f.v)
			}
		}
		if len(s.Query) > 512 {
			bad(sp+".query", "is %d characters; X's recent search takes at most 512", len(s.Query))
		}
		errs = append(errs, c.onlyFor(sp, s, SourceX)...)
	case SourceThreads:
		if s.TokenEnv == "" {
			bad(sp+".token_env", "required for a threads source: the environment variable holding a Threads user access token")
		}
		if s.Mode != "" && s.Mode != "tag" && s.Mode != "keyword" {
			bad(sp+".mode", "must be tag or keyword, not %q", s.Mode)
		}
		if s.DailyQueries < 0 || s.DailyQueries > 2200 {
			bad(sp+".daily_queries", "must be between 1 and Meta's 2200 a day, not %d", s.DailyQueries)
		}
		errs = append(errs, c.onlyFor(sp, s, SourceThreads)...)
	case SourceRehearsal:
		if s.Rate <= 0 || s.Rate > 6000 {
			bad(sp+".rate", "posts per minute must be above 0 and at most 6000, not %g", s.Rate)
		}
		errs = append(errs, c.onlyFor(sp, s, SourceRehearsal)...)
	case "":
		bad(sp+".type", "required: %s", sourceTypes)
	default:
		bad(sp+".type", "unknown source type %q: use %s", s.Type, sourceTypes)
	}
	return errs
}

var sourceTypes = strings.Join([]string{SourceMastodon, SourceBluesky, SourceRSS, SourceX, SourceThreads, SourceRehearsal}, ", ")

// onlyFor refuses the fields of other source types than typ, so a field
// written under the wrong type is not silently ignored.
func (c *Config) onlyFor(sp string, s *Source, typ string) []error {
	var errs []error
	for _, f := range []struct {
		name, owner string
		set         bool
	}{
		{"server", SourceMastodon, s.Server != ""},
		{"token_env", SourceMastodon, s.TokenEnv != ""},
		{"stream", SourceMastodon, s.Stream != nil},
		{"jetstream", SourceBluesky, len(s.Jetstream) > 0},
		{"handle", SourceBluesky, s.Handle != ""},
		{"password_env", SourceBluesky, s.PasswordEnv != ""},
		{"appview", SourceBluesky, s.AppView != ""},
		{"search_host", SourceBluesky, s.SearchHost != ""},
		{"url", SourceRSS, s.URL != ""},
		{"bearer_token_env", SourceX, s.BearerTokenEnv != ""},
		{"budget_usd", SourceX, s.BudgetUSD != 0},
		{"post_read_usd", SourceX, s.PostReadUSD != 0},
		{"user_read_usd", SourceX, s.UserReadUSD != 0},
		{"query", SourceX, s.Query != ""},
		{"mode", SourceThreads, s.Mode != ""},
		{"daily_queries", SourceThreads, s.DailyQueries != 0},
	} {
		if f.name == "stream" && typ == SourceX {
			continue // x: the filtered stream or search only
		}
		if f.name == "token_env" && typ == SourceThreads {
			continue // threads: its user token
		}
		if f.set && f.owner != typ {
			errs = append(errs, c.errAt(sp+"."+f.name, fmt.Sprintf("a %s source has no %s (that is for %s)", typ, f.name, f.owner)))
		}
	}
	return errs
}

func (c *Config) validateModeration(mp string, m *Moderation) []error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, c.errAt(path, fmt.Sprintf(format, args...)))
	}
	if !m.Mode.Valid() {
		bad(mp+".mode", "must be pre or auto, not %q", m.Mode)
	}
	if m.FloodPerMinute < 0 {
		bad(mp+".flood_per_minute", "must be 0 (the default, 5) or more, not %d", m.FloodPerMinute)
	}
	for _, l := range []struct {
		name string
		list []string
		ok   func(string) bool
		want string
	}{
		{"blocked_words", m.BlockedWords, func(s string) bool { return strings.TrimSpace(s) != "" }, "a word or phrase"},
		{"blocked_accounts", m.BlockedAccounts, validAccount, "an account: @ada@mastodon.social, ada@mastodon.social, https://mastodon.social/@ada or https://mastodon.social/users/ada"},
		{"blocked_domains", m.BlockedDomains, domainRe.MatchString, "a domain like spam.example"},
		{"trusted_accounts", m.TrustedAccounts, validAccount, "an account: @ada@mastodon.social, ada@mastodon.social, https://mastodon.social/@ada or https://mastodon.social/users/ada"},
		{"trusted_domains", m.TrustedDomains, domainRe.MatchString, "a domain like example.org"},
		{"allowed_link_domains", m.AllowedLinkDomains, domainRe.MatchString, "a domain like leeds.gov.uk"},
		{"checks_off", m.ChecksOff, func(s string) bool { return slices.Contains(moderation.Checks, s) },
			"a rule's name: one of " + strings.Join(moderation.Checks, ", ")},
	} {
		for j, s := range l.list {
			if !l.ok(s) {
				bad(fmt.Sprintf("%s.%s[%d]", mp, l.name, j), "%q is not %s", s, l.want)
			}
		}
	}
	return errs
}

// validAccount accepts a handle (@user@server, user@server, with a port
// as in @user@localhost:18080, or a Bluesky handle), an acct: id, a profile
// URL or actor URI (https://server/@user, https://server/users/user) or a
// DID: whatever a moderator may paste for an account (moderation's account
// form reads them all).
func validAccount(s string) bool {
	if s == "" || strings.ContainsAny(s, " \t\n") {
		return false
	}
	if strings.HasPrefix(s, "did:") {
		return true
	}
	if strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://") {
		return weburl.Valid(s)
	}
	h := strings.TrimPrefix(strings.TrimPrefix(s, "acct:"), "@")
	if user, host, ok := strings.Cut(h, "@"); ok {
		return user != "" && validHostPort(host)
	}
	return domainRe.MatchString(h)
}

// validHostPort accepts a domain, "localhost" or an IP address, with an
// optional port: a handle's domain is the server's account domain, which
// has a port on a server run on one.
func validHostPort(v string) bool {
	host := v
	if h, port, err := net.SplitHostPort(v); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return false
		}
		host = h
	}
	return domainRe.MatchString(host) || strings.EqualFold(host, "localhost") || net.ParseIP(host) != nil
}

func (c *Config) validateRole(rp string, r *Role) []error {
	var errs []error
	for name, hash := range r.Users {
		up := rp + ".users." + name
		if !userRe.MatchString(name) {
			errs = append(errs, c.errAt(up, fmt.Sprintf("%q is not a user name: letters, digits and _.@- only", name)))
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			errs = append(errs, c.errAt(up, "not a bcrypt hash (make one with: htpasswd -nbBC 12 '' PASSWORD | cut -c2-)"))
		}
	}
	for j, t := range r.Tokens {
		if len(t) < MinTokenLength {
			errs = append(errs, c.errAt(rp+".tokens_env", fmt.Sprintf("token %d is %d characters; API tokens need at least %d", j+1, len(t), MinTokenLength)))
		}
	}
	if r.Passphrase != "" && len(r.Passphrase) < 8 {
		errs = append(errs, c.errAt(rp+".passphrase_env", "the passphrase is shorter than 8 characters"))
	}
	return errs
}

// validateDisplay checks the display options by the one rule of package
// event (the settings API uses the same), then writes the layout and theme
// under their canonical names: the fold starts from d.Map(), so the
// screens, staff pages included, only ever see one name for each.
func (c *Config) validateDisplay(dp string, d *Display) []error {
	var errs []error
	m := d.Map()
	for _, k := range event.DisplayKeys {
		if err := event.ValidateDisplayOption(k, m[k]); err != nil {
			var de *event.DisplayError
			if !errors.As(err, &de) {
				de = &event.DisplayError{Key: k, Reason: err.Error()}
			}
			errs = append(errs, c.errAt(dp+"."+k, de.Reason))
		}
	}
	if l, ok := event.CanonicalLayout(d.Layout); ok {
		d.Layout = l
	}
	if t, ok := event.CanonicalTheme(d.Theme); ok {
		d.Theme = t
	}
	return errs
}

func hostOf(server string) string {
	if u, err := url.Parse(server); err == nil && u.Host != "" {
		return strings.ToLower(u.Host)
	}
	return server
}
