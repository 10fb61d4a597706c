package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
)

// The server stops under an open wall for 20 s, as a restart on the
// projector laptop or a deploy does; two posts are approved meanwhile. The
// wall must be live again within 5 s of the server answering, with both
// posts, at 1920×1080 and 1280×720 (one wall each, open at once, as two
// screens in a room would be).
func TestWallBackWithinFiveSecondsOfRestart(t *testing.T) {
	const down = 20 * time.Second
	dir := t.TempDir()
	n := StartNode(t, dir, "127.0.0.1:0", event.ModePre)
	posts := FixturePosts(t)
	Receive(t, n.Log, posts[0], true)
	sizes := []struct{ w, h int64 }{{1920, 1080}, {1280, 720}}
	var tabs []context.Context
	for _, s := range sizes {
		tab := newTab(t, s.w, s.h)
		open(t, tab, n.URL()+"/e/"+Slug+"/wall")
		WaitJS(t, tab, live, 5*time.Second)
		WaitJS(t, tab, `document.querySelectorAll("#posts .post").length === 1`, 5*time.Second)
		tabs = append(tabs, tab)
	}

	addr := n.Addr
	n.Stop()
	stopped := time.Now()
	for _, tab := range tabs {
		WaitJS(t, tab, `document.getElementById("conn").dataset.status !== "live"`, 5*time.Second)
	}

	// While it is down, on the same data: one post held then approved by
	// a moderator, one approved on arrival.
	store, err := disklog.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	log, err := store.Log(context.Background(), Slug)
	if err != nil {
		t.Fatal(err)
	}
	Receive(t, log, posts[1], false)
	Append(t, log, event.Entry{Kind: event.PostApproved, Actor: event.Actor{Role: event.RoleModerator, Name: "mo"}, PostID: posts[1].ID})
	Receive(t, log, posts[2], true)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	// The outage itself is the scenario: the walls retry against a closed
	// port for its whole length.
	<-time.After(time.Until(stopped.Add(down)))

	StartNode(t, dir, addr, event.ModePre)
	answering := time.Now()
	for i, tab := range tabs {
		name := fmt.Sprintf("wall-restart-%dx%d", sizes[i].w, sizes[i].h)
		WaitJS(t, tab, fmt.Sprintf(`%s && document.querySelector('[data-id="%s"]') && document.querySelector('[data-id="%s"]')`,
			live, posts[1].ID, posts[2].ID), 40*time.Second)
		took := time.Since(answering)
		t.Logf("%s: live with the posts approved meanwhile %v after the server answered (down %v)", name, took.Round(time.Millisecond), down)
		if took > 5*time.Second {
			t.Errorf("%s: the wall took %v to come back, want at most 5s", name, took)
		}
		var ids []string
		EvalJS(t, tab, `[...document.querySelectorAll("#posts .post")].map(e => e.dataset.id)`, &ids)
		want := []string{posts[2].ID, posts[1].ID, posts[0].ID}
		if strings.Join(ids, ",") != strings.Join(want, ",") {
			t.Errorf("%s: wall shows %v, want %v (newest first, no doubles)", name, ids, want)
		}
		Screenshot(t, tab, name)
	}
}
