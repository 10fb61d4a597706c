package bluesky

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/backchannel/backchannel/ingest"
)

// BackfillConfig turns on back-fill through app.bsky.feed.searchPosts, for
// the minutes before the event (first run) or an outage longer than
// Jetstream's replay window. The public AppView refuses anonymous search, so
// it logs in with an app password.
type BackfillConfig struct {
	// Service is the PDS to log in to and search through; default https://bsky.social.
	Service string
	// Identifier is the account's handle or DID; Password an app password
	// (from the environment, never the config file).
	Identifier, Password string
	// Since is where a first run starts (the event's start, minus lead-in).
	Since time.Time
	// ReplayWindow is how far back Jetstream can replay; an older cursor is
	// back-filled by search; default 36h.
	ReplayWindow time.Duration
	// MaxPages bounds one back-fill (100 posts a page); default 20.
	MaxPages int
}

// backfill searches for tagged posts missed before the stream can replay
// them and, on a first run, moves *cur to now so the stream starts here.
// Failures are reported on the source's health and never stop the stream.
func (s *Source) backfill(ctx context.Context, sink ingest.Sink, cur int64) (newCursor int64) {
	b := s.cfg.Backfill
	if b.Identifier == "" || b.Password == "" {
		return cur
	}
	window := b.ReplayWindow
	if window <= 0 {
		window = 36 * time.Hour
	}
	now := s.cfg.Now()
	var since time.Time
	switch {
	case cur == 0:
		since = b.Since
	case now.Sub(time.UnixMicro(cur)) > window:
		since = time.UnixMicro(cur)
	default:
		return cur // the stream replays it
	}
	if since.IsZero() {
		since = now.Add(-time.Hour)
	}
	n, err := s.search(ctx, sink, since)
	if err != nil {
		sink.Health().Failed(s.cfg.Now(), fmt.Errorf("back-fill: %w", err), time.Time{})
		s.log.Warn("back-fill failed; following the stream only", slog.Any("err", err))
		return cur
	}
	s.log.Info("back-fill done", slog.Int("posts", n), slog.Time("since", since))
	if cur == 0 {
		return now.UnixMicro()
	}
	return cur
}

func (s *Source) search(ctx context.Context, sink ingest.Sink, since time.Time) (int, error) {
	b := s.cfg.Backfill
	service := strings.TrimRight(b.Service, "/")
	if service == "" {
		service = "https://bsky.social"
	}
	var session struct {
		AccessJwt string `json:"accessJwt"`
	}
	body, _ := json.Marshal(map[string]string{"identifier": b.Identifier, "password": b.Password})
	if err := s.xrpc(ctx, http.MethodPost, service+"/xrpc/com.atproto.server.createSession", "", body, &session); err != nil {
		return 0, fmt.Errorf("log in: %w", err)
	}
	pages := b.MaxPages
	if pages <= 0 {
		pages = 20
	}
	n := 0
	for _, tag := range s.matcher.tags {
		cursor := ""
		for page := 0; page < pages; page++ {
			q := url.Values{"q": {"#" + tag}, "sort": {"latest"}, "limit": {"100"}, "since": {since.UTC().Format(time.RFC3339)}}
			if cursor != "" {
				q.Set("cursor", cursor)
			}
			var res struct {
				Cursor string `json:"cursor"`
				Posts  []struct {
					URI    string          `json:"uri"`
					Author Profile         `json:"author"`
					Record json.RawMessage `json:"record"`
				} `json:"posts"`
			}
			if err := s.xrpc(ctx, http.MethodGet, service+"/xrpc/app.bsky.feed.searchPosts?"+q.Encode(), session.AccessJwt, nil, &res); err != nil {
				return n, fmt.Errorf("search #%s: %w", tag, err)
			}
			for _, pv := range res.Posts {
				did, rkey, ok := splitPostURI(pv.URI)
				if !ok {
					continue
				}
				var rec postRecord
				if json.Unmarshal(pv.Record, &rec) != nil {
					continue
				}
				if _, ok := s.matcher.Matches(rec.facetTags(), rec.Tags, rec.Text); !ok {
					continue
				}
				p := s.conv.post(did, rkey, &rec, pv.Author)
				if _, err := sink.Post(ctx, p); err != nil {
					return n, err
				}
				s.known.add(p.URI, did)
				n++
			}
			if res.Cursor == "" || len(res.Posts) == 0 {
				break
			}
			cursor = res.Cursor
		}
	}
	if err := sink.SetCursor(ctx, knownKey, s.known.dump()); err != nil {
		s.log.Warn("could not store known posts", slog.Any("err", err))
	}
	return n, nil
}

func (s *Source) xrpc(ctx context.Context, method, u, token string, body []byte, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct{ Error, Message string }
		_ = json.Unmarshal(data, &e)
		return fmt.Errorf("%s: %s %s", resp.Status, e.Error, e.Message)
	}
	return json.Unmarshal(data, out)
}

// splitPostURI splits at://did/app.bsky.feed.post/rkey.
func splitPostURI(uri string) (did, rkey string, ok bool) {
	rest, ok := strings.CutPrefix(uri, "at://")
	if !ok {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || parts[1] != Collection || !strings.HasPrefix(parts[0], "did:") || parts[2] == "" {
		return "", "", false
	}
	return parts[0], parts[2], true
}
