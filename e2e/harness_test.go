// Package e2e drives the real pages in a real headless Chromium against
// the real server (the wall handler over a disklog store, its fold and its
// fan-out hub) listening on a loopback port.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	gomastodon "github.com/mattn/go-mastodon"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fanout"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/ingest/mastodon"
	"github.com/backchannel/backchannel/ingest/webform"
	"github.com/backchannel/backchannel/wall"
)

// Slug is the event every test serves.
const Slug = "leeds"

// ModToken is the moderators' API token on every test server.
const ModToken = "e2e-moderator-token-0123456789"

// ChromiumPath is Debian's Chromium, the browser the tests drive.
var ChromiumPath = "/usr/bin/chromium"

// ArtifactsDir is where screenshots go (repository root's artifacts/, git-ignored).
var ArtifactsDir = filepath.Join("..", "artifacts", "screenshots")

var (
	browserOnce sync.Once
	browserCtx  context.Context
	browserErr  error
	browserStop func()
)

// TestMain starts one Chromium for the package and stops it at the end;
// each test opens its own tabs in it.
func TestMain(m *testing.M) {
	code := m.Run()
	if browserStop != nil {
		browserStop()
	}
	os.Exit(code)
}

// needBrowser skips the test when Chromium is missing, unless CI=true,
// where a missing browser is a failure: CI must run these.
func needBrowser(t testing.TB) {
	t.Helper()
	path := ChromiumPath
	if p := os.Getenv("CHROMIUM"); p != "" {
		path = p
	}
	if _, err := exec.LookPath(path); err != nil {
		msg := fmt.Sprintf("chromium not found at %s (install Debian's chromium package, or set CHROMIUM): %v", path, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	ChromiumPath = path
}

// newTab opens a tab of the shared browser with the given viewport. The
// tab closes at the end of the test.
func newTab(t testing.TB, w, h int64) context.Context {
	t.Helper()
	needBrowser(t)
	browserOnce.Do(func() {
		dir, err := os.MkdirTemp("", "e2e-chromium-")
		if err != nil {
			browserErr = err
			return
		}
		opts := []chromedp.ExecAllocatorOption{
			chromedp.ExecPath(ChromiumPath),
			chromedp.NoFirstRun,
			chromedp.NoDefaultBrowserCheck,
			chromedp.Headless,
			chromedp.NoSandbox,
			chromedp.DisableGPU,
			chromedp.UserDataDir(dir),
			chromedp.Flag("disable-background-networking", true),
			chromedp.Flag("disable-extensions", true),
			chromedp.Flag("disable-sync", true),
			chromedp.Flag("hide-scrollbars", true),
			chromedp.Flag("mute-audio", true),
			// JS heap figures (performance.memory) precise enough for the soak test.
			chromedp.Flag("enable-precise-memory-info", true),
			chromedp.WindowSize(1920, 1080),
		}
		actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
		bctx, cancelB := chromedp.NewContext(actx)
		// The first Run starts the browser; it lives as long as bctx.
		if err := chromedp.Do(bctx); err != nil {
			browserErr = err
		}
		browserCtx = bctx
		browserStop = func() { cancelB(); cancelA(); _ = os.RemoveAll(dir) }
	})
	if browserErr != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("start chromium: %v", browserErr)
		}
		t.Skipf("chromium did not start: %v", browserErr)
	}
	ctx, cancel := chromedp.NewContext(browserCtx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(w, h)); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	return ctx
}

// Node is one running server: the wall handler with the staff API over a
// disklog store in Dir, listening on Addr.
type Node struct {
	Dir  string
	Addr string
	Mode event.Mode
	Log  eventlog.Log
	Live *fold.Live

	store eventlog.Store
	hub   *fanout.Hub
	http  *http.Server
	stop  func()
}

// URL is the node's base URL.
func (n *Node) URL() string { return "http://" + n.Addr }

// StartNode serves the event Slug from a disklog store in dir on addr
// ("127.0.0.1:0" for a free port). Stop it with Stop (also a cleanup).
func StartNode(t testing.TB, dir, addr string, mode event.Mode) *Node {
	t.Helper()
	store, err := disklog.Open(dir)
	if err != nil {
		t.Fatalf("open disklog: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log, err := store.Log(ctx, Slug)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &config.Event{
		Slug: Slug, Title: "Leaders for Leeds", Hashtags: []string{"Leaders4Leeds", "OurDay"}, Place: "Leeds Town Hall",
		Moderation:    config.Moderation{Mode: mode},
		Display:       config.Display{Theme: "dark", BrandColour: "#1a7f5a"},
		PrivacyNotice: "We keep what you send until the end of the event.",
	}
	live := fold.NewLive(log, fold.SettingsView{Title: cfg.Title, Moderation: mode, Display: cfg.Display.Map()})
	foldDone := make(chan struct{})
	go func() { defer close(foldDone); _ = live.Run(ctx) }()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	hub, err := fanout.New(ctx, fanout.LiveFeed{Live: live}, log, fanout.Options{Event: Slug, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	a, err := auth.New(auth.Options{
		Key:    []byte("e2e-test-key-0123456789abcdef0123"),
		Events: map[string]auth.EventCredentials{Slug: {Moderator: auth.RoleCredentials{Tokens: []string{ModToken}}}},
		Logger: quiet,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := wall.New(wall.Options{Store: store, Logger: quiet})
	if err := srv.AddEvent(&wall.Event{Config: cfg, Log: log, Live: live, Hub: hub}); err != nil {
		t.Fatal(err)
	}
	// The web form appends through a real LogSink with no rules: its posts
	// wait for a moderator, as every form post does.
	form := webform.New(webform.Options{Logger: quiet, Key: []byte("e2e-test-key-0123456789abcdef0123"), Limits: webform.Limits{PerDevice: webform.PerMinute(100), PerAddress: webform.PerMinute(1000), PerEvent: webform.PerMinute(1000)}})
	form.SetEvent(Slug, webform.Event{
		Sink:   ingest.NewLogSink(log, nil, nil, event.Actor{Role: event.RoleSource, Name: "form"}, nil),
		Notice: "We keep what you send until the end of the event.",
	})
	if err := srv.MountStaff(wall.StaffOptions{Auth: a, Form: form}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /testmedia/{name}", serveTestImage)
	mux.Handle("/", srv)

	var ln net.Listener
	// A restarted node takes its old port back; the old listener may take
	// a moment to let go of it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err = net.Listen("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond) // retrying a bind, not synchronising with the code under test
	}
	if err != nil {
		t.Fatalf("listen %s: %v", addr, err)
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = hs.Serve(ln) }()
	n := &Node{Dir: dir, Addr: ln.Addr().String(), Mode: mode, Log: log, Live: live, store: store, hub: hub, http: hs}
	var once sync.Once
	n.stop = func() {
		once.Do(func() {
			// Close, not Shutdown: hijacked websockets are not waited for,
			// and the hub closes them, as a crashed or restarted node would.
			_ = hs.Close()
			<-served
			hub.Close()
			cancel()
			<-foldDone
			_ = store.Close()
		})
	}
	t.Cleanup(n.stop)
	return n
}

// Stop stops the node and closes its store.
func (n *Node) Stop() { n.stop() }

// serveTestImage draws a small PNG whose colour depends on its name, so
// media and avatars render without any network.
func serveTestImage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var sum byte
	for i := 0; i < len(name); i++ {
		sum = sum*31 + name[i]
	}
	img := image.NewRGBA(image.Rect(0, 0, 160, 120))
	c := color.RGBA{R: 60 + sum%150, G: 90 + (sum/3)%120, B: 140 + (sum/7)%100, A: 255}
	for y := 0; y < 120; y++ {
		for x := 0; x < 160; x++ {
			cc := c
			if (x/20+y/20)%2 == 0 {
				cc.R, cc.G = cc.G, cc.R
			}
			img.Set(x, y, cc)
		}
	}
	var b bytes.Buffer
	_ = png.Encode(&b, img)
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "max-age=3600")
	_, _ = w.Write(b.Bytes())
}

// FixturePosts converts the recorded Mastodon statuses in testdata with
// the real converter, then points avatars and media at the test server's
// own images (the browser has no network); nothing else is changed.
func FixturePosts(t testing.TB) []event.Post {
	t.Helper()
	var statuses []*gomastodon.Status
	readJSON(t, "testdata/mastodon_public_timeline_2020_tootkit.json", &statuses)
	for _, f := range []string{"testdata/mastodon_status_media_two_images_alt_sensitive.json", "testdata/mastodon_status_spoiler_sensitive.json"} {
		var st gomastodon.Status
		readJSON(t, f, &st)
		statuses = append(statuses, &st)
	}
	var posts []event.Post
	for i, st := range statuses {
		p := mastodon.Convert(st, "mastodon.social")
		if p.Author.Avatar != "" {
			p.Author.Avatar = fmt.Sprintf("/testmedia/avatar-%d.png", i)
		}
		for j := range p.Media {
			p.Media[j].URL = fmt.Sprintf("/testmedia/media-%d-%d.png", i, j)
			p.Media[j].PreviewURL = p.Media[j].URL
		}
		posts = append(posts, p)
	}
	return posts
}

func readJSON(t testing.TB, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// Receive appends a post as a source would, with the verdict auto or pre
// moderation would give it.
func Receive(t testing.TB, log eventlog.Log, p event.Post, approve bool) uint64 {
	t.Helper()
	v := &event.Verdict{Decision: event.DecisionHold, Rule: "pre-moderation"}
	if approve {
		v = &event.Verdict{Decision: event.DecisionApprove, Rule: "auto-moderation"}
	}
	e := event.Entry{Kind: event.PostReceived, Actor: event.Actor{Role: event.RoleSource, Name: "mastodon:mastodon.social"},
		PostID: p.ID, Post: &p, Verdict: v}
	return Append(t, log, e)
}

// Append appends e under its idempotency key and returns its position.
func Append(t testing.TB, log eventlog.Log, e event.Entry) uint64 {
	t.Helper()
	a, err := log.Append(context.Background(), e.IdempotencyKey(), e)
	if err != nil {
		t.Fatalf("append %s %s: %v", e.Kind, e.PostID, err)
	}
	return a.Pos
}

// API calls the node's JSON API as a moderator with the bearer token.
func (n *Node) API(t testing.TB, method, path string, body any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, n.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+ModToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s %s", method, path, res.Status, got)
	}
}

// WaitJS evaluates expr (a JS boolean expression) in the tab until it is
// true or timeout passes, and returns how long it took.
func WaitJS(t testing.TB, ctx context.Context, expr string, timeout time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	deadline := start.Add(timeout)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waited %v for %s (last error: %v)", timeout, expr, err)
		}
		// Polling the browser at 100 Hz: each Evaluate is a CDP round trip.
		time.Sleep(10 * time.Millisecond)
	}
}

// EvalJS evaluates expr and decodes its value into out.
func EvalJS[T any](t testing.TB, ctx context.Context, expr string, out *T) {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	*out = v
}

// Screenshot saves the viewport as artifacts/screenshots/name.png and returns the path.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if err := os.MkdirAll(ArtifactsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(ArtifactsDir, strings.ReplaceAll(name, "/", "_")+".png")
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
