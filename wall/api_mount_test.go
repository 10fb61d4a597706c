package wall_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/webform"
	"github.com/backchannel/backchannel/wall"
)

// TestFormAndSessionRoutes checks what MountStaff mounts besides the API:
// the web form (a participant's post lands in the moderators' queue) and
// login, session and logout.
func TestFormAndSessionRoutes(t *testing.T) {
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	clk := newClock()
	n := startNode(t, store, clk, func(o *wall.StaffOptions, e *wall.Event) {
		form := webform.New(webform.Options{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		form.SetEvent("ev", webform.Event{
			Sink:   ingest.NewLogSink(e.Log, nil, nil, event.Actor{Role: event.RoleSource, Name: "form"}, clk.Now),
			Notice: "Posts are shown on the wall after a moderator approves them.",
		})
		o.Form = form
	})

	var info webform.Info
	n.call(t, "GET", "/e/ev/form", noCred, nil, 200, &info)
	if !strings.Contains(info.Notice, "moderator") {
		t.Errorf("form info = %+v", info)
	}
	n.call(t, "POST", "/e/ev/form", noCred, map[string]string{"text": "Hello from the back row", "name": "Sam"}, 200, nil)
	n.waitPos(t, n.head(t))
	var q wall.QueueView
	n.call(t, "GET", "/api/events/ev/queue", modCred, nil, 200, &q)
	if len(q.Posts) != 1 || q.Posts[0].Source != webform.Kind || q.Posts[0].Text != "Hello from the back row" {
		t.Fatalf("queue after a form post = %+v", q)
	}

	s := n.login(t, facPass, "fay")
	var id auth.Identity
	n.call(t, "GET", "/e/ev/session", s, nil, 200, &id)
	if id.Role != event.RoleFacilitator || id.Name != "fay" || id.CSRFToken != s.csrf {
		t.Errorf("session = %+v", id)
	}
	req, _ := http.NewRequest("POST", n.http.URL+"/e/ev/logout", nil)
	req.Header.Set("Accept", "application/json")
	req.AddCookie(s.cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	cleared := false
	for _, c := range res.Cookies() {
		cleared = cleared || (c.Name == auth.CookieName("ev") && c.MaxAge < 0)
	}
	if res.StatusCode != http.StatusNoContent || !cleared {
		t.Errorf("logout = %d, cookie cleared %v", res.StatusCode, cleared)
	}
	n.call(t, "POST", "/e/ev/login", noCred, map[string]string{"password": "wrong"}, 401, nil)
}
