package mastodon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
//
// Before connecting it has the token's account follow the event's tags
// (followTags), so the user stream carries them.
//
// The address tried first is the one the server advertises; when that
// takes no connection (GoToSocial over plain http advertises wss://), the
// API's own host is tried at once, and kept for an hour once it works.
// When neither connects, polling carries on and the stream is retried with
// backoff; a failure is logged and shown on the source's health once, not
// once per attempt, until it changes.
func (s *Source) streamLoop(ctx context.Context, sink ingest.Sink) {
	h := sink.Health()
	bo := backoff.Backoff{Min: s.cfg.MinBackoff, Max: s.cfg.MaxBackoff}
	earlyFailed := false // the last wait was cut short by a probe, and the attempt after it failed
	for {
		s.followTags(ctx)
		if ctx.Err() != nil {
			return
		}
		started := s.now()
		target, err := s.streamAttempt(ctx, sink)
		h.SetStreaming(false)
		if ctx.Err() != nil {
			return
		}
		s.streamFailures.Add(1)
		// A connection that lived a while was healthy: start the backoff over.
		if s.now().Sub(started) > 4*s.cfg.MinBackoff {
			bo.Reset()
			earlyFailed = false
		}
		wait := bo.Next()
		if errors.Is(err, errStreamAuth) {
			// A person has to act: no probe can tell when.
			wait = backoff.Jitter(s.cfg.AuthBackoff)
			s.reportStream(err, "stream refused; polling continues", wait)
			if !backoff.Sleep(ctx, wait) {
				return
			}
			continue
		}
		s.reportStream(err, "stream dropped; polling continues", wait)
		// Probe the streaming host while waiting, and reconnect as soon as
		// it answers again after it did not (see backoff.SleepProbing); an
		// attempt that got no answer at all counts as "did not", unless the
		// last early reconnect failed as well.
		down := errors.Is(err, errStreamNoAnswer) && !earlyFailed
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

// streamAttempt connects to the advertised streaming address, or to the
// API's own host when that is known to work or the advertised one takes
// no connection, and streams until the connection ends. It returns the
// address last tried (the one to probe) and why streaming ended.
func (s *Source) streamAttempt(ctx context.Context, sink ingest.Sink) (string, error) {
	advertised, own := s.streamingURLs(ctx)
	first := advertised
	if s.preferOwnHost() {
		first = own
	}
	connected, err := s.streamOnce(ctx, sink, first)
	if connected || ctx.Err() != nil || errors.Is(err, errStreamAuth) || first == own {
		return first, err
	}
	s.logOnce("fallback:"+advertised, slog.LevelInfo, "the advertised streaming address takes no connection; trying the API's own host",
		slog.String("advertised", advertised), slog.String("own", own), slog.String("err", err.Error()))
	connected, err2 := s.streamOnce(ctx, sink, own)
	if connected {
		s.mu.Lock()
		s.ownHostAt = s.now()
		s.mu.Unlock()
		return own, err2
	}
	if ctx.Err() != nil || errors.Is(err2, errStreamAuth) {
		return own, err2
	}
	return own, fmt.Errorf("%w; at the API's own host %s: %w", err, own, err2)
}

// preferOwnHost reports whether the API's own host took a streaming
// connection the advertised address did not, within the last hour.
func (s *Source) preferOwnHost() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.ownHostAt.IsZero() && s.now().Sub(s.ownHostAt) < time.Hour
}

// reportStream logs why streaming ended and shows it on the health, once
// for each different reason: a server that keeps refusing the same way is
// reported when it starts, not at every attempt.
func (s *Source) reportStream(err error, msg string, wait time.Duration) {
	reason := errString(err)
	s.mu.Lock()
	same := reason == s.streamLastErr
	s.streamLastErr = reason
	s.streamNote = "not streaming (" + reason + "); polling continues, the stream is retried with backoff"
	s.mu.Unlock()
	if same {
		s.log.Debug(msg, slog.String("err", reason), slog.Duration("reconnect_in", wait))
		return
	}
	s.log.Warn(msg, slog.String("err", reason), slog.Duration("reconnect_in", wait))
	s.updateDetail()
}

// logOnce logs msg the first time key is seen.
func (s *Source) logOnce(key string, level slog.Level, msg string, attrs ...any) {
	s.mu.Lock()
	seen := s.logged[key]
	s.logged[key] = true
	s.mu.Unlock()
	if !seen {
		s.log.Log(context.Background(), level, msg, attrs...)
	}
}

// updateDetail shows the follow and stream state on the source's health.
func (s *Source) updateDetail() {
	parts := []string{}
	if f := s.followSummary(); f != "" {
		parts = append(parts, f)
	}
	s.mu.Lock()
	note, h := s.streamNote, s.health
	s.mu.Unlock()
	if note != "" {
		parts = append(parts, note)
	}
	if h != nil {
		h.SetDetail(strings.Join(parts, "; "))
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

// streamOnce connects to u, opens the user stream and subscribes to every
// tag's hashtag stream, and handles events until the connection fails or
// ctx is done. connected reports whether the handshake succeeded.
func (s *Source) streamOnce(ctx context.Context, sink ingest.Sink, u string) (connected bool, err error) {
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer "+s.cfg.Token)
	hdr.Set("User-Agent", s.cfg.UserAgent)
	d := websocket.Dialer{HandshakeTimeout: s.handshakeTimeout(), Proxy: http.ProxyFromEnvironment}
	// The user stream is asked for in the URL, which Mastodon and
	// GoToSocial both take; the hashtag streams by subscribe messages
	// (one connection for all).
	conn, resp, err := d.DialContext(ctx, u+"?stream=user", hdr)
	if err != nil {
		if resp != nil && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
			return false, fmt.Errorf("%w (%d)", errStreamAuth, resp.StatusCode)
		}
		if resp == nil {
			return false, fmt.Errorf("mastodon: streaming dial %s: %w (%w)", u, err, errStreamNoAnswer)
		}
		return false, fmt.Errorf("mastodon: streaming dial %s: %w (%s)", u, err, resp.Status)
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
			return true, fmt.Errorf("mastodon: streaming subscribe: %w", err)
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
	s.mu.Lock()
	s.streamLastErr = ""
	s.streamNote = "streaming from " + u
	s.mu.Unlock()
	s.updateDetail()
	s.log.Info("streaming", slog.String("url", u), slog.Int("tags", len(s.tags)))
	s.requestPoll()

	for {
		_, data, err := conn.ReadMessage()
		if err != nil {
			if ctx.Err() != nil {
				return true, nil
			}
			return true, fmt.Errorf("mastodon: streaming read: %w", err)
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

// streamEvent handles one message. The hashtag stream carries only the
// tag's public statuses. The user stream carries the account's whole home
// timeline: the followed tags' statuses, and whatever the accounts it
// follows post; of those, only statuses carrying one of the event's tags
// are taken, and edits of statuses this source already has (an edit that
// drops the tag withdraws the post).
func (s *Source) streamEvent(ctx context.Context, sink ingest.Sink, data []byte) error {
	var m streamMessage
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("bad stream message: %w", err)
	}
	if m.Error != "" {
		return fmt.Errorf("server: %s (%d)", m.Error, m.Status)
	}
	hashtag := len(m.Stream) > 0 && strings.HasPrefix(m.Stream[0], "hashtag")
	switch m.Event {
	case "update", "status.update":
		var st gomastodon.Status
		if err := json.Unmarshal([]byte(m.Payload), &st); err != nil {
			return fmt.Errorf("bad %s payload: %w", m.Event, err)
		}
		if !hashtag {
			o := original(&st)
			if o == nil {
				return nil
			}
			_, ours := s.recent.uri(string(o.ID))
			if !s.carriesTag(o) && !(ours && m.Event == "status.update") {
				s.homeIgnored.Add(1)
				return nil // the home timeline's other posts
			}
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

// streamingURLs are the streaming endpoint the server advertises (its
// /api/v2/instance; it may be another host than the API's) and the API
// host's own. They are the same when the server advertises none or its
// own, or could not be asked.
func (s *Source) streamingURLs(ctx context.Context) (advertised, own string) {
	own = s.defaultStreamingURL()
	if info, _ := s.instance(ctx); info.streaming != "" {
		return info.streaming, own
	}
	return own, own
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
