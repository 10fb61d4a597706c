package report

import (
	"strconv"
	"time"
)

// Tables names every chart's table: the numbers behind it, for the CSV
// downloads, in the order the page shows them.
var Tables = []string{"posts", "moderation", "decisions", "questions", "question-list", "contributors", "languages", "outages", "screens"}

// Table returns the header and rows behind the named chart (one of
// Tables), and false for an unknown name. Times are RFC 3339 in UTC,
// durations whole seconds. The cells are the figures as they are: the
// caller guards them for spreadsheets.
func (r *Report) Table(name string) (header []string, rows [][]string, ok bool) {
	itoa := strconv.Itoa
	ts := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	secs := func(d time.Duration) string { return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10) }
	switch name {
	case "posts":
		header = append([]string{"bucket_start", "bucket_minutes"}, r.Networks...)
		header = append(header, "total")
		for b, t := range r.Buckets {
			row := []string{ts(t), itoa(int(r.Step / time.Minute))}
			sum := 0
			for i := range r.Networks {
				row = append(row, itoa(r.Posts[i][b]))
				sum += r.Posts[i][b]
			}
			rows = append(rows, append(row, itoa(sum)))
		}
	case "moderation":
		header = []string{"bucket_end", "held", "approved", "rejected"}
		for b, s := range r.Standing {
			rows = append(rows, []string{ts(r.Buckets[b].Add(r.Step)), itoa(s.Held), itoa(s.Approved), itoa(s.Rejected)})
		}
	case "decisions":
		header = []string{"moderator", "posts_decided", "median_seconds", "p95_seconds"}
		for _, d := range r.Decisions {
			rows = append(rows, []string{d.Who, itoa(d.Decided), secs(d.Median), secs(d.P95)})
		}
	case "questions":
		header = []string{"bucket_start", "asked", "answered", "asked_so_far", "answered_so_far"}
		asked, answered := cumulative(r.Questions.AskedPer), cumulative(r.Questions.AnsweredPer)
		for b, t := range r.Buckets {
			rows = append(rows, []string{ts(t), itoa(r.Questions.AskedPer[b]), itoa(r.Questions.AnsweredPer[b]), itoa(asked[b]), itoa(answered[b])})
		}
	case "question-list":
		header = []string{"id", "state", "text", "asked_by", "from_room", "asked_at", "first_read_at", "answered_at",
			"wait_to_read_seconds", "wait_to_answer_seconds", "votes"}
		for _, q := range r.Questions.List {
			toRead, toAnswer := "", ""
			if !q.ReadAt.IsZero() {
				toRead = secs(q.ReadAt.Sub(q.AskedAt))
			}
			if !q.AnsweredAt.IsZero() {
				toAnswer = secs(q.AnsweredAt.Sub(q.AskedAt))
			}
			rows = append(rows, []string{q.ID, q.State, q.Text, q.Who, strconv.FormatBool(q.FromRoom), ts(q.AskedAt),
				ts(q.ReadAt), ts(q.AnsweredAt), toRead, toAnswer, itoa(q.Votes)})
		}
	case "contributors":
		header = []string{"rank", "name", "handle", "source", "approved_posts", "author_id"}
		for i, c := range r.Contributors {
			rows = append(rows, []string{itoa(i + 1), c.Name, c.Handle, c.Network, itoa(c.Approved), c.ID})
		}
	case "languages":
		header = []string{"language", "name", "posts"}
		for _, l := range r.Languages {
			rows = append(rows, []string{l.Code, LanguageName(l.Code), itoa(l.Posts)})
		}
	case "outages":
		header = []string{"source", "source_kind", "state", "from", "to", "seconds", "ongoing", "error"}
		for _, o := range r.Outages {
			rows = append(rows, []string{o.Source, o.SourceKind, o.State, ts(o.From), ts(o.To), secs(o.Duration()), strconv.FormatBool(o.Open), o.Error})
		}
	case "screens":
		header = []string{"bucket_start", "public_peak", "staff_peak"}
		for b, t := range r.Buckets {
			p, s := "", ""
			if r.Screens.Recorded {
				p, s = itoa(r.Screens.Public[b]), itoa(r.Screens.Staff[b])
			}
			rows = append(rows, []string{ts(t), p, s})
		}
	default:
		return nil, nil, false
	}
	return header, rows, true
}
