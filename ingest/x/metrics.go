package x

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the X source's own series, beside the runner's per-source
// ones (appended, errors, up, rate limit remaining).
type metrics struct {
	streamConnected prometheus.Gauge
	connects        prometheus.Counter
	reconnects      *prometheus.CounterVec
	disconnects     prometheus.Counter
	keepAlives      prometheus.Counter
	unrouted        prometheus.Counter
	rules           prometheus.Gauge
	ruleErrors      prometheus.Counter
	rateRemaining   *prometheus.GaugeVec
	usageCapped     prometheus.Gauge
	postsRead       *prometheus.CounterVec
	usersRead       *prometheus.CounterVec
	spend           *prometheus.GaugeVec
	budget          *prometheus.GaugeVec
	partialErrors   *prometheus.CounterVec
}

func newMetrics() *metrics {
	ev := []string{"event"}
	return &metrics{
		streamConnected: prometheus.NewGauge(prometheus.GaugeOpts{Name: "backchannel_x_stream_connected",
			Help: "1 while this process holds X's filtered-stream connection."}),
		connects: prometheus.NewCounter(prometheus.CounterOpts{Name: "backchannel_x_stream_connects_total",
			Help: "Connections to X's filtered stream attempted by this process."}),
		reconnects: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backchannel_x_stream_reconnects_total",
			Help: "Times the stream ended and was retried, by reason: network (including stalls and X's disconnects), http, rate_limit, usage_cap."}, []string{"reason"}),
		disconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "backchannel_x_stream_disconnect_messages_total",
			Help: "In-stream disconnect messages from X (operational-disconnect and kin)."}),
		keepAlives: prometheus.NewCounter(prometheus.CounterOpts{Name: "backchannel_x_stream_keepalives_total",
			Help: "Keep-alive lines received on the stream."}),
		unrouted: prometheus.NewCounter(prometheus.CounterOpts{Name: "backchannel_x_stream_unrouted_total",
			Help: "Stream posts whose rule tags name no running event (paid for, dropped)."}),
		rules: prometheus.NewGauge(prometheus.GaugeOpts{Name: "backchannel_x_stream_rules",
			Help: "Stream rules of this program in force at X."}),
		ruleErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "backchannel_x_stream_rule_errors_total",
			Help: "Event rules X refused (validated with dry_run)."}),
		rateRemaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "backchannel_x_rate_limit_remaining",
			Help: "x-rate-limit-remaining as last seen, by endpoint."}, []string{"endpoint"}),
		usageCapped: prometheus.NewGauge(prometheus.GaugeOpts{Name: "backchannel_x_usage_capped",
			Help: "1 once X answered that the app's usage cap is reached: every X request stops until a restart."}),
		postsRead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backchannel_x_posts_read_total",
			Help: "Post resources X returned (billed as Post: Read), by event."}, ev),
		usersRead: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backchannel_x_users_read_total",
			Help: "User resources X returned in includes (possibly billed as User: Read), by event."}, ev),
		spend: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "backchannel_x_spend_estimate_usd",
			Help: "Estimated X spend of the event so far, in US dollars, from the posts and users read at the configured prices."}, ev),
		budget: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "backchannel_x_budget_usd",
			Help: "The event's X budget in US dollars; 0 when none."}, ev),
		partialErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backchannel_x_partial_errors_total",
			Help: "Problems X reported beside the data of a successful response, by type."}, []string{"type"}),
	}
}

// register registers every series with reg, or adopts the ones already
// there (every event's source registers the same Hub's series).
func (m *metrics) register(reg prometheus.Registerer) error {
	var errs []error
	adopt := func(c prometheus.Collector) prometheus.Collector {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return are.ExistingCollector
			}
			errs = append(errs, err)
		}
		return c
	}
	m.streamConnected = adopt(m.streamConnected).(prometheus.Gauge)
	m.connects = adopt(m.connects).(prometheus.Counter)
	m.reconnects = adopt(m.reconnects).(*prometheus.CounterVec)
	m.disconnects = adopt(m.disconnects).(prometheus.Counter)
	m.keepAlives = adopt(m.keepAlives).(prometheus.Counter)
	m.unrouted = adopt(m.unrouted).(prometheus.Counter)
	m.rules = adopt(m.rules).(prometheus.Gauge)
	m.ruleErrors = adopt(m.ruleErrors).(prometheus.Counter)
	m.rateRemaining = adopt(m.rateRemaining).(*prometheus.GaugeVec)
	m.usageCapped = adopt(m.usageCapped).(prometheus.Gauge)
	m.postsRead = adopt(m.postsRead).(*prometheus.CounterVec)
	m.usersRead = adopt(m.usersRead).(*prometheus.CounterVec)
	m.spend = adopt(m.spend).(*prometheus.GaugeVec)
	m.budget = adopt(m.budget).(*prometheus.GaugeVec)
	m.partialErrors = adopt(m.partialErrors).(*prometheus.CounterVec)
	return errors.Join(errs...)
}
