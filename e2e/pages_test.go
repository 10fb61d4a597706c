package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest/webform"
)

// On a phone, a participant reads how to take part, sends a question
// through the web form, it waits for a moderator, and once approved it is
// on their page.
func TestParticipantPageForm(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	seed(t, n)
	tab := newTab(t, 390, 844)
	open(t, tab, n.URL()+"/e/"+Slug)
	WaitJS(t, tab, live, 5*time.Second)
	WaitJS(t, tab, `document.querySelectorAll("#posts .post").length > 0`, 5*time.Second)

	var page struct {
		How, Privacy    string
		HoneypotVisible bool
	}
	EvalJS(t, tab, `({How: document.querySelector(".how").textContent, Privacy: document.getElementById("privacy").textContent,
		HoneypotVisible: (() => { const r = document.getElementById("f-website").getBoundingClientRect();
			return r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.width > 1; })()})`, &page)
	if !strings.Contains(page.How, "#Leaders4Leeds") || !strings.Contains(page.How, "moderator") {
		t.Errorf("how to take part says %q", page.How)
	}
	if !strings.Contains(page.Privacy, "until the end of the event") {
		t.Errorf("privacy notice says %q", page.Privacy)
	}
	if page.HoneypotVisible {
		t.Error("the honeypot field is visible")
	}

	const text = "Will the talks be online afterwards?"
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.CSS("#f-name"), "Sam"),
		chromedp.SendKeys(chromedp.CSS("#f-text"), text),
		chromedp.Click(chromedp.CSS("#f-question")),
		chromedp.Click(chromedp.CSS("#f-send")),
	); err != nil {
		t.Fatal(err)
	}
	WaitJS(t, tab, `document.getElementById("f-result").classList.contains("ok")`, 5*time.Second)
	Screenshot(t, tab, "participant-390x844")

	// The page fetched its device token: an HttpOnly, SameSite=Strict
	// cookie the page's script cannot read, sent with the post.
	var device *network.Cookie
	cookies, err := chromedp.Run(tab, chromedp.Action[network.GetCookiesResult](func(ctx context.Context, tg *chromedp.Target) (network.GetCookiesResult, error) {
		return cdp.Call(ctx, tg, network.GetCookies, network.GetCookiesParams{URLs: []string{n.URL() + "/e/" + Slug + "/form"}})
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cookies.Cookies {
		if c.Name == webform.DeviceCookie {
			device = c
		}
	}
	if device == nil || !device.HTTPOnly || device.SameSite != network.CookieSameSiteStrict {
		t.Errorf("device token cookie: %+v", device)
	}
	var readable bool
	EvalJS(t, tab, `document.cookie.includes("`+webform.DeviceCookie+`")`, &readable)
	if readable {
		t.Error("the page's script can read the device token")
	}

	var queued *fold.PostView
	deadline := time.Now().Add(5 * time.Second)
	for queued == nil && time.Now().Before(deadline) {
		n.Live.View(func(s *fold.State) {
			for _, p := range s.Queue() {
				if p.Text == text {
					queued = &p
				}
			}
		})
		if queued == nil {
			time.Sleep(20 * time.Millisecond) // polling the fold with a deadline
		}
	}
	if queued == nil {
		t.Fatal("the form post is not in the moderation queue")
	}
	if queued.Source != "form" || !queued.Post.Question || queued.Author.Name != "Sam" {
		t.Errorf("queued post: source %q asked as a question %v name %q", queued.Source, queued.Post.Question, queued.Author.Name)
	}
	var shown bool
	EvalJS(t, tab, fmt.Sprintf(`!!document.querySelector('[data-id="%s"]')`, queued.ID), &shown)
	if shown {
		t.Error("the form post is on the page before a moderator approved it")
	}
	n.API(t, "POST", "/api/events/"+Slug+"/posts/"+queued.ID+"/approve", nil)
	WaitJS(t, tab, fmt.Sprintf(`document.querySelector('#posts .post[data-id="%s"]')`, queued.ID), 2*time.Second)
}

// The overlay is transparent, shows the question being read as a lower
// third (and nothing when none is), and a ticker with ?ticker=1.
func TestOverlay(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	var last uint64
	for _, p := range FixturePosts(t)[:5] {
		last = Receive(t, n.Log, p, true)
	}
	waitFold(t, n, last)
	tab := newTab(t, 1920, 1080)
	open(t, tab, n.URL()+"/e/"+Slug+"/overlay?ticker=1")
	WaitJS(t, tab, `document.querySelectorAll(".ticker-item").length === 5`, 5*time.Second)
	// The public socket sends a post's body only as HTML: the ticker
	// shows its text, taken from the HTML.
	var ticker string
	EvalJS(t, tab, `[...document.querySelectorAll(".ticker-item")].map(e => e.textContent).join("\n")`, &ticker)
	for _, p := range FixturePosts(t)[:5] {
		if want := strings.Join(strings.Fields(p.Text), " "); p.ContentWarning == "" && !strings.Contains(ticker, want[:min(len(want), 24)]) {
			t.Errorf("the ticker lacks the text of %s (%q):\n%s", p.ID, want[:min(len(want), 24)], ticker)
		}
	}
	var bg struct {
		HTML, Body string
		Off        bool
	}
	EvalJS(t, tab, `({HTML: getComputedStyle(document.documentElement).backgroundColor, Body: getComputedStyle(document.body).backgroundColor,
		Off: document.getElementById("lower-third").classList.contains("off")})`, &bg)
	if bg.HTML != "rgba(0, 0, 0, 0)" || bg.Body != "rgba(0, 0, 0, 0)" {
		t.Errorf("overlay background is %q / %q, want transparent", bg.HTML, bg.Body)
	}
	if !bg.Off {
		t.Error("the lower third shows with no question being read")
	}
	fac := event.Actor{Role: event.RoleFacilitator, Name: "fran"}
	Append(t, n.Log, event.Entry{Kind: event.QuestionAdded, Actor: fac, Question: &event.Question{ID: "q9", Text: "What happens to the old market hall?", Name: "Jo"}})
	start := time.Now()
	Append(t, n.Log, event.Entry{Kind: event.QuestionReading, Actor: fac, QuestionID: "q9"})
	WaitJS(t, tab, `!document.getElementById("lower-third").classList.contains("off") && document.getElementById("lt-text").textContent.includes("old market hall")`, time.Second)
	t.Logf("lower third up %v after the question was marked as being read", time.Since(start))
	Screenshot(t, tab, "overlay-1920x1080")
	Append(t, n.Log, event.Entry{Kind: event.QuestionAnswered, Actor: fac, QuestionID: "q9"})
	WaitJS(t, tab, `document.getElementById("lower-third").classList.contains("off")`, 2*time.Second)
}

// The index lists the event with its place and hashtags, linking its pages.
func TestIndex(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	tab := newTab(t, 1280, 720)
	open(t, tab, n.URL()+"/")
	var got struct {
		Title, Text string
		Links       []string
	}
	EvalJS(t, tab, `({Title: document.querySelector(".event h2").textContent, Text: document.querySelector(".event").textContent,
		Links: [...document.querySelectorAll(".event a")].map(a => a.getAttribute("href"))})`, &got)
	if got.Title != "Leaders for Leeds" || !strings.Contains(got.Text, "Leeds Town Hall") || !strings.Contains(got.Text, "#OurDay") || !strings.Contains(got.Text, "Live") {
		t.Errorf("index entry: %q / %q", got.Title, got.Text)
	}
	// The report is for staff: its page asks for a login.
	want := "/e/" + Slug + ",/e/" + Slug + ",/e/" + Slug + "/wall,/e/" + Slug + "/overlay,/e/" + Slug + "/report"
	if strings.Join(got.Links, ",") != want {
		t.Errorf("links %v, want %s", got.Links, want)
	}
	Screenshot(t, tab, "index-1280x720")
}

// A moderator's change of title and display options reaches an open wall
// live; a theme chosen in the URL stays put.
func TestWallFollowsDisplaySettings(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	posts := seed(t, n)
	free := newTab(t, 1280, 720)
	open(t, free, n.URL()+"/e/"+Slug+"/wall")
	locked := newTab(t, 1280, 720)
	open(t, locked, n.URL()+"/e/"+Slug+"/wall?theme=contrast")
	for _, tab := range []context.Context{free, locked} {
		WaitJS(t, tab, fmt.Sprintf(`document.querySelectorAll("#posts .post").length === %d && document.querySelector("#posts .avatar")`, len(posts)), 5*time.Second)
	}
	title := "Leeds: the afternoon"
	Append(t, n.Log, event.Entry{Kind: event.SettingsChanged, Actor: event.Actor{Role: event.RoleModerator, Name: "mo"},
		Settings: &event.Settings{Title: &title, Display: map[string]string{"theme": "light", "layout": "column", "show_avatars": "false"}}})
	WaitJS(t, free, `document.documentElement.dataset.theme === "light" && document.body.dataset.layout === "column" &&
		!document.querySelector("#posts .avatar") && document.getElementById("title").textContent === "Leeds: the afternoon"`, 2*time.Second)
	WaitJS(t, locked, `document.body.dataset.layout === "column" && !document.querySelector("#posts .avatar")`, 2*time.Second)
	var theme string
	EvalJS(t, locked, `document.documentElement.dataset.theme`, &theme)
	if theme != "contrast" {
		t.Errorf("the URL's theme was overridden: %q", theme)
	}
}
