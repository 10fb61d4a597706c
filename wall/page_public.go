package wall

import (
	"bytes"
	"fmt"
	"html/template"
	"net/http"
	"slices"
	"strings"
	"time"

	"rsc.io/qr"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
)

// The public screens (the wall, the participant page, the livestream
// overlay and the index) are HTML templates over the embedded files (see
// assets.go) and plain ES modules. Pages get their settings through data-
// attributes, because the CSP allows no inline script.

// DefaultPostCap is how many posts a wall keeps in its page.
const DefaultPostCap = 60

var (
	pageTemplates = template.Must(template.New("").ParseFS(staticFiles,
		"static/wall.html", "static/participant.html", "static/overlay.html", "static/index.html",
		"static/eventmap.html"))
)

// routePublicPages mounts the public screens.
func (s *Server) routePublicPages() {
	s.mux.HandleFunc("GET /{$}", s.indexPage)
	s.mux.HandleFunc("GET /e/{slug}", s.participantPage)
	s.mux.HandleFunc("GET /e/{slug}/wall", s.wallPage)
	s.mux.HandleFunc("GET /e/{slug}/overlay", s.overlayPage)
	s.mux.HandleFunc("GET /e/{slug}/qr.svg", s.qrCode)
}

// PageData is what a public page template gets.
type PageData struct {
	Slug     string
	Title    string
	Hashtags []string
	Place    string
	// Live reports whether the event is live now.
	Live    bool
	Start   time.Time
	End     time.Time
	Layout  string
	Theme   string
	Avatars bool
	Handles bool
	// Brand is a validated CSS hex colour or "".
	Brand string
	// Logo is an https URL or a path on this server, or "".
	Logo string
	// LayoutLocked and ThemeLocked are set when the URL chose them, so a
	// moderator's change of the display options does not override the host.
	LayoutLocked bool
	ThemeLocked  bool
	// Captions shows media alt text under the media (?captions=1).
	Captions bool
	// Ticker shows the ticker on the overlay (?ticker=1).
	Ticker bool
	// TopQuestions is how many of the most voted open questions the wall
	// and the overlay show (display option questions, or ?questions=top3);
	// 0 for none.
	TopQuestions int
	// Cap is how many posts the page keeps.
	Cap int
	// Dwell is the least time a post is shown large (display option
	// "dwell", a Go duration such as "8s"), or "" for the page's default.
	Dwell         string
	Moderation    string
	PrivacyNotice string
	// JoinURL is the participant page's absolute URL (what the QR code holds).
	JoinURL string
	// JoinText is JoinURL without its scheme, for reading off a projector;
	// JoinHost and JoinPath are its two halves, so it wraps between them.
	JoinText, JoinHost, JoinPath string
	WSPath                       string
	FormPath                     string
	QRPath                       string
}

func (s *Server) pageData(r *http.Request, e *Event) PageData {
	info := e.Info(s.opts.Now())
	d := PageData{
		Slug: e.Slug(), Title: info.Title, Hashtags: info.Hashtags, Place: info.Place,
		Live: info.Live, Start: info.Start, End: info.End,
		Layout: "grid", Theme: "dark", Avatars: true, Handles: true, Cap: DefaultPostCap,
		Moderation: string(info.Moderation), PrivacyNotice: info.PrivacyNotice,
		WSPath:   "/api/events/" + e.Slug() + "/ws",
		FormPath: "/e/" + e.Slug() + "/form",
		QRPath:   "/e/" + e.Slug() + "/qr.svg",
	}
	if d.Title == "" && len(d.Hashtags) > 0 {
		d.Title = "#" + d.Hashtags[0]
	}
	disp := info.Display
	if v := normaliseLayout(disp["layout"]); v != "" {
		d.Layout = v
	}
	if v := normaliseTheme(disp["theme"]); v != "" {
		d.Theme = v
	}
	d.Avatars = disp["show_avatars"] != "false"
	d.Handles = disp["show_handles"] != "false"
	if event.ValidColour(disp["brand_colour"]) {
		d.Brand = disp["brand_colour"]
	}
	if event.ValidLogo(disp["logo"]) {
		d.Logo = disp["logo"]
	}
	if event.ValidateDisplayOption(event.DisplayDwell, disp[event.DisplayDwell]) == nil {
		d.Dwell = disp[event.DisplayDwell]
	}
	q := r.URL.Query()
	if v := normaliseLayout(q.Get("layout")); v != "" {
		d.Layout, d.LayoutLocked = v, true
	}
	if v := normaliseTheme(q.Get("theme")); v != "" {
		d.Theme, d.ThemeLocked = v, true
	}
	d.TopQuestions, _ = event.TopQuestions(disp[event.DisplayQuestions])
	if n, ok := event.TopQuestions(strings.ToLower(strings.TrimSpace(q.Get("questions")))); ok && q.Has("questions") {
		d.TopQuestions = n
	}
	d.Captions = truthy(q.Get("captions"))
	d.Ticker = truthy(q.Get("ticker"))
	if q.Has("avatars") {
		d.Avatars = truthy(q.Get("avatars"))
	}
	if q.Has("handles") {
		d.Handles = truthy(q.Get("handles"))
	}
	joinFields(&d, s.JoinURL(r, e), e.Slug())
	return d
}

// normaliseLayout gives the canonical name of the layout v names (an
// alias resolved, as event.CanonicalLayout does), or "". People type a
// ?layout= by hand, so case and surrounding space do not matter.
func normaliseLayout(v string) string {
	l, _ := event.CanonicalLayout(strings.ToLower(strings.TrimSpace(v)))
	return l
}

// normaliseTheme is normaliseLayout for themes.
func normaliseTheme(v string) string {
	t, _ := event.CanonicalTheme(strings.ToLower(strings.TrimSpace(v)))
	return t
}

func truthy(v string) bool {
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	}
	return false
}

func (s *Server) render(w http.ResponseWriter, r *http.Request, name string, data any) {
	var buf bytes.Buffer
	if err := pageTemplates.ExecuteTemplate(&buf, name, data); err != nil {
		s.opts.Logger.ErrorContext(r.Context(), "page template failed", "page", name, "err", err)
		http.Error(w, "the page could not be drawn", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) eventPage(w http.ResponseWriter, r *http.Request, name string) {
	e, err := s.EventOf(r)
	if err != nil {
		http.Error(w, "There is no event here.", http.StatusNotFound)
		return
	}
	s.render(w, r, name, s.pageData(r, e))
}

func (s *Server) wallPage(w http.ResponseWriter, r *http.Request) {
	s.eventPage(w, r, "wall.html")
}

func (s *Server) participantPage(w http.ResponseWriter, r *http.Request) {
	s.eventPage(w, r, "participant.html")
}

// overlayPage may be framed by any page: broadcast software and web
// studios embed it, and it carries no action and nothing that is not
// public, so there is nothing to click-jack.
func (s *Server) overlayPage(w http.ResponseWriter, r *http.Request) {
	AllowFraming(w, "*")
	s.eventPage(w, r, "overlay.html")
}

// IndexEntry is one event on the index page.
type IndexEntry struct {
	Slug     string
	Title    string
	Hashtags []string
	Place    string
	Live     bool
	// Past is set once the event has ended.
	Past bool
	// Untimed is set for an event with neither start nor end.
	Untimed bool
	Start   time.Time
	End     time.Time
	// When is the event's time in words ("" when it has none).
	When string
	// Location places the event on the map; nil when it has none.
	Location *config.Location
}

func (s *Server) indexPage(w http.ResponseWriter, r *http.Request) {
	now := s.opts.Now()
	var list []IndexEntry
	for _, e := range s.Events() {
		info := e.Info(now)
		ie := IndexEntry{
			Slug: info.Slug, Title: info.Title, Hashtags: info.Hashtags, Place: info.Place,
			Live: info.Live, Start: info.Start, End: info.End,
			Past: !info.End.IsZero() && !now.Before(info.End),
			When: when(info.Start, info.End), Location: e.Config.Location,
			Untimed: info.Start.IsZero() && info.End.IsZero(),
		}
		if ie.Title == "" && len(ie.Hashtags) > 0 {
			ie.Title = "#" + ie.Hashtags[0]
		}
		list = append(list, ie)
	}
	// Live first; then the coming ones, soonest first; then those with no
	// time at all (always open, so "live", but not what is on now); then
	// the past, latest first.
	rank := func(e IndexEntry) int {
		switch {
		case e.Untimed:
			return 2
		case e.Live:
			return 0
		case e.Past:
			return 3
		}
		return 1
	}
	slices.SortStableFunc(list, func(a, b IndexEntry) int {
		if ra, rb := rank(a), rank(b); ra != rb {
			return ra - rb
		}
		if rank(a) == 3 {
			return b.End.Compare(a.End)
		}
		return a.Start.Compare(b.Start)
	})
	m := s.eventMap(list)
	if m != nil && m.Tiles != nil {
		w.Header().Set("Content-Security-Policy", MapCSP(s.opts.MapTiles))
	}
	s.render(w, r, "index.html", struct {
		Events []IndexEntry
		Map    *EventMap
	}{list, m})
}

// when writes an event's time window for people, in UTC since the server
// cannot know the reader's zone (the page's script shows it in theirs).
func when(start, end time.Time) string {
	const day = "Mon 2 Jan 2006"
	switch {
	case start.IsZero() && end.IsZero():
		return ""
	case end.IsZero():
		return "from " + start.UTC().Format(day+", 15:04 MST")
	case start.IsZero():
		return "until " + end.UTC().Format(day+", 15:04 MST")
	case start.UTC().Format(day) == end.UTC().Format(day):
		return start.UTC().Format(day+", 15:04") + "–" + end.UTC().Format("15:04 MST")
	}
	return start.UTC().Format(day+", 15:04") + " – " + end.UTC().Format(day+", 15:04 MST")
}

// qrCode draws the participant page's absolute URL (JoinURL: from
// configuration) as an SVG QR code, made here so no QR service ever
// learns who joins.
func (s *Server) qrCode(w http.ResponseWriter, r *http.Request) {
	e, err := s.EventOf(r)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	url := s.JoinURL(r, e)
	h := w.Header()
	// From configuration (joinurl.go), never from the request: a shared
	// cache may keep it, revalidating with the ETag after a minute.
	h.Set("Cache-Control", "public, max-age=60")
	h.Set("ETag", qrETag(url))
	if inm := r.Header.Get("If-None-Match"); inm != "" && strings.Contains(inm, qrETag(url)) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	svg, err := QRSVG(url)
	if err != nil {
		WriteError(w, r, fmt.Errorf("qr code: %w", err))
		return
	}
	h.Set("Content-Type", "image/svg+xml")
	_, _ = w.Write(svg)
}

// QRSVG encodes text as a QR code (error correction level M) drawn as one
// SVG path of dark modules on a white square with the standard 4-module
// quiet zone, so any phone camera reads it on any theme.
func QRSVG(text string) ([]byte, error) {
	c, err := qr.Encode(text, qr.M)
	if err != nil {
		return nil, fmt.Errorf("encode %q: %w", text, err)
	}
	const quiet = 4
	n := c.Size + 2*quiet
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" shape-rendering="crispEdges">`, n, n)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="#fff"/><path fill="#000" d="`, n, n)
	for y := 0; y < c.Size; y++ {
		for x := 0; x < c.Size; x++ {
			if c.Black(x, y) {
				fmt.Fprintf(&b, "M%d %dh1v1h-1z", x+quiet, y+quiet)
			}
		}
	}
	b.WriteString(`"/></svg>`)
	return b.Bytes(), nil
}
