package event_test

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/backchannel/backchannel/event"
)

// The one set of names the config file and the settings API both take:
// the canonical names and their aliases, each with what it stands for.
func TestAcceptedLayoutsAndThemes(t *testing.T) {
	layouts := map[string]string{
		"grid": "grid", "column": "column", "spotlight": "spotlight", "ticker": "ticker",
		"masonry": "grid", "carousel": "spotlight",
	}
	themes := map[string]string{
		"dark": "dark", "light": "light", "contrast": "contrast",
		"high-contrast": "contrast", "highcontrast": "contrast",
	}
	for v, want := range layouts {
		if got, ok := event.CanonicalLayout(v); !ok || got != want {
			t.Errorf("CanonicalLayout(%q) = %q, %v; want %q", v, got, ok, want)
		}
		if err := event.ValidateDisplayOption(event.DisplayLayout, v); err != nil {
			t.Errorf("layout %q refused: %v", v, err)
		}
	}
	for v, want := range themes {
		if got, ok := event.CanonicalTheme(v); !ok || got != want {
			t.Errorf("CanonicalTheme(%q) = %q, %v; want %q", v, got, ok, want)
		}
		if err := event.ValidateDisplayOption(event.DisplayTheme, v); err != nil {
			t.Errorf("theme %q refused: %v", v, err)
		}
	}
	// The canonical names are exactly the lists, default first, and map to themselves.
	if want := []string{"grid", "column", "spotlight", "ticker"}; !slices.Equal(event.Layouts, want) {
		t.Errorf("Layouts = %q, want %q", event.Layouts, want)
	}
	if want := []string{"dark", "light", "contrast"}; !slices.Equal(event.Themes, want) {
		t.Errorf("Themes = %q, want %q", event.Themes, want)
	}
	for _, v := range []string{"", "Grid", " grid", "slideshow", "contrast", "dark"} {
		if got, ok := event.CanonicalLayout(v); ok {
			t.Errorf("CanonicalLayout(%q) = %q, true; want refused", v, got)
		}
	}
	for _, v := range []string{"", "Dark", "neon", "grid", "high contrast"} {
		if got, ok := event.CanonicalTheme(v); ok {
			t.Errorf("CanonicalTheme(%q) = %q, true; want refused", v, got)
		}
	}
}

func TestValidColour(t *testing.T) {
	for s, want := range map[string]bool{
		"#1a7f5a": true, "#1A7F5A": true, "#1a7": true, "#fff": true,
		"": false, "1a7f5a": false, "#1a7f": false, "#1a7f5a00": false, "#ggg": false, "green": false, "#1a7f5a ": false,
	} {
		if event.ValidColour(s) != want {
			t.Errorf("ValidColour(%q) = %v, want %v", s, !want, want)
		}
	}
}

func TestValidLogo(t *testing.T) {
	for s, want := range map[string]bool{
		"https://leeds.example.org/logo.svg":     true,
		"HTTPS://leeds.example.org/logo.svg":     true,
		"https://leeds.example.org:8443/l.png?v": true,
		"/logo.png":                              true,
		"/static/img/logo.svg":                   true,
		"/":                                      true,
		"":                                       false,
		"http://leeds.example.org/logo.svg":      false, // not https: the CSP names https only
		"//leeds.example.org/logo.svg":           false, // another host, however it is written
		"///leeds.example.org/logo.svg":          false,
		"https://":                               false,
		"https:///logo.png":                      false,
		"logo.png":                               false,
		"static/logo.png":                        false,
		" /logo.png":                             false,
		"https://leeds.example.org/logo.svg ":    false,
		"data:image/png;base64,AAAA":             false,
		"javascript:alert(1)":                    false,
		"ftp://leeds.example.org/logo.png":       false,
		"/%zz":                                   false,
		"/" + strings.Repeat("a", 2000):          false,
		"/" + strings.Repeat("a", 1999):          true,
	} {
		if event.ValidLogo(s) != want {
			t.Errorf("ValidLogo(%.40q) = %v, want %v", s, !want, want)
		}
	}
}

func TestValidateDisplayOption(t *testing.T) {
	for _, c := range []struct {
		key, value string
		want       string // "" when valid, else the refusal's reason
	}{
		{"layout", "ticker", ""},
		{"layout", "carousel", ""},
		{"layout", "", ""},
		{"layout", "spiral", `must be one of grid, column, spotlight, ticker (or masonry, carousel), not "spiral"`},
		{"theme", "light", ""},
		{"theme", "high-contrast", ""},
		{"theme", "neon", `must be one of dark, light, contrast (or high-contrast, highcontrast), not "neon"`},
		{"show_avatars", "false", ""},
		{"show_avatars", "true", ""},
		{"show_avatars", "no", `must be true or false, not "no"`},
		{"show_handles", "yes", `must be true or false, not "yes"`},
		{"show_handles", "", ""},
		{"brand_colour", "#1a7f5a", ""},
		{"brand_colour", "red", `"red" is not a colour like #1a7f5a`},
		{"logo", "/logo.png", ""},
		{"logo", "http://logo.example/l.png", `"http://logo.example/l.png" is not an https URL or a path starting with /`},
		{"logo", "", ""},
		{"dwell", "8s", ""},
		{"dwell", "1m30s", ""},
		{"dwell", "", ""},
		{"dwell", "8", `must be a duration from 1s to 10m0s such as 8s, not "8"`},
		{"dwell", "500ms", `must be a duration from 1s to 10m0s such as 8s, not "500ms"`},
		{"dwell", "1h", `must be a duration from 1s to 10m0s such as 8s, not "1h"`},
		{"font", "Comic Sans", "not a display option; the options are layout, theme, show_avatars, show_handles, brand_colour, logo, dwell"},
		{"font", "", "not a display option"},
	} {
		err := event.ValidateDisplayOption(c.key, c.value)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s=%q: %v, want valid", c.key, c.value, err)
			}
			continue
		}
		var de *event.DisplayError
		if !errors.As(err, &de) {
			t.Errorf("%s=%q: %v, want a *DisplayError", c.key, c.value, err)
			continue
		}
		if de.Key != c.key || !strings.HasPrefix(de.Reason, c.want) {
			t.Errorf("%s=%q: key %q reason %q, want key %q reason %q", c.key, c.value, de.Key, de.Reason, c.key, c.want)
		}
		// It names the field, and is an invalid input to whoever maps codes.
		if msg := err.Error(); !strings.HasPrefix(msg, "display."+c.key+": ") {
			t.Errorf("%s=%q: message %q does not name display.%s", c.key, c.value, msg, c.key)
		}
		if code := event.ErrorCode(err); code != event.EINVALID {
			t.Errorf("%s=%q: code %q, want %q", c.key, c.value, code, event.EINVALID)
		}
	}
}

func TestDisplayValidate(t *testing.T) {
	if err := (event.Display{}).Validate(); err != nil {
		t.Errorf("empty: %v", err)
	}
	if err := event.Display(nil).Validate(); err != nil {
		t.Errorf("nil: %v", err)
	}
	ok := event.Display{"layout": "masonry", "theme": "", "show_avatars": "false", "show_handles": "true", "brand_colour": "#fff", "logo": "/l.png"}
	if err := ok.Validate(); err != nil {
		t.Errorf("%v: %v", ok, err)
	}
	// Several refusals: the first in DisplayKeys order, then unknown keys
	// alphabetically, the same answer every time.
	bad := event.Display{"zoom": "2", "font": "x", "logo": "http://x", "theme": "neon"}
	for range 20 {
		var de *event.DisplayError
		if err := bad.Validate(); !errors.As(err, &de) || de.Key != "theme" {
			t.Fatalf("first refusal = %v, want the theme's", err)
		}
	}
	delete(bad, "theme")
	delete(bad, "logo")
	var de *event.DisplayError
	if err := bad.Validate(); !errors.As(err, &de) || de.Key != "font" {
		t.Fatalf("first refusal = %v, want font's", err)
	}
}

func TestDisplayCanonical(t *testing.T) {
	d := event.Display{"layout": "carousel", "theme": "high-contrast", "show_avatars": "false", "logo": ""}
	want := event.Display{"layout": "spotlight", "theme": "contrast", "show_avatars": "false", "logo": ""}
	got := d.Canonical()
	if !maps.Equal(got, want) {
		t.Errorf("Canonical() = %v, want %v", got, want)
	}
	if d["layout"] != "carousel" {
		t.Errorf("Canonical changed its receiver: %v", d)
	}
	if c := (event.Display{"layout": "grid", "theme": "dark"}).Canonical(); c["layout"] != "grid" || c["theme"] != "dark" {
		t.Errorf("canonical names changed: %v", c)
	}
	// What is no layout stays as it is, for Validate to refuse.
	if c := (event.Display{"layout": "spiral"}).Canonical(); c["layout"] != "spiral" {
		t.Errorf("unknown layout became %q", c["layout"])
	}
	if event.Display(nil).Canonical() != nil {
		t.Errorf("nil became non-nil")
	}
	// The config's form and the log's form of the same options agree.
	if err := (&event.Settings{Display: d.Canonical()}).Validate(); err != nil {
		t.Errorf("canonical display refused by Settings.Validate: %v", err)
	}
}

func TestDisplayKeys(t *testing.T) {
	want := []string{event.DisplayLayout, event.DisplayTheme, event.DisplayShowAvatars, event.DisplayShowHandles, event.DisplayBrandColour, event.DisplayLogo, event.DisplayDwell, event.DisplayQuestions}
	if !slices.Equal(event.DisplayKeys, want) {
		t.Errorf("DisplayKeys = %q, want %q", event.DisplayKeys, want)
	}
}

func TestTopQuestions(t *testing.T) {
	for v, want := range map[string]int{"": 0, "off": 0, "top1": 1, "top3": 3, "top10": 10} {
		if n, ok := event.TopQuestions(v); !ok || n != want {
			t.Errorf("TopQuestions(%q) = %d, %v; want %d, true", v, n, ok, want)
		}
	}
	for _, v := range []string{"top0", "top11", "top03", "top", "3", "top3x", "TOP3", "all"} {
		if _, ok := event.TopQuestions(v); ok {
			t.Errorf("TopQuestions(%q) took it", v)
		}
		if err := event.ValidateDisplayOption(event.DisplayQuestions, v); err == nil {
			t.Errorf("questions: %q was not refused", v)
		}
	}
}
