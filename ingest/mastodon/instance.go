package mastodon

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// instanceInfo is what the source needs to know about the server itself.
type instanceInfo struct {
	// domain is the server's account domain: what its own users' handles
	// end in. It may differ from the host the API is reached at.
	domain string
	// streaming is the streaming endpoint the server advertises, with the
	// /api/v1/streaming path; "" when it names none.
	streaming string
}

// instanceV2 is the part of GET /api/v2/instance the source reads.
type instanceV2 struct {
	Domain        string `json:"domain"`
	Configuration struct {
		URLs struct {
			Streaming string `json:"streaming"`
		} `json:"urls"`
	} `json:"configuration"`
}

// instanceV1 is the part of GET /api/v1/instance (Mastodon before 4.0)
// the source reads: uri is the account domain there.
type instanceV1 struct {
	URI  string `json:"uri"`
	URLs struct {
		StreamingAPI string `json:"streaming_api"`
	} `json:"urls"`
}

// errNoInstance marks a server that has neither instance endpoint.
var errNoInstance = fmt.Errorf("mastodon: the server has no /api/v2/instance or /api/v1/instance")

// instanceRetry is how soon a failed instance lookup is tried again.
const instanceRetry = time.Minute

// instance returns what the server says about itself, looked up at most
// once an hour and bounded by InstanceTimeout; after a failed lookup it is
// tried again a minute later, and meanwhile the last answer (or nothing)
// is used. ok is false when nothing was ever learnt.
func (s *Source) instance(ctx context.Context) (instanceInfo, bool) {
	s.mu.Lock()
	info, at, ok, failedAt := s.inst, s.instAt, s.instOK, s.instFailedAt
	s.mu.Unlock()
	now := s.now()
	if ok && now.Sub(at) < time.Hour {
		return info, true
	}
	if !failedAt.IsZero() && now.Sub(failedAt) < instanceRetry {
		return info, ok
	}
	got, err := s.lookupInstance(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.instFailedAt = now
		if s.instLastErr != err.Error() {
			s.instLastErr = err.Error()
			s.log.Warn("instance lookup failed; handles of the server's own users use its host until it answers",
				slog.String("err", err.Error()), slog.String("host", s.host))
		}
		return s.inst, s.instOK
	}
	if !s.instOK || s.inst.domain != got.domain {
		s.log.Info("server's account domain", slog.String("domain", got.domain), slog.String("streaming", got.streaming))
	}
	s.inst, s.instAt, s.instOK, s.instFailedAt, s.instLastErr = got, now, true, time.Time{}, ""
	return got, true
}

// knownDomain is the domain the server's own users' handles end in: the
// one it named at the last lookup (each poll round asks for one when due;
// the stream's handlers never wait on it), or its host while it has not
// said.
func (s *Source) knownDomain() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.instOK && s.inst.domain != "" {
		return s.inst.domain
	}
	return s.host
}

func (s *Source) lookupInstance(ctx context.Context) (instanceInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.InstanceTimeout)
	defer cancel()
	var v2 instanceV2
	code, err := s.getJSON(ctx, "/api/v2/instance", &v2)
	if err != nil {
		return instanceInfo{}, err
	}
	if code == http.StatusOK {
		return instanceInfo{domain: cleanDomain(v2.Domain, s.host), streaming: streamingEndpoint(v2.Configuration.URLs.Streaming)}, nil
	}
	var v1 instanceV1
	code, err = s.getJSON(ctx, "/api/v1/instance", &v1)
	if err != nil {
		return instanceInfo{}, err
	}
	if code == http.StatusOK {
		return instanceInfo{domain: cleanDomain(v1.URI, s.host), streaming: streamingEndpoint(v1.URLs.StreamingAPI)}, nil
	}
	return instanceInfo{}, fmt.Errorf("%w (%d)", errNoInstance, code)
}

// getJSON GETs path on the server into v. A non-200 answer is not an
// error: its status is returned and v is left alone.
func (s *Source) getJSON(ctx context.Context, path string, v any) (int, error) {
	if err := s.pace(ctx); err != nil {
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base.String()+path, nil)
	if err != nil {
		return 0, err
	}
	if s.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	}
	resp, err := s.httpc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("mastodon: %s: %w", path, timedOut(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		drain(resp.Body)
		return resp.StatusCode, nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(v); err != nil {
		return 0, fmt.Errorf("mastodon: %s: %w", path, err)
	}
	return http.StatusOK, nil
}

// cleanDomain reads an instance's domain ("example.org", or a URL as some
// servers give in v1's uri), lower case; fallback when it is empty.
func cleanDomain(v, fallback string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if u, err := url.Parse(v); err == nil && u.Host != "" {
		v = u.Host
	}
	v = strings.Trim(v, "/")
	if v == "" || strings.ContainsAny(v, "/@ ") {
		return fallback
	}
	return v
}

// streamingEndpoint turns an advertised streaming base URL into the
// websocket endpoint, or "" when it is not a websocket URL.
func streamingEndpoint(v string) string {
	if v == "" {
		return ""
	}
	u, err := url.Parse(strings.TrimRight(v, "/"))
	if err != nil || (u.Scheme != "wss" && u.Scheme != "ws") || u.Host == "" {
		return ""
	}
	u.Path = strings.TrimRight(u.Path, "/") + "/api/v1/streaming"
	return u.String()
}
