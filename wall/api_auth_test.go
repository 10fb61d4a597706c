package wall_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/wall"
)

// staffRoute is one staff endpoint and the least role it needs.
type staffRoute struct {
	method, path string
	role         event.Role
	body         any
}

// staffRoutes lists every staff endpoint, with ids that do not exist:
// credentials are checked before the id is looked at.
func staffRoutes(slug string) []staffRoute {
	b := "/api/events/" + slug
	mod, fac := event.RoleModerator, event.RoleFacilitator
	rs := []staffRoute{
		{"GET", b + "/queue", mod, nil},
		{"GET", b + "/posts/nope", mod, nil},
		{"GET", b + "/audit?limit=5", mod, nil},
		{"GET", b + "/counts", mod, nil},
		{"GET", b + "/sources", mod, nil},
		{"GET", b + "/blocks", mod, nil},
		{"GET", b + "/posts?state=rejected&limit=5", mod, nil},
		{"GET", b + "/settings", mod, nil},
		{"GET", b + "/presence", mod, nil},
		{"GET", b + "/export/questions.csv", mod, nil},
		{"GET", b + "/export/questions.json", mod, nil},
		{"GET", b + "/export/posts.csv", mod, nil},
		{"GET", b + "/export/posts.json", mod, nil},
		{"GET", b + "/ws/staff", fac, nil},
		{"GET", b + "/questions", fac, nil},
		{"GET", b + "/questions/nope", fac, nil},
		{"GET", b + "/stage", fac, nil},
		{"POST", b + "/posts/approve", mod, map[string]any{"ids": []string{"nope"}}},
		{"POST", b + "/authors/block", mod, map[string]any{"domain": "troll.example"}},
		{"POST", b + "/authors/unblock", mod, map[string]any{"domain": "troll.example"}},
		{"POST", b + "/posts/nope/open", mod, nil},
		{"POST", b + "/settings", mod, map[string]any{"moderation": "auto", "display": map[string]string{"layout": "columns"}}},
		{"POST", b + "/posts/nope/close", mod, nil},
		{"POST", b + "/questions", fac, map[string]any{"text": "Who pays?"}},
		{"POST", b + "/questions/order", fac, map[string]any{"order": []string{"nope"}}},
		{"POST", b + "/stage", fac, map[string]any{"message": "two more"}},
	}
	for _, a := range []string{"approve", "reject", "undo", "pin", "unpin", "hide-media", "show-media", "question", "unquestion"} {
		rs = append(rs, staffRoute{"POST", b + "/posts/nope/" + a, mod, nil})
	}
	for _, a := range []string{"reading", "answered", "reopen"} {
		rs = append(rs, staffRoute{"POST", b + "/questions/nope/" + a, fac, nil})
	}
	rs = append(rs, staffRoute{"POST", b + "/questions/nope/note", fac, map[string]any{"note": "n"}})
	return rs
}

// TestStaffEndpointsRefuseFirst walks every staff endpoint with no
// credentials, wrong ones, credentials of another event, the wrong role,
// and (for cookie sessions) a missing CSRF token or another site's
// origin, and asserts the refusal, with nothing appended to the log.
func TestStaffEndpointsRefuseFirst(t *testing.T) {
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	n := startNode(t, store, newClock(), nil)
	modSession := n.login(t, modPass, "ada")
	facSession := n.login(t, facPass, "fay")
	forged := *modSession.cookie
	forged.Value = strings.Replace(forged.Value, "moderator", "mod", 1) + "x"
	before := n.head(t)

	type refusal struct {
		name string
		c    cred
		path func(string) string
		want int
		code string
		only func(staffRoute) bool
	}
	same := func(p string) string { return p }
	otherEvent := func(p string) string { return strings.Replace(p, "/events/ev/", "/events/other/", 1) }
	isMod := func(r staffRoute) bool { return r.role == event.RoleModerator }
	isPost := func(r staffRoute) bool { return r.method == "POST" }
	cases := []refusal{
		{"no credentials", noCred, same, 401, event.EUNAUTHORIZED, nil},
		{"wrong token", cred{bearer: "not-a-token-of-this-event-at-all"}, same, 401, event.EUNAUTHORIZED, nil},
		{"basic authorization", cred{authz: "Basic YWRhOnNlY3JldA=="}, same, 401, event.EUNAUTHORIZED, nil},
		{"forged cookie", cred{cookie: &forged, csrf: modSession.csrf}, same, 401, event.EUNAUTHORIZED, nil},
		{"token of another event", modCred, otherEvent, 401, event.EUNAUTHORIZED, nil},
		{"facilitator token on moderator route", facCred, same, 403, event.EFORBIDDEN, isMod},
		{"facilitator session on moderator route", facSession, same, 403, event.EFORBIDDEN, isMod},
		{"cookie without CSRF token", cred{cookie: modSession.cookie}, same, 403, event.EFORBIDDEN, isPost},
		{"cookie from another site", cred{cookie: modSession.cookie, csrf: modSession.csrf, origin: "https://evil.example"}, same, 403, event.EFORBIDDEN, isPost},
		{"cookie with another session's CSRF token", cred{cookie: modSession.cookie, csrf: facSession.csrf}, same, 403, event.EFORBIDDEN, isPost},
	}
	routes := staffRoutes("ev")
	if len(routes) < 35 {
		t.Fatalf("only %d routes listed", len(routes))
	}
	for _, c := range cases {
		for _, r := range routes {
			if c.only != nil && !c.only(r) {
				continue
			}
			status, body := n.do(t, r.method, c.path(r.path), c.c, r.body)
			var eb wall.ErrorBody
			_ = json.Unmarshal(body, &eb)
			if status != c.want || eb.Error.Code != c.code {
				t.Errorf("%s: %s %s = %d %s, want %d %s", c.name, r.method, c.path(r.path), status, body, c.want, c.code)
			}
		}
	}
	if after := n.head(t); after != before {
		t.Errorf("refused requests appended to the log: head %d -> %d", before, after)
	}

	// The control: the same requests with the right credentials get past
	// the check, to the handler's own answer about the missing id.
	status, body := n.do(t, "POST", "/api/events/ev/posts/nope/approve", modCred, nil)
	if status != http.StatusNotFound {
		t.Errorf("approve of an unknown post with a moderator token = %d %s, want 404", status, body)
	}
	status, body = n.do(t, "POST", "/api/events/ev/questions/nope/answered", facSession, nil)
	if status != http.StatusNotFound {
		t.Errorf("answering an unknown question in a facilitator session = %d %s, want 404", status, body)
	}
	status, _ = n.do(t, "POST", "/api/events/ev/stage", modSession, map[string]string{"message": "from a session with its token"})
	if status != http.StatusOK {
		t.Errorf("a moderator session with its CSRF token sending to the stage = %d, want 200", status)
	}
}
