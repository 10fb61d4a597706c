package main

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/webform"
	"github.com/backchannel/backchannel/internal/ratelimit"
)

// newAuthenticator checks the staff's credentials for every event, with
// the config's session key (configured or generated into the data dir).
func newAuthenticator(cfg *config.Config, logger *slog.Logger, reg prometheus.Registerer) (*auth.Authenticator, error) {
	creds := make(map[string]auth.EventCredentials, len(cfg.Events))
	for i := range cfg.Events {
		ec := &cfg.Events[i]
		creds[ec.Slug] = auth.EventCredentials{
			Moderator:   roleCredentials(&ec.Roles.Moderator),
			Facilitator: roleCredentials(&ec.Roles.Facilitator),
		}
	}
	a, err := auth.New(auth.Options{Key: cfg.SessionKey, Events: creds, TrustedProxies: cfg.Proxies, Logger: logger, Registerer: reg})
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	return a, nil
}

func roleCredentials(r *config.Role) auth.RoleCredentials {
	return auth.RoleCredentials{Passphrase: r.Passphrase, Users: r.Users, Tokens: r.Tokens}
}

// formSink is where an event's web form posts go: its log, through the
// same rules as every other source (which always hold form posts).
func formSink(log eventlog.Log, rules ingest.Evaluator) ingest.Sink {
	return ingest.NewLogSink(log, rules, ingest.NewHealth(webform.Kind, webform.Kind),
		event.Actor{Role: event.RoleSource, Name: webform.Kind}, nil)
}

// formEvent is an event's web form: its sink, notice, limits and public
// address (a post whose Origin is that host is from our own page).
func formEvent(ec *config.Event, sink ingest.Sink) webform.Event {
	return webform.Event{Sink: sink, Notice: ec.PrivacyNotice, PublicURL: ec.PublicURL, Limits: webform.Limits{
		PerDevice:  perMinute(ec.Form.PerDevice),
		PerAddress: perMinute(ec.Form.PerAddress),
		PerEvent:   perMinute(ec.Form.PerEvent),
	}}
}

// perMinute is n posts a minute, or the zero Rate (the form's default)
// when n is not set.
func perMinute(n int) ratelimit.Rate {
	if n <= 0 {
		return ratelimit.Rate{}
	}
	return webform.PerMinute(n)
}
