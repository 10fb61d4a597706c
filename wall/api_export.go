package wall

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

func (st *staffAPI) routeExport() {
	st.handle("GET /api/events/{slug}/export/{file}", event.RoleModerator, st.export)
}

// QuestionsExport is the JSON export of an event's questions.
type QuestionsExport struct {
	Event      string    `json:"event"`
	Title      string    `json:"title"`
	ExportedAt time.Time `json:"exported_at"`
	// Pos is the log position the export reflects.
	Pos uint64 `json:"pos"`
	// TimeZone is the event's zone, in which the CSV's times are written.
	TimeZone string `json:"time_zone"`
	// Questions are the open ones in the facilitators' order (the one
	// being read among them), then the answered ones in the order they
	// were answered.
	Questions []fold.QuestionView `json:"questions"`
}

// PostsExport is the JSON export of an event's posts.
type PostsExport struct {
	Event      string    `json:"event"`
	Title      string    `json:"title"`
	ExportedAt time.Time `json:"exported_at"`
	// TimeZone is the event's zone (config timezone), in which the CSV's
	// times and ExportedAt are written.
	TimeZone string `json:"time_zone"`
	Pos      uint64 `json:"pos"`
	// All is set when every post is listed (?state=all), not only the
	// approved ones.
	All bool `json:"all,omitempty"`
	// Posts are the approved posts (every post with ?state=all), oldest
	// received first, with who decided on them and when.
	Posts []fold.PostView `json:"posts"`
}

// The CSV exports' header rows.
var (
	QuestionsCSVHeader = []string{"id", "state", "text", "asked_by", "author_handle", "post_id",
		"asked_at", "read_at", "answered_at", "notes"}
	PostsCSVHeader = []string{"id", "received_at", "created_at", "source", "source_name",
		"author_name", "author_handle", "url", "content_warning", "text", "language",
		"media", "pinned", "question", "approved_by", "approved_at", "state"}
)

func (st *staffAPI) export(w http.ResponseWriter, r *http.Request, e *Event, _ auth.Identity) error {
	file := r.PathValue("file")
	what, format, _ := strings.Cut(file, ".")
	if (what != "questions" && what != "posts") || (format != "csv" && format != "json") {
		return event.Errorf(event.ENOTFOUND, "no export %q: there are questions.csv, questions.json, posts.csv and posts.json", file)
	}
	loc := e.Config.Zone()
	now := st.now().In(loc).Truncate(time.Second)
	all := false
	switch v := r.URL.Query().Get("state"); v {
	case "", "approved":
	case "all":
		all = what == "posts"
	default:
		return event.Errorf(event.EINVALID, "state=%q: use state=all for every post, or leave it out for the approved ones", v)
	}
	var (
		qs    QuestionsExport
		ps    PostsExport
		title string
		pos   uint64
	)
	e.Live.View(func(s *fold.State) {
		title, pos = s.Settings().Title, s.Pos()
		if what == "questions" {
			qs.Questions = append(s.Questions(), s.Answered()...)
		} else {
			ps.Posts = s.Approved()
			if all {
				ps.Posts = s.AllPosts()
			}
		}
	})
	for i := range ps.Posts {
		if p := &ps.Posts[i]; len(p.Redactions) > 0 {
			// What the moderators hid stays in the event, not in a file
			// sent on after it: the export has the redacted text only.
			p.Original, p.Redactions, p.Checks = nil, nil, nil
		}
	}
	var (
		body []byte
		err  error
	)
	switch {
	case what == "questions" && format == "json":
		qs.Event, qs.Title, qs.ExportedAt, qs.Pos, qs.TimeZone = e.Slug(), title, now, pos, loc.String()
		body, err = json.MarshalIndent(qs, "", "  ")
	case what == "posts" && format == "json":
		ps.Event, ps.Title, ps.ExportedAt, ps.Pos, ps.TimeZone, ps.All = e.Slug(), title, now, pos, loc.String(), all
		body, err = json.MarshalIndent(ps, "", "  ")
	case what == "questions":
		body, err = questionsCSV(qs.Questions, loc)
	default:
		body, err = postsCSV(ps.Posts, loc)
	}
	if err != nil {
		return err
	}
	h := w.Header()
	if format == "csv" {
		h.Set("Content-Type", "text/csv; charset=utf-8; header=present")
	} else {
		h.Set("Content-Type", "application/json; charset=utf-8")
		body = append(body, '\n')
	}
	// The slug is a cookie-name token ([A-Za-z0-9_.-]), safe in a file name.
	name := what
	if all {
		name = "all-posts"
	}
	h.Set("Content-Disposition", `attachment; filename="`+e.Slug()+"-"+name+"-"+now.Format("20060102-1504")+"."+format+`"`)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

// csvCell makes a cell safe to open in a spreadsheet: one that starts
// with a character a spreadsheet reads as a formula (= + - @, or a tab or
// carriage return that some strip before looking) is prefixed with a
// quote, so it shows as the text it is (OWASP "CSV injection").
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// csvTime writes t in the event's zone, with its offset, so a
// spreadsheet shows the room's clock and nothing is ambiguous.
func csvTime(t time.Time, loc *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(loc).Format(time.RFC3339)
}

func writeCSV(header []string, rows [][]string) ([]byte, error) {
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	// CRLF, as RFC 4180 and spreadsheets expect.
	cw.UseCRLF = true
	if err := cw.Write(header); err != nil {
		return nil, err
	}
	for _, row := range rows {
		for i := range row {
			row[i] = csvCell(row[i])
		}
		if err := cw.Write(row); err != nil {
			return nil, err
		}
	}
	cw.Flush()
	return buf.Bytes(), cw.Error()
}

func questionsCSV(qs []fold.QuestionView, loc *time.Location) ([]byte, error) {
	rows := make([][]string, 0, len(qs))
	for _, q := range qs {
		asked := q.Name
		if asked == "" {
			asked = q.Author.Name
		}
		notes := make([]string, 0, len(q.Notes))
		for _, n := range q.Notes {
			by := string(n.By.Role)
			if n.By.Name != "" {
				by = n.By.Name
			}
			notes = append(notes, csvTime(n.At, loc)+" "+by+": "+n.Text)
		}
		rows = append(rows, []string{q.ID, string(q.State), q.Text, asked, q.Author.Handle, q.PostID,
			csvTime(q.AskedAt, loc), csvTime(q.ReadAt, loc), csvTime(q.AnsweredAt, loc), strings.Join(notes, "\n")})
	}
	return writeCSV(QuestionsCSVHeader, rows)
}

func postsCSV(ps []fold.PostView, loc *time.Location) ([]byte, error) {
	rows := make([][]string, 0, len(ps))
	for _, p := range ps {
		media := make([]string, 0, len(p.Media))
		if !p.MediaHidden {
			for _, m := range p.Media {
				media = append(media, m.URL)
			}
		}
		by := string(p.DecidedBy.Role)
		if p.DecidedBy.Name != "" {
			by += ":" + p.DecidedBy.Name
		}
		rows = append(rows, []string{p.ID, csvTime(p.ReceivedAt, loc), csvTime(p.CreatedAt, loc), p.Source, p.SourceName,
			p.Author.Name, p.Author.Handle, p.URL, p.ContentWarning, p.Text, p.Language,
			strings.Join(media, " "), strconv.FormatBool(p.Pinned), strconv.FormatBool(p.Question),
			by, csvTime(p.DecidedAt, loc), string(p.State)})
	}
	return writeCSV(PostsCSVHeader, rows)
}
