package moderation

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

func by(n int, text string, at time.Time) event.Post {
	uri := fmt.Sprintf("https://example.social/users/u%d/statuses/%d", n, at.UnixNano())
	return event.Post{ID: event.PostID(uri), URI: uri, Source: "mastodon", Text: text,
		Author: event.Author{ID: fmt.Sprintf("https://example.social/users/u%d", n), Handle: fmt.Sprintf("@u%d@example.social", n),
			CreatedAt: now.AddDate(-2, 0, 0), Followers: 300, FollowersKnown: true}}
}

func TestDuplicates(t *testing.T) {
	r := Rules{Mode: event.ModeAuto, Recent: NewRecent(0, 0)}
	first := "The point about bus lanes on the ring road was brilliant, we need this in Bradford too"
	if v := r.Evaluate(by(1, first, now), now); v.Decision != event.DecisionApprove {
		t.Fatalf("the first post: %+v", v)
	}
	for _, tc := range []struct {
		name   string
		author int
		text   string
		held   bool
	}{
		{"same author again", 1, first, true},
		{"another author, same text", 2, first, true},
		{"another author, case and punctuation", 3, strings.ToUpper(first) + "!!!", true},
		{"near-duplicate, one word changed", 4, strings.Replace(first, "Bradford", "Wakefield", 1), true},
		{"a different post", 5, "Could the panel say more about funding for youth clubs next year?", false},
		{"a short common phrase from someone else", 6, "Great talk!", false},
	} {
		at := now.Add(time.Minute)
		v := r.Evaluate(by(tc.author, tc.text, at), at)
		if held := v.Decision == event.DecisionHold; held != tc.held {
			t.Errorf("%s: %+v, held %v want %v", tc.name, v, held, tc.held)
			continue
		}
		if tc.held && (v.Rule != RuleDuplicate || len(v.Checks) != 1 || v.Checks[0].Score < nearDuplicate) {
			t.Errorf("%s: verdict %+v", tc.name, v)
		}
	}
	// The same short phrase from the same author is held.
	r.Evaluate(by(7, "Great talk!", now), now)
	if v := r.Evaluate(by(7, "great talk", now.Add(time.Second)), now.Add(time.Second)); v.Decision != event.DecisionHold {
		t.Errorf("a short repeat by one author: %+v", v)
	}
	// Out of the window, the text may come back.
	later := now.Add(DefaultWindow + 2*time.Minute)
	r.Evaluate(by(8, "something else entirely to move the window along", later), later)
	if v := r.Evaluate(by(9, first, later), later); v.Decision != event.DecisionApprove {
		t.Errorf("after the window: %+v", v)
	}
	// The same post seen again (the node's evaluation, then the log) is no duplicate of itself.
	p := by(10, "A post that arrives through two paths and must not match itself", now)
	r2 := Rules{Mode: event.ModeAuto, Recent: NewRecent(0, 0)}
	r2.Recent.Observe(p, now)
	if v := r2.Evaluate(p, now); v.Decision != event.DecisionApprove {
		t.Errorf("a post judged after it was observed: %+v", v)
	}
}

func TestNewAccountLinks(t *testing.T) {
	r := Rules{Mode: event.ModeAuto, Spam: SpamOptions{AllowedLinkDomains: []string{"leeds.gov.uk"}}}
	fresh := func(text string, age time.Duration, followers int, known bool) event.Post {
		p := by(1, text, now)
		p.Author.CreatedAt, p.Author.Followers, p.Author.FollowersKnown = now.Add(-age), followers, known
		return p
	}
	for _, tc := range []struct {
		name string
		p    event.Post
		held bool
	}{
		{"new account, outside link", fresh("Cheap tickets at https://deals.example/leeds now", 48*time.Hour, 500, true), true},
		{"few followers, outside link", fresh("See www.deals.example/x", 400*24*time.Hour, 2, true), true},
		{"new account, allowed link", fresh("The plan: https://www.leeds.gov.uk/plan", time.Hour, 0, true), false},
		{"new account, own server", fresh("my profile https://example.social/@u1", time.Hour, 0, true), false},
		{"old account with followers", fresh("Cheap tickets at https://deals.example/leeds", 400*24*time.Hour, 500, true), false},
		{"new account, no link", fresh("Hello from Leeds", time.Hour, 0, true), false},
		{"source says nothing", func() event.Post {
			p := by(1, "https://deals.example", now)
			p.Author.CreatedAt, p.Author.FollowersKnown = time.Time{}, false
			return p
		}(), false},
	} {
		v := r.Evaluate(tc.p, now)
		if held := v.Decision == event.DecisionHold; held != tc.held {
			t.Errorf("%s: %+v, held %v want %v", tc.name, v, held, tc.held)
		}
		if tc.held && (v.Rule != RuleLinks || len(v.Checks[0].Spans) != 1) {
			t.Errorf("%s: %+v", tc.name, v)
		}
	}
}

func TestFlood(t *testing.T) {
	r := Rules{Mode: event.ModeAuto, Recent: NewRecent(0, 0), Spam: SpamOptions{FloodPerMinute: 3}}
	texts := []string{"one thing about the talk", "a second unrelated remark on housing", "third: what about the buses",
		"fourth, on libraries and opening hours", "fifth about the youth budget"}
	for i, text := range texts {
		at := now.Add(time.Duration(i) * 5 * time.Second)
		v := r.Evaluate(by(1, text, at), at)
		if held := v.Decision == event.DecisionHold; held != (i >= 3) {
			t.Errorf("post %d: %+v", i+1, v)
		}
		if i >= 3 && (v.Rule != RuleFlood || !strings.Contains(v.Checks[0].Detail, fmt.Sprintf("%d posts in a minute", i+1))) {
			t.Errorf("post %d: %+v", i+1, v)
		}
	}
	// A minute later, the author may post again.
	at := now.Add(2 * time.Minute)
	if v := r.Evaluate(by(1, "sixth, after a break", at), at); v.Decision != event.DecisionApprove {
		t.Errorf("after a minute: %+v", v)
	}
}

func TestChecksOff(t *testing.T) {
	r := Rules{Mode: event.ModeAuto, Recent: NewRecent(0, 0), Off: Checks}
	r.Evaluate(by(1, "same words in the same order again", now), now)
	p := by(2, "same words in the same order again, call 07700 900123, born 1/2/1950", now)
	p.Author.FollowersKnown, p.Author.Followers = true, 0
	if v := r.Evaluate(p, now); v.Decision != event.DecisionApprove || len(v.Checks) != 0 {
		t.Fatalf("every check off: %+v", v)
	}
}
