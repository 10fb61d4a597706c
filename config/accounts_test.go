package config

import "testing"

// blocked_accounts and trusted_accounts take every form a moderator may
// paste for an account, and refuse what is none.
func TestValidAccountForms(t *testing.T) {
	for _, s := range []string{
		"@alice@example.org", "alice@example.org", "acct:alice@example.org",
		"@alice@localhost:18080", "alice@127.0.0.1:8080", "@alice@localhost",
		"https://example.org/@alice", "https://example.org/users/alice", "http://localhost:18080/@alice",
		"alice.bsky.social", "did:plc:abc123",
	} {
		if !validAccount(s) {
			t.Errorf("%q refused", s)
		}
	}
	for _, s := range []string{"", "alice", "@alice", "alice@", "@alice@example.org:99999", "@alice@exa mple.org", "https://", "ftp://example.org/@alice"} {
		if validAccount(s) {
			t.Errorf("%q accepted", s)
		}
	}
}
