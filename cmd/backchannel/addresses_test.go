package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/backchannel/backchannel/config"
)

// At start the host is told, for each event, the addresses to open at the
// public address and where each role's credentials are; with no public
// address, the machine's own (not loopback) with the listener's port.
func TestAnnounceAddresses(t *testing.T) {
	cfg := &config.Config{Data: "/srv/bc", LogFormat: "text", Events: []config.Event{
		{Slug: "leeds", Title: "#Leeds", PublicURL: "https://wall.example.org",
			Roles: config.Roles{
				Moderator:   config.Role{Passphrase: "generated-one", Generated: true},
				Facilitator: config.Role{PassphraseEnv: "FAC_PASS", Passphrase: "from-env-secret"},
			}},
		{Slug: "york", Title: "#York"},
	}}
	var out bytes.Buffer
	announceAddresses(&out, slog.Default(), cfg, "[::]:8123")
	text := out.String()
	for _, want := range []string{
		"#Leeds (leeds): open these addresses",
		"wall (projector)   https://wall.example.org/e/leeds/wall",
		"moderators         https://wall.example.org/e/leeds/moderate   (passphrase in " + filepath.Join("/srv/bc", "passphrases.yaml") + ")",
		"facilitators       https://wall.example.org/e/leeds/facilitate   (passphrase in the environment variable FAC_PASS)",
		"participants       https://wall.example.org/e/leeds   (the wall's QR code)",
		"No public address is configured",
		"(no credentials: nobody can log in)",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the start-up text lacks %q:\n%s", want, text)
		}
	}
	for _, secret := range []string{"generated-one", "from-env-secret"} {
		if strings.Contains(text, secret) {
			t.Errorf("the start-up text shows a passphrase")
		}
	}
	york := addressesOf(cfg, "[::]:8123")[1]
	u, err := url.Parse(york.Wall)
	if err != nil || u.Port() != "8123" || !york.Detected {
		t.Fatalf("york's wall %q (%v)", york.Wall, err)
	}
	if a, err := netip.ParseAddr(u.Hostname()); err == nil && (a.IsLoopback() || a.IsUnspecified()) {
		t.Errorf("york's wall is at %s", u.Hostname())
	}
	if !strings.Contains(text, "\n  wall (projector)   "+york.Wall+"\n") {
		t.Errorf("york's wall %s not printed:\n%s", york.Wall, text)
	}

	out.Reset()
	announceAddresses(&out, slog.Default(), cfg, "127.0.0.1:8123")
	if !strings.Contains(out.String(), "Listening on 127.0.0.1:8123 only: nobody else can reach it") {
		t.Errorf("no warning about a loopback listener:\n%s", out.String())
	}

	cfg.LogFormat = "json"
	var logs, term bytes.Buffer
	announceAddresses(&term, slog.New(slog.NewJSONHandler(&logs, nil)), cfg, "[::]:8123")
	if term.Len() != 0 {
		t.Errorf("with JSON logs, plain text on the terminal: %q", term.String())
	}
	var first map[string]any
	if err := json.Unmarshal(bytes.SplitN(logs.Bytes(), []byte("\n"), 2)[0], &first); err != nil {
		t.Fatal(err)
	}
	if first["msg"] != "addresses to open" || first["wall"] != "https://wall.example.org/e/leeds/wall" || first["public_url_configured"] != true {
		t.Errorf("JSON line %v", first)
	}
}
