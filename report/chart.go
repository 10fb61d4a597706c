package report

import (
	"cmp"
	"fmt"
	"html"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The charts are SVG drawn here, inlined in the page: no script, no
// library, nothing from another host. They are made to print in black
// and white: every series has a pattern or a line style as well as a
// colour, and is labelled in words beside it; axes are labelled; the
// colours are dark on white.

// The charts' geometry, in viewBox units (the page scales them to its
// width). Every time chart has the same plot area, so their time axes
// line up down the page.
const (
	chartW  = 960
	chartH  = 250
	padL    = 64  // the y axis labels
	padR    = 150 // the series' labels at the right end of the lines
	padT    = 30  // the legend
	padB    = 52  // the time labels and the axis title
	plotW   = chartW - padL - padR
	halfW   = 560 // the charts shown two abreast
	fontCSS = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"
)

// seriesStyle is how the i-th series is told apart without colour.
type seriesStyle struct {
	color   string
	pattern string // "" solid, or a pattern kind
	dash    string // a line's stroke-dasharray
	name    string // the style in words, for the text alternative
}

var styles = []seriesStyle{
	{"#0b3c8c", "", "", "solid"},
	{"#b34700", "hatch", "10 5", "hatched"},
	{"#0a6b3d", "dots", "2 4", "dotted"},
	{"#6a1b9a", "cross", "12 4 2 4", "cross-hatched"},
	{"#444444", "vert", "4 4", "striped"},
	{"#8c0b2e", "horiz", "1 3", "lined"},
}

func style(i int) seriesStyle { return styles[i%len(styles)] }

// chart accumulates one SVG.
type chart struct {
	b  strings.Builder
	id string // prefixes pattern ids: several charts share one page
	h  int
}

func newChart(id, title, desc string, w, h int) *chart {
	c := &chart{id: id, h: h}
	c.printf(`<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="chart-%s" viewBox="0 0 %d %d" role="img" aria-labelledby="%s-t %s-d" font-family="%s" font-size="15">`,
		id, w, h, id, id, html.EscapeString(fontCSS))
	c.printf(`<title id="%s-t">%s</title><desc id="%s-d">%s</desc>`, id, esc(title), id, esc(desc))
	c.printf(`<defs>`)
	for i, s := range styles {
		c.pattern(i, s)
	}
	c.printf(`</defs><rect width="%d" height="%d" fill="#fff"/>`, w, h)
	return c
}

func (c *chart) printf(format string, args ...any) { fmt.Fprintf(&c.b, format, args...) }

func (c *chart) pattern(i int, s seriesStyle) {
	if s.pattern == "" {
		return
	}
	c.printf(`<pattern id="%s-p%d" patternUnits="userSpaceOnUse" width="8" height="8"><rect width="8" height="8" fill="#fff"/>`, c.id, i)
	switch s.pattern {
	case "hatch":
		c.printf(`<path d="M-2,2 l4,-4 M0,8 l8,-8 M6,10 l4,-4" stroke="%s" stroke-width="2.2"/>`, s.color)
	case "dots":
		c.printf(`<circle cx="2" cy="2" r="1.8" fill="%s"/><circle cx="6" cy="6" r="1.8" fill="%s"/>`, s.color, s.color)
	case "cross":
		c.printf(`<path d="M0,0 l8,8 M8,0 l-8,8" stroke="%s" stroke-width="1.6"/>`, s.color)
	case "vert":
		c.printf(`<path d="M2,0 v8 M6,0 v8" stroke="%s" stroke-width="2"/>`, s.color)
	case "horiz":
		c.printf(`<path d="M0,2 h8 M0,6 h8" stroke="%s" stroke-width="2"/>`, s.color)
	}
	c.printf(`</pattern>`)
}

// fill is the fill of series i: its colour, or its pattern.
func (c *chart) fill(i int) string {
	s := style(i)
	if s.pattern == "" {
		return s.color
	}
	return fmt.Sprintf("url(#%s-p%d)", c.id, i%len(styles))
}

func (c *chart) text(x, y float64, anchor, weight, s string) {
	w := ""
	if weight != "" {
		w = ` font-weight="` + weight + `"`
	}
	c.printf(`<text x="%.1f" y="%.1f" text-anchor="%s"%s fill="#111">%s</text>`, x, y, anchor, w, esc(s))
}

func (c *chart) String() string { return c.b.String() + `</svg>` }

func esc(s string) string { return html.EscapeString(s) }

// niceMax rounds v up to a number whose ticks read well: 1, 2, 2.5 or 5
// times a power of ten, split into n ticks.
func niceMax(v float64, n int) float64 {
	if v <= 0 {
		return float64(n)
	}
	raw := v / float64(n)
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= raw && (m*p == math.Trunc(m*p) || p < 1) {
			return m * p * float64(n)
		}
	}
	return 10 * p * float64(n)
}

// timeAxis draws the plot frame, the y ticks and the time labels of a
// chart over the report's buckets, and returns the plot's y scale.
type timeAxis struct {
	c        *chart
	r        *Report
	loc      *time.Location
	top, bot float64
	ymax     float64
	bw       float64 // one bucket's width
}

func (c *chart) timeAxis(r *Report, loc *time.Location, ymax float64, ylabel string) *timeAxis {
	a := &timeAxis{c: c, r: r, loc: loc, top: padT, bot: float64(c.h - padB)}
	a.ymax = niceMax(ymax, 4)
	n := max(len(r.Buckets), 1)
	a.bw = float64(plotW) / float64(n)
	for i := 0; i <= 4; i++ {
		v := a.ymax * float64(i) / 4
		y := a.y(v)
		c.printf(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#c8c8c8" stroke-width="1"/>`, padL, padL+plotW, y, y)
		c.text(padL-6, y+4, "end", "", num(v))
	}
	c.printf(`<text transform="translate(14 %.1f) rotate(-90)" text-anchor="middle" fill="#111">%s</text>`, (a.top+a.bot)/2, esc(ylabel))
	a.xLabels()
	return a
}

func (a *timeAxis) y(v float64) float64 {
	return a.bot - (a.bot-a.top)*v/a.ymax
}

func (a *timeAxis) x(b int) float64 { return padL + float64(b)*a.bw }

// xLabels labels the time axis with at most eight times, and titles it
// with the time zone.
func (a *timeAxis) xLabels() {
	c, n := a.c, len(a.r.Buckets)
	c.printf(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#111" stroke-width="1.5"/>`, padL, padL+plotW, a.bot, a.bot)
	c.printf(`<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#111" stroke-width="1.5"/>`, padL, padL, a.top, a.bot)
	every := max(1, (n+7)/8)
	for _, k := range []int{1, 2, 3, 5, 6, 10, 12, 15, 20, 30, 60} {
		if k >= every {
			every = k
			break
		}
	}
	for b := 0; b <= n; b += every {
		t := a.r.From.Truncate(time.Minute).Add(time.Duration(b) * a.r.Step).In(a.loc)
		x := a.x(b)
		c.printf(`<line x1="%.1f" x2="%.1f" y1="%.1f" y2="%.1f" stroke="#111"/>`, x, x, a.bot, a.bot+5)
		c.text(x, a.bot+19, "middle", "", t.Format("15:04"))
	}
	name, off := a.r.From.In(a.loc).Zone()
	zone := name
	if off != 0 || name == "" {
		zone = name + " " + time.Unix(0, 0).In(a.loc).Format("-07:00")
	}
	c.text(padL+float64(plotW)/2, a.bot+44, "middle", "", "time ("+strings.TrimSpace(zone)+")")
}

// legend draws the series' names with their fills in a row above the plot.
func (c *chart) legend(names []string, lines bool) {
	x := float64(padL)
	for i, n := range names {
		if lines {
			s := style(i)
			c.printf(`<line x1="%.1f" x2="%.1f" y1="12" y2="12" stroke="%s" stroke-width="3" stroke-dasharray="%s"/>`, x, x+26, s.color, s.dash)
		} else {
			c.printf(`<rect x="%.1f" y="4" width="22" height="14" fill="%s" stroke="#111" stroke-width="0.8"/>`, x, c.fill(i))
		}
		c.text(x+30, 16, "start", "", n)
		x += 30 + 9.2*float64(len([]rune(n))) + 22
	}
}

func num(v float64) string {
	if v == math.Trunc(v) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 1, 64)
}

// lines draws each series as a line over the buckets (the value at each
// bucket's end), labelled with its name and last value at the right.
func (a *timeAxis) lines(names []string, series [][]int) {
	c := a.c
	type label struct {
		y    float64
		text string
	}
	var labels []label
	for i, s := range series {
		st := style(i)
		var pts strings.Builder
		for b, v := range s {
			fmt.Fprintf(&pts, "%.1f,%.1f ", a.x(b+1), a.y(float64(v)))
		}
		if len(s) == 1 {
			fmt.Fprintf(&pts, "%.1f,%.1f ", a.x(0), a.y(float64(s[0])))
		}
		c.printf(`<polyline points="%s" fill="none" stroke="%s" stroke-width="3" stroke-dasharray="%s" stroke-linejoin="round"/>`,
			strings.TrimSpace(pts.String()), st.color, st.dash)
		last := 0
		if len(s) > 0 {
			last = s[len(s)-1]
		}
		labels = append(labels, label{a.y(float64(last)), fmt.Sprintf("%s %d", names[i], last)})
	}
	// Keep the end labels 15 apart, top to bottom, and inside the plot.
	slices.SortStableFunc(labels, func(x, y label) int { return cmp.Compare(x.y, y.y) })
	for i := 1; i < len(labels); i++ {
		labels[i].y = math.Max(labels[i].y, labels[i-1].y+15)
	}
	if n := len(labels); n > 0 && labels[n-1].y > a.bot {
		shift := labels[n-1].y - a.bot
		for i := range labels {
			labels[i].y -= shift
		}
	}
	for _, l := range labels {
		c.text(padL+plotW+8, l.y+4, "start", "600", l.text)
	}
}

// PostsChart is the posts that arrived per bucket, stacked by network.
func PostsChart(r *Report, loc *time.Location) string {
	top := 0
	for b := range r.Buckets {
		sum := 0
		for i := range r.Posts {
			sum += r.Posts[i][b]
		}
		top = max(top, sum)
	}
	var desc []string
	for i, n := range r.Networks {
		t := 0
		for _, v := range r.Posts[i] {
			t += v
		}
		desc = append(desc, fmt.Sprintf("%s %d (%s)", n, t, style(i).name))
	}
	c := newChart("posts", "Posts per "+stepWords(r.Step)+" by source", "Posts received: "+strings.Join(desc, ", "), chartW, chartH)
	a := c.timeAxis(r, loc, float64(top), "posts per "+stepShort(r.Step))
	gap := math.Min(2, a.bw/5)
	for b := range r.Buckets {
		base := 0
		for i := range r.Posts {
			v := r.Posts[i][b]
			if v == 0 {
				continue
			}
			y0, y1 := a.y(float64(base)), a.y(float64(base+v))
			c.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s" stroke="#111" stroke-width="0.6"/>`,
				a.x(b)+gap/2, y1, a.bw-gap, y0-y1, c.fill(i))
			base += v
		}
	}
	names := make([]string, len(r.Networks))
	for i, n := range r.Networks {
		t := 0
		for _, v := range r.Posts[i] {
			t += v
		}
		names[i] = fmt.Sprintf("%s (%d)", n, t)
	}
	c.legend(names, false)
	return c.String()
}

// ModerationChart is the held, approved and rejected counts over time.
func ModerationChart(r *Report, loc *time.Location) string {
	held, appr, rej := make([]int, len(r.Standing)), make([]int, len(r.Standing)), make([]int, len(r.Standing))
	top := 0
	for b, s := range r.Standing {
		held[b], appr[b], rej[b] = s.Held, s.Approved, s.Rejected
		top = max(top, s.Held, s.Approved, s.Rejected)
	}
	names := []string{"approved", "held", "rejected"}
	c := newChart("moderation", "Approved, held and rejected over time",
		fmt.Sprintf("At the end: %d approved (solid line), %d held in the queue (dashed), %d rejected (dotted).",
			r.Totals.Approved, r.Totals.Held, r.Totals.Rejected), chartW, chartH)
	a := c.timeAxis(r, loc, float64(top), "posts")
	a.lines(names, [][]int{appr, held, rej})
	c.legend(names, true)
	return c.String()
}

// QuestionsChart is the questions asked and answered, cumulative.
func QuestionsChart(r *Report, loc *time.Location) string {
	q := r.Questions
	asked, answered := cumulative(q.AskedPer), cumulative(q.AnsweredPer)
	top := 0
	if len(asked) > 0 {
		top = asked[len(asked)-1]
	}
	names := []string{"asked", "answered"}
	c := newChart("questions", "Questions asked and answered",
		fmt.Sprintf("%d questions asked (solid line), %d answered (dashed), counted from the start.", q.Asked, q.Answered), chartW, chartH)
	a := c.timeAxis(r, loc, float64(top), "questions so far")
	a.lines(names, [][]int{asked, answered})
	c.legend(names, true)
	return c.String()
}

func cumulative(per []int) []int {
	out := make([]int, len(per))
	sum := 0
	for i, v := range per {
		sum += v
		out[i] = sum
	}
	return out
}

// ScreensChart is the screens connected, the busiest minute of each bucket.
func ScreensChart(r *Report, loc *time.Location) string {
	s := r.Screens
	top := max(s.PeakPublic, s.PeakStaff)
	names := []string{"walls, participants, overlays", "moderators, facilitators"}
	c := newChart("screens", "Screens connected",
		fmt.Sprintf("At most %d public screens (solid line) and %d staff screens (dashed) at once.", s.PeakPublic, s.PeakStaff), chartW, chartH)
	a := c.timeAxis(r, loc, float64(top), "connected")
	a.lines([]string{"public", "staff"}, [][]int{s.Public, s.Staff})
	c.legend(names, true)
	return c.String()
}

// OutagesChart puts each source's outages (backing off, solid) and
// rate-limit pauses (hatched) on the report's time axis, a row a source.
func OutagesChart(r *Report, loc *time.Location) string {
	var srcs []string
	row := map[string]int{}
	for _, o := range r.Outages {
		if _, ok := row[o.Source]; !ok {
			row[o.Source] = len(srcs)
			srcs = append(srcs, o.Source)
		}
	}
	// Each source's row: its name above a band the outages are drawn on.
	const rowH, bandY, bandH = 42, 16, 20
	h := padT + padB + max(1, len(srcs))*rowH + 8
	var down, paused time.Duration
	for _, o := range r.Outages {
		if o.State == StateRateLimited {
			paused += o.Duration()
		} else {
			down += o.Duration()
		}
	}
	c := newChart("outages", "Source outages and rate-limit pauses",
		fmt.Sprintf("%d outages: down (solid) %s in all, rate-limited (hatched) %s in all.", len(r.Outages), Dur(down), Dur(paused)), chartW, h)
	a := &timeAxis{c: c, r: r, loc: loc, top: padT, bot: float64(h - padB)}
	a.bw = float64(plotW) / float64(max(len(r.Buckets), 1))
	for i, s := range srcs {
		y := a.top + float64(i*rowH)
		c.text(padL+4, y+12, "start", "600", s)
		c.printf(`<rect x="%d" y="%.1f" width="%d" height="%d" fill="#f2f2f2"/>`, padL, y+bandY, plotW, bandH)
	}
	span := float64(len(r.Buckets)) * float64(r.Step)
	origin := r.From.Truncate(time.Minute)
	xOf := func(t time.Time) float64 {
		return padL + float64(plotW)*math.Max(0, float64(t.Sub(origin)))/math.Max(span, 1)
	}
	for _, o := range r.Outages {
		y := a.top + float64(row[o.Source]*rowH) + bandY
		x0, x1 := xOf(o.From), xOf(o.To)
		fill := style(0).color
		if o.State == StateRateLimited {
			fill = c.fill(1)
		}
		c.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s" stroke="#111" stroke-width="0.8"><title>%s</title></rect>`,
			x0, y, math.Max(x1-x0, 2), bandH, fill, esc(o.Source+": "+o.State+" "+Dur(o.Duration())+" "+o.Error))
	}
	if len(srcs) == 0 {
		c.text(padL+float64(plotW)/2, a.top+20, "middle", "", "No outages: every source kept up the whole time.")
	}
	a.xLabels()
	c.printf(`<rect x="%d" y="4" width="22" height="14" fill="%s" stroke="#111" stroke-width="0.8"/>`, padL, style(0).color)
	c.text(padL+30, 16, "start", "", "down (backing off after failures)")
	c.printf(`<rect x="%d" y="4" width="22" height="14" fill="%s" stroke="#111" stroke-width="0.8"/>`, padL+300, c.fill(1))
	c.text(padL+330, 16, "start", "", "paused by the server's rate limit")
	return c.String()
}

// bar is one labelled bar of a horizontal bar chart.
type bar struct {
	label string
	vals  []float64 // one per series
	texts []string  // the value in words, at the bar's end
}

// hbars draws horizontal bars, one group per item, one bar per series.
func hbars(id, title, desc string, series []string, bars []bar, unit string, width, labelW int) string {
	const barH, gap = 18, 10
	n := max(len(series), 1)
	groupH := n*barH + gap
	h := padT + 36 + max(1, len(bars))*groupH
	c := newChart(id, title, desc, width, h)
	top := 0.0
	for _, b := range bars {
		for _, v := range b.vals {
			top = math.Max(top, v)
		}
	}
	top = niceMax(top, 4)
	x0, w := float64(labelW), float64(width-labelW-110)
	bot := float64(h - 30)
	for i := 0; i <= 4; i++ {
		x := x0 + w*float64(i)/4
		c.printf(`<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#c8c8c8"/>`, x, x, padT, bot)
		c.text(x, bot+16, "middle", "", num(top*float64(i)/4))
	}
	c.text(x0+w/2, float64(h-2), "middle", "", unit)
	for i, b := range bars {
		y := float64(padT + i*groupH + gap/2)
		c.text(x0-8, y+float64(n*barH)/2+5, "end", "600", clip(b.label, 30))
		for j, v := range b.vals {
			yy := y + float64(j*barH)
			bw := w * v / top
			c.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%d" fill="%s" stroke="#111" stroke-width="0.6"/>`, x0, yy, math.Max(bw, 1), barH-2, c.fill(j))
			c.text(x0+bw+6, yy+barH-5, "start", "", b.texts[j])
		}
	}
	c.printf(`<line x1="%.1f" x2="%.1f" y1="%d" y2="%.1f" stroke="#111" stroke-width="1.5"/>`, x0, x0, padT, bot)
	if len(series) > 1 {
		c.legend(series, false)
	}
	if len(bars) == 0 {
		c.text(float64(width)/2, padT+24, "middle", "", "Nothing to show yet.")
	}
	return c.String()
}

// DecisionsChart is each moderator's median and 95th percentile time from
// a post's arrival to their decision.
func DecisionsChart(r *Report) string {
	var bars []bar
	for _, d := range r.Decisions {
		label := fmt.Sprintf("%s (%d)", d.Who, d.Decided)
		bars = append(bars, bar{label, []float64{d.Median.Seconds(), d.P95.Seconds()},
			[]string{"median " + Dur(d.Median), "95% within " + Dur(d.P95)}})
	}
	desc := "No post has been decided by a person yet."
	if len(r.Decisions) > 0 {
		d := r.Decisions[0]
		desc = fmt.Sprintf("%d posts decided by a person: half within %s, 95%% within %s.", d.Decided, Dur(d.Median), Dur(d.P95))
	}
	return hbars("decisions", "Time from arrival to decision, by moderator", desc,
		[]string{"median (solid)", "95th percentile (hatched)"}, bars, "seconds", chartW, 230)
}

// ContributorsChart is the authors with the most approved posts.
func ContributorsChart(r *Report) string {
	var bars []bar
	for _, c := range r.Contributors {
		label := c.Name
		bars = append(bars, bar{label, []float64{float64(c.Approved)}, []string{fmt.Sprintf("%d · %s", c.Approved, c.Network)}})
	}
	return hbars("contributors", "Top contributors (approved posts)", fmt.Sprintf("The %d authors with the most approved posts.", len(bars)),
		[]string{"approved posts"}, bars, "approved posts", halfW, 170)
}

// LanguagesChart is the posts by language.
func LanguagesChart(r *Report) string {
	total := 0
	for _, l := range r.Languages {
		total += l.Posts
	}
	var bars []bar
	for _, l := range r.Languages {
		pct := 100 * float64(l.Posts) / math.Max(float64(total), 1)
		bars = append(bars, bar{LanguageName(l.Code), []float64{float64(l.Posts)}, []string{fmt.Sprintf("%d (%.0f%%)", l.Posts, pct)}})
	}
	return hbars("languages", "Languages", fmt.Sprintf("%d posts in %d languages.", total, len(bars)),
		[]string{"posts"}, bars, "posts received", halfW, 170)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// StepName names a bucket width: "minute", "5 minutes", "hour".
func StepName(d time.Duration) string { return stepWords(d) }

func stepWords(d time.Duration) string {
	if d == time.Minute {
		return "minute"
	}
	return stepShort(d)
}

func stepShort(d time.Duration) string {
	switch {
	case d == time.Minute:
		return "minute"
	case d < time.Hour:
		return fmt.Sprintf("%d minutes", int(d/time.Minute))
	case d == time.Hour:
		return "hour"
	}
	return fmt.Sprintf("%d hours", int(d/time.Hour))
}

// Dur writes a duration as people read it: "42 s", "3 min 5 s", "1 h 20 min".
func Dur(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(d/time.Second))
	case d < time.Hour:
		m, s := int(d/time.Minute), int(d%time.Minute/time.Second)
		if s == 0 {
			return fmt.Sprintf("%d min", m)
		}
		return fmt.Sprintf("%d min %d s", m, s)
	}
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	if m == 0 {
		return fmt.Sprintf("%d h", h)
	}
	return fmt.Sprintf("%d h %d min", h, m)
}

// languageNames are the names of the languages posts most often carry.
var languageNames = map[string]string{
	"en": "English", "cy": "Welsh", "gd": "Scottish Gaelic", "ga": "Irish", "fr": "French",
	"de": "German", "es": "Spanish", "it": "Italian", "pt": "Portuguese", "nl": "Dutch",
	"pl": "Polish", "ro": "Romanian", "tr": "Turkish", "ar": "Arabic", "ur": "Urdu",
	"pa": "Punjabi", "bn": "Bengali", "hi": "Hindi", "gu": "Gujarati", "zh": "Chinese",
	"ja": "Japanese", "ko": "Korean", "uk": "Ukrainian", "ru": "Russian", "so": "Somali",
	"sv": "Swedish", "da": "Danish", "no": "Norwegian", "nb": "Norwegian", "fi": "Finnish",
	"el": "Greek", "he": "Hebrew", "fa": "Persian", "unknown": "not stated",
}

// LanguageName names a language code for people: "cy" is "Welsh (cy)".
func LanguageName(code string) string {
	if n, ok := languageNames[code]; ok {
		if code == "unknown" {
			return n
		}
		return n + " (" + code + ")"
	}
	return code
}
