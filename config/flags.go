package config

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/backchannel/backchannel/event"
)

// Flags are the command line's settings. Each has an environment variable
// (BACKCHANNEL_ plus the flag's name in capitals, '-' as '_'); a flag given
// on the command line wins over its variable, and both win over the file.
type Flags struct {
	Config     string
	Listen     string
	Data       string
	Redis      string
	Moderation string
	LogFormat  string
	// PublicURL, when given, replaces the file's public_url.
	PublicURL string
	// MetricsListen, when given, replaces the file's metrics_listen.
	MetricsListen string
	// AllowedOrigins, when given, are added to the file's allowed_origins.
	AllowedOrigins []string
	// Tags, when given, make one event following these hashtags (the
	// first names it); Mastodon and Rehearse give that event its sources.
	Tags     []string
	Mastodon []string
	Bluesky  bool
	Rehearse bool
	// MaxSocketsPerAddress, when above 0, replaces the file's
	// server.max_sockets_per_address.
	MaxSocketsPerAddress int

	fs *flag.FlagSet
}

// listFlag is a repeatable flag; commas also separate values so the
// environment variable can hold several.
type listFlag struct{ v *[]string }

func (l listFlag) String() string {
	if l.v == nil {
		return ""
	}
	return strings.Join(*l.v, ",")
}

func (l listFlag) Set(s string) error {
	for p := range strings.SplitSeq(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			*l.v = append(*l.v, p)
		}
	}
	return nil
}

// Register defines the flags on fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	f.fs = fs
	fs.StringVar(&f.Config, "config", "", "YAML file describing the events (env BACKCHANNEL_CONFIG)")
	fs.StringVar(&f.Listen, "listen", "", "HTTP listen address (default "+DefaultListen+"; env BACKCHANNEL_LISTEN)")
	fs.StringVar(&f.MetricsListen, "metrics-listen", "", "serve /metrics on this address only (e.g. 127.0.0.1:9100), not on --listen (env BACKCHANNEL_METRICS_LISTEN)")
	fs.StringVar(&f.Data, "data", "", "directory of the embedded log and generated passphrases (default "+DefaultData+"; env BACKCHANNEL_DATA)")
	fs.StringVar(&f.Redis, "redis", "", "redis:// URL: keep the logs in Redis Streams instead of the embedded log (env BACKCHANNEL_REDIS)")
	fs.StringVar(&f.Moderation, "moderation", "", "moderation mode of every event: pre (default) or auto (env BACKCHANNEL_MODERATION)")
	fs.StringVar(&f.LogFormat, "log-format", "", "log format: text (default) or json (env BACKCHANNEL_LOG_FORMAT)")
	fs.StringVar(&f.PublicURL, "public-url", "", "the address people open to reach this server, for the QR code and the join text, e.g. https://wall.example.org (default: this machine's address on its network; env BACKCHANNEL_PUBLIC_URL)")
	fs.Var(listFlag{&f.AllowedOrigins}, "allowed-origin", "a browser origin accepted besides the request's own host, e.g. https://wall.example.org; repeatable (env BACKCHANNEL_ALLOWED_ORIGIN, comma-separated)")
	fs.Var(listFlag{&f.Tags}, "tag", "hashtag to follow, without '#'; repeatable; makes one event named after the first (env BACKCHANNEL_TAG, comma-separated)")
	fs.Var(listFlag{&f.Mastodon}, "mastodon", "Mastodon server to search, e.g. https://mastodon.social; repeatable (env BACKCHANNEL_MASTODON)")
	fs.BoolVar(&f.Bluesky, "bluesky", false, "follow the hashtags on Bluesky too, through the public Jetstream (env BACKCHANNEL_BLUESKY)")
	fs.BoolVar(&f.Rehearse, "rehearse", false, "add a rehearsal source that makes up posts, to try the screens (env BACKCHANNEL_REHEARSE)")
	fs.IntVar(&f.MaxSocketsPerAddress, "max-sockets-per-address", 0, "public websockets one client address may hold; a venue NAT puts hundreds of phones behind one (default "+strconv.Itoa(DefaultMaxSocketsPerAddress)+"; env BACKCHANNEL_MAX_SOCKETS_PER_ADDRESS)")
}

// EnvName is the environment variable of the flag called name.
func EnvName(name string) string {
	return "BACKCHANNEL_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
}

// Build makes the config: defaults, then the file (if any), then the
// environment, then the flags given on the command line. getenv reads both
// the BACKCHANNEL_ variables and the secrets the file names.
func (f *Flags) Build(getenv func(string) string) (*Config, error) {
	if err := f.applyEnv(getenv); err != nil {
		return nil, err
	}
	c := &Config{lines: map[string]int{}}
	var fileErr error // what is wrong in the file, reported with the rest
	if f.Config != "" {
		b, err := os.ReadFile(f.Config)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		// Decode without validating: the flags below may complete the
		// file (add the event it lacks, set the mode); the result is
		// validated once, whole.
		if c, fileErr = decode(f.Config, b, getenv); c == nil {
			return nil, fileErr
		}
	}
	if f.Listen != "" {
		c.Listen = f.Listen
	}
	if f.MetricsListen != "" {
		c.MetricsListen = f.MetricsListen
	}
	if f.Data != "" {
		c.Data = f.Data
	}
	if f.Redis != "" {
		c.Redis = f.Redis
	}
	if f.LogFormat != "" {
		c.LogFormat = f.LogFormat
	}
	if f.PublicURL != "" {
		c.PublicURL = f.PublicURL
	}
	if f.MaxSocketsPerAddress != 0 {
		c.Server.MaxSocketsPerAddress = f.MaxSocketsPerAddress
	}
	c.AllowedOrigins = append(c.AllowedOrigins, f.AllowedOrigins...)
	if len(f.Tags) == 0 && (len(f.Mastodon) > 0 || f.Bluesky || f.Rehearse) {
		return nil, &Error{Path: "--tag", Msg: "--mastodon, --bluesky and --rehearse add sources to the event --tag makes: give --tag too"}
	}
	if len(f.Tags) > 0 {
		e, err := f.event()
		if err != nil {
			return nil, err
		}
		c.Events = append(c.Events, e)
	}
	if f.Moderation != "" {
		m := event.Mode(f.Moderation)
		if m != event.ModePre && m != event.ModeAuto {
			return nil, &Error{Path: "--moderation", Msg: fmt.Sprintf("must be pre or auto, not %q", f.Moderation)}
		}
		for i := range c.Events {
			c.Events[i].Moderation.Mode = m
		}
	}
	if c.File == "" && len(c.Events) == 0 {
		return nil, &Error{Path: "--tag", Msg: "nothing to serve: give --tag HASHTAG or --config FILE"}
	}
	c.defaults()
	if err := withValidation(fileErr, c.Validate()); err != nil {
		return nil, err
	}
	return c, nil
}

// event makes the event the flags describe.
func (f *Flags) event() (Event, error) {
	var e Event
	for _, t := range f.Tags {
		t = strings.TrimPrefix(t, "#")
		if !hashtagRe.MatchString(t) {
			return e, &Error{Path: "--tag", Msg: fmt.Sprintf("%q is not a hashtag: letters, digits and '_' only", t)}
		}
		e.Hashtags = append(e.Hashtags, t)
	}
	e.Slug = strings.ToLower(e.Hashtags[0])
	if !slugRe.MatchString(e.Slug) {
		return e, &Error{Path: "--tag", Msg: fmt.Sprintf("%q does not make a URL-safe slug; use --config to name the event", e.Hashtags[0])}
	}
	e.Title = "#" + e.Hashtags[0]
	for _, m := range f.Mastodon {
		if !strings.Contains(m, "://") {
			m = "https://" + m
		}
		s := Source{Type: SourceMastodon, Server: strings.TrimRight(m, "/")}
		if errs := (&Config{lines: map[string]int{}}).validateSource("--mastodon", &s); len(errs) > 0 {
			ce := errs[0].(*Error)
			ce.Path = "--mastodon"
			return e, ce
		}
		e.Sources = append(e.Sources, s)
	}
	if f.Bluesky {
		e.Sources = append(e.Sources, Source{Type: SourceBluesky, Jetstream: append([]string(nil), DefaultJetstream...)})
	}
	if f.Rehearse {
		e.Sources = append(e.Sources, Source{Type: SourceRehearsal, Rate: DefaultRehearsalRate})
	}
	return e, nil
}

// applyEnv fills each flag not given on the command line from its variable.
func (f *Flags) applyEnv(getenv func(string) string) error {
	set := map[string]bool{}
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	}
	str := func(name string, p *string) {
		if v := getenv(EnvName(name)); v != "" && !set[name] {
			*p = v
		}
	}
	str("config", &f.Config)
	str("listen", &f.Listen)
	str("metrics-listen", &f.MetricsListen)
	str("data", &f.Data)
	str("redis", &f.Redis)
	str("moderation", &f.Moderation)
	str("log-format", &f.LogFormat)
	str("public-url", &f.PublicURL)
	for _, l := range []struct {
		name string
		v    *[]string
	}{{"tag", &f.Tags}, {"mastodon", &f.Mastodon}, {"allowed-origin", &f.AllowedOrigins}} {
		if v := getenv(EnvName(l.name)); v != "" && !set[l.name] {
			*l.v = nil
			_ = listFlag{l.v}.Set(v)
		}
	}
	for _, b := range []struct {
		name string
		v    *bool
	}{{"bluesky", &f.Bluesky}, {"rehearse", &f.Rehearse}} {
		if v := getenv(EnvName(b.name)); v != "" && !set[b.name] {
			on, err := strconv.ParseBool(v)
			if err != nil {
				return &Error{Path: EnvName(b.name), Msg: fmt.Sprintf("%q is not true or false", v)}
			}
			*b.v = on
		}
	}
	if v := getenv(EnvName("max-sockets-per-address")); v != "" && !set["max-sockets-per-address"] {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			return &Error{Path: EnvName("max-sockets-per-address"), Msg: fmt.Sprintf("%q is not a whole number above 0", v)}
		}
		f.MaxSocketsPerAddress = n
	}
	return nil
}
