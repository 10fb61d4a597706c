package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
)

// seed appends the fixture posts, approved, and a question being read.
// It returns the posts and waits until the node's fold has them all.
func seed(t *testing.T, n *Node) []event.Post {
	t.Helper()
	posts := FixturePosts(t)
	for _, p := range posts {
		Receive(t, n.Log, p, true)
	}
	fac := event.Actor{Role: event.RoleFacilitator, Name: "fran"}
	Append(t, n.Log, event.Entry{Kind: event.QuestionAdded, Actor: fac,
		Question: &event.Question{ID: "q1", Text: "How will the new library be funded after 2027?", Name: "Priya"}})
	last := Append(t, n.Log, event.Entry{Kind: event.QuestionReading, Actor: fac, QuestionID: "q1"})
	waitFold(t, n, last)
	return posts
}

func waitFold(t *testing.T, n *Node, pos uint64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Live.WaitFor(ctx, pos); err != nil {
		t.Fatalf("fold did not reach %d: %v", pos, err)
	}
}

func open(t *testing.T, ctx context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
}

const live = `document.getElementById("conn").dataset.status === "live"`

// Every layout and theme at 1920×1080 and 1280×720 draws the fixture
// posts, the question being read, the CW post as its warning only and the
// sensitive media blurred, with body text of at least 28 px at 1080p.
func TestWallLayoutsAndThemes(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	posts := seed(t, n)
	var cwID, sensitiveID string
	withBody := 0
	for _, p := range posts {
		if p.ContentWarning != "" && cwID == "" {
			cwID = p.ID
		}
		if p.ContentWarning == "" {
			withBody++
			if p.Sensitive && len(p.Media) > 0 {
				sensitiveID = p.ID
			}
		}
	}
	if cwID == "" || sensitiveID == "" {
		t.Fatalf("fixtures lack a CW post (%q) or a sensitive post with media (%q)", cwID, sensitiveID)
	}

	for _, size := range []struct{ w, h int64 }{{1920, 1080}, {1280, 720}} {
		tab := newTab(t, size.w, size.h)
		for _, layout := range []string{"grid", "column", "spotlight", "ticker"} {
			for _, theme := range []string{"dark", "light", "contrast"} {
				name := fmt.Sprintf("wall-%dx%d-%s-%s", size.w, size.h, layout, theme)
				open(t, tab, fmt.Sprintf("%s/e/%s/wall?layout=%s&theme=%s", n.URL(), Slug, layout, theme))
				WaitJS(t, tab, live, 5*time.Second)
				WaitJS(t, tab, fmt.Sprintf(`document.querySelectorAll("#posts .post").length === %d`, len(posts)), 5*time.Second)

				var got struct {
					Theme, Layout, NowReading, CW string
					Bodies                        int
					CWHasBody                     bool
					Filter                        string
					FontSize                      float64
					Ticker                        int
				}
				EvalJS(t, tab, fmt.Sprintf(`(() => {
					const cw = document.querySelector('#posts .post[data-id="%s"]');
					const sens = document.querySelector('#posts .post[data-id="%s"] .media-item img');
					const visible = [...document.querySelectorAll("#posts .post-body, #posts .cw-text, .ticker-item")]
						.filter(e => e.getClientRects().length > 0);
					return {
						Theme: document.documentElement.dataset.theme,
						Layout: document.body.dataset.layout,
						NowReading: document.getElementById("nr-text").textContent,
						CW: cw ? cw.querySelector(".cw-text").textContent : "",
						CWHasBody: !!(cw && cw.querySelector(".post-body, .media")),
						Bodies: document.querySelectorAll("#posts .post-body").length,
						Filter: sens ? getComputedStyle(sens).filter : "",
						FontSize: visible.length ? Math.min(...visible.map(e => parseFloat(getComputedStyle(e).fontSize))) : 0,
						Ticker: document.querySelectorAll(".ticker-item").length,
					};
				})()`, cwID, sensitiveID), &got)
				Screenshot(t, tab, name)

				if got.Theme != theme || got.Layout != layout {
					t.Errorf("%s: page has theme %q layout %q", name, got.Theme, got.Layout)
				}
				if !strings.Contains(got.NowReading, "library be funded") {
					t.Errorf("%s: now reading shows %q", name, got.NowReading)
				}
				if got.CW != "Karen meme explained" || got.CWHasBody {
					t.Errorf("%s: CW post shows warning %q, body or media in the page: %v", name, got.CW, got.CWHasBody)
				}
				if got.Bodies != withBody {
					t.Errorf("%s: %d post bodies, want %d (every post but the CW ones)", name, got.Bodies, withBody)
				}
				if !strings.Contains(got.Filter, "blur") {
					t.Errorf("%s: sensitive media has filter %q, want a blur", name, got.Filter)
				}
				if layout == "ticker" && got.Ticker == 0 {
					t.Errorf("%s: ticker is empty", name)
				}
				min := 28.0 * float64(size.h) / 1080
				if got.FontSize < min {
					t.Errorf("%s: visible post text is %.1fpx, want at least %.1fpx", name, got.FontSize, min)
				}
			}
		}
	}
}

// At 4K the wall scales up rather than filling with tiny cards.
func TestWall4K(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	posts := seed(t, n)
	tab := newTab(t, 3840, 2160)
	open(t, tab, n.URL()+"/e/"+Slug+"/wall")
	WaitJS(t, tab, fmt.Sprintf(`document.querySelectorAll("#posts .post").length === %d`, len(posts)), 5*time.Second)
	var size float64
	EvalJS(t, tab, `Math.min(...[...document.querySelectorAll("#posts .post-body")].filter(e => e.getClientRects().length).map(e => parseFloat(getComputedStyle(e).fontSize)))`, &size)
	Screenshot(t, tab, "wall-3840x2160-grid-dark")
	if size < 56 {
		t.Errorf("post text at 4K is %.1fpx, want at least 56px (twice 1080p's 28px)", size)
	}
}

// A post approved through the moderators' API is on an open wall within
// one second, and a held post never is.
func TestApprovedPostAppearsWithinOneSecond(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModePre)
	tab := newTab(t, 1280, 720)
	open(t, tab, n.URL()+"/e/"+Slug+"/wall")
	WaitJS(t, tab, live, 5*time.Second)

	posts := FixturePosts(t)
	for i, p := range posts[:3] {
		pos := Receive(t, n.Log, p, false)
		waitFold(t, n, pos)
		start := time.Now()
		n.API(t, "POST", "/api/events/"+Slug+"/posts/"+p.ID+"/approve", nil)
		WaitJS(t, tab, fmt.Sprintf(`document.querySelector('#posts .post[data-id="%s"]')`, p.ID), time.Second)
		t.Logf("post %d: approve call to visible on the wall in %v", i, time.Since(start))
		if took := time.Since(start); took > time.Second {
			t.Errorf("post %d took %v to appear", i, took)
		}
	}
	held := posts[3]
	pos := Receive(t, n.Log, held, false)
	waitFold(t, n, pos)
	// A later approval proves the wall is past the held post's position.
	Receive(t, n.Log, posts[4], true)
	WaitJS(t, tab, fmt.Sprintf(`document.querySelector('#posts .post[data-id="%s"]')`, posts[4].ID), 2*time.Second)
	var heldShown bool
	EvalJS(t, tab, fmt.Sprintf(`!!document.querySelector('[data-id="%s"]')`, held.ID), &heldShown)
	if heldShown {
		t.Error("a post held for moderation is on the wall")
	}
}

// The server stops under an open wall; while it is down a post is
// approved; the wall reconnects by itself and shows it, with nothing
// doubled.
func TestWallReconnectsAfterRestart(t *testing.T) {
	dir := t.TempDir()
	n := StartNode(t, dir, "127.0.0.1:0", event.ModePre)
	posts := FixturePosts(t)
	mod := event.Actor{Role: event.RoleModerator, Name: "mo"}
	Receive(t, n.Log, posts[0], true)
	tab := newTab(t, 1280, 720)
	open(t, tab, n.URL()+"/e/"+Slug+"/wall")
	WaitJS(t, tab, live, 5*time.Second)
	WaitJS(t, tab, `document.querySelectorAll("#posts .post").length === 1`, 5*time.Second)

	addr := n.Addr
	n.Stop()
	WaitJS(t, tab, `document.getElementById("conn").dataset.status !== "live"`, 5*time.Second)

	// Meanwhile, on the same store: one post held then approved by a
	// moderator, one approved on arrival.
	store, err := disklog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	log, err := store.Log(context.Background(), Slug)
	if err != nil {
		t.Fatal(err)
	}
	Receive(t, log, posts[1], false)
	Append(t, log, event.Entry{Kind: event.PostApproved, Actor: mod, PostID: posts[1].ID})
	Receive(t, log, posts[2], true)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	n2 := StartNode(t, dir, addr, event.ModePre)
	took := WaitJS(t, tab, fmt.Sprintf(`%s && document.querySelector('[data-id="%s"]') && document.querySelector('[data-id="%s"]')`,
		live, posts[1].ID, posts[2].ID), 20*time.Second)
	t.Logf("wall showed the posts approved while the server was down %v after it came back", took)
	var ids []string
	EvalJS(t, tab, `[...document.querySelectorAll("#posts .post")].map(e => e.dataset.id)`, &ids)
	want := []string{posts[2].ID, posts[1].ID, posts[0].ID}
	if strings.Join(ids, ",") != strings.Join(want, ",") {
		t.Errorf("wall shows %v, want %v (newest first, no doubles)", ids, want)
	}
	_ = n2
}

// 1,000 posts arriving keep the wall at its cap of cards, and its feed
// at no more than twice that.
func TestWallKeepsItsCap(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	tab := newTab(t, 1280, 720)
	open(t, tab, n.URL()+"/e/"+Slug+"/wall")
	WaitJS(t, tab, live, 5*time.Second)
	base := FixturePosts(t)
	var lastID string
	for i := 0; i < 1000; i++ {
		p := clonePost(base[i%len(base)], i)
		Receive(t, n.Log, p, true)
		lastID = p.ID
	}
	WaitJS(t, tab, fmt.Sprintf(`document.querySelector('#posts .post[data-id="%s"]')`, lastID), 20*time.Second)
	var got struct{ Cards, Feed, Nodes int }
	EvalJS(t, tab, `({Cards: document.querySelectorAll("#posts .post").length,
		Feed: window.backchannelWall.feed.size(), Nodes: document.getElementsByTagName("*").length})`, &got)
	t.Logf("after 1,000 posts: %d cards, %d posts held, %d elements", got.Cards, got.Feed, got.Nodes)
	if got.Cards != 60 {
		t.Errorf("%d cards in the page, want the cap, 60", got.Cards)
	}
	if got.Feed > 120 {
		t.Errorf("the feed holds %d posts, want at most 120", got.Feed)
	}
	if got.Nodes > 60*40 {
		t.Errorf("%d elements in the page", got.Nodes)
	}
	var first string
	EvalJS(t, tab, `document.querySelector("#posts .post").dataset.id`, &first)
	if first != lastID {
		t.Errorf("first card is %s, want the newest post %s", first, lastID)
	}
}

// clonePost copies a recorded post and changes only its id, uri and
// creation time, so many distinct posts can arrive.
func clonePost(p event.Post, i int) event.Post {
	p.URI = fmt.Sprintf("%s#e2e-%d", p.URI, i)
	p.ID = event.PostID(p.URI)
	p.CreatedAt = time.Now().Add(-time.Duration(1000-i) * time.Second)
	return p
}
