// Package webform is the web form source: participants with no social
// account post to an event through a plain form. Every post it takes is
// held for a moderator whatever the event's mode (moderation.Rules holds
// Source "form"); this package only accepts, cleans and hands posts to the
// event's ingest.Sink, with a length cap, a honeypot field against bots,
// rate limits per device, per address and per event (guard.go, device.go),
// and refuses posts sent from other sites.
package webform

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/backchannel/backchannel/ingest/sanitize"
	"github.com/backchannel/backchannel/internal/clientaddr"
	"github.com/backchannel/backchannel/internal/jsonhttp"

	"golang.org/x/text/unicode/norm"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/internal/ratelimit"
	"github.com/prometheus/client_golang/prometheus"
)

// Kind is the Source of the posts this package makes.
const Kind = "form"

// HoneypotField is the form field that people never see (the page hides
// it) and bots fill in. A submission with it filled is answered as if it
// were taken, and dropped.
const HoneypotField = "website"

// Defaults.
const (
	DefaultMaxText = 500 // characters (runes) of text
	DefaultMaxName = 50  // characters (runes) of name
	maxBody        = 16 << 10
)

// Received is the message a participant sees after posting.
const Received = "Thanks — a moderator will review your post."

// Event is one event's form.
type Event struct {
	// Sink is where the event's posts go.
	Sink ingest.Sink
	// Notice is the event's privacy notice, shown above the form (who sees
	// what is posted, how long it is kept).
	Notice string
	// Limits are the event's rate limits; zero ones take Options.Limits.
	Limits Limits
	// PublicURL is the event's public address (config.Event.PublicURL): a
	// post whose Origin is this host is from our own page.
	PublicURL string
}

// Options configure a Handler.
type Options struct {
	// MaxText and MaxName cap the lengths, in characters (defaults 500, 50).
	MaxText, MaxName int
	// Limits are the limits of events that set none (default
	// DefaultLimits: 3 posts a minute per device, 60 per address, 600 per
	// event).
	Limits Limits
	// Key signs device tokens: the server's session key, shared by every
	// node (nil: a random key, so tokens end with the process).
	Key []byte
	// DeviceTTL is how long a device token lasts (default DefaultDeviceTTL).
	DeviceTTL time.Duration
	// Registerer, when set, receives the form's metrics.
	Registerer prometheus.Registerer
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed.
	TrustedProxies []netip.Prefix
	// SlugFrom finds the event slug (default r.PathValue("slug")).
	SlugFrom func(*http.Request) string
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Handler serves GET and POST /e/{slug}/form for every event it is given.
// It is safe for concurrent use.
type Handler struct {
	opts    Options
	key     []byte
	postKey []byte // signs post tokens (owntoken.go)
	metrics formMetrics

	mu     sync.RWMutex
	events map[string]formEvent
}

type formEvent struct {
	Event
	limit *limiters
}

// New returns a Handler with no events.
func New(opts Options) *Handler {
	if opts.MaxText <= 0 {
		opts.MaxText = DefaultMaxText
	}
	if opts.MaxName <= 0 {
		opts.MaxName = DefaultMaxName
	}
	opts.Limits = opts.Limits.orDefault(DefaultLimits)
	if opts.DeviceTTL <= 0 {
		opts.DeviceTTL = DefaultDeviceTTL
	}
	if opts.SlugFrom == nil {
		opts.SlugFrom = func(r *http.Request) string { return r.PathValue("slug") }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Handler{opts: opts, key: deviceKey(opts.Key), postKey: postTokenKey(opts.Key), metrics: newFormMetrics(opts.Registerer), events: make(map[string]formEvent)}
}

// SetEvent opens (or changes) the form of the event slug. The event's
// counts carry over unless its limits changed.
func (h *Handler) SetEvent(slug string, e Event) {
	e.Limits = e.Limits.orDefault(h.opts.Limits)
	h.mu.Lock()
	defer h.mu.Unlock()
	fe := formEvent{Event: e}
	if old, ok := h.events[slug]; ok && old.limit.limits == e.Limits {
		fe.limit = old.limit
	} else {
		fe.limit = newLimiters(e.Limits, h.opts.Now)
	}
	h.events[slug] = fe
}

// RemoveEvent closes the form of the event slug: it answers 404.
func (h *Handler) RemoveEvent(slug string) {
	h.mu.Lock()
	delete(h.events, slug)
	h.mu.Unlock()
}

// Info is the GET answer: what the page needs to draw the form.
type Info struct {
	Notice   string `json:"notice"`
	MaxText  int    `json:"max_text"`
	MaxName  int    `json:"max_name"`
	Honeypot string `json:"honeypot"`
}

// Answer is the POST answer on success (and on a honeypot hit, alike).
type Answer struct {
	Status  string `json:"status"`
	Message string `json:"message"`
	// Post is the post's id; Token lets the sender read that post and its
	// state back (GET /e/{slug}/mine, owntoken.go), and no other.
	Post  string `json:"post"`
	Token string `json:"token"`
}

// Submission is what a participant sends, as JSON or form fields of the
// same names. Question accepts true/false or a checkbox's "on".
type Submission struct {
	Name     string   `json:"name"`
	Text     string   `json:"text"`
	Question flexBool `json:"question"`
	Website  string   `json:"website"` // HoneypotField
}

// ServeHTTP answers GET with the form's Info, handing out a device token
// cookie (device.go), and POST with a submission's outcome: 200
// {"status":"received",...} with the post's id and its token
// (owntoken.go); 400 for a missing or too long text or name;
// 403 for a post sent from another site; 404 for an unknown event; 429
// with Retry-After when the device, the address or the whole event posted
// too often; 503 when the post could not be stored.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	slug := h.opts.SlugFrom(r)
	h.mu.RLock()
	ev, ok := h.events[slug]
	h.mu.RUnlock()
	if !ok {
		jsonhttp.Refuse(w, http.StatusNotFound, event.ENOTFOUND, "no such event")
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		tls := r.TLS != nil || (clientaddr.FromTrustedProxy(r, h.opts.TrustedProxies) && strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https"))
		h.handOutDevice(w, r, slug, tls)
		jsonhttp.WriteJSON(w, http.StatusOK, Info{Notice: ev.Notice, MaxText: h.opts.MaxText, MaxName: h.opts.MaxName, Honeypot: HoneypotField})
	case http.MethodPost:
		h.submit(w, r, slug, ev)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		jsonhttp.Refuse(w, http.StatusMethodNotAllowed, event.EINVALID, "use GET or POST")
	}
}

func (h *Handler) submit(w http.ResponseWriter, r *http.Request, slug string, ev formEvent) {
	log := h.opts.Logger.With(slog.String("event", slug), slog.String("source", Kind))
	addr := clientaddr.From(r, h.opts.TrustedProxies)
	if !sameSite(r, ev.PublicURL) {
		log.Warn("web form post from another site refused", slog.String("addr", addr.String()),
			slog.String("origin", r.Header.Get("Origin")), slog.String("sec_fetch_site", r.Header.Get("Sec-Fetch-Site")))
		h.metrics.refuse(slug, "cross_site")
		jsonhttp.Refuse(w, http.StatusForbidden, event.EFORBIDDEN, "posts sent from another site are refused; use the form on this event's page")
		return
	}
	addrKey := clientaddr.Key(addr)
	device := "addr:" + addrKey // no token: the address's devices share one share
	if id, _, ok := h.device(r, slug); ok {
		device = "dev:" + id
	}
	for _, l := range []struct {
		name string
		lim  *ratelimit.Limiter
		key  string
		msg  string
	}{
		{"device", ev.limit.device, device, "you have posted a lot in a short time; please wait a minute"},
		{"address", ev.limit.address, addrKey, "many posts came from your network in a short time; please wait a minute"},
		{"event", ev.limit.event, slug, "the form is very busy; please try again in a minute"},
	} {
		if ok, retry := l.lim.Allow(l.key); !ok {
			log.Warn("web form post rate limited", slog.String("addr", addr.String()), slog.String("limit", l.name))
			h.metrics.refuse(slug, l.name)
			w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfterSeconds(retry)))
			jsonhttp.Refuse(w, http.StatusTooManyRequests, event.ERATELIMIT, l.msg)
			return
		}
	}
	sub, err := readSubmission(w, r)
	if err != nil {
		jsonhttp.Refuse(w, http.StatusBadRequest, event.EINVALID, err.Error())
		return
	}
	if strings.TrimSpace(sub.Website) != "" {
		log.Info("web form honeypot filled; dropped", slog.String("addr", addr.String()))
		// A token like a real one, for a post that never was: it reads as gone.
		id := event.PostID("urn:backchannel:form:" + randomID())
		jsonhttp.WriteJSON(w, http.StatusOK, Answer{Status: "received", Message: Received, Post: id, Token: h.postToken(slug, id, 0)})
		return
	}
	p, err := h.post(sub)
	if err != nil {
		jsonhttp.Refuse(w, http.StatusBadRequest, event.ErrorCode(err), event.ErrorMessage(err))
		return
	}
	now := h.opts.Now()
	res, err := ev.Sink.Post(r.Context(), p)
	health := ev.Sink.Health()
	if err != nil {
		log.Error("web form post not stored", slog.String("post", p.ID), slog.Any("err", err))
		if health != nil {
			health.Failed(now, err, time.Time{})
		}
		jsonhttp.Refuse(w, http.StatusServiceUnavailable, event.EUNAVAILABLE, "your post could not be saved; please try again")
		return
	}
	if health != nil {
		health.Succeeded(now)
	}
	log.Info("web form post received", slog.String("post", p.ID), slog.Uint64("pos", res.Pos), slog.Bool("question", p.Question))
	jsonhttp.WriteJSON(w, http.StatusOK, Answer{Status: "received", Message: Received, Post: p.ID, Token: h.postToken(slug, p.ID, res.Pos)})
}

// post builds the event.Post of a submission, or an EINVALID error.
func (h *Handler) post(sub Submission) (event.Post, error) {
	text := cleanText(sub.Text, true)
	if !visible(text) {
		return event.Post{}, event.Errorf(event.EINVALID, "write something first")
	}
	if n := utf8.RuneCountInString(text); n > h.opts.MaxText {
		return event.Post{}, event.Errorf(event.EINVALID, "the text has %d characters; at most %d, please", n, h.opts.MaxText)
	}
	name := strings.Join(strings.Fields(cleanText(sub.Name, false)), " ")
	if n := utf8.RuneCountInString(name); n > h.opts.MaxName {
		return event.Post{}, event.Errorf(event.EINVALID, "the name has %d characters; at most %d, please", n, h.opts.MaxName)
	}
	if name == "" {
		name = "Anonymous"
	}
	id := randomID()
	uri := "urn:backchannel:form:" + id
	safe, plain := sanitize.Plain(text)
	return event.Post{
		ID:         event.PostID(uri),
		URI:        uri,
		Source:     Kind,
		SourceName: Kind,
		Author:     event.Author{ID: "form:" + id, Name: name},
		Text:       plain,
		HTML:       safe,
		CreatedAt:  h.opts.Now().UTC(),
		Question:   bool(sub.Question),
	}, nil
}

// cleanText makes what a participant typed safe and tidy as plain text:
// valid UTF-8 in NFC, line breaks as "\n" (kept only when multiline, at
// most one blank line in a row), no control characters and no bidi
// overrides (which could reverse the text around a post on the wall), no
// space around. Zero-width joiners stay: emoji sequences need them.
func cleanText(s string, multiline bool) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = norm.NFC.String(s)
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var b strings.Builder
	b.Grow(len(s))
	newlines := 0
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029':
			if !multiline {
				b.WriteByte(' ')
				continue
			}
			newlines++
			if newlines <= 2 {
				b.WriteByte('\n')
			}
			continue
		case r == '\t':
			b.WriteByte(' ')
		case unicode.IsControl(r), isBidiControl(r), r == '\uFEFF':
			continue
		default:
			b.WriteRune(r)
		}
		if !unicode.IsSpace(r) {
			newlines = 0
		}
	}
	out := b.String()
	if multiline {
		// Trim trailing spaces of each line.
		lines := strings.Split(out, "\n")
		for i, l := range lines {
			lines[i] = strings.TrimRightFunc(l, unicode.IsSpace)
		}
		out = strings.Join(lines, "\n")
	}
	return strings.TrimSpace(out)
}

// visible reports whether s has something to see: not only spaces and
// zero-width characters.
func visible(s string) bool {
	for _, r := range s {
		if unicode.IsGraphic(r) && !unicode.IsSpace(r) && !unicode.Is(unicode.Cf, r) {
			return true
		}
	}
	return false
}

func isBidiControl(r rune) bool {
	return (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069') || r == '\u200E' || r == '\u200F' || r == '\u061C'
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}

func readSubmission(w http.ResponseWriter, r *http.Request) (Submission, error) {
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var sub Submission
	if ct == "application/json" {
		if err := json.NewDecoder(r.Body).Decode(&sub); err != nil {
			var tooBig *http.MaxBytesError
			if errors.As(err, &tooBig) {
				return sub, fmt.Errorf("the post is too large")
			}
			return sub, fmt.Errorf("the body is not a JSON post")
		}
		return sub, nil
	}
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return sub, fmt.Errorf("the post is too large")
		}
		return sub, fmt.Errorf("the body is not a form post")
	}
	sub.Name = r.PostForm.Get("name")
	sub.Text = r.PostForm.Get("text")
	sub.Website = r.PostForm.Get(HoneypotField)
	sub.Question = flexBool(truthy(r.PostForm.Get("question")))
	return sub, nil
}

// flexBool is a JSON boolean that also takes a checkbox's string value.
type flexBool bool

// UnmarshalJSON accepts true, false, null and strings such as "on", "1", "true".
func (b *flexBool) UnmarshalJSON(data []byte) error {
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	switch v := v.(type) {
	case bool:
		*b = flexBool(v)
	case string:
		*b = flexBool(truthy(v))
	case nil:
		*b = false
	default:
		return fmt.Errorf("question: want a boolean")
	}
	return nil
}

func truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "on", "1", "true", "yes":
		return true
	}
	return false
}
