package wall_test

import (
	"strings"
	"testing"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/wall"
)

// TestRedactAction: only a moderator redacts; a text the post does not
// hold, or holds no more, is a 409; after redacting and approving, the
// public wall reads the mark and says the post was redacted, never the
// number, while the moderator's answer keeps the original.
func TestRedactAction(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t, textPost("https://a.example/1", "Call Edith on 07700 900123 after the talk", "@ada@a.example"))
	path := "/api/events/ev/posts/" + ids[0] + "/redact"
	body := map[string]any{"texts": []string{"07700 900123"}}

	n.call(t, "POST", path, noCred, body, 401, nil)
	n.call(t, "POST", path, facCred, body, 403, nil)
	n.call(t, "POST", path, modCred, map[string]any{"texts": []string{}}, 400, nil)
	n.call(t, "POST", path, modCred, map[string]any{"texts": []string{" -- "}}, 400, nil)
	n.call(t, "POST", "/api/events/ev/posts/nosuchpost/redact", modCred, body, 404, nil)
	var res wall.ActionResult
	n.call(t, "POST", path, modCred, map[string]any{"texts": []string{"01134960000"}}, 409, &res)
	if res.Error == nil || !strings.Contains(res.Error.Message, "nothing to redact") || res.Pos != 0 {
		t.Errorf("a text the post does not hold: %+v (nothing should be appended)", res)
	}

	n.call(t, "POST", path, modCred, body, 200, &res)
	if !res.Applied || res.Post == nil || res.Post.Text != "Call Edith on "+event.RedactionMark+" after the talk" ||
		res.Post.Original == nil || !strings.Contains(res.Post.Original.Text, "07700 900123") {
		t.Fatalf("redact = %+v", res.Post)
	}
	// The same again: nothing left to redact.
	n.call(t, "POST", path, modCred, body, 409, nil)

	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/approve", modCred, map[string]any{"seen": res.Post.Version}, 200, nil)
	status, wallBody := n.do(t, "GET", "/api/events/ev/wall", noCred, nil)
	if status != 200 || strings.Contains(string(wallBody), "900123") || !strings.Contains(string(wallBody), `"redacted":true`) ||
		!strings.Contains(string(wallBody), event.RedactionMark) {
		t.Errorf("public wall after approving: %d %s", status, wallBody)
	}
}

// TestReviseAction: a web-form post's text can be rewritten by a
// moderator; any other post's cannot (409), and its text stays.
func TestReviseAction(t *testing.T) {
	n := newDiskNode(t)
	form := textPost("urn:backchannel:form:abc", "How wil the libary be funded", "@anon@form.example")
	form.Source = fold.SourceForm
	social := textPost("https://a.example/2", "a mastodon post", "@ada@a.example")
	social.Source = "mastodon"
	ids := n.receive(t, form, social)

	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/revise", facCred, map[string]any{"text": "x"}, 403, nil)
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/revise", modCred, map[string]any{"text": "  "}, 400, nil)
	var res wall.ActionResult
	n.call(t, "POST", "/api/events/ev/posts/"+ids[1]+"/revise", modCred, map[string]any{"text": "words not theirs"}, 409, &res)
	if res.Error == nil || !strings.Contains(res.Error.Message, "only a web-form post's text can be edited") || res.Post.Text != "a mastodon post" {
		t.Errorf("revising a mastodon post: %+v", res)
	}
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/revise", modCred, map[string]any{"text": "How will the <b>library</b> be funded?"}, 200, &res)
	if res.Post.Text != "How will the <b>library</b> be funded?" || !res.Post.Revised ||
		!strings.Contains(res.Post.HTML, "&lt;b&gt;library&lt;/b&gt;") || res.Post.Original.Text != form.Text {
		t.Errorf("revise = text %q html %q revised %v original %+v", res.Post.Text, res.Post.HTML, res.Post.Revised, res.Post.Original)
	}
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/revise", modCred, map[string]any{"text": "How will the <b>library</b> be funded?"}, 409, nil)
}

// TestExportKeepsRedactionsOut: the posts export has the redacted text,
// never what was hidden (no original, no list of redactions).
func TestExportKeepsRedactionsOut(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t, textPost("https://a.example/1", "Call Edith on 07700 900123", "@ada@a.example"))
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/redact", modCred, map[string]any{"texts": []string{"07700 900123"}}, 200, nil)
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/approve", modCred, nil, 200, nil)
	for _, path := range []string{"/api/events/ev/export/posts.json?state=all", "/api/events/ev/export/posts.csv"} {
		status, b := n.do(t, "GET", path, modCred, nil)
		if status != 200 || strings.Contains(string(b), "900123") || !strings.Contains(string(b), event.RedactionMark) {
			t.Errorf("%s: %d %s", path, status, b)
		}
	}
}
