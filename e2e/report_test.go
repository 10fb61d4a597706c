package e2e

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/report/reporttest"
)

// requests records the URLs a tab asks for and the loads that fail.
type requests struct {
	mu     sync.Mutex
	urls   []string
	failed []string
}

func (r *requests) listen(t *testing.T, ctx context.Context) {
	t.Helper()
	err := chromedp.Listen(ctx, func(ev any) {
		r.mu.Lock()
		defer r.mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			r.urls = append(r.urls, e.Request.URL)
		case *network.EventLoadingFailed:
			r.failed = append(r.failed, e.ErrorText+" "+string(e.BlockedReason))
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	enable := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
		return err
	})
	if err := chromedp.Do(ctx, enable); err != nil {
		t.Fatal(err)
	}
}

func (r *requests) snapshot() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.urls), slices.Clone(r.failed)
}

// The report of a recorded hour, at 1920x1080 and on A4, and saved as
// one file that opens with the server stopped.
func TestReportPage(t *testing.T) {
	needBrowser(t)
	n := StartNode(t, t.TempDir(), "127.0.0.1:0", event.ModePre)
	entries, l := reporttest.Hour(1)
	var last uint64
	for _, e := range entries {
		e.Pos = 0
		last = Append(t, n.Log, e)
	}
	wctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Live.WaitFor(wctx, last); err != nil {
		t.Fatal(err)
	}

	tab := newTab(t, 1920, 1080)
	rec := &requests{}
	rec.listen(t, tab)
	auth := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{
			Headers: network.Headers{"Authorization": "Bearer " + ModToken}})
		return err
	})
	if err := chromedp.Do(tab, auth, chromedp.Navigate(n.URL()+"/e/"+Slug+"/report")); err != nil {
		t.Fatal(err)
	}
	WaitJS(t, tab, `document.body.dataset.ready === "1" && document.querySelectorAll("svg.chart").length === 8`, 10*time.Second)

	// Every chart is drawn at a readable size, the inline style applied
	// (the CSP allowed it), and nothing failed to load.
	var shown struct {
		Widths   []float64 `json:"widths"`
		H1       float64   `json:"h1"`
		Received string    `json:"received"`
		Votes    string    `json:"votes"`
	}
	EvalJS(t, tab, `({
		widths: [...document.querySelectorAll("svg.chart")].map((s) => s.getBoundingClientRect().width),
		h1: parseFloat(getComputedStyle(document.querySelector(".cover h1")).fontSize),
		received: document.getElementById("fig-received").textContent,
		votes: document.getElementById("votes").textContent,
	})`, &shown)
	for i, w := range shown.Widths {
		if w < 400 {
			t.Errorf("chart %d is %.0f px wide at 1920x1080", i, w)
		}
	}
	if shown.H1 < 30 {
		t.Errorf("the title is %.0f px: the inline style did not apply", shown.H1)
	}
	if want := strconv.Itoa(l.Received); shown.Received != want {
		t.Errorf("posts received shows %q; want %s", shown.Received, want)
	}
	if !strings.Contains(shown.Votes, "No votes") {
		t.Errorf("votes say %q", shown.Votes)
	}
	Screenshot(t, tab, "report-1920x1080")
	full, err := chromedp.Run(tab, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	writeArtifact(t, "report-1920-full.jpeg", full)
	if _, failed := rec.snapshot(); len(failed) > 0 {
		t.Errorf("loads failed on the live page: %v", failed)
	}

	// On A4: the PDF Chromium prints, and the print styles as a screenshot
	// 186 mm wide (A4 less the page margins: 703 CSS pixels).
	var pdf []byte
	if err := chromedp.Do(tab, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		yes := true
		res, err := cdp.Call(ctx, tg, page.PrintToPDF, page.PrintToPDFParams{PreferCSSPageSize: &yes, PrintBackground: &yes})
		pdf = res.Data
		return err
	})); err != nil {
		t.Fatal(err)
	}
	writeArtifact(t, "report-a4.pdf", pdf)
	pages := len(regexp.MustCompile(`/Type\s*/Page[^s]`).FindAll(pdf, -1))
	if pages < 2 || pages > 6 {
		t.Errorf("the report prints on %d A4 pages; want 2 to 6", pages)
	}
	if !regexp.MustCompile(`/MediaBox \[0 0 59[45]\.\d+ 841\.\d+\]`).Match(pdf) {
		t.Errorf("the PDF's pages are not A4 (595 points wide)")
	}
	printMedia := chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"})
		return err
	})
	if err := chromedp.Do(tab, chromedp.EmulateViewport(703, 1000), printMedia); err != nil {
		t.Fatal(err)
	}
	WaitJS(t, tab, `getComputedStyle(document.querySelector(".report-bar")).display === "none"`, 5*time.Second)
	printed, err := chromedp.Run(tab, chromedp.FullScreenshot(90))
	if err != nil {
		t.Fatal(err)
	}
	writeArtifact(t, "report-print.jpeg", printed)

	// The saved file, with the server stopped.
	file, err := chromedp.Run(tab, chromedp.Evaluate[string](`fetch("report.html?download=1").then((r) => r.text())`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(file, `id="fig-received"`) {
		t.Fatalf("the download is not the report: %.200s", file)
	}
	path := filepath.Join(t.TempDir(), "report.html")
	if err := os.WriteFile(path, []byte(file), 0o644); err != nil {
		t.Fatal(err)
	}
	n.Stop()
	offline := newTab(t, 1920, 1080)
	orec := &requests{}
	orec.listen(t, offline)
	if err := chromedp.Do(offline, chromedp.Navigate("file://"+path)); err != nil {
		t.Fatal(err)
	}
	WaitJS(t, offline, `document.readyState === "complete" && document.querySelectorAll("svg.chart").length === 8 &&
		parseFloat(getComputedStyle(document.querySelector(".cover h1")).fontSize) >= 30`, 10*time.Second)
	urls, failed := orec.snapshot()
	if len(failed) > 0 {
		t.Errorf("the saved file failed to load: %v", failed)
	}
	for _, u := range urls {
		if u != "file://"+path {
			t.Errorf("the saved file asked for %s", u)
		}
	}
	Screenshot(t, offline, "report-file-offline")
}

func writeArtifact(t *testing.T, name string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(ArtifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ArtifactsDir, name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}
