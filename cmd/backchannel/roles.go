package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// ingestHandler is what an ingest-only process serves: health, readiness
// and metrics, nothing an audience could use, so a misrouted client gets a
// 404 rather than an empty wall.
func ingestHandler(srv http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz", "/metrics":
			srv.ServeHTTP(w, r)
		default:
			http.Error(w, "this is an ingest process: it serves /healthz, /readyz and /metrics only", http.StatusNotFound)
		}
	})
}

// roleHandler is the HTTP handler of a process in role: everything for the
// roles that serve screens, health and metrics only for ingest.
func roleHandler(role string, srv http.Handler) http.Handler {
	if role == roleIngest {
		return ingestHandler(srv)
	}
	return srv
}

const healthcheckUsage = `Usage: backchannel healthcheck [URL]

Asks URL (default http://127.0.0.1:8080/healthz) and exits 0 on a 2xx
answer within 3 seconds, 1 otherwise: the container image's HEALTHCHECK,
since the minimal image has no curl.
`

// healthcheck asks a health URL and returns the process's exit code.
func healthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	target := "http://127.0.0.1:8080/healthz"
	switch {
	case len(args) > 1:
		fmt.Fprint(stderr, healthcheckUsage)
		return 2
	case len(args) == 1 && (args[0] == "-h" || args[0] == "--help"):
		fmt.Fprint(stdout, healthcheckUsage)
		return 0
	case len(args) == 1:
		target = args[0]
	}
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "backchannel healthcheck: %q is not an http(s) URL\n", target)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		fmt.Fprintf(stderr, "backchannel healthcheck: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "backchannel healthcheck: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(stderr, "backchannel healthcheck: %s answered %s\n", u.Redacted(), resp.Status)
		return 1
	}
	return 0
}
