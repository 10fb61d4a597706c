package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

// A real browser negotiates permessage-deflate on the public socket,
// reads the server's compressed frames, and its own compressed
// {"type":"ping"} is inflated and answered by the poller that reads
// public sockets.
func TestBrowserSocketIsCompressed(t *testing.T) {
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModePre)
	tab := newTab(t, 1280, 720)
	open(t, tab, n.URL()+"/e/"+Slug+"/wall")
	WaitJS(t, tab, live, 5*time.Second)

	var ok bool
	EvalJS(t, tab, `(() => {
		window.__z = {msgs: [], open: false, ext: ""};
		const ws = new WebSocket("ws://" + location.host + "/api/events/`+Slug+`/ws");
		ws.onopen = () => { window.__z.open = true; window.__z.ext = ws.extensions; };
		ws.onmessage = (e) => { window.__z.msgs.push(e.data); };
		window.__zws = ws;
		return true;
	})()`, &ok)
	WaitJS(t, tab, `window.__z.open && window.__z.msgs.length > 0`, 5*time.Second)
	var ext string
	EvalJS(t, tab, `window.__z.ext`, &ext)
	if ext == "" {
		t.Fatal("the browser's socket negotiated no extension; want permessage-deflate")
	}
	t.Logf("negotiated: %s", ext)

	EvalJS(t, tab, `(window.__zws.send('{"type":"ping"}'), true)`, &ok)
	WaitJS(t, tab, `window.__z.msgs.some(m => m.includes('"type":"pong"'))`, 5*time.Second)

	p := FixturePosts(t)[0]
	Receive(t, n.Log, p, true)
	WaitJS(t, tab, fmt.Sprintf(`window.__z.msgs.some(m => m.includes('"id":"%s"'))`, p.ID), 5*time.Second)
	// And the wall itself, on its own socket, shows it.
	WaitJS(t, tab, fmt.Sprintf(`document.querySelector('#posts .post[data-id="%s"]')`, p.ID), 5*time.Second)
}
