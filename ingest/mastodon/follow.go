package mastodon

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
)

// followState is where following one tag stands.
type followState int

const (
	followPending followState = iota // not tried, or failed in a way worth trying again
	followDone                       // the server says the account follows it
	followRefused                    // the token may not (no write:follows)
	followMissing                    // the server cannot follow tags (Mastodon < 4.0)
)

// followTags has the token's account follow each of the event's tags
// (POST /api/v1/tags/{name}/follow, Mastodon 4.0+ and GoToSocial; scope
// write:follows). Both servers then put every public status carrying the
// tag into that account's home timeline, and so into its user stream:
// the one way to stream a tag from GoToSocial, whose hashtag stream never
// delivers. Following is idempotent on the server; here each tag is
// followed once per process, and tried again on the next stream connect
// only after a failure that may pass (network, 5xx). It never fails the
// source: without the follow the hashtag stream and polling still run.
func (s *Source) followTags(ctx context.Context) {
	for _, tag := range s.tags {
		s.mu.Lock()
		st := s.follows[tag]
		s.mu.Unlock()
		if st != followPending {
			continue
		}
		st, err := s.followTag(ctx, tag)
		if ctx.Err() != nil {
			return
		}
		s.mu.Lock()
		s.follows[tag] = st
		s.mu.Unlock()
		switch st {
		case followDone:
			s.log.Info("following the tag with the token's account", slog.String("tag", tag))
		case followRefused:
			s.log.Warn("the token may not follow tags (it needs the write:follows scope); the user stream will not carry the tag",
				slog.String("tag", tag), slog.String("err", errString(err)))
		case followMissing:
			s.log.Warn("the server cannot follow tags (Mastodon before 4.0?); streaming the hashtag stream only",
				slog.String("tag", tag), slog.String("err", errString(err)))
		default:
			s.log.Warn("following the tag failed; trying again on the next stream connect",
				slog.String("tag", tag), slog.String("err", errString(err)))
		}
	}
	s.updateDetail()
}

func (s *Source) followTag(ctx context.Context, tag string) (followState, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.InstanceTimeout)
	defer cancel()
	if err := s.pace(ctx); err != nil {
		return followPending, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		s.base.String()+"/api/v1/tags/"+url.PathEscape(tag)+"/follow", nil)
	if err != nil {
		return followPending, err
	}
	req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	resp, err := s.httpc.Do(req)
	if err != nil {
		return followPending, timedOut(err)
	}
	drain(resp.Body)
	err = fmt.Errorf("POST /api/v1/tags/%s/follow: %s", url.PathEscape(tag), resp.Status)
	switch {
	case resp.StatusCode == http.StatusOK:
		return followDone, nil
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return followRefused, err
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed ||
		resp.StatusCode == http.StatusNotImplemented:
		return followMissing, err
	case resp.StatusCode == http.StatusUnprocessableEntity:
		// A tag name the server will not take: trying again changes nothing.
		return followMissing, err
	default:
		return followPending, err
	}
}

// followSummary says in words which tags the token's account follows.
func (s *Source) followSummary() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var done, refused, missing []string
	for _, t := range s.tags {
		switch s.follows[t] {
		case followDone:
			done = append(done, "#"+t)
		case followRefused:
			refused = append(refused, "#"+t)
		case followMissing:
			missing = append(missing, "#"+t)
		}
	}
	var parts []string
	if len(done) > 0 {
		parts = append(parts, "following "+strings.Join(done, " ")+" (user stream)")
	}
	if len(refused) > 0 {
		parts = append(parts, "cannot follow "+strings.Join(refused, " ")+": the token lacks write:follows")
	}
	if len(missing) > 0 {
		parts = append(parts, "the server cannot follow "+strings.Join(missing, " "))
	}
	return strings.Join(parts, "; ")
}
