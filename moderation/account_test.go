package moderation

import (
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// Every form a moderator may paste for one fediverse account blocks her,
// whether her server sent an actor uri (Mastodon) or not (GoToSocial),
// and on a server whose handles use another domain than its web host.
func TestAccountFormsBlock(t *testing.T) {
	authors := map[string]event.Author{
		"mastodon, split domain": {ID: "acct:ada@a.example", Handle: "@ada@a.example", URL: "https://web.a.example/@ada"},
		"old id (actor uri)":     {ID: "https://web.a.example/users/ada", Handle: "@ada@a.example", URL: "https://web.a.example/@ada"},
		"port":                   {ID: "acct:ada@localhost:18080", Handle: "@ada@localhost:18080", URL: "http://localhost:18080/@ada"},
	}
	forms := map[string][]string{
		"mastodon, split domain": {"@ada@a.example", "ada@a.example", "acct:ada@a.example", "@ADA@A.example",
			"https://web.a.example/@ada", "https://web.a.example/users/ada", "https://web.a.example/users/ada/", "https://other.example/@ada@a.example"},
		"old id (actor uri)": {"@ada@a.example", "https://web.a.example/users/ada", "https://web.a.example/@ada"},
		"port":               {"@ada@localhost:18080", "ada@localhost:18080", "http://localhost:18080/@ada", "http://localhost:18080/users/ada"},
	}
	for name, a := range authors {
		for _, form := range forms[name] {
			r := Rules{Mode: event.ModeAuto, BlockedAccounts: Entries(form)}
			v := r.Evaluate(event.Post{Text: "hello", Author: a}, time.Now())
			if v.Decision != event.DecisionReject {
				t.Errorf("%s: block %q: %+v", name, form, v)
			}
		}
	}
	// Not her: another user, another server, a URL that is not a profile.
	a := authors["mastodon, split domain"]
	for _, form := range []string{"@bob@a.example", "@ada@b.example", "https://web.a.example/@adam", "https://web.a.example/about", "ada"} {
		r := Rules{Mode: event.ModeAuto, BlockedAccounts: Entries(form)}
		if v := r.Evaluate(event.Post{Text: "hello", Author: a}, time.Now()); v.Decision != event.DecisionApprove {
			t.Errorf("block %q caught ada: %+v", form, v)
		}
	}
}

// Trust goes by what the author's server vouches for (handle, id), never
// by the profile URL, which a server may set to anyone's.
func TestTrustIgnoresTheProfileURL(t *testing.T) {
	spoof := event.Author{ID: "acct:troll@evil.example", Handle: "@troll@evil.example", URL: "https://web.a.example/@ada"}
	r := Rules{Mode: event.ModePre, TrustedAccounts: []string{"@ada@web.a.example"}}
	if v := r.Evaluate(event.Post{Text: "hello", Author: spoof}, time.Now()); v.Decision != event.DecisionHold {
		t.Errorf("a profile URL earned trust: %+v", v)
	}
	ada := event.Author{ID: "acct:ada@a.example", Handle: "@ada@a.example"}
	r = Rules{Mode: event.ModePre, TrustedAccounts: []string{"https://a.example/users/ada"}}
	if v := r.Evaluate(event.Post{Text: "hello", Author: ada}, time.Now()); v.Decision != event.DecisionApprove {
		t.Errorf("trust by actor URI: %+v", v)
	}
}
