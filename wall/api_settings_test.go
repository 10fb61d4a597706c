package wall_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest"
	"github.com/backchannel/backchannel/moderation"
)

// modeSink is a source's sink whose rules follow the event's moderation
// mode as n's fold has it, as cmd wires every source.
func modeSink(n *staffNode) *ingest.LogSink {
	base := moderation.Default()
	rules := moderation.NewModeRules(&base, n.live.Mode)
	return ingest.NewLogSink(n.log, rules, nil, event.Actor{Role: event.RoleSource, Name: "rehearsal"}, n.clock.Now)
}

// arrive hands p to the sink and returns its state once n's fold has it.
func arrive(t *testing.T, n *staffNode, sink *ingest.LogSink, p event.Post) fold.PostView {
	t.Helper()
	p.Source = "rehearsal"
	a, err := sink.Post(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	n.waitPos(t, a.Pos)
	var (
		v  fold.PostView
		ok bool
	)
	n.live.View(func(s *fold.State) { v, ok = s.Post(event.PostID(p.URI)) })
	if !ok {
		t.Fatalf("post %s not in the fold", p.URI)
	}
	return v
}

func TestSettingsSwitchModeration(t *testing.T) {
	n := newDiskNode(t)
	sink := modeSink(n)
	mod := n.login(t, modPass, "ada")

	var sv fold.SettingsView
	n.call(t, "GET", "/api/events/ev/settings", mod, nil, 200, &sv)
	if sv.Title != "#Ev" || sv.Moderation != event.ModePre {
		t.Fatalf("settings as configured = %+v", sv)
	}
	if p := arrive(t, n, sink, textPost("https://a.example/1", "first", "@ada@a.example")); p.State != fold.StatePending {
		t.Fatalf("in pre-moderation a post arrived %s (rule %q)", p.State, p.Rule)
	}

	// Switched to auto, the next post is approved on arrival.
	before := n.head(t)
	n.call(t, "POST", "/api/events/ev/settings", mod, map[string]any{"moderation": "auto"}, 200, &sv)
	if sv.Moderation != event.ModeAuto || sv.Title != "#Ev" {
		t.Fatalf("after switching to auto = %+v", sv)
	}
	if n.head(t) != before+1 {
		t.Fatalf("the switch appended %d events, want 1", n.head(t)-before)
	}
	p := arrive(t, n, sink, textPost("https://a.example/2", "second", "@ada@a.example"))
	if p.State != fold.StateApproved || p.Rule != moderation.RuleAuto {
		t.Fatalf("in auto a post arrived %s (rule %q)", p.State, p.Rule)
	}
	// The rules still hold what they hold in auto.
	p = arrive(t, n, sink, event.Post{URI: "https://a.example/cw", Text: "spoilers", HTML: "<p>spoilers</p>",
		ContentWarning: "film ending", CreatedAt: p.Post.CreatedAt, Author: p.Post.Author})
	if p.State != fold.StatePending {
		t.Fatalf("in auto a post with a content warning arrived %s", p.State)
	}
	// The audit says who switched it.
	var audit []fold.AuditEntry
	n.live.View(func(s *fold.State) { audit = s.Audit(10) })
	found := false
	for _, a := range audit {
		found = found || (a.Kind == event.SettingsChanged && a.Actor.Name == "ada" && a.Applied)
	}
	if !found {
		t.Errorf("no applied settings.changed by ada in the audit: %+v", audit)
	}

	// Back to pre, the next one is held again.
	n.call(t, "POST", "/api/events/ev/settings", modCred, map[string]any{"moderation": "pre"}, 200, &sv)
	if sv.Moderation != event.ModePre {
		t.Fatalf("after switching back = %+v", sv)
	}
	if p := arrive(t, n, sink, textPost("https://a.example/3", "third", "@ada@a.example")); p.State != fold.StatePending || p.Rule != moderation.RulePre {
		t.Fatalf("back in pre a post arrived %s (rule %q)", p.State, p.Rule)
	}
}

func TestSettingsTitleAndDisplay(t *testing.T) {
	n := newDiskNode(t)
	var sv fold.SettingsView
	n.call(t, "POST", "/api/events/ev/settings", modCred, map[string]any{
		"title":   "  Leaders for Leeds ",
		"display": map[string]string{"layout": "column", "theme": "light", "show_avatars": "false", "brand_colour": "#1a7f5a", "logo": "/logo.png"},
	}, 200, &sv)
	want := map[string]string{"layout": "column", "theme": "light", "show_avatars": "false", "brand_colour": "#1a7f5a", "logo": "/logo.png"}
	if sv.Title != "Leaders for Leeds" || !equalMaps(sv.Display, want) {
		t.Fatalf("after the change = %+v", sv)
	}
	// The public event info follows (the wall's page and socket read it).
	var info struct {
		Title   string            `json:"title"`
		Display map[string]string `json:"display"`
	}
	n.call(t, "GET", "/api/events/ev", noCred, nil, 200, &info)
	if info.Title != "Leaders for Leeds" || info.Display["layout"] != "column" {
		t.Errorf("public info after the change = %+v", info)
	}

	// An empty value removes an option; the others stay. (A fresh value
	// to decode into: json merges into a map already there.)
	sv = fold.SettingsView{}
	n.call(t, "POST", "/api/events/ev/settings", modCred, map[string]any{"display": map[string]string{"theme": ""}}, 200, &sv)
	delete(want, "theme")
	if !equalMaps(sv.Display, want) {
		t.Fatalf("after removing theme = %+v", sv.Display)
	}

	// The wall's layouts and themes beyond the config file's are taken.
	sv = fold.SettingsView{}
	n.call(t, "POST", "/api/events/ev/settings", modCred, map[string]any{"display": map[string]string{"layout": "spotlight", "theme": "contrast"}}, 200, &sv)
	if sv.Display["layout"] != "spotlight" || sv.Display["theme"] != "contrast" {
		t.Fatalf("after spotlight and contrast = %+v", sv.Display)
	}
	n.call(t, "POST", "/api/events/ev/settings", modCred, map[string]any{"display": map[string]string{"layout": "column", "theme": ""}}, 200, nil)

	// Asking for what is already so appends nothing.
	before := n.head(t)
	n.call(t, "POST", "/api/events/ev/settings", modCred, map[string]any{"title": "Leaders for Leeds", "moderation": "pre",
		"display": map[string]string{"layout": "column"}}, 200, &sv)
	if n.head(t) != before {
		t.Errorf("a change that changed nothing appended %d events", n.head(t)-before)
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// The settings API takes the names the config file takes, aliases too,
// and hands every screen the canonical name (event.Display.Canonical).
func TestSettingsDisplayAliases(t *testing.T) {
	n := newDiskNode(t)
	var sv fold.SettingsView
	n.call(t, "POST", "/api/events/ev/settings", modCred, map[string]any{
		"display": map[string]string{"layout": "carousel", "theme": "high-contrast"}}, 200, &sv)
	if sv.Display["layout"] != "spotlight" || sv.Display["theme"] != "contrast" {
		t.Fatalf("after carousel and high-contrast = %+v", sv.Display)
	}
	var info struct {
		Display map[string]string `json:"display"`
	}
	n.call(t, "GET", "/api/events/ev", noCred, nil, 200, &info)
	if info.Display["layout"] != "spotlight" || info.Display["theme"] != "contrast" {
		t.Errorf("public info = %+v", info.Display)
	}
	// An alias of what already stands changes nothing, so appends nothing.
	before := n.head(t)
	n.call(t, "POST", "/api/events/ev/settings", modCred, map[string]any{"display": map[string]string{"theme": "highcontrast"}}, 200, &sv)
	if n.head(t) != before {
		t.Errorf("an alias of the theme as it stands appended %d events", n.head(t)-before)
	}
	n.call(t, "POST", "/api/events/ev/settings", modCred, map[string]any{"display": map[string]string{"layout": "masonry"}}, 200, &sv)
	if sv.Display["layout"] != "grid" {
		t.Errorf("after masonry = %+v", sv.Display)
	}
}

func TestSettingsRefused(t *testing.T) {
	n := newDiskNode(t)
	mod := n.login(t, modPass, "ada")
	fac := n.login(t, facPass, "fay")
	before := n.head(t)
	valid := map[string]any{"moderation": "auto"}
	for _, c := range []struct {
		name string
		c    cred
		body any
		want int
		code string
	}{
		{"no credentials", noCred, valid, 401, event.EUNAUTHORIZED},
		{"wrong token", cred{bearer: "not-a-token-of-this-event-at-all"}, valid, 401, event.EUNAUTHORIZED},
		{"facilitator token", facCred, valid, 403, event.EFORBIDDEN},
		{"facilitator session", fac, valid, 403, event.EFORBIDDEN},
		{"cookie without CSRF token", cred{cookie: mod.cookie}, valid, 403, event.EFORBIDDEN},
		{"unknown moderation mode", modCred, map[string]any{"moderation": "post"}, 400, event.EINVALID},
		{"unknown display key", modCred, map[string]any{"display": map[string]string{"font": "Comic Sans"}}, 400, event.EINVALID},
		{"unknown layout", modCred, map[string]any{"display": map[string]string{"layout": "spiral"}}, 400, event.EINVALID},
		{"layout in capitals", modCred, map[string]any{"display": map[string]string{"layout": "Grid"}}, 400, event.EINVALID},
		{"bad colour", modCred, map[string]any{"display": map[string]string{"brand_colour": "red"}}, 400, event.EINVALID},
		{"bad boolean", modCred, map[string]any{"display": map[string]string{"show_handles": "yes"}}, 400, event.EINVALID},
		{"http logo", modCred, map[string]any{"display": map[string]string{"logo": "http://logo.example/l.png"}}, 400, event.EINVALID},
		{"protocol-relative logo", modCred, map[string]any{"display": map[string]string{"logo": "//logo.example/l.png"}}, 400, event.EINVALID},
		{"empty title", modCred, map[string]any{"title": "  "}, 400, event.EINVALID},
		{"title with a bidi override", modCred, map[string]any{"title": "Leeds \u202e"}, 400, event.EINVALID},
		{"unknown field", modCred, map[string]any{"mode": "auto"}, 400, event.EINVALID},
		{"a valid change with an invalid one", modCred, map[string]any{"moderation": "auto", "display": map[string]string{"theme": "neon"}}, 400, event.EINVALID},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, body := n.do(t, "POST", "/api/events/ev/settings", c.c, c.body)
			if status != c.want || !containsCode(body, c.code) {
				t.Errorf("= %d %s, want %d %s", status, body, c.want, c.code)
			}
		})
	}
	// Reading the settings is for moderators too.
	n.call(t, "GET", "/api/events/ev/settings", facCred, nil, 403, nil)
	n.call(t, "GET", "/api/events/ev/settings", noCred, nil, 401, nil)
	if n.head(t) != before {
		t.Fatalf("refused changes appended %d events", n.head(t)-before)
	}
	var sv fold.SettingsView
	n.call(t, "GET", "/api/events/ev/settings", mod, nil, 200, &sv)
	if sv.Moderation != event.ModePre {
		t.Errorf("after refusals the mode is %q", sv.Moderation)
	}
}

func containsCode(body []byte, code string) bool {
	return len(code) == 0 || bytes.Contains(body, []byte(`"`+code+`"`))
}
