package moderation_test

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/moderation"
)

var t0 = time.Date(2026, 11, 28, 14, 0, 0, 0, time.UTC)

var (
	greetings = []string{"Watching from", "Hello from", "Tuned in from", "Following along in", "Greetings from", "Listening in from", "Joining the stream in", "Catching this live in"}
	places    = []string{"Leeds", "Otley", "Hebden Bridge", "Harrogate", "Wakefield", "Keighley", "Ilkley", "Pudsey", "Morley", "Halifax", "Dewsbury", "Selby"}
	opinions  = []string{"really useful point", "strong argument", "fair challenge", "hopeful message", "clear explanation", "surprising figure", "honest answer", "bold idea"}
	topics    = []string{"community land trusts", "bus franchising", "youth services", "library hours", "flood defences", "social care budgets", "cycle lanes", "high street rents", "school meals", "tenant voice panels"}
	closings  = []string{"More of this please", "Thanks to the panel", "Would love the slides", "Keen to hear the answers", "Good to see this discussed", "Inspiring stuff", "Let's keep talking", "Sharing with my team"}
)

// streamPost makes the i-th post of a rehearsal-style stream: mostly
// ordinary posts by established accounts, and every tenth one something
// the rules must hold (spam links from new accounts, the same text again,
// near-duplicates, personal data, a flood), marked bad.
type streamPost struct {
	p   event.Post
	bad string // why it must not reach the wall; "" for an ordinary post
}

func author(n int) event.Author {
	return event.Author{ID: fmt.Sprintf("https://social.example/users/p%d", n), Name: fmt.Sprintf("Person %d", n),
		Handle: fmt.Sprintf("@p%d@social.example", n), CreatedAt: t0.AddDate(-3, 0, 0), Followers: 150, FollowersKnown: true}
}

func stream(n int) []streamPost {
	r := rand.New(rand.NewPCG(17, 4))
	pick := func(l []string) string { return l[r.IntN(len(l))] }
	var out []streamPost
	var clean []event.Post
	for i := range n {
		at := t0.Add(time.Duration(i) * 2 * time.Second)
		uri := fmt.Sprintf("https://social.example/users/x/statuses/%d", i)
		p := event.Post{ID: event.PostID(uri), URI: uri, Source: "mastodon", CreatedAt: at, Author: author(r.IntN(400))}
		p.Text = fmt.Sprintf("%s %s: %s about %s, %d minutes in. %s, and %s next? #Ev%d", pick(greetings), pick(places), pick(opinions),
			pick(topics), 1+r.IntN(90), pick(closings), pick(topics), i)
		sp := streamPost{p: p}
		if i%10 == 9 && len(clean) > 3 {
			orig := clean[r.IntN(len(clean))]
			switch (i / 10) % 7 {
			case 0:
				sp.p.Author = event.Author{ID: fmt.Sprintf("https://spam.example/users/s%d", i), Handle: fmt.Sprintf("@s%d@spam.example", i),
					CreatedAt: at.Add(-36 * time.Hour), Followers: 1, FollowersKnown: true}
				sp.p.Text, sp.bad = fmt.Sprintf("Huge discounts on event tickets at https://cheap-tix.example/%d grab them now", i), "spam link"
			case 1:
				sp.p.Text, sp.bad = orig.Text, "the same text again from another author"
			case 2:
				sp.p.Author, sp.p.Text, sp.bad = orig.Author, orig.Text+" !!", "the same text again from its author"
			case 3:
				sp.p.Text, sp.bad = orig.Text[:len(orig.Text)-1]+"X extra words here", "a near-duplicate"
			case 4:
				sp.p.Text, sp.bad = p.Text+fmt.Sprintf(" Call me on 07700 900%03d", i%1000), "a phone number"
			case 5:
				sp.p.Text, sp.bad = "Please pray for my grandad Albert, admitted to ward 9 last night "+fmt.Sprint(i), "a person placed in hospital"
			case 6:
				sp.p.Text, sp.bad = fmt.Sprintf("Test results for NHS number 943 476 5919 and mum born 12/03/1950, post %d", i), "an NHS number and a birth date"
			}
		} else {
			clean = append(clean, p)
		}
		out = append(out, sp)
	}
	// A flood: one author, eight posts in half a minute; past the limit they are held.
	for k := range 8 {
		at := t0.Add(time.Duration(n)*2*time.Second + time.Duration(k)*4*time.Second)
		uri := fmt.Sprintf("https://social.example/users/flood/statuses/%d", k)
		p := event.Post{ID: event.PostID(uri), URI: uri, Source: "mastodon", CreatedAt: at, Author: author(9999)}
		p.Text = fmt.Sprintf("%s %s: %s about %s, part %d", pick(greetings), pick(places), pick(opinions), pick(topics), k)
		sp := streamPost{p: p}
		if k >= moderation.DefaultFloodPerMinute {
			sp.bad = "a flood"
		}
		out = append(out, sp)
	}
	return out
}

// In auto mode a rehearsal-style stream with 10 % spam, duplicates and
// personal data puts none of them on the wall, and holds few ordinary posts.
func TestAutoModeStreamKeepsTheBadOffTheWall(t *testing.T) {
	rules := moderation.Default()
	rules.Mode = event.ModeAuto
	rules.Recent = moderation.NewRecent(0, 0)
	rules.Compile()
	posts := stream(600)
	st := fold.New(fold.SettingsView{Moderation: event.ModeAuto})
	src := event.Actor{Role: event.RoleSource, Name: "mastodon:social.example"}
	bad, goodHeld := 0, 0
	for i, sp := range posts {
		at := sp.p.CreatedAt
		v := rules.Evaluate(sp.p, at)
		p := sp.p
		st.Apply(event.Entry{Pos: uint64(i + 1), Time: at, Kind: event.PostReceived, Actor: src, PostID: p.ID, Post: &p, Verdict: &v})
		if sp.bad != "" {
			bad++
			if v.Decision == event.DecisionApprove {
				t.Errorf("post %d (%s) approved: %q", i, sp.bad, sp.p.Text)
			}
		} else if v.Decision != event.DecisionApprove {
			goodHeld++
			t.Logf("ordinary post %d held by %q: %q", i, v.Rule, sp.p.Text)
		}
	}
	if bad < 60 {
		t.Fatalf("the stream has %d bad posts, want at least 10%%", bad)
	}
	onWall := map[string]bool{}
	for _, pp := range st.Wall(0).Posts {
		onWall[pp.ID] = true
	}
	for _, sp := range posts {
		if sp.bad != "" && onWall[sp.p.ID] {
			t.Errorf("on the wall: %s: %q", sp.bad, sp.p.Text)
		}
	}
	if goodHeld > len(posts)/50 {
		t.Errorf("%d ordinary posts held of %d: too many false alarms", goodHeld, len(posts)-bad)
	}
	t.Logf("%d posts, %d bad, none on the wall; %d ordinary posts held", len(posts), bad, goodHeld)
}

// BenchmarkRules is the cost of the rules on one post of the stream, with
// every rule on and a full window of recent posts.
func BenchmarkRules(b *testing.B) {
	rules := moderation.Default()
	rules.Mode = event.ModeAuto
	rules.Recent = moderation.NewRecent(0, 0)
	rules.Spam.AllowedLinkDomains = []string{"leeds.gov.uk", "bbc.co.uk"}
	rules.Compile()
	posts := stream(4000)
	for _, sp := range posts[:moderation.DefaultWindowPosts] {
		rules.Evaluate(sp.p, sp.p.CreatedAt)
	}
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := range b.N {
		sp := posts[moderation.DefaultWindowPosts+i%(len(posts)-moderation.DefaultWindowPosts)]
		p := sp.p
		p.ID = fmt.Sprint(i) // a new post each time, so the window keeps moving
		rules.Evaluate(p, sp.p.CreatedAt)
	}
	b.StopTimer()
	// The process's CPU time per post, beside ns/op (wall time): on a
	// shared machine the wall time counts other processes' turns too.
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
