package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// TestModeratorSeesAndApprovesAnEdit: an approved post edited at its
// source shows on the moderator page as an edit, with the version on the
// wall and the new version (text and image) on one card; the wall keeps
// the approved version until the moderator presses a, then shows the edit.
func TestModeratorSeesAndApprovesAnEdit(t *testing.T) {
	s := startStaffServer(t)
	p := staffFixturePosts(t, 1)[0]
	p.Text, p.HTML = "Great talk!", "<p>Great talk!</p>"
	p.Media = []event.Media{{Kind: "image", URL: "https://files.example/old-picture.png", Alt: "the stage"}}
	edit := p
	edit.Text, edit.HTML = "What a scam, this talk", "<p>What a scam, this talk</p>"
	edit.EditedAt = time.Now().UTC()
	edit.Media = []event.Media{{Kind: "image", URL: "https://files.example/new-picture.png", Alt: "something else"}}
	s.add(t, staffReceived(p),
		event.Entry{Kind: event.PostApproved, Actor: event.Actor{Role: event.RoleModerator, Name: "carol"}, PostID: p.ID},
		event.Entry{Kind: event.PostEdited, Actor: event.Actor{Role: event.RoleSource, Name: "mastodon:mastodon.social"}, PostID: p.ID, Post: &edit,
			Verdict: &event.Verdict{Decision: event.DecisionHold, Rule: `blocked word "scam" in text`}})

	wallTab := staffTab(t, 1280, 800, 60*time.Second)
	if err := chromedp.Do(wallTab, chromedp.Navigate(s.URL+"/e/"+staffSlug+"/wall")); err != nil {
		t.Fatal(err)
	}
	staffJSEventually(t, wallTab, 10*time.Second, "the wall shows the approved version", `document.body.innerText.includes("Great talk!")`)

	mod := staffTab(t, 1280, 900, 60*time.Second)
	staffLogin(t, mod, s, "moderate", "alice", staffModPass)
	card := fmt.Sprintf(`document.querySelector('#list .post[data-id=%q]')`, p.ID)
	staffJSEventually(t, mod, 5*time.Second, "the queue shows the post as an edit", card+` && `+card+`.dataset.edit === "1"`)
	got := staffJSString(t, mod, `(() => { const c = `+card+`; return JSON.stringify({
		banner: c.querySelector(".edit-banner").innerText,
		shown: c.querySelector(":scope > .post-body").innerText,
		shownImg: c.querySelector(":scope > .media img").getAttribute("src"),
		edit: c.querySelector(".edit-new .post-body").innerText,
		editImg: c.querySelector(".edit-new .media img").getAttribute("src"),
		labels: [...c.querySelectorAll(".version-label")].map(l => l.textContent).join(" | "),
		tab: document.querySelector('[data-count="queue"]').innerText,
		counts: document.querySelector("#counts").innerText,
	}); })()`)
	for _, want := range []string{
		`"banner":"Edited at the source after it was approved`, `"shown":"Great talk!"`, `old-picture.png`,
		`"edit":"What a scam, this talk"`, `new-picture.png`, `On the wall now`, `blocked word \"scam\" in text`,
		`"tab":"1"`, `1 waiting (1 edit)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("edit card lacks %s: %s", want, got)
		}
	}
	// The wall still shows the approved version, and nothing of the edit.
	if staffJSString(t, wallTab, `String(document.body.innerText.includes("scam") || !!document.querySelector('img[src*="new-picture"]'))`) != "false" {
		t.Error("the wall shows the edit before a moderator approved it")
	}

	Screenshot(t, mod, "moderate_edit_card")
	staffPress(t, mod, "a")
	staffJSEventually(t, wallTab, 5*time.Second, "the wall shows the approved edit",
		`document.body.innerText.includes("What a scam, this talk") && !document.body.innerText.includes("Great talk!")`)
	staffJSEventually(t, mod, 5*time.Second, "the edit leaves the queue", `!`+card)
	if v := staffPostState(s, p.ID); v.State != fold.StateApproved || v.Edit != nil || v.Text != edit.Text || v.DecidedBy.Name != "alice" {
		t.Errorf("after approving the edit: %+v", v)
	}
	staffJSEventually(t, mod, 5*time.Second, "the counts follow", `document.querySelector("#counts").innerText.startsWith("0 waiting ·")`)
}
