package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"path/filepath"
	"strings"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/internal/hostaddr"
)

// eventAddresses are the pages of one event a host opens, and where its
// staff's credentials are.
type eventAddresses struct {
	Slug, Title                                  string
	Wall, Moderators, Facilitators, Participants string
	Overlay                                      string
	ModeratorCredentials, FacilitatorCredentials string
	// Detected is set when no public address is configured and the base
	// is this machine's address on its network.
	Detected bool
}

// addressesOf lists every event's addresses: at its public_url, or at
// this machine's address on its network with the port listenAddr has.
func addressesOf(cfg *config.Config, listenAddr string) []eventAddresses {
	var out []eventAddresses
	for i := range cfg.Events {
		ec := &cfg.Events[i]
		base, detected := ec.PublicURL, false
		if base == "" {
			base, _ = hostaddr.BaseURL(hostaddr.PortOf(listenAddr))
			detected = true
		}
		page := base + "/e/" + ec.Slug
		out = append(out, eventAddresses{
			Slug: ec.Slug, Title: ec.Title,
			Wall: page + "/wall", Moderators: page + "/moderate", Facilitators: page + "/facilitate",
			Participants: page, Overlay: page + "/overlay",
			ModeratorCredentials:   credentialsWhere(cfg, &ec.Roles.Moderator),
			FacilitatorCredentials: credentialsWhere(cfg, &ec.Roles.Facilitator),
			Detected:               detected,
		})
	}
	return out
}

// credentialsWhere says where a role's way in is, never the secret itself.
func credentialsWhere(cfg *config.Config, r *config.Role) string {
	var where []string
	switch {
	case r.SharedKey != "":
		where = append(where, "passphrase shared by every node in Redis (redis-cli GET '"+r.SharedKey+"')")
	case r.Generated:
		where = append(where, "passphrase in "+filepath.Join(cfg.Data, config.PassphraseFile))
	case r.PassphraseEnv != "" && r.Passphrase != "":
		where = append(where, "passphrase in the environment variable "+r.PassphraseEnv)
	}
	if len(r.Users) > 0 {
		file := cfg.File
		if file == "" {
			file = "the config file"
		}
		where = append(where, fmt.Sprintf("%d named users in %s", len(r.Users), file))
	}
	if len(r.Tokens) > 0 {
		where = append(where, "API tokens in the environment variable "+r.TokensEnv)
	}
	if len(where) == 0 {
		return "no credentials: nobody can log in"
	}
	return strings.Join(where, "; ")
}

// announceAddresses tells the host what to open: a block on the terminal
// with text logs, one structured line per event with JSON logs (a log
// collector reads those). It says so when the address was not configured
// and when the server listens on loopback only, where the room cannot
// reach it.
func announceAddresses(w io.Writer, logger *slog.Logger, cfg *config.Config, listenAddr string) {
	list := addressesOf(cfg, listenAddr)
	loopbackOnly := false
	if host, _, err := net.SplitHostPort(listenAddr); err == nil {
		if a, err := netip.ParseAddr(host); err == nil && a.IsLoopback() {
			loopbackOnly = true
		}
	}
	if cfg.LogFormat == "json" {
		for _, a := range list {
			logger.Info("addresses to open", "event", a.Slug, "wall", a.Wall, "moderators", a.Moderators,
				"facilitators", a.Facilitators, "participants", a.Participants, "overlay", a.Overlay,
				"moderator_credentials", a.ModeratorCredentials, "facilitator_credentials", a.FacilitatorCredentials,
				"public_url_configured", !a.Detected, "loopback_only", loopbackOnly)
		}
		return
	}
	var b strings.Builder
	for _, a := range list {
		fmt.Fprintf(&b, "\n%s (%s): open these addresses\n", a.Title, a.Slug)
		fmt.Fprintf(&b, "  wall (projector)   %s\n", a.Wall)
		fmt.Fprintf(&b, "  moderators         %s   (%s)\n", a.Moderators, a.ModeratorCredentials)
		fmt.Fprintf(&b, "  facilitators       %s   (%s)\n", a.Facilitators, a.FacilitatorCredentials)
		fmt.Fprintf(&b, "  participants       %s   (the wall's QR code)\n", a.Participants)
		fmt.Fprintf(&b, "  livestream overlay %s\n", a.Overlay)
		if a.Detected {
			b.WriteString("  No public address is configured: this is the machine's address on its network.\n" +
				"  If the room reaches the server another way, give it with --public-url (or public_url in the config).\n")
		}
	}
	if loopbackOnly {
		fmt.Fprintf(&b, "\nListening on %s only: nobody else can reach it. Listen on :PORT to let the room in.\n", listenAddr)
	}
	b.WriteString("\n")
	_, _ = io.WriteString(w, b.String())
}
