// Package wall holds backchannel's HTTP server: the JSON API and the
// websockets over the events this node serves, and the pages (the public
// screens and the staff pages) with their assets embedded in the binary,
// beside health, readiness and metrics. New mounts what needs no
// credentials; MountStaff adds the moderator and facilitator API, their
// socket, login and the web form.
package wall

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/metrics"
)

// Pinger is what readiness asks of the log store (eventlog.Store has it).
type Pinger interface {
	Ping(ctx context.Context) error
}

// Options configure a Server.
type Options struct {
	// Store answers /readyz: the node is ready only while Ping succeeds.
	Store Pinger
	// ReadyWithoutStore keeps /readyz at 200 while Store fails (its body
	// then says "degraded"): a fan-out node serves open walls and new
	// page loads from its fold through a Redis outage (docs/OPERATIONS.md).
	ReadyWithoutStore bool
	// Gatherer is served on /metrics; nil serves no /metrics.
	Gatherer prometheus.Gatherer
	// Logger logs requests; nil uses slog.Default().
	Logger *slog.Logger
	// Now tells the time, for the events' live flag; nil uses time.Now.
	Now func() time.Time
	// MapTiles, when set, is a tile URL template (config.MapTiles): the
	// index page's map is drawn on its tiles, and its origin is added to
	// that page's img-src. MapAttribution credits the tiles.
	MapTiles, MapAttribution string
	// HTTPMetrics, when not nil, counts and times every request by route.
	HTTPMetrics *metrics.HTTP
	// PingTimeout bounds /readyz's Ping; zero means 2s.
	PingTimeout time.Duration
	// BodyTimeout bounds reading a request's body, websockets excepted;
	// zero means DefaultBodyTimeout. A body still arriving then is cut
	// off and its connection closed.
	BodyTimeout time.Duration
}

// Server is the HTTP handler of one node. It is safe for concurrent use;
// events and routes may be added while it serves.
type Server struct {
	opts    Options
	mux     *http.ServeMux
	handler http.Handler

	mu     sync.RWMutex
	events map[string]*Event
	order  []string // slugs in the order added, for listings
}

// New returns a Server with the health and metrics routes, the public API
// and socket, the assets and the pages; the staff API comes with
// MountStaff.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.PingTimeout == 0 {
		opts.PingTimeout = 2 * time.Second
	}
	if opts.BodyTimeout <= 0 {
		opts.BodyTimeout = DefaultBodyTimeout
	}
	s := &Server{opts: opts, mux: http.NewServeMux(), events: map[string]*Event{}}
	s.handler = bodyDeadline(opts.BodyTimeout, opts.HTTPMetrics, opts.Logger,
		logRequests(opts.Logger, opts.HTTPMetrics, securityHeaders(s.mux)))
	s.routeHealth()
	s.routeAPI()
	s.routeSockets()
	s.routeAssets()
	s.routePublicPages()
	s.routeStaffPages()
	return s
}

// Handle mounts h on pattern (a Go 1.22 ServeMux pattern such as
// "GET /api/events/{slug}/queue"). Every response still gets the security
// headers and the request log. Registering a pattern twice panics.
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandleFunc mounts f on pattern, as Handle.
func (s *Server) HandleFunc(pattern string, f http.HandlerFunc) { s.mux.HandleFunc(pattern, f) }

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Logger is the server's logger, for handlers mounted on it.
func (s *Server) Logger() *slog.Logger { return s.opts.Logger }
