package main

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/bluesky"
	"github.com/backchannel/backchannel/ingest/feed"
	"github.com/backchannel/backchannel/ingest/mastodon"
	"github.com/backchannel/backchannel/ingest/rehearsal"
	"github.com/backchannel/backchannel/ingest/threads"
	"github.com/backchannel/backchannel/ingest/x"
	"github.com/backchannel/backchannel/moderation"
)

// eventSources turns an event's configured sources and rules into what the
// ingest runner runs. onWall reports whether a post (by URI) is on a public
// surface now; nil when nothing folds the log.
func eventSources(ec *config.Event, log eventlog.Log, onWall func(uri string) bool, logger *slog.Logger) (ingest.EventSources, error) {
	es := ingest.EventSources{
		Slug:   ec.Slug,
		Log:    log,
		Rules:  rulesOf(&ec.Moderation),
		Window: ingest.Window{Start: ec.Start, End: ec.End, LeadIn: ec.LeadIn},
	}
	for i := range ec.Sources {
		sc := &ec.Sources[i]
		var (
			src ingest.Source
			err error
		)
		switch sc.Type {
		case config.SourceMastodon:
			src, err = mastodon.New(mastodon.Config{
				Server: sc.Server, Tags: ec.Hashtags, Token: sc.Token, Start: ec.Start, Stream: sc.Streaming(),
				OnWall: onWall, Logger: logger,
			})
		case config.SourceBluesky:
			bc := bluesky.Config{Hosts: sc.Jetstream, Tags: ec.Hashtags, AppView: sc.AppView, Logger: logger}
			if sc.Handle != "" {
				since := ec.Start
				if !since.IsZero() {
					since = since.Add(-ec.LeadIn)
				}
				bc.Backfill = &bluesky.BackfillConfig{Service: sc.SearchHost, Identifier: sc.Handle, Password: sc.Password, Since: since}
			}
			src, err = bluesky.New(bc)
		case config.SourceRSS:
			src, err = feed.New(feed.Config{URL: sc.URL, Tags: ec.Hashtags, Logger: logger})
		case config.SourceX:
			c, hub := xShared(sc.BearerToken, sc.Streaming(), logger)
			since := ec.Start
			if !since.IsZero() {
				since = since.Add(-ec.LeadIn)
			}
			src, err = x.New(x.Config{
				Slug: ec.Slug, Tags: ec.Hashtags, Query: sc.Query, Start: since, Client: c, Hub: hub,
				OnWall: onWall, Budget: sc.BudgetUSD, Prices: x.Prices{PostRead: sc.PostReadUSD, UserRead: sc.UserReadUSD},
				Logger: logger,
			})
		case config.SourceThreads:
			since := ec.Start
			if !since.IsZero() {
				since = since.Add(-ec.LeadIn)
			}
			src, err = threads.New(threads.Config{
				Tags: ec.Hashtags, Token: sc.Token, Mode: sc.Mode, DailyQueries: sc.DailyQueries, Start: since,
				Logger: logger,
			})
		case config.SourceRehearsal:
			src = rehearsal.New(rehearsal.Config{Tags: ec.Hashtags, Rate: sc.Rate, Logger: logger})
		default:
			err = fmt.Errorf("unknown source type %q", sc.Type)
		}
		if err != nil {
			return es, fmt.Errorf("event %q: source %s: %w", ec.Slug, sc.Name(), err)
		}
		es.Sources = append(es.Sources, src)
	}
	return es, nil
}

// xShared returns the process's X client and stream Hub for a bearer
// token (one per app: X allows one stream connection per app, and its
// rate limits are per app), made on first use; hub is nil when stream is
// off (recent search only).
func xShared(token string, stream bool, logger *slog.Logger) (*x.Client, *x.Hub) {
	xMu.Lock()
	defer xMu.Unlock()
	a := xApps[token]
	if a == nil {
		a = &xApp{client: &x.Client{Token: token}}
		xApps[token] = a
	}
	if !stream {
		return a.client, nil
	}
	if a.hub == nil {
		a.hub = x.NewHub(x.HubConfig{Client: a.client, Logger: logger})
	}
	return a.client, a.hub
}

type xApp struct {
	client *x.Client
	hub    *x.Hub
}

var (
	xMu   sync.Mutex
	xApps = map[string]*xApp{}
)

// rulesOf gives the event's moderation rules as the moderation package
// evaluates them.
func rulesOf(m *config.Moderation) *moderation.Rules {
	r := &moderation.Rules{
		Mode:            m.Mode,
		BlockedWords:    m.BlockedWords,
		BlockedAccounts: moderation.Entries(m.BlockedAccounts...),
		BlockedDomains:  moderation.Entries(m.BlockedDomains...),
		TrustedAccounts: m.TrustedAccounts,
		TrustedDomains:  m.TrustedDomains,
		Profanity:       m.ProfanityOn(),
		Off:             m.ChecksOff,
		HoldMedia:       m.HoldMedia,
		Spam:            moderation.SpamOptions{FloodPerMinute: m.FloodPerMinute, AllowedLinkDomains: m.AllowedLinkDomains},
	}
	r.Compile()
	return r
}
