package wall

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/report"
)

// The report after the event (docs/REPORT.md): a page for moderators,
// rendered here with its charts as inline SVG, that prints to A4 and
// saves as one self-contained file, and a CSV of every chart's numbers.
//
//	GET /e/{slug}/report                 the page
//	GET /e/{slug}/report.html            the page as one file (?download=1: as an attachment)
//	GET /e/{slug}/report/{chart}.csv     a chart's numbers (report.Tables)
//
// Each folds the event's log with report.Fold, kept per event and fed
// the entries appended since the last request, so a request during the
// event reads only what is new.

var reportTemplate = template.Must(template.New("report.html").Funcs(template.FuncMap{
	"dur": report.Dur,
	"inc": func(i int) int { return i + 1 },
}).ParseFS(staticFiles, "static/report.html", "static/eventmap.html"))

// reportStyles are the files of the page's style, in order: the map's
// (shared with the index) and the report's own.
var reportStyles = []string{"map.css", "report.css"}

// reportCSS is the page's style, inlined in one <style> element so the
// saved file needs nothing else; the CSP allows it by its hash.
var reportCSS = sync.OnceValues(func() (template.CSS, string) {
	var b bytes.Buffer
	for _, name := range reportStyles {
		a, ok := assets()[name]
		if !ok {
			panic("wall: no embedded " + name) // a broken build
		}
		b.Write(a.body)
		b.WriteByte('\n')
	}
	sum := sha256.Sum256(b.Bytes())
	return template.CSS(b.String()), "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
})

// reportCSP is the live page's policy: the site's, with the inline style
// allowed by its hash.
func reportCSP(hash string) string {
	return strings.Replace(CSP, "style-src 'self'", "style-src 'self' "+hash, 1)
}

// reportFileCSP is the saved file's own policy (a meta element): nothing
// may load from anywhere, whatever opens it.
func reportFileCSP(hash string) string {
	return "default-src 'none'; style-src " + hash + "; img-src data:; base-uri 'none'; form-action 'none'"
}

// reportFolds holds one report fold per event served.
var reportFolds sync.Map // *Event -> *reportFold

type reportFold struct {
	mu sync.Mutex
	f  *report.Fold
}

// readPage is how many entries one read of the log brings.
const readPage = 2000

// Report returns the event's report as of the end of its log now.
func (e *Event) Report(ctx context.Context) (report.Report, error) {
	v, _ := reportFolds.LoadOrStore(e, &reportFold{})
	rf := v.(*reportFold)
	rf.mu.Lock()
	defer rf.mu.Unlock()
	if rf.f == nil {
		c := e.Config
		rf.f = report.New(fold.SettingsView{Title: c.Title, Moderation: c.Moderation.Mode, Display: c.Display.Map()})
	}
	for {
		entries, err := e.Log.Read(ctx, rf.f.Pos(), readPage)
		if err != nil {
			return report.Report{}, errorsJoinUnavailable(err)
		}
		for _, en := range entries {
			rf.f.Apply(en)
		}
		if len(entries) < readPage {
			break
		}
	}
	return rf.f.Report(), nil
}

// routeReport mounts the report's routes (MountStaff calls it).
func (st *staffAPI) routeReport() {
	st.srv.HandleFunc("GET /e/{slug}/report", st.reportPage(false))
	st.srv.HandleFunc("GET /e/{slug}/report.html", st.reportPage(true))
	st.handle("GET /e/{slug}/report/{file}", event.RoleModerator, st.reportCSV)
}

// reportData is what report.html gets.
type reportData struct {
	report.Report
	Slug string
	// File is set for the saved file: no links back to the server.
	File       bool
	CSS        template.CSS
	FileCSP    string
	Final      bool
	Generated  string
	Span       string
	Zone       string
	Charts     map[string]template.HTML
	Tables     []string
	QList      []report.QuestionLine // the questions listed on the page
	StepName   string
	MoreQs     int
	FirstDecid report.DecisionTimes
	Clock      func(time.Time) string
	// Series is the map of the deployment's events, when it serves a
	// series; nil otherwise.
	Series *reportSeries
}

// reportSeries is the section "The series on the map".
type reportSeries struct {
	Map *EventMap
	// Events are all the series' events, placed or not, by start time.
	Events []MapPlace
	// Placed says which of Events have a pin, by slug.
	Placed map[string]bool
}

// seriesMap is the series section of e's report: every event served that
// has a location, e's pin marked as this event, drawn on the embedded
// coastlines and never on tiles (the saved file loads nothing). It is nil
// unless e and at least one other event have a location. links makes the
// pins links to the events' participant pages.
func (st *staffAPI) seriesMap(e *Event, now time.Time, links bool) *reportSeries {
	var all, placed []MapPlace
	here := false
	for _, ev := range st.srv.Events() {
		info := ev.Info(now)
		pl := MapPlace{Slug: info.Slug, Title: info.Title, Place: info.Place, Hashtags: info.Hashtags,
			Live: info.Live, Past: !info.End.IsZero() && !now.Before(info.End), When: when(info.Start, info.End), This: ev == e}
		if pl.Title == "" && len(pl.Hashtags) > 0 {
			pl.Title = "#" + pl.Hashtags[0]
		}
		if !info.Start.IsZero() {
			pl.Start = info.Start.Format(time.RFC3339)
		}
		if !info.End.IsZero() {
			pl.End = info.End.Format(time.RFC3339)
		}
		if loc := ev.Config.Location; loc != nil {
			pl.Lat, pl.Lon = loc.Lat, loc.Lon
			placed = append(placed, pl)
			here = here || pl.This
		}
		all = append(all, pl)
	}
	if !here || len(placed) < 2 {
		return nil
	}
	m := NewEventMap(placed, len(all)-len(placed), "", "")
	if !links {
		m.Unlink()
	}
	// By start time, the open-started last; RFC 3339 in one zone sorts as
	// text, and the config's times may be in several, so parse.
	startOf := func(p MapPlace) time.Time { t, _ := time.Parse(time.RFC3339, p.Start); return t }
	slices.SortStableFunc(all, func(a, b MapPlace) int {
		ta, tb := startOf(a), startOf(b)
		if ta.IsZero() != tb.IsZero() {
			if ta.IsZero() {
				return 1
			}
			return -1
		}
		return ta.Compare(tb)
	})
	s := &reportSeries{Map: m, Events: all, Placed: map[string]bool{}}
	for _, pl := range placed {
		s.Placed[pl.Slug] = true
	}
	return s
}

// maxQuestionsListed bounds the questions table on the page; the CSV
// has them all.
const maxQuestionsListed = 25

func (st *staffAPI) reportPage(file bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		e, err := st.srv.EventOf(r)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		id, err := st.auth.Identify(r, e.Slug())
		if err != nil {
			// A page, not an API: send the browser to log in and back.
			next := "/e/" + e.Slug() + "/report"
			http.Redirect(w, r, "/e/"+url.PathEscape(e.Slug())+"/login?next="+url.QueryEscape(next), http.StatusSeeOther)
			return
		}
		if !id.Can(event.RoleModerator) {
			WriteError(w, r, event.Errorf(event.EFORBIDDEN, "the report needs the moderator role"))
			return
		}
		rep, err := e.Report(r.Context())
		if err != nil {
			WriteError(w, r, err)
			return
		}
		body, err := st.renderReport(e, rep, file)
		if err != nil {
			WriteError(w, r, err)
			return
		}
		_, hash := reportCSS()
		h := w.Header()
		h.Set("Content-Security-Policy", reportCSP(hash))
		h.Set("Content-Type", "text/html; charset=utf-8")
		h.Set("Cache-Control", "no-store")
		if file && r.URL.Query().Get("download") != "" {
			h.Set("Content-Disposition", `attachment; filename="`+e.Slug()+"-report-"+st.now().UTC().Format("20060102-1504")+`.html"`)
		}
		h.Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	}
}

func (st *staffAPI) renderReport(e *Event, rep report.Report, file bool) ([]byte, error) {
	loc := time.UTC
	if s := e.Config.Start; !s.IsZero() {
		loc = s.Location()
	}
	now := st.now()
	css, hash := reportCSS()
	d := reportData{
		Report: rep, Slug: e.Slug(), File: file, CSS: css, FileCSP: reportFileCSP(hash),
		Final:  !e.Config.End.IsZero() && now.After(e.Config.End),
		Tables: report.Tables,
		Clock:  func(t time.Time) string { return t.In(loc).Format("15:04") },
		Series: st.seriesMap(e, now, !file),
	}
	d.Generated = now.In(loc).Format("Mon 2 January 2006, 15:04 MST")
	if !rep.From.IsZero() {
		from, to := rep.From.In(loc), rep.To.In(loc)
		d.Span = from.Format("Monday 2 January 2006, 15:04") + " to " + to.Format("15:04")
		if to.YearDay() != from.YearDay() || to.Year() != from.Year() {
			d.Span = from.Format("2 Jan 2006 15:04") + " to " + to.Format("2 Jan 2006 15:04")
		}
		name, _ := from.Zone()
		d.Zone = name
	}
	d.QList, d.StepName = rep.Questions.List, report.StepName(rep.Step)
	if n := len(d.QList); n > maxQuestionsListed {
		d.QList, d.MoreQs = d.QList[:maxQuestionsListed], n-maxQuestionsListed
	}
	if len(rep.Decisions) > 0 {
		d.FirstDecid = rep.Decisions[0]
	}
	// The charts are built by report from escaped text only.
	d.Charts = map[string]template.HTML{
		"posts":        template.HTML(report.PostsChart(&rep, loc)),
		"outages":      template.HTML(report.OutagesChart(&rep, loc)),
		"moderation":   template.HTML(report.ModerationChart(&rep, loc)),
		"decisions":    template.HTML(report.DecisionsChart(&rep)),
		"questions":    template.HTML(report.QuestionsChart(&rep, loc)),
		"contributors": template.HTML(report.ContributorsChart(&rep)),
		"languages":    template.HTML(report.LanguagesChart(&rep)),
		"screens":      template.HTML(report.ScreensChart(&rep, loc)),
	}
	var buf bytes.Buffer
	if err := reportTemplate.Execute(&buf, d); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (st *staffAPI) reportCSV(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	file := r.PathValue("file")
	name, ok := strings.CutSuffix(file, ".csv")
	rep, err := e.Report(r.Context())
	if err != nil {
		return err
	}
	header, rows, found := rep.Table(name)
	if !ok || !found {
		return event.Errorf(event.ENOTFOUND, "no report table %q: there are %s.csv", file, strings.Join(report.Tables, ".csv, "))
	}
	body, err := writeCSV(header, rows)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8; header=present")
	h.Set("Content-Disposition", `attachment; filename="`+e.Slug()+"-report-"+name+".csv"+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}
