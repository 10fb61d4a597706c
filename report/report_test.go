package report_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"encoding/xml"
	"flag"
	"io"
	"math"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/report"
	"github.com/backchannel/backchannel/report/reporttest"
)

var update = flag.Bool("update", false, "write testdata/hour.jsonl from the generator")

// recorded is the hour, gzipped: 440 kB of JSON lines, 60 kB stored.
const recorded = "testdata/hour.jsonl.gz"

// recordedHour reads the recorded hour and checks it is what the
// generator makes (so the ledger is the ledger of this very log).
func recordedHour(t *testing.T) ([]event.Entry, *reporttest.Ledger) {
	t.Helper()
	want, ledger := reporttest.Hour(1)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, e := range want {
		if err := enc.Encode(e); err != nil {
			t.Fatal(err)
		}
	}
	if *update {
		var gz bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
		_, _ = zw.Write(buf.Bytes())
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(recorded, gz.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(recorded)
	if err != nil {
		t.Fatalf("%v (make it with go test ./report -run Recorded -update)", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(raw, buf.Bytes()) {
		t.Fatalf("%s is not what reporttest.Hour(1) makes: regenerate it with -update", recorded)
	}
	var got []event.Entry
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var e event.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("entry %d: %v", e.Pos, err)
		}
		got = append(got, e)
	}
	return got, ledger
}

func settings() fold.SettingsView {
	return fold.SettingsView{Title: reporttest.Title, Moderation: event.ModePre}
}

func TestRecordedHourEveryFigure(t *testing.T) {
	entries, l := recordedHour(t)
	r := report.FoldLog(settings(), entries).Report()

	t.Run("span", func(t *testing.T) {
		if r.Title != reporttest.Title || r.Pos != uint64(len(entries)) {
			t.Errorf("title %q pos %d; want %q at %d", r.Title, r.Pos, reporttest.Title, len(entries))
		}
		if r.Step != time.Minute || len(r.Buckets) != 60 || !r.Buckets[0].Equal(reporttest.Start) {
			t.Errorf("step %v, %d buckets from %v; want 60 one-minute buckets from %v", r.Step, len(r.Buckets), r.Buckets[0], reporttest.Start)
		}
	})
	t.Run("posts per minute by source", func(t *testing.T) {
		if len(r.Networks) != 3 {
			t.Fatalf("networks %v; want the three", r.Networks)
		}
		total := 0
		for i, n := range r.Networks {
			if !slices.Equal(r.Posts[i], l.Posts[n]) {
				t.Errorf("%s per minute:\n have %v\n want %v", n, r.Posts[i], l.Posts[n])
			}
			for _, v := range r.Posts[i] {
				total += v
			}
			if i > 0 && sum(r.Posts[i]) > sum(r.Posts[i-1]) {
				t.Errorf("networks not busiest first: %v", r.Networks)
			}
		}
		// Nothing arrives from Mastodon while it was down.
		mi := slices.Index(r.Networks, "mastodon")
		for m := 21; m < 27; m++ {
			if r.Posts[mi][m] != 0 {
				t.Errorf("minute %d: %d Mastodon posts during its outage", m, r.Posts[mi][m])
			}
		}
		if total != l.Received || r.Totals.Received != l.Received {
			t.Errorf("posts %d, totals.received %d; want %d", total, r.Totals.Received, l.Received)
		}
	})
	t.Run("approved rejected held over time", func(t *testing.T) {
		for m, s := range r.Standing {
			if w := l.Standing[m]; s.Held != w[0] || s.Approved != w[1] || s.Rejected != w[2] {
				t.Errorf("end of minute %d: held %d approved %d rejected %d; want %v", m, s.Held, s.Approved, s.Rejected, w)
			}
		}
		tt := r.Totals
		if tt.Approved != l.Approved || tt.Rejected != l.Rejected || tt.Held != l.Held || tt.Deleted != l.Deleted || tt.Edited != l.Edited {
			t.Errorf("totals %+v; want approved %d rejected %d held %d deleted %d edited %d", tt, l.Approved, l.Rejected, l.Held, l.Deleted, l.Edited)
		}
		if l.Held == 0 || l.Deleted == 0 || l.Edited == 0 || l.Rejected == 0 {
			t.Errorf("the recorded hour should have posts held at the end, deleted, edited and rejected: %+v", tt)
		}
		// The fold's counts are the moderator page's counts.
		c := fold.Fold(settings(), entries).Counts()
		if c.Approved != tt.Approved || c.Rejected != tt.Rejected || c.Pending != tt.Held || c.Deleted != tt.Deleted {
			t.Errorf("report totals %+v disagree with the moderator page's counts %+v", tt, c)
		}
	})
	t.Run("arrival to decision by moderator", func(t *testing.T) {
		var all []time.Duration
		want := map[string][]time.Duration{}
		for who, ds := range l.Decisions {
			want[who] = ds
			all = append(all, ds...)
		}
		want["all"] = all
		if len(r.Decisions) != 3 || r.Decisions[0].Who != "all" {
			t.Fatalf("decisions %+v; want all, ada, bryn", r.Decisions)
		}
		for _, d := range r.Decisions {
			med, p95 := medianP95(want[d.Who])
			if d.Decided != len(want[d.Who]) || d.Median != med || d.P95 != p95 {
				t.Errorf("%s: %d decided, median %v, p95 %v; want %d, %v, %v", d.Who, d.Decided, d.Median, d.P95, len(want[d.Who]), med, p95)
			}
		}
		if r.Decisions[1].Who != "ada" || r.Decisions[1].Median >= r.Decisions[2].Median {
			t.Errorf("ada decides most and fastest in the recorded hour: %+v", r.Decisions)
		}
	})
	t.Run("questions and their waits", func(t *testing.T) {
		q := r.Questions
		if q.Asked != l.Asked || q.FromRoom != l.FromRoom || q.ReadOut != l.ReadOut || q.Answered != l.Answered || q.Open != l.Asked-l.Answered {
			t.Errorf("questions %d (room %d) read %d answered %d open %d; want %d (%d) %d %d %d",
				q.Asked, q.FromRoom, q.ReadOut, q.Answered, q.Open, l.Asked, l.FromRoom, l.ReadOut, l.Answered, l.Asked-l.Answered)
		}
		for name, pair := range map[string]struct {
			got  report.Wait
			want []time.Duration
		}{"to read": {q.WaitRead, l.ToRead}, "to answer": {q.WaitAnswer, l.ToAnswer}} {
			med, p95 := medianP95(pair.want)
			if pair.got.N != len(pair.want) || pair.got.Median != med || pair.got.P95 != p95 {
				t.Errorf("wait %s %+v; want %d, %v, %v", name, pair.got, len(pair.want), med, p95)
			}
		}
		if q.Voted || q.Votes != 0 {
			t.Errorf("votes %d (voted %v) with no vote in the log", q.Votes, q.Voted)
		}
		if sum(q.AskedPer) != q.Asked || sum(q.AnsweredPer) != q.Answered || len(q.List) != q.Asked {
			t.Errorf("per bucket: asked %d answered %d, list %d", sum(q.AskedPer), sum(q.AnsweredPer), len(q.List))
		}
		if l.Asked < 3 || l.Answered < 2 {
			t.Errorf("the recorded hour should ask and answer several questions: %d, %d", l.Asked, l.Answered)
		}
	})
	t.Run("top contributors", func(t *testing.T) {
		if len(r.Contributors) != min(report.TopContributors, len(l.Contributors)) {
			t.Fatalf("%d contributors; want %d", len(r.Contributors), min(report.TopContributors, len(l.Contributors)))
		}
		listed := map[string]bool{}
		for i, c := range r.Contributors {
			listed[c.ID] = true
			if c.Approved != l.Contributors[c.ID] {
				t.Errorf("%s: %d approved; want %d", c.Name, c.Approved, l.Contributors[c.ID])
			}
			if i > 0 && c.Approved > r.Contributors[i-1].Approved {
				t.Errorf("not most first at %d", i)
			}
		}
		last := r.Contributors[len(r.Contributors)-1].Approved
		for id, n := range l.Contributors {
			if !listed[id] && n > last {
				t.Errorf("%s has %d approved posts but is not listed (the last listed has %d)", id, n, last)
			}
		}
	})
	t.Run("languages", func(t *testing.T) {
		got := map[string]int{}
		for _, g := range r.Languages {
			got[g.Code] = g.Posts
		}
		if len(got) != len(l.Languages) || len(got) < 3 {
			t.Errorf("languages %v; want %v", got, l.Languages)
		}
		for code, n := range l.Languages {
			if got[code] != n {
				t.Errorf("%s: %d posts; want %d", code, got[code], n)
			}
		}
	})
	t.Run("outages on the time axis", func(t *testing.T) {
		if len(r.Outages) != len(l.Outages) {
			t.Fatalf("outages %+v; want %+v", r.Outages, l.Outages)
		}
		for i, o := range r.Outages {
			w := l.Outages[i]
			open := w.To.IsZero()
			to := w.To
			if open {
				to = r.To
			}
			if o.Source != w.Source || o.State != w.State || !o.From.Equal(w.From) || !o.To.Equal(to) || o.Open != open || o.Error == "" {
				t.Errorf("outage %d: %+v; want %+v (open %v)", i, o, w, open)
			}
		}
	})
	t.Run("screens connected", func(t *testing.T) {
		s := r.Screens
		if !s.Recorded || !slices.Equal(s.Public, l.Public) || !slices.Equal(s.Staff, l.Staff) {
			t.Errorf("screens:\n public %v\n want   %v\n staff %v\n want  %v", s.Public, l.Public, s.Staff, l.Staff)
		}
		if s.PeakPublic != slices.Max(l.Public) || s.PeakStaff != slices.Max(l.Staff) {
			t.Errorf("peaks %d, %d; want %d, %d", s.PeakPublic, s.PeakStaff, slices.Max(l.Public), slices.Max(l.Staff))
		}
	})
}

// The report of a log folded in two halves (live, then the rest) is the
// report of the whole log: the page keeps one fold per event and feeds it.
func TestIncrementalIsWhole(t *testing.T) {
	entries, _ := reporttest.Hour(1)
	f := report.New(settings())
	for _, e := range entries[:len(entries)/2] {
		f.Apply(e)
	}
	f.Report() // reading in the middle changes nothing
	for _, e := range entries {
		f.Apply(e) // the first half again: repeats are ignored
	}
	got, want := f.Report(), report.FoldLog(settings(), entries).Report()
	gj, _ := json.Marshal(got)
	wj, _ := json.Marshal(want)
	if !bytes.Equal(gj, wj) {
		t.Error("the report folded in two goes differs from the report of the whole log")
	}
}

func medianP95(ds []time.Duration) (time.Duration, time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	med := s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[int(math.Ceil(0.95*float64(n)))-1]
}

func sum(xs []int) int {
	t := 0
	for _, x := range xs {
		t += x
	}
	return t
}

// Small logs, one rule each.

var t0 = time.Date(2026, 3, 12, 10, 0, 0, 0, time.UTC)

func at(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

func received(id string, sec int, source, lang, author string, d event.Decision) event.Entry {
	uri := "https://example.org/" + id
	p := &event.Post{ID: event.PostID(uri), URI: uri, Source: source, Language: lang, Text: id, HTML: "<p>" + id + "</p>",
		Author: event.Author{ID: "https://example.org/users/" + author, Name: author, Handle: "@" + author + "@example.org"}}
	return event.Entry{Time: at(sec), Kind: event.PostReceived, Actor: event.Actor{Role: event.RoleSource, Name: source},
		Post: p, PostID: p.ID, Verdict: &event.Verdict{Decision: d, Rule: "r"}}
}

func pid(id string) string { return event.PostID("https://example.org/" + id) }

func act(k event.Kind, sec int, who event.Actor, id string) event.Entry {
	return event.Entry{Time: at(sec), Kind: k, Actor: who, PostID: pid(id)}
}

var (
	mod1 = event.Actor{Role: event.RoleModerator, Name: "mo"}
	mod2 = event.Actor{Role: event.RoleModerator}
	fac  = event.Actor{Role: event.RoleFacilitator, Name: "fa"}
)

func TestDecisionTimes(t *testing.T) {
	r := report.FoldLog(settings(), []event.Entry{
		received("a", 0, "mastodon", "en", "x", event.DecisionHold),
		received("b", 0, "mastodon", "en", "x", event.DecisionHold),
		received("c", 0, "mastodon", "en", "y", event.DecisionApprove), // the rules decided: no wait
		received("d", 0, "bluesky", "en", "z", event.DecisionHold),
		received("e", 0, "bluesky", "en", "z", event.DecisionHold),
		act(event.PostApproved, 10, mod1, "a"),
		act(event.PostUndone, 15, mod1, "a"),   // back to the queue...
		act(event.PostRejected, 99, mod2, "a"), // ...decided again: only the first decision counts
		act(event.PostRejected, 30, mod1, "b"),
		act(event.PostApproved, 40, mod1, "c"), // no change: approved already
		act(event.PostPinned, 50, mod2, "d"),   // pinning a held post approves it
		{Time: at(70), Kind: event.AuthorBlocked, Actor: mod1, Block: &event.Block{AuthorID: "https://example.org/users/z"}}, // rejects e
	}).Report()
	want := []report.DecisionTimes{
		{Who: "all", Decided: 4, Median: 40 * time.Second, P95: 70 * time.Second},
		{Who: "mo", Decided: 3, Median: 30 * time.Second, P95: 70 * time.Second},
		{Who: "moderator (shared passphrase)", Decided: 1, Median: 50 * time.Second, P95: 50 * time.Second},
	}
	if !slices.Equal(r.Decisions, want) {
		t.Errorf("decisions\n have %+v\n want %+v", r.Decisions, want)
	}
	if r.Totals.Approved != 1 || r.Totals.Rejected != 4 || r.Totals.Held != 0 { // the block rejects d too
		t.Errorf("totals %+v", r.Totals)
	}
}

func TestQuestionsVotesAndRemovals(t *testing.T) {
	entries := []event.Entry{
		received("q1", 0, "form", "", "x", event.DecisionHold),
		received("q2", 0, "form", "", "y", event.DecisionHold),
		act(event.QuestionFlagged, 60, mod1, "q1"),
		act(event.QuestionFlagged, 60, mod1, "q2"),
		act(event.QuestionUnflagged, 90, mod1, "q2"), // not a question after all
		{Time: at(120), Kind: event.QuestionReading, Actor: fac, QuestionID: pid("q1")},
		{Time: at(180), Kind: event.QuestionAnswered, Actor: fac, QuestionID: pid("q1")},
		{Time: at(200), Kind: event.QuestionReopened, Actor: fac, QuestionID: pid("q1")},
		{Time: at(220), Kind: event.QuestionReading, Actor: fac, QuestionID: pid("q1")},
		{Time: at(240), Kind: event.QuestionAnswered, Actor: fac, QuestionID: pid("q1")},
	}
	r := report.FoldLog(settings(), entries).Report()
	q := r.Questions
	if q.Asked != 1 || q.Answered != 1 || q.ReadOut != 1 || q.Open != 0 {
		t.Errorf("questions %+v; want one asked, read and answered", q)
	}
	if q.WaitRead != (report.Wait{N: 1, Median: time.Minute, P95: time.Minute}) {
		t.Errorf("wait to read %+v; want the first reading, a minute after it was asked", q.WaitRead)
	}
	if q.WaitAnswer != (report.Wait{N: 1, Median: 3 * time.Minute, P95: 3 * time.Minute}) {
		t.Errorf("wait to answer %+v; want the last answer, 3 minutes on", q.WaitAnswer)
	}
	if q.Voted {
		t.Error("voted with no votes")
	}
	votes := append(entries,
		event.Entry{Time: at(250), Kind: report.KindVoted, QuestionID: pid("q1")},
		event.Entry{Time: at(251), Kind: report.KindVoted, QuestionID: pid("q1")},
		event.Entry{Time: at(252), Kind: report.KindUnvoted, QuestionID: pid("q1")},
		event.Entry{Time: at(253), Kind: report.KindVoted, PostID: pid("q1")},
	)
	q = report.FoldLog(settings(), votes).Report().Questions
	if !q.Voted || q.Votes != 2 || q.List[0].Votes != 2 {
		t.Errorf("votes %d (voted %v, list %+v); want 2", q.Votes, q.Voted, q.List)
	}
}

func TestOutagesAndScreens(t *testing.T) {
	h := func(sec int, src, state string) event.Entry {
		return event.Entry{Time: at(sec), Kind: event.SourceHealth, Actor: event.Actor{Role: event.RoleSource, Name: src},
			SourceHealth: &event.SourceHealthChange{SourceKind: "mastodon", State: state, Error: "why " + state}}
	}
	c := func(sec int, node string, pub int) event.Entry {
		return event.Entry{Time: at(sec), Kind: event.ConnectionsSampled, Actor: event.Actor{Role: event.RoleSystem},
			Connections: &event.Connections{Node: node, Public: pub, Moderators: 1}}
	}
	r := report.FoldLog(settings(), []event.Entry{
		c(0, "a", 5),
		h(60, "m", "backing_off"),
		h(90, "m", "backing_off"), // the same outage goes on
		h(120, "m", "rate_limited"),
		c(125, "b", 7),
		h(150, "m", "ok"),
		h(170, "n", "rate_limited"),
		c(300, "a", 1),
	}).Report()
	want := []report.Outage{
		{Source: "m", SourceKind: "mastodon", State: "backing_off", From: at(60), To: at(120), Error: "why backing_off"},
		{Source: "m", SourceKind: "mastodon", State: "rate_limited", From: at(120), To: at(150), Error: "why rate_limited"},
		{Source: "n", SourceKind: "mastodon", State: "rate_limited", From: at(170), To: at(300), Open: true, Error: "why rate_limited"},
	}
	if !slices.Equal(r.Outages, want) {
		t.Errorf("outages\n have %+v\n want %+v", r.Outages, want)
	}
	// a's 5 stands for minutes 0 and 1; b's 7 for minutes 2 and 3; a's 1 from minute 5.
	if s := r.Screens; !slices.Equal(s.Public, []int{5, 5, 7, 7, 0, 1}) || s.PeakPublic != 7 || !s.PeakPublicAt.Equal(at(120)) || s.PeakStaff != 1 {
		t.Errorf("screens %+v", s)
	}
	if r := report.FoldLog(settings(), nil).Report(); r.Screens.Recorded || len(r.Buckets) != 1 {
		t.Errorf("empty log: %+v", r)
	}
}

func TestLongEventsUseWiderBuckets(t *testing.T) {
	r := report.FoldLog(settings(), []event.Entry{
		received("a", 0, "mastodon", "en-GB", "x", event.DecisionApprove),
		received("b", 8*3600, "mastodon", "cy", "x", event.DecisionApprove),
	}).Report()
	if r.Step != 5*time.Minute || len(r.Buckets) != 97 || r.Posts[0][0] != 1 || r.Posts[0][96] != 1 {
		t.Errorf("8 hours: step %v, %d buckets", r.Step, len(r.Buckets))
	}
	if len(r.Languages) != 2 || r.Languages[0].Code != "cy" || r.Languages[1].Code != "en" {
		t.Errorf("languages %+v; want cy and en (en-GB folded), ties by code", r.Languages)
	}
}

// Every chart is well-formed SVG, titled, and escapes what people wrote.
func TestChartsAreSafeSVG(t *testing.T) {
	entries, _ := reporttest.Hour(1)
	evil := received("evil", 3000, `mastodon"><script>alert(1)</script>`, "en", `<img src=x onerror=alert(1)>`, event.DecisionApprove)
	entries = append(entries, evil)
	entries[len(entries)-1].Pos = 0
	r := report.FoldLog(settings(), entries).Report()
	loc := time.UTC
	for name, svg := range map[string]string{
		"posts": report.PostsChart(&r, loc), "moderation": report.ModerationChart(&r, loc),
		"decisions": report.DecisionsChart(&r), "questions": report.QuestionsChart(&r, loc),
		"contributors": report.ContributorsChart(&r), "languages": report.LanguagesChart(&r),
		"outages": report.OutagesChart(&r, loc), "screens": report.ScreensChart(&r, loc),
	} {
		dec := xml.NewDecoder(strings.NewReader(svg))
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: not well-formed: %v", name, err)
			}
			if se, ok := tok.(xml.StartElement); ok && (se.Name.Local == "script" || se.Name.Local == "img" || se.Name.Local == "foreignObject") {
				t.Errorf("%s: a <%s> element got through", name, se.Name.Local)
			}
		}
		if !strings.Contains(svg, "<title id=") || strings.Contains(svg, "style=") {
			t.Errorf("%s: no title, or an inline style the CSP would refuse", name)
		}
	}
	for _, name := range report.Tables {
		h, rows, ok := r.Table(name)
		if !ok || len(h) == 0 {
			t.Fatalf("table %s missing", name)
		}
		for _, row := range rows {
			if len(row) != len(h) {
				t.Fatalf("table %s: a row of %d cells under %d columns", name, len(row), len(h))
			}
		}
	}
	if _, _, ok := r.Table("nope"); ok {
		t.Error("an unknown table was found")
	}
}
