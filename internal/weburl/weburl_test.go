package weburl

import "testing"

func TestValid(t *testing.T) {
	for s, want := range map[string]bool{
		"https://mastodon.social":         true,
		"http://127.0.0.1:8080/x?y=1":     true,
		"HTTPS://Example.org/":            true,
		"  https://example.org/feed  ":    true,
		"":                                false,
		"/relative/path":                  false,
		"example.org":                     false,
		"javascript:alert(1)":             false,
		"mailto:someone@example.org":      false,
		"wss://jetstream.example":         false,
		"https://":                        false,
		"https://:443/":                   false,
		"ftp://files.example.org/a.txt":   false,
		"https://exa mple.org/":           false,
		"data:text/html,<script>":         false,
		"//example.org/protocol-relative": false,
	} {
		if got := Valid(s); got != want {
			t.Errorf("Valid(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestParseKeepsTheURL(t *testing.T) {
	u, ok := Parse(" https://social.example:8443/tags/x ")
	if !ok || u.Host != "social.example:8443" || u.Path != "/tags/x" {
		t.Fatalf("Parse = %v, %v", u, ok)
	}
}
