// Package redisurl reads the one --redis setting into go-redis's own
// clients: a single server, a primary watched by Redis Sentinel, or a Redis
// Cluster. docs/OPERATIONS.md lists the URL forms:
//
//	redis://[[user]:password@]host:port[/db]          one server (rediss:// for TLS, unix:// too)
//	redis://host:port?master_name=NAME&addr=h2:p2     go-redis's own Sentinel form
//	redis-sentinel://[[user]:password@]h1:p1,h2:p2,h3:p3/NAME[/db][?sentinel_password=...]
//	redis-cluster://[[user]:password@]h1:p1,h2:p2[?...]
//
// "+" may replace "-" in the scheme (redis+sentinel://, redis+cluster://),
// and rediss-sentinel:// / rediss-cluster:// use TLS. Every form also takes
// go-redis's own query options (dial_timeout=3s, ...), and two of this
// package's: wait_replicas and wait_timeout (see Target).
package redisurl

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Kind is the shape of the Redis deployment a URL names.
type Kind int

// The shapes.
const (
	Single Kind = iota
	Sentinel
	Cluster
)

func (k Kind) String() string {
	switch k {
	case Sentinel:
		return "sentinel"
	case Cluster:
		return "cluster"
	}
	return "single"
}

// DefaultWaitTimeout is how long an append waits for a replica to confirm
// it (wait_timeout), when the primary has replicas.
const DefaultWaitTimeout = time.Second

// Target is a parsed URL: which shape, and the options of the client for it.
type Target struct {
	Kind     Kind
	single   *redis.Options
	failover *redis.FailoverOptions
	cluster  *redis.ClusterOptions

	// WaitReplicas is how many replicas must confirm an append before it
	// is acknowledged (WAIT): -1 (wait_replicas=auto, the default) means
	// one when the primary has replicas and none when it has none;
	// wait_replicas=0 never waits.
	WaitReplicas int
	// WaitTimeout bounds that wait (wait_timeout, default 1s). An append
	// no replica confirmed in time is still acknowledged (it is on the
	// primary) and logged.
	WaitTimeout time.Duration
}

// Settings are what a caller tunes on every client it makes, whatever the shape.
type Settings struct {
	PoolSize                  int // 0: go-redis's default
	MaxRetries                int // -1: no retries
	ReadTimeout, WriteTimeout time.Duration
}

// Parse reads a Redis URL in any of the forms of the package comment.
func Parse(raw string) (*Target, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return nil, fmt.Errorf("%q is not a URL like redis://host:6379/0", redact(raw))
	}
	t := &Target{WaitReplicas: -1, WaitTimeout: DefaultWaitTimeout}
	base, shape, _ := strings.Cut(strings.ReplaceAll(strings.ToLower(scheme), "+", "-"), "-")
	if base != "redis" && base != "rediss" && base != "unix" {
		return nil, fmt.Errorf("unknown scheme %q: use redis://, rediss://, redis-sentinel:// or redis-cluster://", scheme)
	}
	rest, query, _ := strings.Cut(rest, "?")
	q, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("bad query: %v", err)
	}
	if err := t.takeOwn(q); err != nil {
		return nil, err
	}
	sentinelPassword := q.Get("sentinel_password")
	q.Del("sentinel_password")
	switch shape {
	case "":
		u := base + "://" + rest
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		if q.Has("master_name") {
			t.Kind = Sentinel
			if t.failover, err = redis.ParseFailoverURL(u); err != nil {
				return nil, err
			}
			return t, nil
		}
		if t.single, err = redis.ParseURL(u); err != nil {
			return nil, err
		}
		return t, nil
	case "sentinel", "cluster":
	default:
		return nil, fmt.Errorf("unknown scheme %q: use redis://, rediss://, redis-sentinel:// or redis-cluster://", scheme)
	}
	if base == "unix" {
		return nil, fmt.Errorf("%s:// is not a scheme: sentinels and cluster nodes are reached over TCP", scheme)
	}
	var user, password string
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		ui := rest[:at]
		rest = rest[at+1:]
		if u, p, hasPass := strings.Cut(ui, ":"); hasPass {
			user, _ = url.PathUnescape(u)
			password, _ = url.PathUnescape(p)
		} else {
			password, _ = url.PathUnescape(ui)
		}
	}
	hostList, path, _ := strings.Cut(rest, "/")
	var addrs []string
	for h := range strings.SplitSeq(hostList, ",") {
		if h = strings.TrimSpace(h); h == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			if shape == "sentinel" {
				h = net.JoinHostPort(h, "26379")
			} else {
				h = net.JoinHostPort(h, "6379")
			}
		}
		addrs = append(addrs, h)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s://: no host:port given", scheme)
	}
	// go-redis's parsers take the first address as the URL's host and the
	// others as repeated addr= options.
	for _, a := range addrs[1:] {
		q.Add("addr", a)
	}
	if shape == "sentinel" {
		parts := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
		if len(parts) == 0 || len(parts) > 2 {
			return nil, fmt.Errorf("%s://hosts/NAME[/db]: give the name Sentinel monitors the primary under", scheme)
		}
		q.Set("master_name", parts[0])
		dbPath := ""
		if len(parts) == 2 {
			if _, err := strconv.Atoi(parts[1]); err != nil {
				return nil, fmt.Errorf("%s://: %q is not a database number", scheme, parts[1])
			}
			dbPath = "/" + parts[1]
		}
		t.Kind = Sentinel
		if t.failover, err = redis.ParseFailoverURL("redis://" + addrs[0] + dbPath + "?" + q.Encode()); err != nil {
			return nil, err
		}
		// The URL's password is the primary's; the sentinels' has its own option.
		t.failover.Username, t.failover.Password = user, password
		t.failover.SentinelPassword = sentinelPassword
		if base == "rediss" {
			host, _, _ := net.SplitHostPort(addrs[0])
			t.failover.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		return t, nil
	}
	if strings.Trim(path, "/") != "" {
		return nil, fmt.Errorf("%s://: a cluster has database 0 only, so no path", scheme)
	}
	if sentinelPassword != "" {
		return nil, fmt.Errorf("%s://: sentinel_password is for redis-sentinel://", scheme)
	}
	t.Kind = Cluster
	u := "redis://" + addrs[0]
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	if t.cluster, err = redis.ParseClusterURL(u); err != nil {
		return nil, err
	}
	t.cluster.Username, t.cluster.Password = user, password
	if base == "rediss" {
		host, _, _ := net.SplitHostPort(addrs[0])
		t.cluster.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	return t, nil
}

// takeOwn reads and removes this package's own query options.
func (t *Target) takeOwn(q url.Values) error {
	if v := q.Get("wait_replicas"); v != "" && v != "auto" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("wait_replicas=%s: use auto or a number of replicas (0: never wait)", v)
		}
		t.WaitReplicas = n
	}
	if v := q.Get("wait_timeout"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return fmt.Errorf("wait_timeout=%s: use a duration like 500ms", v)
		}
		t.WaitTimeout = d
	}
	q.Del("wait_replicas")
	q.Del("wait_timeout")
	return nil
}

// Client returns a new client for the target, tuned by s.
func (t *Target) Client(s Settings) redis.UniversalClient {
	switch t.Kind {
	case Sentinel:
		o := *t.failover
		o.PoolSize, o.MaxRetries, o.DisableIdentity = s.PoolSize, s.MaxRetries, true
		setTimeouts(&o.ReadTimeout, &o.WriteTimeout, s)
		if s.PoolSize == 1 {
			o.MinIdleConns, o.MaxIdleConns = 0, 1
		}
		return redis.NewFailoverClient(&o)
	case Cluster:
		o := *t.cluster
		o.PoolSize, o.MaxRetries, o.DisableIdentity = s.PoolSize, s.MaxRetries, true
		// A cluster client follows MOVED redirects by retrying; with no
		// retries a moved slot would fail every call until the next reload.
		// The caller's own retries run the command again from the top.
		o.MaxRedirects = 8
		setTimeouts(&o.ReadTimeout, &o.WriteTimeout, s)
		if s.PoolSize == 1 {
			o.MinIdleConns, o.MaxIdleConns = 0, 1
		}
		return redis.NewClusterClient(&o)
	}
	o := *t.single
	o.PoolSize, o.MaxRetries, o.DisableIdentity = s.PoolSize, s.MaxRetries, true
	setTimeouts(&o.ReadTimeout, &o.WriteTimeout, s)
	if s.PoolSize == 1 {
		o.MinIdleConns, o.MaxIdleConns = 0, 1
	}
	return redis.NewClient(&o)
}

func setTimeouts(r, w *time.Duration, s Settings) {
	if s.ReadTimeout != 0 {
		*r = s.ReadTimeout
	}
	if s.WriteTimeout != 0 {
		*w = s.WriteTimeout
	}
}

// String describes the target for logs, without passwords.
func (t *Target) String() string {
	switch t.Kind {
	case Sentinel:
		return fmt.Sprintf("sentinel %s via %s", t.failover.MasterName, strings.Join(t.failover.SentinelAddrs, ","))
	case Cluster:
		return "cluster via " + strings.Join(t.cluster.Addrs, ",")
	}
	return t.single.Addr
}

// Redact returns raw with any password replaced by "xxxxx", for logs.
func Redact(raw string) string { return redact(raw) }

func redact(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "(not a URL)"
	}
	out := raw
	at := strings.LastIndex(rest, "@")
	slash := strings.Index(rest, "/")
	if at >= 0 && (slash < 0 || slash > at) {
		ui := rest[:at]
		if u, _, hasPass := strings.Cut(ui, ":"); hasPass {
			ui = u + ":xxxxx"
		} else {
			ui = "xxxxx"
		}
		out = scheme + "://" + ui + rest[at:]
	}
	if i := strings.Index(out, "sentinel_password="); i >= 0 {
		i += len("sentinel_password=")
		end := strings.IndexByte(out[i:], '&')
		if end < 0 {
			out = out[:i] + "xxxxx"
		} else {
			out = out[:i] + "xxxxx" + out[i+end:]
		}
	}
	return out
}
