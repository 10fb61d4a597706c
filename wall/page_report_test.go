package wall_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/csv"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/report/reporttest"
)

// reportNode serves "ev" with the recorded hour of reporttest in its log.
func reportNode(t *testing.T) (*staffNode, *reporttest.Ledger) {
	t.Helper()
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	n := startNode(t, store, newClock(), nil)
	entries, l := reporttest.Hour(1)
	var last uint64
	for _, e := range entries {
		e.Pos = 0
		a, err := n.log.Append(context.Background(), e.IdempotencyKey(), e)
		if err != nil {
			t.Fatal(err)
		}
		last = a.Pos
	}
	n.waitPos(t, last)
	return n, l
}

// noRedirect is a client that shows redirects instead of following them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func TestReportPageNeedsAModerator(t *testing.T) {
	n, _ := reportNode(t)
	for _, path := range []string{"/e/ev/report", "/e/ev/report.html?download=1"} {
		res, err := noRedirect.Get(n.http.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/e/ev/login?next=%2Fe%2Fev%2Freport" {
			t.Errorf("GET %s with no session: %d to %q; want 303 to the login page and back", path, res.StatusCode, res.Header.Get("Location"))
		}
		if status, _ := n.do(t, "GET", path, facCred, nil); status != http.StatusForbidden {
			t.Errorf("GET %s as a facilitator: %d; want 403", path, status)
		}
	}
	if status, _ := n.do(t, "GET", "/e/ev/report/posts.csv", noCred, nil); status != http.StatusUnauthorized {
		t.Errorf("a chart's CSV with no credentials: %d; want 401", status)
	}
	if status, _ := n.do(t, "GET", "/e/nope/report", modCred, nil); status != http.StatusNotFound {
		t.Errorf("the report of an unknown event: %d; want 404", status)
	}
}

func TestReportPageShowsTheLogsFigures(t *testing.T) {
	n, l := reportNode(t)
	c := n.login(t, modPass, "ada")
	req, _ := http.NewRequest("GET", n.http.URL+"/e/ev/report", nil)
	req.AddCookie(c.cookie)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(res.Body)
	res.Body.Close()
	page := body.String()
	if res.StatusCode != 200 {
		t.Fatalf("GET /e/ev/report = %d %s", res.StatusCode, page)
	}
	for _, want := range []string{
		fmt.Sprintf(`id="fig-received">%d<`, l.Received),
		fmt.Sprintf(`id="fig-approved">%d<`, l.Approved),
		fmt.Sprintf(`id="fig-rejected">%d<`, l.Rejected),
		fmt.Sprintf(`id="fig-questions">%d<`, l.Asked),
		"No votes", "GET /api/v1/timelines/tag: 503 Service Unavailable",
		`href="report/posts.csv"`, `href="report.html?download=1"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
	if got := strings.Count(page, `<svg xmlns="http://www.w3.org/2000/svg" class="chart"`); got != 8 {
		t.Errorf("%d charts; want 8", got)
	}
	// The inline style is allowed by its hash, and nothing else inline is.
	m := regexp.MustCompile(`(?s)<style>(.*?)</style>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no inline style")
	}
	sum := sha256.Sum256([]byte(m[1]))
	hash := "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "style-src 'self' "+hash) || strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self';") {
		t.Errorf("CSP %q does not allow the style by its hash %s alone", csp, hash)
	}
	if strings.Contains(page, " style=") || strings.Contains(page, "<script>") {
		t.Error("an inline style attribute or script the CSP would refuse")
	}
}

// The saved file stands alone: its own CSP forbids every load, and it
// refers to nothing but itself.
func TestReportFileIsSelfContained(t *testing.T) {
	n, l := reportNode(t)
	req, _ := http.NewRequest("GET", n.http.URL+"/e/ev/report.html?download=1", nil)
	req.Header.Set("Authorization", "Bearer "+modToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(res.Body)
	res.Body.Close()
	file := body.String()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Disposition"), `attachment; filename="ev-report-`) {
		t.Fatalf("download: %d, %q", res.StatusCode, res.Header.Get("Content-Disposition"))
	}
	if !strings.Contains(file, `<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;sha256-`) {
		t.Error("the file carries no CSP of its own")
	}
	for _, ref := range []string{"<script", "<link", "src=", `href="/`, `href="report`, `href="http`, "@import", "url(http"} {
		if strings.Contains(file, ref) {
			t.Errorf("the file refers to something outside itself: %q", ref)
		}
	}
	if !strings.Contains(file, fmt.Sprintf(`id="fig-received">%d<`, l.Received)) {
		t.Error("the file lacks the figures")
	}
}

func TestReportCSVs(t *testing.T) {
	n, l := reportNode(t)
	// The top contributor, whose name a spreadsheet would run as a formula.
	const extra = 40
	for i := range extra {
		uri := fmt.Sprintf("https://evil.example/%d", i)
		p := event.Post{ID: event.PostID(uri), URI: uri, Source: "mastodon", Text: "hi", HTML: "<p>hi</p>",
			Author: event.Author{ID: "https://evil.example/users/x", Name: "=HYPERLINK(\"http://evil.example\")"}}
		a, err := n.log.Append(context.Background(), "", event.Entry{Time: reporttest.Start.Add(59*time.Minute + 59*time.Second),
			Kind: event.PostReceived, Actor: event.Actor{Role: event.RoleSource, Name: "m"}, Post: &p,
			Verdict: &event.Verdict{Decision: event.DecisionApprove, Rule: "auto"}})
		if err != nil {
			t.Fatal(err)
		}
		n.waitPos(t, a.Pos)
	}
	read := func(name string) [][]string {
		t.Helper()
		status, b := n.do(t, "GET", "/e/ev/report/"+name, modCred, nil)
		if status != 200 {
			t.Fatalf("GET %s = %d %s", name, status, b)
		}
		rows, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return rows
	}
	posts := read("posts.csv")
	if len(posts) != 61 || posts[0][0] != "bucket_start" || posts[0][len(posts[0])-1] != "total" {
		t.Fatalf("posts.csv: %d rows, header %v; want 60 minutes under a header", len(posts), posts[0])
	}
	total := 0
	for _, row := range posts[1:] {
		var v int
		fmt.Sscan(row[len(row)-1], &v)
		total += v
	}
	if total != l.Received+extra {
		t.Errorf("posts.csv totals %d; want %d (the recorded hour and the posts after it)", total, l.Received+extra)
	}
	guarded := false
	for _, row := range read("contributors.csv") {
		if strings.HasPrefix(row[1], "'=HYPERLINK") {
			guarded = true
		}
		if strings.HasPrefix(row[1], "=") {
			t.Errorf("a formula reached the CSV: %q", row[1])
		}
	}
	if !guarded {
		t.Error("the formula-named contributor is not in contributors.csv, guarded")
	}
	if rows := read("outages.csv"); len(rows) != 1+len(l.Outages) {
		t.Errorf("outages.csv has %d rows; want %d outages", len(rows)-1, len(l.Outages))
	}
	if status, b := n.do(t, "GET", "/e/ev/report/nope.csv", modCred, nil); status != 404 || !strings.Contains(string(b), "posts.csv") {
		t.Errorf("an unknown table: %d %s; want 404 naming the tables", status, b)
	}
}
