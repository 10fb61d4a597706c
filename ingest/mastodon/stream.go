package mastodon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
	gomastodon "github.com/mattn/go-mastodon"

	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/internal/backoff"
)

// streamMessage is one websocket frame of the streaming API. Payload is a
// JSON string holding, for update and status.update, a Status encoded as
// JSON again; for delete, the server-local id.
type streamMessage struct {
	Stream  []string `json:"stream"`
	Event   string   `json:"event"`
	Payload string   `json:"payload"`
	Error   string   `json:"error"`
	Status  int      `json:"status"`
}

// errStreamAuth marks a handshake the server refused for the token.
var errStreamAuth = errors.New("mastodon: streaming refused the token")

// streamLoop keeps one streaming connection up until ctx is done,
// reconnecting with jittered backoff. It never touches polling except to
// ask for a round after each connect, which closes the gap the drop left:
// the REST cursor advances only from polled pages, so a poll from it
// covers everything the stream may have missed.
func (s *Source) streamLoop(ctx context.Context, sink ingest.Sink) {
	h := sink.Health()
	bo := backoff.Backoff{Min: s.cfg.MinBackoff, Max: s.cfg.MaxBackoff}
	earlyFailed := false // the last wait was cut short by a probe, and the attempt after it failed
	for {
		started := s.now()
		err := s.streamOnce(ctx, sink)
		h.SetStreaming(false)
		if ctx.Err() != nil {
			return
		}
		// A connection that lived a while was healthy: start the backoff over.
		if s.now().Sub(started) > 4*s.cfg.MinBackoff {
			bo.Reset()
			earlyFailed = false
		}
		wait := bo.Next()
		if errors.Is(err, errStreamAuth) {
			// A person has to act: no probe can tell when.
			wait = backoff.Jitter(s.cfg.AuthBackoff)
			s.log.Warn("stream refused; polling continues", slog.String("err", errString(err)), slog.Duration("reconnect_in", wait))
			if !backoff.Sleep(ctx, wait) {
				return
			}
			continue
		}
		s.log.Warn("stream dropped; polling continues", slog.String("err", errString(err)), slog.Duration("reconnect_in", wait))
		// Probe the streaming host while waiting, and reconnect as soon as
		// it answers again after it did not (see backoff.SleepProbing); an
		// attempt that got no answer at all counts as "did not", unless the
		// last early reconnect failed as well.
		down := errors.Is(err, errStreamNoAnswer) && !earlyFailed
		target := s.cachedStreamingURL()
		ok, early := backoff.SleepProbing(ctx, wait, backoff.Prober{
			Every: s.cfg.StreamProbeEvery, Timeout: s.cfg.StreamProbeTimeout, Probe: backoff.DialProbe(target),
			OnProbe: func(err error) {
				if err != nil {
					s.probeFailures.Add(1)
				}
			},
		}, down)
		if !ok {
			return
		}
		if early {
			s.log.Info("streaming host answers again; reconnecting before the backoff ends", slog.String("url", target))
		}
		earlyFailed = early
	}
}

// errStreamNoAnswer marks an attempt the streaming host did not answer at
// all (refused, unreachable, timed out), as opposed to one it refused.
var errStreamNoAnswer = errors.New("no answer")

func errString(err error) string {
	if err == nil {
		return "closed"
	}
	return err.Error()
}

// streamOnce connects, subscribes to every tag and handles events until
// the connection fails or ctx is done.
func (s *Source) streamOnce(ctx context.Context, sink ingest.Sink) error {
	u := s.streamingURL(ctx)
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+s.cfg.Token)
	hdr.Set("User-Agent", s.cfg.UserAgent)
	d := websocket.Dialer{HandshakeTimeout: s.handshakeTimeout(), Proxy: http.ProxyFromEnvironment}
	conn, resp, err := d.DialContext(ctx, u, hdr)
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return fmt.Errorf("%w (%d)", errStreamAuth, resp.StatusCode)
		}
		if resp == nil {
			return fmt.Errorf("mastodon: streaming dial: %w (%w)", err, errStreamNoAnswer)
		}
		return fmt.Errorf("mastodon: streaming dial: %w", err)
	}
	defer conn.Close()
	// Closing the connection is the only way to end a blocked read.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	conn.SetReadLimit(maxBody)
	for _, tag := range s.tags {
		sub := map[string]string{"type": "subscribe", "stream": "hashtag", "tag": tag}
		_ = conn.SetWriteDeadline(s.now().Add(10 * time.Second))
		if err := conn.WriteJSON(sub); err != nil {
			return fmt.Errorf("mastodon: streaming subscribe: %w", err)
		}
	}
	extend := func() { _ = conn.SetReadDeadline(s.now().Add(s.cfg.StreamReadTimeout)) }
	extend()
	conn.SetPingHandler(func(data string) error {
		extend()
		err := conn.WriteControl(websocket.PongMessage, []byte(data), s.now().Add(5*time.Second))
		if errors.Is(err, websocket.ErrCloseSent) {
			return nil
		}
		return err
	})
	conn.SetPongHandler(func(string) error { extend(); return nil })

	sink.Health().SetStreaming(true)
	s.log.Info("streaming", slog.String("url", u), slog.Int("tags", len(s.tags)))
	s.requestPoll()

	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("mastodon: streaming read: %w", err)
		}
		extend()
		if err := s.streamEvent(ctx, sink, data); err != nil {
			// A message we cannot use (garbage, or the log refusing) is
			// logged and skipped: polling will bring the post.
			s.log.Warn("stream event skipped", slog.String("err", err.Error()))
		}
	}
}

func (s *Source) handshakeTimeout() time.Duration {
	if t := s.cfg.HTTPClient; t != nil && t.Timeout > 0 {
		return t.Timeout
	}
	return 30 * time.Second
}

// requestPoll asks the poll loop for a round now, without blocking.
func (s *Source) requestPoll() {
	select {
	case s.pollNow <- struct{}{}:
	default:
	}
}

// streamEvent handles one message.
func (s *Source) streamEvent(ctx context.Context, sink ingest.Sink, data []byte) error {
	var m streamMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("bad stream message: %w", err)
	}
	if m.Error != "" {
		return fmt.Errorf("server: %s (%d)", m.Error, m.Status)
	}
	switch m.Event {
	case "update", "status.update":
		var st gomastodon.Status
		if err := json.Unmarshal([]byte(m.Payload), &st); err != nil {
			return fmt.Errorf("bad %s payload: %w", m.Event, err)
		}
		return s.handle(ctx, sink, &st)
	case "delete":
		id := strings.TrimSpace(m.Payload)
		uri, ok := s.recent.uri(id)
		if !ok {
			return nil // not a post we appended (or one long forgotten)
		}
		if _, err := sink.Delete(ctx, uri); err != nil {
			return fmt.Errorf("sink delete: %w", err)
		}
		s.recent.remove(id)
		s.log.Info("post deleted at source", slog.String("uri", uri))
	}
	return nil
}

// instanceV2 is the part of GET /api/v2/instance the stream needs.
type instanceV2 struct {
	Configuration struct {
		URLs struct {
			Streaming string `json:"streaming"`
		} `json:"urls"`
	} `json:"configuration"`
}

// streamingURL is the streaming endpoint: the host GET /api/v2/instance
// names (it may differ from the API host), looked up at most once an hour;
// a server without it (older Mastodon) streams on its own host. The lookup
// is bounded by StreamProbeTimeout's bigger sibling, InstanceTimeout, and
// a failed one never stops the stream: it uses what it found before, or
// the server's own host.
func (s *Source) streamingURL(ctx context.Context) string {
	s.mu.Lock()
	cached, at := s.streamURL, s.streamURLAt
	s.mu.Unlock()
	if cached != "" && s.now().Sub(at) < time.Hour {
		return cached
	}
	u, err := s.discoverStreaming(ctx)
	if err != nil {
		s.log.Warn("instance lookup failed; streaming from the host known", slog.String("err", err.Error()))
		if cached != "" {
			return cached
		}
		return s.defaultStreamingURL()
	}
	s.mu.Lock()
	s.streamURL, s.streamURLAt = u, s.now()
	s.mu.Unlock()
	return u
}

// cachedStreamingURL is the endpoint last found, or the server's own.
func (s *Source) cachedStreamingURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.streamURL != "" {
		return s.streamURL
	}
	return s.defaultStreamingURL()
}

func (s *Source) defaultStreamingURL() string {
	base := *s.base
	switch base.Scheme {
	case "https":
		base.Scheme = "wss"
	default:
		base.Scheme = "ws"
	}
	base.Path = strings.TrimRight(base.Path, "/") + "/api/v1/streaming"
	return base.String()
}

func (s *Source) discoverStreaming(ctx context.Context) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.InstanceTimeout)
	defer cancel()
	if err := s.pace(ctx); err != nil {
		return "", fmt.Errorf("mastodon: instance: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base.String()+"/api/v2/instance", nil)
	if err != nil {
		return "", err
	}
	resp, err := s.httpc.Do(req)
	if err != nil {
		return "", fmt.Errorf("mastodon: instance: %w", timedOut(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s.defaultStreamingURL(), nil
	}
	var inst instanceV2
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(&inst); err != nil {
		return "", fmt.Errorf("mastodon: instance: %w", err)
	}
	if v := inst.Configuration.URLs.Streaming; v != "" {
		if u, err := url.Parse(strings.TrimRight(v, "/")); err == nil && (u.Scheme == "wss" || u.Scheme == "ws") && u.Host != "" {
			u.Path = strings.TrimRight(u.Path, "/") + "/api/v1/streaming"
			return u.String(), nil
		}
	}
	return s.defaultStreamingURL(), nil
}
