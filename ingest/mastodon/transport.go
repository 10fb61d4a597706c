package mastodon

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ThrottledError is returned for a response that asks us to wait: 429 (rate
// limit used up; wait until X-RateLimit-Reset) or 503 (overloaded; wait for
// Retry-After). go-mastodon would otherwise retry a 429 by itself for hours;
// the transport turns it into this error before go-mastodon sees a response.
type ThrottledError struct {
	StatusCode int
	// RetryAt is when the server said we may try again; zero when it did
	// not say (then the source backs off on its own).
	RetryAt time.Time
}

// Error says what the server answered and when it said to come back.
func (e *ThrottledError) Error() string {
	what := http.StatusText(e.StatusCode)
	if e.RetryAt.IsZero() {
		return fmt.Sprintf("mastodon: %d %s", e.StatusCode, what)
	}
	return fmt.Sprintf("mastodon: %d %s, retry at %s", e.StatusCode, what, e.RetryAt.UTC().Format(time.RFC3339))
}

// errBodyTooLarge is returned when a server sends more than maxBody bytes:
// no timeline page is that large, so it is garbage.
var errBodyTooLarge = errors.New("mastodon: response body too large")

// maxBody bounds a response body; a page of 40 statuses is about 100 KB.
const maxBody = 8 << 20

// rateLimit is what the server last said about our budget.
type rateLimit struct {
	mu        sync.Mutex
	known     bool
	limit     int
	remaining int
	reset     time.Time
}

func (r *rateLimit) get() (known bool, limit, remaining int, reset time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.known, r.limit, r.remaining, r.reset
}

// transport sits under go-mastodon's http.Client. It drops an empty bearer
// token (go-mastodon always sends "Authorization: Bearer " even without a
// token, which some servers read as a bad token), records the rate-limit
// headers, fails fast on 429 and 503, and bounds the body.
type transport struct {
	base      http.RoundTripper
	now       func() time.Time
	rl        *rateLimit
	onLimit   func(remaining int, reset time.Time)
	userAgent string
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if a := req.Header.Get("Authorization"); strings.TrimSpace(strings.TrimPrefix(a, "Bearer")) == "" && a != "" {
		req = req.Clone(req.Context())
		req.Header.Del("Authorization")
	}
	if t.userAgent != "" && req.Header.Get("User-Agent") == "" {
		if req.Header.Get("Authorization") == "" {
			req = req.Clone(req.Context())
		}
		req.Header.Set("User-Agent", t.userAgent)
	}
	resp, err := t.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	t.record(resp.Header)
	switch resp.StatusCode {
	case http.StatusTooManyRequests:
		drain(resp.Body)
		return nil, &ThrottledError{StatusCode: resp.StatusCode, RetryAt: parseReset(resp.Header.Get("X-RateLimit-Reset"))}
	case http.StatusServiceUnavailable:
		drain(resp.Body)
		return nil, &ThrottledError{StatusCode: resp.StatusCode, RetryAt: parseRetryAfter(resp.Header.Get("Retry-After"), t.now())}
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxBody}
	return resp, nil
}

func (t *transport) record(h http.Header) {
	rem := h.Get("X-RateLimit-Remaining")
	if rem == "" {
		return
	}
	n, err := strconv.Atoi(strings.TrimSpace(rem))
	if err != nil {
		return
	}
	limit, _ := strconv.Atoi(strings.TrimSpace(h.Get("X-RateLimit-Limit")))
	reset := parseReset(h.Get("X-RateLimit-Reset"))
	t.rl.mu.Lock()
	t.rl.known, t.rl.limit, t.rl.remaining, t.rl.reset = true, limit, n, reset
	t.rl.mu.Unlock()
	if t.onLimit != nil {
		t.onLimit(n, reset)
	}
}

// parseReset reads X-RateLimit-Reset: Mastodon sends ISO 8601 with
// microseconds; some servers send Unix seconds.
func parseReset(v string) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n > 1e9 {
		return time.Unix(n, 0)
	}
	return time.Time{}
}

// parseRetryAfter reads Retry-After: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Time {
	v = strings.TrimSpace(v)
	if v == "" {
		return time.Time{}
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && n >= 0 {
		return now.Add(time.Duration(n * float64(time.Second)))
	}
	if t, err := http.ParseTime(v); err == nil {
		return t
	}
	return time.Time{}
}

// drain reads a little of an unwanted body so the connection can be
// reused, then closes it.
func drain(rc io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(rc, 64<<10))
	_ = rc.Close()
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		return 0, errBodyTooLarge
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }
