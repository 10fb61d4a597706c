package mastodon

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gomastodon "github.com/mattn/go-mastodon"
)

// TestTransportThrottles: go-mastodon over our transport returns a 429 or
// 503 at once as a *ThrottledError carrying the server's time, instead of
// retrying by itself.
func TestTransportThrottles(t *testing.T) {
	reset := time.Date(2026, 8, 1, 13, 55, 0, 976542000, time.UTC)
	now := time.Date(2026, 8, 1, 13, 50, 0, 0, time.UTC)
	tests := []struct {
		name   string
		status int
		header map[string]string
		want   time.Time
	}{
		{"429 with reset", 429, map[string]string{"X-RateLimit-Remaining": "0", "X-RateLimit-Limit": "300", "X-RateLimit-Reset": "2026-08-01T13:55:00.976542Z"}, reset},
		{"503 with seconds", 503, map[string]string{"Retry-After": "30"}, now.Add(30 * time.Second)},
		{"503 with a date", 503, map[string]string{"Retry-After": "Sat, 01 Aug 2026 13:51:00 GMT"}, time.Date(2026, 8, 1, 13, 51, 0, 0, time.UTC)},
		{"503 without a time", 503, nil, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				_, _ = w.Write([]byte(`{"error":"Too many requests"}`))
			}))
			defer srv.Close()
			src := mustNew(t, fastConfig(srv.URL, "x"))
			src.now = func() time.Time { return now }
			src.client.Client.Transport.(*transport).now = src.now
			start := time.Now()
			_, err := src.client.GetTimelineHashtag(t.Context(), "x", false, &gomastodon.Pagination{Limit: 40})
			var te *ThrottledError
			if !errors.As(err, &te) {
				t.Fatalf("err = %v, want a *ThrottledError", err)
			}
			if te.StatusCode != tt.status || !te.RetryAt.Equal(tt.want) {
				t.Errorf("got %d %v, want %d %v", te.StatusCode, te.RetryAt, tt.status, tt.want)
			}
			if n := calls.Load(); n != 1 || time.Since(start) > 5*time.Second {
				t.Errorf("%d calls: go-mastodon retried by itself", n)
			}
			if tt.status == 429 {
				known, limit, remaining, r := src.rl.get()
				if !known || limit != 300 || remaining != 0 || !r.Equal(reset) {
					t.Errorf("rate limit recorded as %v %d %d %v", known, limit, remaining, r)
				}
			}
		})
	}
}

// TestTransportAuthorization: no token, no Authorization header at all (go-mastodon
// would send "Bearer "); with a token, the bearer header.
func TestTransportAuthorization(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, r.Header.Get("Authorization")+"|"+r.Header.Get("User-Agent"))
		_, _ = w.Write([]byte(`[]`))
	}))
	defer srv.Close()
	for _, token := range []string{"", "secret"} {
		cfg := fastConfig(srv.URL, "x")
		cfg.Token = token
		src := mustNew(t, cfg)
		if _, err := src.client.GetTimelineHashtag(t.Context(), "x", false, &gomastodon.Pagination{}); err != nil {
			t.Fatal(err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 2 || got[0] != "|backchannel" || got[1] != "Bearer secret|backchannel" {
		t.Errorf("headers = %q", got)
	}
}

// TestTransportBodyLimit: an endless body is cut off as an error, not read
// into memory.
func TestTransportBodyLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("["))
		chunk := []byte(strings.Repeat(`{"id":"1"},`, 1000))
		for range maxBody/len(chunk) + 2 {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	cfg := fastConfig(srv.URL, "x")
	// The limit, not the clock, must end this request: under -race on a
	// loaded machine 8 MB can take longer than the harness's 2 s timeout.
	cfg.HTTPClient = &http.Client{Timeout: time.Minute}
	src := mustNew(t, cfg)
	_, err := src.client.GetTimelineHashtag(t.Context(), "x", false, &gomastodon.Pagination{})
	if !errors.Is(err, errBodyTooLarge) {
		t.Errorf("err = %v, want errBodyTooLarge", err)
	}
}
