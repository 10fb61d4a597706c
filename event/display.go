package event

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/backchannel/backchannel/internal/weburl"
)

// The display options are the screens' options: an event's config file sets
// them (config.Display) and a moderator changes them while it runs
// (Settings.Display). This file is their one definition: the config, the
// settings API and the pages all read it.

// The display option keys.
const (
	DisplayLayout      = "layout"
	DisplayTheme       = "theme"
	DisplayShowAvatars = "show_avatars"
	DisplayShowHandles = "show_handles"
	DisplayBrandColour = "brand_colour"
	DisplayLogo        = "logo"
	// DisplayDwell is the least time a post stays the big one on the
	// wall's spotlight and ticker layouts, a Go duration ("8s").
	DisplayDwell = "dwell"
	// DisplayQuestions shows the most voted open questions on the wall and
	// the overlay: "off" (the default) or "top1" to "top10".
	DisplayQuestions = "questions"
)

// MinDwell and MaxDwell bound the dwell option.
const (
	MinDwell = time.Second
	MaxDwell = 10 * time.Minute
)

// DisplayKeys lists every display option, in the order above.
var DisplayKeys = []string{DisplayLayout, DisplayTheme, DisplayShowAvatars, DisplayShowHandles, DisplayBrandColour, DisplayLogo, DisplayDwell, DisplayQuestions}

// Layouts are the wall's layouts, the default first. These canonical names
// are the only ones a page is ever handed.
var Layouts = []string{"grid", "column", "spotlight", "ticker"}

// Themes are the screens' themes, the default first (dark, for projectors).
var Themes = []string{"dark", "light", "contrast"}

// alias is another name for a layout or theme, as people also call it.
type alias struct{ name, canonical string }

var (
	// "masonry" is what the wall's grid is drawn as; "carousel" shows one
	// post at a time, as the spotlight does.
	layoutAliases = []alias{{"masonry", "grid"}, {"carousel", "spotlight"}}
	themeAliases  = []alias{{"high-contrast", "contrast"}, {"highcontrast", "contrast"}}
)

// CanonicalLayout returns the layout v names, an alias resolved to the
// layout it stands for ("masonry" is "grid"), and whether v names one at
// all. Names are matched exactly; a page lowers a ?layout= first.
func CanonicalLayout(v string) (string, bool) { return canonical(v, Layouts, layoutAliases) }

// CanonicalTheme returns the theme v names, an alias resolved
// ("high-contrast" is "contrast"), and whether v names one at all.
func CanonicalTheme(v string) (string, bool) { return canonical(v, Themes, themeAliases) }

func canonical(v string, names []string, aliases []alias) (string, bool) {
	if slices.Contains(names, v) {
		return v, true
	}
	for _, a := range aliases {
		if a.name == v {
			return a.canonical, true
		}
	}
	return "", false
}

// oneOf says which values are accepted, for an error message:
// "grid, column, spotlight, ticker (or masonry, carousel)".
func oneOf(names []string, aliases []alias) string {
	s := strings.Join(names, ", ")
	if len(aliases) > 0 {
		as := make([]string, len(aliases))
		for i, a := range aliases {
			as[i] = a.name
		}
		s += " (or " + strings.Join(as, ", ") + ")"
	}
	return s
}

var colourRe = regexp.MustCompile(`^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$`)

// ValidColour reports whether s is a CSS hex colour: "#1a7" or "#1a7f5a".
func ValidColour(s string) bool { return colourRe.MatchString(s) }

// maxLogo bounds a logo's address, in bytes.
const maxLogo = 2000

// ValidLogo reports whether s may be a logo's address: an https URL, or a
// path on this server starting with / (but not //, which a browser reads as
// another host). Only these, because the page's Content-Security-Policy
// must be able to name where its images come from.
func ValidLogo(s string) bool {
	if s == "" || len(s) > maxLogo || s != strings.TrimSpace(s) {
		return false
	}
	if u, ok := weburl.Parse(s); ok {
		return u.Scheme == "https"
	}
	u, err := url.Parse(s)
	return err == nil && u.Scheme == "" && u.Host == "" &&
		strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//")
}

// DisplayError is a display option that is refused: Key names the option,
// Reason says what is wrong with its value, in words that do not repeat the
// option's name (config places them after the file's own path for it).
// errors.As finds an EINVALID *Error in it too, so ErrorCode and
// ErrorMessage treat it as any other invalid input.
type DisplayError struct {
	Key    string
	Reason string
}

func (e *DisplayError) Error() string { return "display." + e.Key + ": " + e.Reason }

// Unwrap gives the refusal as an EINVALID *Error.
func (e *DisplayError) Unwrap() error { return &Error{Code: EINVALID, Message: e.Error()} }

// ValidateDisplayOption reports a value the display option key does not
// take, or a key that is not a display option, as a *DisplayError. The
// empty value, which removes an option, is valid for every key.
func ValidateDisplayOption(key, value string) error {
	bad := func(format string, args ...any) error {
		return &DisplayError{Key: key, Reason: fmt.Sprintf(format, args...)}
	}
	if !slices.Contains(DisplayKeys, key) {
		return bad("not a display option; the options are %s", strings.Join(DisplayKeys, ", "))
	}
	if value == "" {
		return nil
	}
	switch key {
	case DisplayLayout:
		if _, ok := CanonicalLayout(value); !ok {
			return bad("must be one of %s, not %q", oneOf(Layouts, layoutAliases), value)
		}
	case DisplayTheme:
		if _, ok := CanonicalTheme(value); !ok {
			return bad("must be one of %s, not %q", oneOf(Themes, themeAliases), value)
		}
	case DisplayShowAvatars, DisplayShowHandles:
		if value != "true" && value != "false" {
			return bad("must be true or false, not %q", value)
		}
	case DisplayBrandColour:
		if !ValidColour(value) {
			return bad("%q is not a colour like #1a7f5a", value)
		}
	case DisplayLogo:
		if !ValidLogo(value) {
			return bad("%q is not an https URL or a path starting with /", value)
		}
	case DisplayDwell:
		d, err := time.ParseDuration(value)
		if err != nil || d < MinDwell || d > MaxDwell {
			return bad("must be a duration from %v to %v such as 8s, not %q", MinDwell, MaxDwell, value)
		}
	case DisplayQuestions:
		if _, ok := TopQuestions(value); !ok {
			return bad("must be off or top1 to top%d, not %q", MaxTopQuestions, value)
		}
	}
	return nil
}

// Display holds display options by key (DisplayKeys), each value a string
// as config.Display.Map gives them ("true"/"false" for the show_ options).
type Display map[string]string

// Validate reports the first option in d that ValidateDisplayOption
// refuses, as a *DisplayError: in DisplayKeys order, then unknown keys in
// alphabetical order, so the same d always gets the same answer.
func (d Display) Validate() error {
	keys := make([]string, 0, len(d))
	for k := range d {
		keys = append(keys, k)
	}
	rank := func(k string) int {
		if i := slices.Index(DisplayKeys, k); i >= 0 {
			return i
		}
		return len(DisplayKeys)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a, b))
	})
	for _, k := range keys {
		if err := ValidateDisplayOption(k, d[k]); err != nil {
			return err
		}
	}
	return nil
}

// Canonical returns a copy of d with its layout and theme under their
// canonical names (CanonicalLayout, CanonicalTheme), so that every screen
// reads one name for each. Whatever is not a known layout or theme is
// copied as it is; Validate refuses it.
func (d Display) Canonical() Display {
	if d == nil {
		return nil
	}
	out := make(Display, len(d))
	for k, v := range d {
		switch k {
		case DisplayLayout:
			if c, ok := CanonicalLayout(v); ok {
				v = c
			}
		case DisplayTheme:
			if c, ok := CanonicalTheme(v); ok {
				v = c
			}
		}
		out[k] = v
	}
	return out
}

// MaxTopQuestions is the most questions the wall's questions option shows.
const MaxTopQuestions = 10

// TopQuestions reads the questions display option: how many of the most
// voted open questions a screen shows (0 for "off" or unset), and whether
// v is a value the option takes.
func TopQuestions(v string) (int, bool) {
	if v == "" || v == "off" {
		return 0, true
	}
	n, ok := strings.CutPrefix(v, "top")
	if !ok || len(n) == 0 || len(n) > 2 || n[0] == '0' {
		return 0, false
	}
	k := 0
	for _, c := range n {
		if c < '0' || c > '9' {
			return 0, false
		}
		k = k*10 + int(c-'0')
	}
	if k < 1 || k > MaxTopQuestions {
		return 0, false
	}
	return k, true
}
