package e2e

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/backchannel/backchannel/event"
)

// mineState is the state and words of this phone's copy of post id.
func mineState(id string) string {
	return fmt.Sprintf(`(() => { const li = document.querySelector('#mine .mine-post[data-post=%q]');
		return li ? li.dataset.state + "|" + li.querySelector(".mine-state").textContent : ""; })()`, id)
}

// sendFromPage types text into the participant page's form and sends it,
// as a participant does, and returns the id of the copy that appears
// under "Your post".
func sendFromPage(t *testing.T, tab context.Context, text string, before int) string {
	t.Helper()
	if err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.ID("f-text"), text),
		chromedp.Click(chromedp.ID("f-send")),
	); err != nil {
		t.Fatal(err)
	}
	WaitJS(t, tab, fmt.Sprintf(`document.querySelectorAll("#mine .mine-post").length === %d`, before+1), 5*time.Second)
	var id string
	EvalJS(t, tab, `document.querySelector("#mine .mine-post").dataset.post`, &id)
	return id
}

// After posting through the form the participant sees a copy of the post
// under "Your post": "Waiting for a moderator", then "On the wall" once a
// moderator approves it (the public socket says so at once), or "Not
// shown" once one rejects it (asked every 4 s); a reload still shows both.
func TestParticipantSeesOwnPostAndItsState(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModePre)
	tab := newTab(t, 390, 844)
	open(t, tab, n.URL()+"/e/"+Slug)
	WaitJS(t, tab, live, 5*time.Second)
	WaitJS(t, tab, `document.getElementById("mine").classList.contains("hidden")`, time.Second)

	const text = "Will the new bus lanes reach Holbeck?"
	id := sendFromPage(t, tab, text, 0)
	WaitJS(t, tab, mineState(id)+` === "pending|Waiting for a moderator"`, 2*time.Second)
	var got []string
	EvalJS(t, tab, fmt.Sprintf(`[document.getElementById("mine-title").textContent,
		document.querySelector('#mine .mine-post[data-post=%q] .mine-text').textContent,
		String(!!document.querySelector('#posts .post[data-id=%q]'))]`, id, id), &got)
	if len(got) != 3 || got[0] != "Your post" || got[1] != text || got[2] != "false" {
		t.Errorf("waiting copy: %q; want the heading, the text as sent, and nothing on the public list", got)
	}
	Screenshot(t, tab, "participant-mine-390x844-waiting")

	start := time.Now()
	n.API(t, "POST", "/api/events/"+Slug+"/posts/"+id+"/approve", nil)
	took := WaitJS(t, tab, mineState(id)+` === "approved|On the wall"`, 3*time.Second)
	t.Logf(`"On the wall" %v after the approval was answered (%v after it was sent)`, took, time.Since(start))
	WaitJS(t, tab, fmt.Sprintf(`document.querySelector('#posts .post[data-id=%q]')`, id), 2*time.Second)
	Screenshot(t, tab, "participant-mine-390x844-on-the-wall")

	id2 := sendFromPage(t, tab, "Second thought, off topic", 1)
	WaitJS(t, tab, mineState(id2)+` === "pending|Waiting for a moderator"`, 2*time.Second)
	n.API(t, "POST", "/api/events/"+Slug+"/posts/"+id2+"/reject", nil)
	took = WaitJS(t, tab, mineState(id2)+` === "rejected|Not shown"`, 10*time.Second)
	t.Logf(`"Not shown" %v after the rejection was answered (the page asks every 4 s)`, took)
	Screenshot(t, tab, "participant-mine-390x844-not-shown")

	// A reload keeps the copies (localStorage) and asks where each stands.
	open(t, tab, n.URL()+"/e/"+Slug)
	WaitJS(t, tab, mineState(id)+` === "approved|On the wall" && `+mineState(id2)+` === "rejected|Not shown"`, 5*time.Second)
	var heading string
	EvalJS(t, tab, `document.getElementById("mine-title").textContent`, &heading)
	if heading != "Your posts" {
		t.Errorf("heading with two posts = %q", heading)
	}
	// The token stays on this phone: the public wall's messages and the page carry none.
	var leaks bool
	EvalJS(t, tab, `document.documentElement.outerHTML.includes(JSON.parse(localStorage.getItem("backchannel:mine:`+Slug+`"))[0].token)`, &leaks)
	if leaks {
		t.Error("the page shows a post token")
	}
}
