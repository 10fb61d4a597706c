package config

import "strings"

// placeholders are the values the example files ship with in place of a
// secret (deploy/compose/env.example, deploy/k8s/secret.example.yaml, the
// docs): anyone can read them, so a deployment started with one of them
// copied unchanged would run with a publicly known session key or
// passphrase. Placeholder matches them and their obvious relatives.
var placeholders = []string{
	"replace-me", "replace-with", "replace_me", "replaceme",
	"change-me", "changeme", "change_me",
	"your-secret", "secret-here", "example-secret",
	"xxxxxxxx",
}

// Placeholder reports whether v, a secret read from the environment, is
// one of the examples' placeholders rather than a secret: it contains one
// of the known placeholder words (case-insensitive).
func Placeholder(v string) bool {
	l := strings.ToLower(v)
	for _, p := range placeholders {
		if strings.Contains(l, p) {
			return true
		}
	}
	return false
}
