// Package moderation holds the rules that decide, when a post arrives, whether
// it goes straight to the wall, waits in the moderators' queue, or is never
// shown: blocked and trusted accounts and domains, blocked words, the default
// profanity list, content warnings, the web form and the event's mode.
package moderation

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unsafe"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/internal/weburl"
)

// TimedEntry is a blocked account or domain, for good or until a time.
type TimedEntry struct {
	// Value is an account (a handle such as "@troll@example.org" or
	// "troll.bsky.social", or an author id such as an ActivityPub actor URI
	// or a Bluesky DID) or a domain ("example.org", which also covers its
	// subdomains).
	Value string `json:"value" yaml:"value"`
	// Until ends the entry; zero means for good.
	Until time.Time `json:"until,omitzero" yaml:"until,omitempty"`
	// Label, when set, is what a verdict shows instead of Value (a
	// handle for a block keyed on an author id).
	Label string `json:"label,omitempty" yaml:"label,omitempty"`
}

// Active reports whether the entry is in force at now.
func (e TimedEntry) Active(now time.Time) bool {
	return e.Until.IsZero() || now.Before(e.Until)
}

// WithBlocks returns a copy of r with blocks added: a moderator's
// author.blocked events, so an author blocked during the event is rejected
// by the rules as well as hidden by the fold. An author block is keyed on
// Block.AuthorID and shown by its handle. r is not changed.
func (r Rules) WithBlocks(blocks ...event.Block) Rules {
	out := r
	out.c = nil
	out.BlockedAccounts = append([]TimedEntry(nil), r.BlockedAccounts...)
	out.BlockedDomains = append([]TimedEntry(nil), r.BlockedDomains...)
	for _, b := range blocks {
		switch {
		case b.AuthorID != "":
			out.BlockedAccounts = append(out.BlockedAccounts, TimedEntry{Value: b.AuthorID, Until: b.Until, Label: b.Handle})
		case b.Domain != "":
			out.BlockedDomains = append(out.BlockedDomains, TimedEntry{Value: b.Domain, Until: b.Until})
		}
	}
	return out
}

func (e TimedEntry) shown() string {
	if e.Label != "" {
		return e.Label
	}
	return e.Value
}

// Entries turns plain values (from a config file) into entries for good.
func Entries(values ...string) []TimedEntry {
	out := make([]TimedEntry, 0, len(values))
	for _, v := range values {
		out = append(out, TimedEntry{Value: v})
	}
	return out
}

// Rules are one event's moderation rules. Evaluate applies them in this
// order, and the first that decides wins:
//
//  1. a blocked account or domain (in force at the time): reject;
//  2. a blocked word or phrase in the text, the content warning, a media
//     description, the author's name or handle: hold, with the word shown,
//     because a word list makes false positives and a held post can still
//     be approved while a rejected one is never seen;
//  3. a word of the default profanity list (when Profanity is on): hold;
//  4. a content warning or sensitive media: hold, in every mode;
//  5. a web form post: hold, in every mode (anyone can write one);
//  6. a trusted account or domain: approve, in both modes;
//  7. otherwise the mode: pre holds ("pre-moderation"), auto approves.
//
// Words match whole words or whole phrases only ("class" does not match
// "ass"), ignoring case and accents ("CAFÉ" matches "cafe"); see Fold.
//
// Rules compile their lists on the first Evaluate after Compile; the
// zero Rules is valid (pre-moderation, no lists, profanity off: start from
// Default for the defaults a host expects). Rules may be copied. Do not
// change a Rules value while it is being evaluated: build a new one.
type Rules struct {
	// Mode is ModePre (the default when empty) or ModeAuto.
	Mode event.Mode `json:"mode"`
	// BlockedWords are words or phrases that hold a post.
	BlockedWords []string `json:"blocked_words,omitempty"`
	// BlockedAccounts and BlockedDomains reject a post while in force.
	BlockedAccounts []TimedEntry `json:"blocked_accounts,omitempty"`
	BlockedDomains  []TimedEntry `json:"blocked_domains,omitempty"`
	// TrustedAccounts and TrustedDomains approve a post at once unless a
	// rule above holds it.
	TrustedAccounts []string `json:"trusted_accounts,omitempty"`
	TrustedDomains  []string `json:"trusted_domains,omitempty"`
	// Profanity holds posts with a word of the default multilingual
	// profanity list (see package profanity's files). On in Default.
	Profanity bool `json:"profanity"`
	// Off lists the personal-data and spam rules switched off, by their
	// switch names (Checks): all are on by default.
	Off []string `json:"off,omitempty"`
	// HoldMedia holds every post with media for a moderator, whatever the
	// mode (a photo can show a patient): its media reaches the wall only
	// once a moderator has looked and approved it.
	HoldMedia bool `json:"hold_media,omitempty"`
	// Spam tunes the spam rules.
	Spam SpamOptions `json:"spam"`
	// Recent is the window of recent posts the duplicate and flood rules
	// read (spam.go); nil leaves those two rules out. Evaluate adds each
	// post it judges to it.
	Recent *Recent `json:"-"`

	c *compiled
}

// Default returns the rules of an event nobody configured: pre-moderation
// with the profanity list on.
func Default() Rules {
	return Rules{Mode: event.ModePre, Profanity: true}
}

// The rule names a verdict can carry (some are followed by a detail).
const (
	RuleBlockedAccount = "blocked account"
	RuleBlockedDomain  = "blocked domain"
	RuleBlockedWord    = "blocked word"
	RuleProfanity      = "profanity"
	RuleContentWarning = "content warning: always reviewed"
	RuleSensitive      = "sensitive media: always reviewed"
	RuleWebForm        = "web form: always reviewed"
	RuleTrustedAccount = "trusted account"
	RuleTrustedDomain  = "trusted domain"
	RulePre            = "pre-moderation"
	RuleAuto           = "auto-approve"
)

// compiled is the comparison form of a Rules' lists. It remembers which
// slices it was built from so a Rules copied and then changed (a list
// replaced or appended to) is compiled again rather than evaluated stale.
type compiled struct {
	from                         [6]sliceID
	linkAllowed                  []string // Spam.AllowedLinkDomains in comparison form
	words                        *matcher
	blockedAccounts, blockedDoms []TimedEntry // Value in comparison form
	trustedAccounts, trustedDoms []string
}

type sliceID struct {
	ptr unsafe.Pointer
	len int
}

func idOf[T any](s []T) sliceID { return sliceID{unsafe.Pointer(unsafe.SliceData(s)), len(s)} }

func (r *Rules) sliceIDs() [6]sliceID {
	return [6]sliceID{idOf(r.BlockedWords), idOf(r.BlockedAccounts), idOf(r.BlockedDomains),
		idOf(r.TrustedAccounts), idOf(r.TrustedDomains), idOf(r.Spam.AllowedLinkDomains)}
}

// Compile prepares the lists for fast evaluation. Call it after setting the
// lists and before sharing r between goroutines; Evaluate on rules not
// compiled (or changed since) compiles a throw-away copy each time, which
// is correct but slower.
func (r *Rules) Compile() {
	r.c = r.compile()
}

func (r *Rules) compile() *compiled {
	c := &compiled{from: r.sliceIDs(), words: newMatcher(r.BlockedWords)}
	for _, e := range r.BlockedAccounts {
		if v := account(e.Value); v != "" {
			c.blockedAccounts = append(c.blockedAccounts, TimedEntry{Value: v, Until: e.Until, Label: e.Label})
		}
	}
	for _, e := range r.BlockedDomains {
		if v := domain(e.Value); v != "" {
			c.blockedDoms = append(c.blockedDoms, TimedEntry{Value: v, Until: e.Until, Label: e.Label})
		}
	}
	for _, v := range r.TrustedAccounts {
		if v := account(v); v != "" {
			c.trustedAccounts = append(c.trustedAccounts, v)
		}
	}
	for _, v := range r.TrustedDomains {
		if v := domain(v); v != "" {
			c.trustedDoms = append(c.trustedDoms, v)
		}
	}
	for _, v := range r.Spam.AllowedLinkDomains {
		if v := domain(v); v != "" {
			c.linkAllowed = append(c.linkAllowed, v)
		}
	}
	return c
}

// noLists is the compiled form of rules with no lists at all, shared so
// that rules nobody compiled (Default(), say) cost nothing extra.
var noLists = &compiled{words: &matcher{}}

func (r *Rules) current() *compiled {
	ids := r.sliceIDs()
	if r.c != nil && r.c.from == ids {
		return r.c
	}
	if ids == ([6]sliceID{}) {
		return noLists
	}
	return r.compile()
}

// The fields a word rule looks at, in the order they are searched.
const (
	fieldText int8 = iota
	fieldCW
	fieldAlt
	fieldName
	fieldHandle
)

var fieldNames = [...]string{"text", "content warning", "media description", "author name", "author handle"}

// Evaluate decides what happens to p, arriving at now (blocks that ended
// before now are ignored), as Judge does, and then adds p to r.Recent. It
// is safe for concurrent use.
func (r *Rules) Evaluate(p event.Post, now time.Time) event.Verdict {
	v := r.Judge(p, now)
	r.Recent.Observe(p, now)
	return v
}

// Judge decides what happens to p, arriving at now: a pure function of p,
// now, the rules and the recent posts in r.Recent (which it only reads).
// The personal-data and spam rules (personal.go, spam.go) run after the
// blocks and hold a post the others would approve, whatever the mode;
// what they found is in the verdict's Checks, even when another rule
// decided.
func (r *Rules) Judge(p event.Post, now time.Time) event.Verdict {
	c := r.current()
	ids := idsOf(p.Author)

	if v, ok := c.blockedAccount(ids, now); ok {
		return reject(fmt.Sprintf("%s %s", RuleBlockedAccount, v))
	}
	if v, ok := c.blockedDomain(p.Author, now); ok {
		return reject(fmt.Sprintf("%s %s", RuleBlockedDomain, v))
	}
	checks := r.checks(p, now, c)
	v := r.decide(p, now, c, ids)
	if len(checks) == 0 {
		return v
	}
	if v.Decision != event.DecisionReject && !strings.HasPrefix(v.Rule, RuleBlockedWord) && !strings.HasPrefix(v.Rule, RuleProfanity) {
		v = hold(checks[0].Rule)
	}
	v.Checks = checks
	return v
}

// checks runs the personal-data and spam rules that are on.
func (r *Rules) checks(p event.Post, now time.Time, c *compiled) []event.Check {
	off := func(name string) bool { return slices.Contains(r.Off, name) }
	var out []event.Check
	out = personal(p.Text, off, out)
	out = spam(p, now, &r.Spam, c.linkAllowed, r.Recent, off, out)
	if r.HoldMedia && len(p.Media) > 0 {
		out = append(out, event.Check{Rule: RuleMedia, Detail: fmt.Sprintf("%d attached", len(p.Media)), Score: 1})
	}
	return out
}

// decide applies the rules after the blocks, in order.
func (r *Rules) decide(p event.Post, now time.Time, c *compiled, ids authorIDs) event.Verdict {

	if !c.words.empty() || r.Profanity {
		w := wordsPool.Get().(*words)
		w.reset()
		w.add(p.Text, fieldText)
		w.add(p.ContentWarning, fieldCW)
		for _, m := range p.Media {
			w.add(m.Alt, fieldAlt)
		}
		w.add(p.Author.Name, fieldName)
		w.add(p.Author.Handle, fieldHandle)
		label, field, found := c.words.find(w)
		rule := RuleBlockedWord
		if !found && r.Profanity {
			label, field, found = profanity().find(w)
			rule = RuleProfanity
		}
		wordsPool.Put(w)
		if found {
			return hold(fmt.Sprintf("%s %q in %s", rule, label, fieldNames[field]))
		}
	}

	if strings.TrimSpace(p.ContentWarning) != "" {
		return hold(RuleContentWarning)
	}
	if p.Sensitive {
		return hold(RuleSensitive)
	}
	if p.Source == "form" {
		return hold(RuleWebForm)
	}
	if v, ok := c.trustedAccount(ids); ok {
		return approve(fmt.Sprintf("%s %s", RuleTrustedAccount, v))
	}
	if v, ok := c.trustedDomain(p.Author); ok {
		return approve(fmt.Sprintf("%s %s", RuleTrustedDomain, v))
	}
	if r.Mode == event.ModeAuto {
		return approve(RuleAuto)
	}
	return hold(RulePre)
}

func hold(rule string) event.Verdict { return event.Verdict{Decision: event.DecisionHold, Rule: rule} }
func approve(rule string) event.Verdict {
	return event.Verdict{Decision: event.DecisionApprove, Rule: rule}
}
func reject(rule string) event.Verdict {
	return event.Verdict{Decision: event.DecisionReject, Rule: rule}
}

func (c *compiled) blockedAccount(a authorIDs, now time.Time) (string, bool) {
	for _, e := range c.blockedAccounts {
		if e.Active(now) && a.maybe(e.Value) {
			return e.shown(), true
		}
	}
	return "", false
}

func (c *compiled) blockedDomain(a event.Author, now time.Time) (string, bool) {
	if len(c.blockedDoms) == 0 {
		return "", false
	}
	doms := authorDomains(a)
	for _, e := range c.blockedDoms {
		if e.Active(now) && onDomain(doms, e.Value) {
			return e.shown(), true
		}
	}
	return "", false
}

func (c *compiled) trustedAccount(a authorIDs) (string, bool) {
	for _, v := range c.trustedAccounts {
		if a.is(v) {
			return v, true
		}
	}
	return "", false
}

func (c *compiled) trustedDomain(a event.Author) (string, bool) {
	if len(c.trustedDoms) == 0 {
		return "", false
	}
	doms := authorDomains(a)
	for _, v := range c.trustedDoms {
		if onDomain(doms, v) {
			return v, true
		}
	}
	return "", false
}

// account puts an account entry in comparison form, so every way a
// moderator may paste one fediverse account compares equal:
//
//	"@Troll@Example.org", "troll@example.org", "acct:troll@example.org"
//	                                  -> "troll@example.org"
//	"@troll@localhost:18080"          -> "troll@localhost:18080"
//	"https://example.org/@troll"      -> "troll@example.org" (profile URL)
//	"https://example.org/users/troll" -> "troll@example.org" (actor URI)
//	"https://example.org/@troll@other.example" -> "troll@other.example"
//
// Other URLs keep their whole form (lower case, no trailing slash); DIDs
// and Bluesky handles lose only a leading '@'. Author ids (URIs, DIDs, acct:
// ids) go through the same form and are compared the same way, which is
// safe: no two real ids differ only in case.
//
// A URL gives its host, which on a server whose handles use another
// domain (Mastodon's WEB_DOMAIN beside LOCAL_DOMAIN) is not the handle's:
// that is why an author is compared by its profile URL and id as well as
// its handle (see authorIDs).
func account(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if u, ok := weburl.Parse(v); ok {
		if h := fediAccount(u); h != "" {
			return h
		}
		return strings.TrimRight(v, "/")
	}
	v = strings.TrimPrefix(v, "acct:")
	return strings.TrimPrefix(v, "@")
}

// fediAccount reads "user@host" from a Mastodon-style profile URL
// (/@user, or /@user@domain for a remote account shown by another server)
// or actor URI (/users/user), or "" when u is neither.
func fediAccount(u *url.URL) string {
	if u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	p := strings.TrimSuffix(u.Path, "/")
	var user string
	switch {
	case strings.HasPrefix(p, "/@"):
		user = p[2:]
	case strings.HasPrefix(p, "/users/"):
		user = p[len("/users/"):]
	default:
		return ""
	}
	if user == "" || strings.Contains(user, "/") {
		return ""
	}
	if name, dom, ok := strings.Cut(user, "@"); ok {
		if name == "" || dom == "" || strings.Contains(dom, "@") {
			return ""
		}
		return user
	}
	return user + "@" + u.Host
}

// authorIDs are an author's handle, id and profile URL in comparison form.
type authorIDs struct{ handle, id, url string }

func idsOf(a event.Author) authorIDs {
	ids := authorIDs{handle: account(a.Handle), id: account(a.ID)}
	if a.URL != "" {
		ids.url = account(a.URL)
	}
	return ids
}

// is reports whether the author is the account v (comparison form), by
// handle or id: what the author's server vouches for (a Mastodon server
// checks a remote handle by WebFinger and the actor by fetching it).
func (a authorIDs) is(v string) bool {
	return (a.handle != "" && a.handle == v) || (a.id != "" && a.id == v)
}

// maybe is is, or the author's profile URL in comparison form is v. The
// profile URL is what the author's server claims and nobody checks, so it
// may block (a false claim only blocks its maker) but never trust.
func (a authorIDs) maybe(v string) bool {
	return a.is(v) || (a.url != "" && a.url == v)
}

// domain puts a domain entry in comparison form: "https://Example.org/",
// "@example.org" and "*.example.org" all become "example.org".
func domain(v string) string {
	v = strings.ToLower(strings.TrimSpace(v))
	if u, err := url.Parse(v); err == nil && u.Host != "" {
		v = u.Hostname()
	}
	v = strings.TrimPrefix(v, "@")
	v = strings.TrimPrefix(v, "*.")
	return strings.TrimSuffix(strings.TrimSuffix(v, "/"), ".")
}

// authorDomains are the domains an author is on: their handle's, and the
// host of their id or profile when those are web addresses (a Mastodon
// actor URI), so a block holds even when a source gives no handle.
func authorDomains(a event.Author) [3]string {
	var d [3]string
	d[0] = a.Domain()
	for i, s := range []string{a.ID, a.URL} {
		if u, ok := weburl.Parse(s); ok {
			d[i+1] = strings.ToLower(u.Hostname())
		}
	}
	return d
}

// onDomain reports whether one of doms is d or a subdomain of d.
func onDomain(doms [3]string, d string) bool {
	for _, x := range doms {
		if x == "" {
			continue
		}
		if x == d || (len(x) > len(d) && strings.HasSuffix(x, d) && x[len(x)-len(d)-1] == '.') {
			return true
		}
	}
	return false
}
