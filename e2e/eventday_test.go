package e2e

import (
	"context"
	"encoding/csv"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest"
)

// The event day (issue 13), staff side: going live, reject-many, two
// moderators sharing one queue, source trouble in words, the export
// button, the settings panel, the facilitator's phone and the stage's
// read receipt; each in the real browser at the sizes a host uses.

// daySizes are the screens every event-day test runs at.
var daySizes = []struct{ w, h int64 }{{1920, 1080}, {1280, 720}}

// dayServer is startStaffServer with the health of its sources and its
// time zone chosen by the test.
func dayServer(t testing.TB, tz string, health func() []ingest.HealthSnapshot) *staffServer {
	t.Helper()
	if health == nil {
		health = func() []ingest.HealthSnapshot {
			return []ingest.HealthSnapshot{{Source: "mastodon:mastodon.social", Kind: "mastodon", State: ingest.StateOK, LastSuccess: time.Now(), RateLimitRemaining: -1}}
		}
	}
	return startStaff(t, staffSetup{title: "Event day under test", hashtag: "DayTest", timezone: tz, health: health,
		loginPerAddress: auth.Rate{Burst: 100, Every: time.Millisecond}})
}

func rehearsalPost(p event.Post) event.Entry {
	p.Source = event.SourceRehearsal
	return event.Entry{Kind: event.PostReceived, Actor: event.Actor{Role: event.RoleSource, Name: "rehearsal"},
		PostID: p.ID, Post: &p, Verdict: &event.Verdict{Decision: event.DecisionApprove, Rule: "auto-moderation"}}
}

func sizeName(w, h int64) string { return fmt.Sprintf("%dx%d", w, h) }

// Item 2: the moderator goes live from the page (behind a confirmation)
// and every rehearsal post leaves the queue, the wall and the counts; then
// rejects two posts at once with x, x, R.
func TestDayGoLiveAndRejectMany(t *testing.T) {
	for _, sz := range daySizes {
		t.Run(sizeName(sz.w, sz.h), func(t *testing.T) {
			s := dayServer(t, "", nil)
			posts := staffFixturePosts(t, 8)
			var evs []event.Entry
			for _, p := range posts[:5] {
				evs = append(evs, rehearsalPost(p))
			}
			held := posts[5]
			held.Source = event.SourceRehearsal
			evs = append(evs, staffReceived(held)) // a rehearsal post in the queue
			for _, p := range posts[6:] {
				evs = append(evs, staffReceived(p)) // real posts, waiting
			}
			s.add(t, evs...)

			wallTab := staffTab(t, sz.w, sz.h, 60*time.Second)
			if err := chromedp.Do(wallTab, chromedp.Navigate(s.URL+"/e/"+staffSlug+"/wall")); err != nil {
				t.Fatal(err)
			}
			staffJSEventually(t, wallTab, 10*time.Second, "the rehearsal on the wall", `document.querySelectorAll("#posts .post").length === 5`)

			tab := staffTab(t, sz.w, sz.h, 60*time.Second)
			staffLogin(t, tab, s, "moderate", "host", staffModPass)
			staffJSEventually(t, tab, 10*time.Second, "the rehearsal bar", `!document.querySelector("#rehearsal-bar").classList.contains("hidden") && document.querySelector("#rehearsal-text").textContent.includes("6 made-up posts")`)
			staffJSEventually(t, tab, 5*time.Second, "the queue with the rehearsal's held post", `document.querySelectorAll("#list .post").length === 3`)
			Screenshot(t, tab, "day-golive-before-"+sizeName(sz.w, sz.h))

			staffTap(t, tab, "#go-live")
			staffJSEventually(t, tab, 5*time.Second, "the confirmation", `!document.querySelector("#golive-dialog").classList.contains("hidden")`)
			Screenshot(t, tab, "day-golive-confirm-"+sizeName(sz.w, sz.h))
			if n := countPosts(s); n.Rehearsal != 6 {
				t.Fatalf("the dialog alone changed the counts: %+v", n)
			}
			staffTap(t, tab, "#golive-yes")
			staffJSEventually(t, tab, 10*time.Second, "the bar gone and the queue real", `document.querySelector("#rehearsal-bar").classList.contains("hidden") && document.querySelectorAll("#list .post").length === 2 && document.body.dataset.live === "1"`)
			staffJSEventually(t, wallTab, 10*time.Second, "the wall emptied", `document.querySelectorAll("#posts .post").length === 0`)
			if c := countPosts(s); c.Rehearsal != 0 || c.Approved != 0 || c.Pending != 2 || c.Received != 2 || !c.Live {
				t.Fatalf("counts after going live: %+v", c)
			}
			Screenshot(t, tab, "day-golive-after-"+sizeName(sz.w, sz.h))

			// Reject-many: select both with x, then R.
			staffPress(t, tab, "x")
			staffPress(t, tab, "x")
			staffJSEventually(t, tab, 5*time.Second, "two selected", `document.querySelector("#selection").textContent.startsWith("2 selected") && document.querySelector("#selection").textContent.includes("R rejects")`)
			Screenshot(t, tab, "day-reject-many-selected-"+sizeName(sz.w, sz.h))
			staffPress(t, tab, "R")
			staffEventually(t, 10*time.Second, "both rejected", func() bool {
				return staffPostState(s, posts[6].ID).State == fold.StateRejected && staffPostState(s, posts[7].ID).State == fold.StateRejected
			})
			staffJSEventually(t, tab, 5*time.Second, "the queue empty", `document.querySelectorAll("#list .post").length === 0 && document.querySelector("#toast").textContent.includes("2 rejected")`)
		})
	}
}

func countPosts(s *staffServer) fold.Counts {
	var c fold.Counts
	s.view(func(st *fold.State) { c = st.Counts() })
	return c
}

// Item 3: two moderators press keys on the same 15-post queue at once,
// one approving, one rejecting. The queue is shared out (each page passes
// over the post the other holds) and a decision that would reverse the
// other's is asked about first; answered "no", nothing is reversed.
func TestDayTwoModeratorsShareTheQueue(t *testing.T) {
	for _, sz := range daySizes {
		t.Run(sizeName(sz.w, sz.h), func(t *testing.T) {
			s := dayServer(t, "", nil)
			posts := staffFixturePosts(t, 15)
			evs := make([]event.Entry, len(posts))
			for i, p := range posts {
				evs[i] = staffReceived(p)
			}
			s.add(t, evs...)
			alice := staffTab(t, sz.w, sz.h, 90*time.Second)
			bob := staffTab(t, sz.w, sz.h, 90*time.Second)
			staffLogin(t, alice, s, "moderate", "alice", staffModPass)
			staffLogin(t, bob, s, "moderate", "bob", staffModPass)
			for _, tab := range []context.Context{alice, bob} {
				staffJSEventually(t, tab, 10*time.Second, "the queue", `document.querySelectorAll("#list .post").length === 15`)
			}
			// Each page has settled on a post and hears of the other's claim.
			staffJSEventually(t, alice, 10*time.Second, "alice sees bob's claim", `document.body.dataset.claims === "1"`)
			staffJSEventually(t, bob, 10*time.Second, "bob sees alice's claim", `document.body.dataset.claims === "1"`)
			af := staffJSString(t, alice, `document.querySelector("#list .post.focused").dataset.id`)
			bf := staffJSString(t, bob, `document.querySelector("#list .post.focused").dataset.id`)
			if af == bf {
				t.Fatalf("both moderators are on post %s", af)
			}
			staffJSEventually(t, bob, 5*time.Second, "bob's page names alice's post", fmt.Sprintf(`(document.querySelector('#list .post[data-id="%s"] .claim') || {}).textContent === "alice has this one"`, af))
			Screenshot(t, bob, "day-claims-"+sizeName(sz.w, sz.h))

			// Both at once, as fast as the browser takes them, a round of five keys each; any
			// question asked is answered "no, leave it"; until the queue is decided.
			asked := 0
			answer := func(tab context.Context) {
				for i := 0; i < 20; i++ {
					open := staffJSString(t, tab, `document.querySelector("#reverse-dialog").classList.contains("hidden") ? "" : document.querySelector("#reverse-text").textContent`)
					if open == "" {
						return
					}
					asked++
					if !strings.Contains(open, "anyway?") {
						t.Errorf("the question reads %q", open)
					}
					if asked == 1 {
						Screenshot(t, tab, "day-reversal-asked-"+sizeName(sz.w, sz.h))
					}
					staffPress(t, tab, "n")
				}
			}
			for round := 0; round < 12 && countPosts(s).Pending > 0; round++ {
				var wg sync.WaitGroup
				press := func(tab context.Context, key string) {
					defer wg.Done()
					for i := 0; i < 5; i++ {
						if err := chromedp.Do(tab, chromedp.KeyEvent(key)); err != nil {
							t.Errorf("press %s: %v", key, err)
							return
						}
					}
				}
				wg.Add(2)
				go press(alice, "a")
				go press(bob, "r")
				wg.Wait()
				// The decisions on their way land (the pages' calls are answered) before the next round.
				for _, tab := range []context.Context{alice, bob} {
					staffJSEventually(t, tab, 10*time.Second, "the page's calls answered", `!document.querySelector("#reverse-dialog").classList.contains("hidden") || document.querySelectorAll("#list .post").length === 0 || document.querySelector("#list .post.focused")`)
					answer(tab)
				}
			}
			staffEventually(t, 20*time.Second, "the queue decided", func() bool { return countPosts(s).Pending == 0 })

			// The log: per post, the approve/reject decisions that took effect.
			var audit []fold.AuditEntry
			s.view(func(st *fold.State) { audit = st.Audit(0) })
			applied := map[string][]fold.AuditEntry{}
			byWho := map[string]int{}
			for _, a := range audit {
				if (a.Kind == event.PostApproved || a.Kind == event.PostRejected) && a.Applied {
					applied[a.PostID] = append(applied[a.PostID], a)
					byWho[a.Actor.Name]++
				}
			}
			for id, as := range applied {
				if len(as) > 1 {
					t.Errorf("post %s: %d decisions took effect (%s by %s, then %s by %s): one reversed the other without asking",
						id, len(as), as[1].Kind, as[1].Actor.Name, as[0].Kind, as[0].Actor.Name)
				}
			}
			if byWho["alice"] == 0 || byWho["bob"] == 0 || byWho["alice"]+byWho["bob"] != 15 {
				t.Errorf("decisions: %v; want both moderators to have decided, 15 in all", byWho)
			}
			t.Logf("%v: decisions %v, questions asked %d", sizeName(sz.w, sz.h), byWho, asked)
		})
	}
}

// Item 5: a source that cannot be reached is said at the top of the
// moderator page, in words, within the first screen, at every size.
func TestDaySourceTroubleOnTop(t *testing.T) {
	since := time.Date(2026, 11, 28, 10, 2, 0, 0, time.UTC)
	health := func() []ingest.HealthSnapshot {
		return []ingest.HealthSnapshot{
			{Source: "mastodon:mastodon.social", Kind: "mastodon", State: ingest.StateBackingOff, LastError: "dial tcp 1.2.3.4:443: connect: connection refused", TroubleSince: since, RateLimitRemaining: -1},
			{Source: "mastodon:fosstodon.org", Kind: "mastodon", State: ingest.StateRateLimited, LastError: "429 Too Many Requests", TroubleSince: since, RateLimitRemaining: 0},
			{Source: "mastodon:example.social", Kind: "mastodon", State: ingest.StateBackingOff, LastError: "server refused the access token: 401 Unauthorized", TroubleSince: since, RateLimitRemaining: -1},
		}
	}
	for _, sz := range append(daySizes, struct{ w, h int64 }{1366, 768}) {
		t.Run(sizeName(sz.w, sz.h), func(t *testing.T) {
			s := dayServer(t, "Europe/London", health)
			tab := staffTab(t, sz.w, sz.h, 60*time.Second)
			staffLogin(t, tab, s, "moderate", "host", staffModPass)
			staffJSEventually(t, tab, 10*time.Second, "the trouble shown", `!document.querySelector("#trouble").classList.contains("hidden")`)
			text := staffJSString(t, tab, `document.querySelector("#trouble").innerText`)
			for _, want := range []string{
				"mastodon.social cannot be reached since 10:02; check the venue's network",
				"fosstodon.org is limiting how fast we read, since 10:02; posts will arrive late",
				"example.social refused our token since 10:02",
			} {
				if !strings.Contains(text, want) {
					t.Errorf("the trouble box lacks %q: %q", want, text)
				}
			}
			var box struct{ Top, Bottom, Height float64 }
			EvalJS(t, tab, `(() => { const r = document.querySelector("#trouble").getBoundingClientRect(); return {Top: r.top, Bottom: r.bottom, Height: innerHeight}; })()`, &box)
			if box.Top < 0 || box.Bottom > box.Height/2 {
				t.Errorf("the trouble box spans %.0f-%.0f px of a %.0f px screen: not at the top", box.Top, box.Bottom, box.Height)
			}
			Screenshot(t, tab, "day-source-trouble-"+sizeName(sz.w, sz.h))
		})
	}
}

// Item 10: the export buttons download CSV with the event's zone; "all
// posts" lists the pending and rejected ones too.
func TestDayExportButtons(t *testing.T) {
	for _, sz := range daySizes {
		t.Run(sizeName(sz.w, sz.h), func(t *testing.T) {
			s := dayServer(t, "Asia/Tokyo", nil)
			posts := staffFixturePosts(t, 3)
			s.add(t, staffReceived(posts[0]), staffReceived(posts[1]))
			s.add(t, event.Entry{Kind: event.PostApproved, Actor: event.Actor{Role: event.RoleModerator, Name: "m"}, PostID: posts[0].ID})
			tab := staffTab(t, sz.w, sz.h, 60*time.Second)
			staffLogin(t, tab, s, "moderate", "host", staffModPass)
			staffJSEventually(t, tab, 5*time.Second, "the export links", `document.querySelector("#export-all").href.includes("/export/posts.csv?state=all")`)
			var box struct{ Bottom, Height float64 }
			EvalJS(t, tab, `(() => { document.querySelector("#export-panel").scrollIntoView(); const r = document.querySelector("#export-all").getBoundingClientRect(); return {Bottom: r.bottom, Height: innerHeight}; })()`, &box)
			if box.Bottom > box.Height || box.Bottom <= 0 {
				t.Errorf("the export button is off screen even scrolled to: bottom %.0f of %.0f", box.Bottom, box.Height)
			}
			Screenshot(t, tab, "day-export-"+sizeName(sz.w, sz.h))
			fetchCSV := func(id string) string {
				t.Helper()
				out, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(`(async () => { const r = await fetch(document.querySelector("#%s").href, {credentials: "same-origin"}); return r.status + "\n" + r.headers.get("content-disposition") + "\n" + await r.text(); })()`, id), chromedp.EvalAwaitPromise))
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
			rows := func(id string) (string, [][]string) {
				t.Helper()
				status, rest, _ := strings.Cut(fetchCSV(id), "\n")
				disp, body, _ := strings.Cut(rest, "\n")
				recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
				if status != "200" || err != nil || len(recs) == 0 {
					t.Fatalf("%s: %s %v %.300s", id, status, err, body)
				}
				return disp, recs
			}
			disp, all := rows("export-all")
			if !strings.Contains(disp, "all-posts") || len(all) != 3 || all[1][16] != "approved" || all[2][16] != "pending" {
				t.Errorf("all posts: %s %v", disp, all)
			}
			if !strings.HasSuffix(all[1][1], "+09:00") || !strings.HasSuffix(all[1][15], "+09:00") {
				t.Errorf("the times are not in the event's zone (Asia/Tokyo): received %q, approved %q", all[1][1], all[1][15])
			}
			if _, approved := rows("export-approved"); len(approved) != 2 || approved[1][16] != "approved" {
				t.Errorf("approved posts: %v", approved)
			}
		})
	}
}

// Item 11: the settings panel changes the title, the brand colour and the
// logo; a wrong colour is refused in the server's words, the form open.
func TestDaySettingsTitleColourLogo(t *testing.T) {
	for _, sz := range daySizes {
		t.Run(sizeName(sz.w, sz.h), func(t *testing.T) {
			s := dayServer(t, "", nil)
			tab := staffTab(t, sz.w, sz.h, 60*time.Second)
			staffLogin(t, tab, s, "moderate", "host", staffModPass)
			staffPress(t, tab, "s")
			staffJSEventually(t, tab, 5*time.Second, "the settings open", `!document.querySelector("#settings-dialog").classList.contains("hidden")`)
			set := func(id, v string) {
				t.Helper()
				staffJSString(t, tab, fmt.Sprintf(`(() => { const e = document.querySelector("#%s"); e.value = %q; e.dispatchEvent(new Event("input")); return ""; })()`, id, v))
			}
			set("settings-event-title", "Leaders for Leeds 2026")
			set("settings-brand", "#12345")
			set("settings-logo", "https://example.org/logo.png")
			staffTap(t, tab, "#settings-save")
			staffJSEventually(t, tab, 5*time.Second, "the refusal beside the form", `!document.querySelector("#settings-error").classList.contains("hidden") && document.querySelector("#settings-error").textContent.includes("is not a colour like #1a7f5a")`)
			Screenshot(t, tab, "day-settings-refused-"+sizeName(sz.w, sz.h))
			set("settings-brand", "#c0392b")
			staffTap(t, tab, "#settings-save")
			staffJSEventually(t, tab, 5*time.Second, "saved and closed", `document.querySelector("#settings-dialog").classList.contains("hidden") && document.querySelector("#event-title").textContent === "Leaders for Leeds 2026"`)
			var v fold.SettingsView
			s.view(func(st *fold.State) { v = st.Settings() })
			if v.Title != "Leaders for Leeds 2026" || v.Display["brand_colour"] != "#c0392b" || v.Display["logo"] != "https://example.org/logo.png" {
				t.Fatalf("settings after saving: %+v", v)
			}
			Screenshot(t, tab, "day-settings-saved-"+sizeName(sz.w, sz.h))
		})
	}
}

// Item 12: the facilitator's screen shows the question being read once,
// and the moderator who sent a stage message sees when it was read.
func TestDayFacilitatorReadingOnceAndReadReceipt(t *testing.T) {
	for _, sz := range append(daySizes, struct{ w, h int64 }{390, 844}) {
		t.Run(sizeName(sz.w, sz.h), func(t *testing.T) {
			s := dayServer(t, "", nil)
			mod := event.Actor{Role: event.RoleModerator, Name: "m"}
			texts := []string{
				"How will the council measure whether the new cycle lanes actually reduce car journeys in the city centre?",
				"What happens to the community centres that lose their funding next April?",
				"Will the youth panel's recommendations be published before the budget vote?",
			}
			for i, text := range texts {
				s.add(t, event.Entry{Kind: event.QuestionAdded, Actor: mod, Question: &event.Question{ID: fmt.Sprintf("q%d", i), Text: text, Name: "someone in row " + fmt.Sprint(i+3)}})
			}
			s.add(t, event.Entry{Kind: event.QuestionReading, Actor: mod, QuestionID: "q0"})

			fac := staffTab(t, sz.w, sz.h, 60*time.Second)
			staffLogin(t, fac, s, "facilitate", "fay", staffFacPass)
			staffJSEventually(t, fac, 10*time.Second, "the questions", `!document.querySelector("#now").classList.contains("hidden") && document.querySelectorAll("#open li.q").length === 3`)
			reading := texts[0]
			if n := staffJSString(t, fac, fmt.Sprintf(`String(document.querySelector("main").innerText.split(%q).length - 1)`, reading)); n != "1" {
				t.Errorf("the question being read shows %s times, want once", n)
			}
			// The next question is in view: its text on a phone, the whole card on a laptop.
			var next struct{ Text, Bottom, Height float64 }
			EvalJS(t, fac, `(() => { const q = document.querySelector("#open li.q:not(.reading)"); return {Text: q.querySelector(".q-text").getBoundingClientRect().bottom, Bottom: q.getBoundingClientRect().bottom, Height: innerHeight}; })()`, &next)
			if end := next.Bottom; next.Text > next.Height || (sz.w >= 1280 && end > next.Height) {
				t.Errorf("the next question's text ends at %.0f px (card %.0f px), below the fold of %.0f px", next.Text, end, next.Height)
			}
			Screenshot(t, fac, "day-facilitator-reading-"+sizeName(sz.w, sz.h))

			modTab := staffTab(t, max(sz.w, 1280), max(sz.h, 720), 60*time.Second)
			staffLogin(t, modTab, s, "moderate", "max", staffModPass)
			if err := chromedp.Do(modTab, chromedp.SendKeys(chromedp.ID("stage-input"), "Two minutes left\r")); err != nil {
				t.Fatal(err)
			}
			staffJSEventually(t, modTab, 10*time.Second, "the message listed, unread", `(document.querySelector("#stage-sent .receipt") || {}).textContent?.includes("not read yet")`)
			staffJSEventually(t, fac, 10*time.Second, "the message on stage", `!document.querySelector("#stage").classList.contains("hidden") && document.querySelector("#stage-text").textContent === "Two minutes left"`)
			staffTap(t, fac, "#stage-seen")
			staffJSEventually(t, modTab, 10*time.Second, "the read receipt", `/^read at .+ by fay$/.test(document.querySelector("#stage-sent .receipt").textContent)`)
			staffJSEventually(t, fac, 5*time.Second, "the message put away", `document.querySelector("#stage").classList.contains("hidden")`)
			Screenshot(t, modTab, "day-stage-receipt-"+sizeName(sz.w, sz.h))
		})
	}
}
