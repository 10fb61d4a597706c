package e2e

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest/x"
)

// An X post on the wall shows what X's display requirements ask of every
// surface: the avatar, the display name, the @username, the text as X
// gave it, the time linked to the post, the X mark and a link to the post
// (docs/SOURCES-X.md), even with the wall's avatars and handles turned off.
func TestXPostOnWallAsXRequires(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModeAuto)
	b, err := os.ReadFile("../ingest/x/testdata/filtered-stream.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	posts, err := x.Posts([]byte(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || len(posts) != 1 {
		t.Fatalf("%d posts, %v", len(posts), err)
	}
	p := posts[0]
	p.Author.Avatar = "/testmedia/x-avatar.png" // the browser has no network
	last := Receive(t, n.Log, p, true)
	title := "Leeds"
	Append(t, n.Log, event.Entry{Kind: event.SettingsChanged, Actor: event.Actor{Role: event.RoleModerator, Name: "mo"},
		Settings: &event.Settings{Title: &title, Display: map[string]string{"show_avatars": "false", "show_handles": "false"}}})
	waitFold(t, n, last)

	tab := newTab(t, 1280, 720)
	open(t, tab, n.URL()+"/e/"+Slug+"/wall")
	card := `document.querySelector('#posts .post[data-id="` + p.ID + `"]')`
	WaitJS(t, tab, card+` && `+card+`.querySelector(".avatar").complete`, 5*time.Second)
	var got struct {
		Avatar, Name, Handle, Text, TimeHref, Mark, View string
		Framed                                           bool
	}
	EvalJS(t, tab, `(() => { const c = `+card+`; const q = (s) => c.querySelector(s);
		return { Avatar: q(".avatar") ? q(".avatar").src : "", Name: q(".name").textContent,
		  Handle: q(".handle") ? q(".handle").textContent : "", Text: q(".post-body").textContent,
		  TimeHref: q("a.permalink time") ? q("a.permalink").href : "",
		  Mark: q("img.source") && q("img.source").naturalWidth > 0 ? q("img.source").alt : "",
		  View: q("a.view-on-x") ? q("a.view-on-x").href : "", Framed: window.top !== window.self }; })()`, &got)
	wantURL := "https://x.com/NHSWorkforceDemo/status/1991489911204614400"
	if !strings.HasSuffix(got.Avatar, "/testmedia/x-avatar.png") {
		t.Errorf("avatar %q", got.Avatar)
	}
	if got.Name != "NHS Workforce Team (demo)" || got.Handle != "@NHSWorkforceDemo" {
		t.Errorf("name %q handle %q", got.Name, got.Handle)
	}
	if got.Text != "Brilliant start. Our ward teams will share notes from the workforce session later #Leaders4Leeds #OurDay" {
		t.Errorf("text altered: %q", got.Text)
	}
	if got.TimeHref != wantURL || got.View != wantURL {
		t.Errorf("time links to %q, view link %q; want %q", got.TimeHref, got.View, wantURL)
	}
	if got.Mark != "X" {
		t.Errorf("X mark %q (not shown or not loaded)", got.Mark)
	}
	if got.Framed {
		t.Error("the wall is framed")
	}
	Screenshot(t, tab, "x-post-wall")
}
