package main

import (
	"context"
	"encoding/hex"
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

// sharer is a log store several nodes share that can also hand them one
// value each agrees on (redislog.Store.Shared).
type sharer interface {
	Shared(ctx context.Context, name, value string) (got, key string, err error)
}

// staffAuth makes sure every staff role can log in and returns the
// authenticator of the staff's credentials. What the config does not
// give (a role's passphrase, the session key) is generated: into the
// data directory for a node on the embedded log, or, for nodes sharing
// Redis, into Redis by the first node to start, atomically, so that every
// node uses the same ones and none ever invents its own.
func staffAuth(ctx context.Context, cfg *config.Config, store eventlog.Store, logger *slog.Logger, reg prometheus.Registerer) (*auth.Authenticator, error) {
	if cfg.Redis != "" {
		sh, ok := store.(sharer)
		if !ok {
			return nil, fmt.Errorf("credentials: the %T store cannot share them between nodes", store)
		}
		if err := shareCredentials(ctx, sh, cfg, logger); err != nil {
			return nil, err
		}
		return newAuthenticator(cfg, logger, reg)
	}
	if path, generated, err := config.EnsurePassphrases(cfg.Data, cfg); err != nil {
		return nil, err
	} else if generated {
		logger.Warn("no credentials configured for some roles: their passphrases are in this file (readable by you only)", "file", path)
	}
	if path, generated, err := config.EnsureSessionKey(cfg.Data, cfg); err != nil {
		return nil, err
	} else if generated {
		logger.Info("generated the key that signs login sessions", "file", path)
	}
	return newAuthenticator(cfg, logger, reg)
}

// shareCredentials fills in, from Redis, the session key and the
// passphrases cfg does not configure (see staffAuth).
func shareCredentials(ctx context.Context, sh sharer, cfg *config.Config, logger *slog.Logger) error {
	if len(cfg.SessionKey) == 0 {
		k, err := auth.NewKey()
		if err != nil {
			return err
		}
		v, key, err := sh.Shared(ctx, "session-key", hex.EncodeToString(k))
		if err != nil {
			return fmt.Errorf("credentials: the shared session key: %w", err)
		}
		if cfg.SessionKey, err = hex.DecodeString(v); err != nil || len(cfg.SessionKey) < config.MinSessionKey {
			return fmt.Errorf("credentials: Redis key %s is not a hex key of at least %d bytes: delete it to make a new one", key, config.MinSessionKey)
		}
		logger.Info("no session_key_env configured: every node signs logins with the key shared in Redis", "key", key)
	}
	for i := range cfg.Events {
		e := &cfg.Events[i]
		for _, r := range []struct {
			name string
			role *config.Role
		}{{"moderator", &e.Roles.Moderator}, {"facilitator", &e.Roles.Facilitator}} {
			if r.role.Configured() {
				continue
			}
			v, key, err := sh.Shared(ctx, "passphrase:"+e.Slug+":"+r.name, config.NewPassphrase())
			if err != nil {
				return fmt.Errorf("credentials: the shared %s passphrase of %q: %w", r.name, e.Slug, err)
			}
			r.role.Passphrase, r.role.Generated, r.role.SharedKey = v, true, key
			logger.Warn("no credentials configured for a role: its passphrase is shared by every node in Redis", "event", e.Slug, "role", r.name, "key", key)
		}
	}
	return nil
}

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
	a, err := auth.New(auth.Options{Key: cfg.SessionKey, Events: creds, TrustedProxies: cfg.Proxies, AllowedOrigins: cfg.AllowedOrigins, Logger: logger, Registerer: reg})
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
