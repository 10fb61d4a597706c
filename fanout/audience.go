package fanout

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Audience is who a websocket connection serves. It is fixed by the caller
// from the credentials presented at upgrade and decides what the socket may
// carry; the hub never widens it.
type Audience int

// The audiences. Public is the zero value so that a forgotten assignment
// errs on the side of showing less.
const (
	// Public sockets (the wall, participants, the overlay) carry only what
	// is approved for public surfaces: fold.Effect.Wall and positions.
	Public Audience = iota
	// Moderator sockets carry every event with its whole fold.Effect.
	Moderator
	// Facilitator sockets carry the questions, the question being read,
	// stage messages and settings.
	Facilitator
	numAudiences
)

// String names the audience as it appears in metrics and messages.
func (a Audience) String() string {
	switch a {
	case Public:
		return "public"
	case Moderator:
		return "moderator"
	case Facilitator:
		return "facilitator"
	}
	return "unknown"
}

// Close codes the hub sends, beside the standard ones (1001 going away,
// 1007 bad message, 1008 policy violation, 1009 frame too big, 1011
// internal error). Codes 4000-4999 are for applications (RFC 6455 7.4.2).
const (
	// CloseSlow: the client did not read fast enough and its send queue
	// filled. It should reconnect with ?since= its last position; it
	// misses nothing.
	CloseSlow = 4000
	// CloseRebalance: the connection reached its maximum age
	// (Options.MaxConnAge). The client reconnects at once with ?since=,
	// through the load balancer, which may pick another node: that is how
	// clients spread out again over a node that restarted. It misses nothing.
	CloseRebalance = 4002
)

// DefaultMaxConnAge is Options.MaxConnAge's default.
const DefaultMaxConnAge = 15 * time.Minute

// MinPublicInterval is the least time between the starts of two public
// flushes with the adaptive interval: a node with few walls and many posts
// sends a frame every 40 ms carrying several posts rather than one per post.
const MinPublicInterval = 40 * time.Millisecond

// Options tune a Hub. The zero value of every field means its default.
type Options struct {
	// Event is the event's slug, used as the "event" label of metrics and in logs.
	Event string
	// PublicInterval paces what public clients are owed, flushed as one
	// frame to all of them. A wall does not need 10ms latency, and one
	// frame per flush instead of one per event is what keeps the write
	// syscalls, most of a fan-out node's CPU, down. Zero (the default)
	// adapts it to the node: a flush starts as soon as something is owed,
	// at least MinPublicInterval after the previous one started and a
	// quarter of the previous sweep through the sockets after it ended (so
	// writing takes at most four fifths of the node). Positive: the same,
	// with this as the least spacing. Negative means immediate.
	PublicInterval time.Duration
	// StaffInterval is the least spacing of flushes for moderators and
	// facilitators (default immediate: they act on what they see).
	StaffInterval time.Duration
	// VoteInterval is how often an immediate audience (moderators and
	// facilitators by default) is sent the vote counts that changed: votes
	// come in bursts of hundreds a second, and a count a tenth of a second
	// late is worth one frame instead of hundreds (default 100ms).
	VoteInterval time.Duration
	// RingSize is how many recent messages per audience are kept encoded
	// for clients that resume (default 4096). A client whose position is
	// older gets a snapshot.
	RingSize int
	// QueueSize is the bound of each connection's send queue, in frames
	// (default 64: 2.5 to 16 s of public ticks). A client whose queue is
	// full is cut off with CloseSlow.
	QueueSize int
	// ReadLimit is the largest client frame accepted, in bytes (default
	// 4096); a larger one closes the connection with 1009.
	ReadLimit int64
	// PingInterval is how often the server pings (default 25s); PongWait
	// how long it waits for any frame from the client before closing
	// (default 60s); WriteWait the deadline of one write (default 10s).
	PingInterval time.Duration
	PongWait     time.Duration
	WriteWait    time.Duration
	// MaxConnAge is how long a connection stays open before the hub closes
	// it with CloseRebalance, so it reconnects through the load balancer
	// (zero: 15 minutes; negative: never). Each connection gets an age of
	// its own, uniformly between half and one and a half times this, so
	// clients that arrived together (after another node stopped) do not
	// leave together.
	MaxConnAge time.Duration
	// AllowedOrigins are origins (scheme://host[:port]) accepted at upgrade
	// beside the request's own host. A request without an Origin header
	// (not a browser) is accepted.
	AllowedOrigins []string
	// ClientRate and ClientBurst bound the messages a client may send
	// (defaults 5/s, burst 20); a client past them is closed as a flood.
	ClientRate  float64
	ClientBurst int
	// Limits caps the sockets of this hub and of every other sharing it
	// (a node shares one among its events); nil means no caps.
	Limits *SocketLimits
	// SummaryEvery is how often the hub logs, at info, its connections per
	// audience and how many opened and closed since the last summary, when
	// any did (default a minute; negative: never). Each upgrade is logged
	// at debug only.
	SummaryEvery time.Duration
	// Registerer receives the hub's metrics; nil means they are not exported.
	Registerer prometheus.Registerer
	// Logger receives the hub's logs (default slog.Default()).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.StaffInterval < 0 {
		o.StaffInterval = 0
	}
	if o.VoteInterval <= 0 {
		o.VoteInterval = 100 * time.Millisecond
	}
	if o.RingSize <= 0 {
		o.RingSize = 4096
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 64
	}
	if o.ReadLimit <= 0 {
		o.ReadLimit = 4096
	}
	if o.PingInterval <= 0 {
		o.PingInterval = 25 * time.Second
	}
	if o.PongWait <= 0 {
		o.PongWait = 60 * time.Second
	}
	if o.WriteWait <= 0 {
		o.WriteWait = 10 * time.Second
	}
	if o.MaxConnAge == 0 {
		o.MaxConnAge = DefaultMaxConnAge
	}
	if o.ClientRate <= 0 {
		o.ClientRate = 5
	}
	if o.ClientBurst <= 0 {
		o.ClientBurst = 20
	}
	if o.SummaryEvery == 0 {
		o.SummaryEvery = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}
