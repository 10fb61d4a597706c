// Package event holds backchannel's domain: what can happen at a live event
// (a post arrives, a moderator approves it, a facilitator reads it out) as
// plain values. Every screen is a fold of a log of these values; this package
// imports nothing from storage, HTTP or websockets.
package event

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
)

// Kind names what happened. Kinds are stored in logs, so a kind, once
// released, is never renamed.
type Kind string

// The kinds of event. Source kinds come from ingest; decision kinds from
// moderators (or the rules, acting as the system); question kinds from
// facilitators and moderators.
const (
	// PostReceived: a post arrived from a source. Entry.Post and Entry.Verdict are set.
	PostReceived Kind = "post.received"
	// PostEdited: the post was edited at its source. Entry.Post holds the new version,
	// Entry.Verdict what the rules decided on it (absent in logs written before edits
	// were judged: the fold then holds the edit for a moderator).
	PostEdited Kind = "post.edited"
	// PostDeleted: the post was deleted at its source. Entry.PostID is set.
	PostDeleted Kind = "post.deleted"
	// PostWithdrawn: the author edited the post so it no longer carries the
	// event's tags: it is no longer a post for this event. It leaves every
	// public surface like a delete, but moderators keep seeing it with
	// Entry.Reason ("edited to remove #tag"). Entry.PostID and Entry.Reason
	// are set; Entry.Post, when set, is the version that dropped the tags.
	PostWithdrawn Kind = "post.withdrawn"

	// PostApproved: the post may appear on public surfaces.
	PostApproved Kind = "post.approved"
	// PostRejected: the post never appears on public surfaces.
	PostRejected Kind = "post.rejected"
	// PostUndone: the post's last approve/reject decision is taken back; it is pending again.
	PostUndone Kind = "post.undone"
	// PostPinned: the post is shown first on the wall (a pending post is approved by pinning it).
	PostPinned Kind = "post.pinned"
	// PostUnpinned: the post goes back to its place among the approved posts.
	PostUnpinned Kind = "post.unpinned"
	// PostMediaHidden: the post stays, its media is not shown on public surfaces.
	PostMediaHidden Kind = "post.media_hidden"
	// PostMediaShown: takes back PostMediaHidden.
	PostMediaShown Kind = "post.media_shown"
	// PostRedacted: a moderator hides parts of the post (a name, a phone
	// number): every occurrence of each of Entry.Redact, in every version
	// the post holds and in every later version from its source, is shown
	// as RedactionMark. Public surfaces see only the redacted version.
	PostRedacted Kind = "post.redacted"
	// PostRevised: a moderator rewrites a web-form post's text (a typo, its
	// length). Entry.Revision is set. Only web-form posts: a social
	// network's post is its author's words (X requires them unaltered).
	PostRevised Kind = "post.revised"

	// AuthorBlocked: the author's posts leave every public surface and the queue,
	// and their new posts are rejected until Entry.Block.Until (or for good). Entry.Block is set.
	AuthorBlocked Kind = "author.blocked"
	// AuthorUnblocked: new posts from the author are handled as anyone's. Entry.Block names the author or domain.
	AuthorUnblocked Kind = "author.unblocked"

	// QuestionFlagged: a post is marked as a question for the facilitators (a pending post is approved by it).
	QuestionFlagged Kind = "question.flagged"
	// QuestionUnflagged: the post is no longer a question.
	QuestionUnflagged Kind = "question.unflagged"
	// QuestionAdded: a question heard in the room, with no post. Entry.Question is set.
	QuestionAdded Kind = "question.added"
	// QuestionReordered: Entry.Order is the facilitator's new order of open questions.
	QuestionReordered Kind = "question.reordered"
	// QuestionNoted: Entry.Note is attached to the question Entry.QuestionID.
	QuestionNoted Kind = "question.noted"
	// QuestionReading: the question is being read out now (at most one at a time).
	QuestionReading Kind = "question.reading"
	// QuestionAnswered: the question was answered; it is kept, listed apart.
	QuestionAnswered Kind = "question.answered"
	// QuestionReopened: an answered question goes back to the open list.
	QuestionReopened Kind = "question.reopened"
	// QuestionVoted: a participant's device votes for the question
	// Entry.QuestionID. Entry.Device is set. A device has at most one vote
	// per question: the fold ignores a second.
	QuestionVoted Kind = "question.voted"
	// QuestionUnvoted: the device takes its vote for Entry.QuestionID back.
	QuestionUnvoted Kind = "question.unvoted"

	// StageMessage: a short message from the back of the room to the stage. Entry.Message is set.
	StageMessage Kind = "stage.message"
	// StageRead: the stage (a facilitator) has read the stage message at position Entry.Ref.
	StageRead Kind = "stage.read"
	// SettingsChanged: the event's settings changed. Entry.Settings holds the fields that changed.
	SettingsChanged Kind = "settings.changed"

	// SourceHealth: a source went down, was rate-limited or came back
	// (its health state changed; ingest appends it, Actor names the
	// source). Entry.SourceHealth is set. The screens' folds ignore it;
	// the report draws the outages from it.
	SourceHealth Kind = "source.health"
	// ConnectionsSampled: how many screens one fan-out node served at its
	// busiest over the last minute. Entry.Connections is set. For the report.
	ConnectionsSampled Kind = "connections.sampled"
	// EventWentLive: the rehearsal is over. Every post from the rehearsal
	// source (Post.Source "rehearsal") received before it leaves every
	// view as a deleted post does, with every decision about it; later
	// rehearsal posts are ignored. The audit keeps the record.
	EventWentLive Kind = "event.went_live"
)

// SourceRehearsal is Post.Source of the posts the rehearsal source makes up.
const SourceRehearsal = "rehearsal"

// Kinds lists every kind, in the order above.
var Kinds = []Kind{
	PostReceived, PostEdited, PostDeleted, PostWithdrawn,
	PostApproved, PostRejected, PostUndone, PostPinned, PostUnpinned, PostMediaHidden, PostMediaShown,
	PostRedacted, PostRevised,
	AuthorBlocked, AuthorUnblocked,
	QuestionFlagged, QuestionUnflagged, QuestionAdded, QuestionReordered, QuestionNoted,
	QuestionReading, QuestionAnswered, QuestionReopened, QuestionVoted, QuestionUnvoted,
	StageMessage, StageRead, SettingsChanged, EventWentLive,
	SourceHealth, ConnectionsSampled,
}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, c := range Kinds {
		if c == k {
			return true
		}
	}
	return false
}

// Role says who caused an event, and so which credentials an API call needs.
type Role string

// The roles.
const (
	RoleSource      Role = "source"      // an ingest source (Mastodon, Bluesky, web form, rehearsal)
	RoleModerator   Role = "moderator"   // a moderator, through the API
	RoleFacilitator Role = "facilitator" // a facilitator, through the API
	RoleSystem      Role = "system"      // backchannel itself (rules, expiries, config)
)

// Actor is who caused an event.
type Actor struct {
	Role Role `json:"role"`
	// Name identifies the actor within its role: a moderator's user name, or
	// a source's name such as "mastodon:mastodon.social". May be empty for a
	// shared passphrase.
	Name string `json:"name,omitempty"`
}

// Entry is one entry of an event's log: one thing that happened, such as a
// post arriving or a moderator approving it. Which payload fields are set
// depends on Kind (see the Kind constants). "Event" on its own always means
// the live occasion (config.Event, wall.Event, webform.Event), never an Entry.
type Entry struct {
	// Pos is the event's position in its log: 1 for the first event, then
	// dense and increasing. Set by the log on append; zero before.
	Pos uint64 `json:"pos"`
	// Time is when the event was appended (the appender's clock). The fold
	// uses it for times shown and for expiries, never the reader's clock.
	Time  time.Time `json:"time"`
	Kind  Kind      `json:"kind"`
	Actor Actor     `json:"actor"`

	// PostID names the post acted on (every post.* kind, question.flagged/unflagged).
	PostID string `json:"post_id,omitempty"`
	// QuestionID names the question acted on (question.* kinds but added/reordered).
	QuestionID string `json:"question_id,omitempty"`

	Post     *Post     `json:"post,omitempty"`     // post.received, post.edited
	Verdict  *Verdict  `json:"verdict,omitempty"`  // post.received, post.edited: what the rules decided
	Block    *Block    `json:"block,omitempty"`    // author.blocked, author.unblocked
	Question *Question `json:"question,omitempty"` // question.added
	Order    []string  `json:"order,omitempty"`    // question.reordered: question ids, first first
	Note     string    `json:"note,omitempty"`     // question.noted
	Message  string    `json:"message,omitempty"`  // stage.message
	Reason   string    `json:"reason,omitempty"`   // optional words a moderator gives with a decision
	// Seen, on a decision that can put a post's content on the wall
	// (post.approved, post.pinned, question.flagged), is the version the
	// moderator decided on: the PostView.Version they were shown. The
	// fold ignores the decision if the source has sent another version
	// since, so a moderator never passes text they have not seen. Zero
	// means "whatever it is now" (entries from before it existed, API
	// callers that do not say).
	Seen     uint64    `json:"seen,omitempty"`
	Settings *Settings `json:"settings,omitempty"` // settings.changed

	SourceHealth *SourceHealthChange `json:"source_health,omitempty"` // source.health
	Connections  *Connections        `json:"connections,omitempty"`   // connections.sampled
	// Device is a participant's device, pseudonymous (a hash of the web
	// form's signed device token, never the token): question.voted/unvoted.
	Device string `json:"device,omitempty"`
	// Was, on a moderator's decision on a post (post.approved, post.rejected,
	// post.undone, post.pinned, question.flagged), is the post's state
	// ("pending", "approved", "rejected") the moderator saw when deciding.
	// When another person has decided since, moments before (within
	// ReversalWindow of Time), the fold does not let this decision reverse
	// theirs: the moderator is asked first and decides again with no Was.
	// Empty: no such check (entries from before it existed, a confirmed
	// decision).
	Was string `json:"was,omitempty"`
	// Ref, on stage.read, is the position of the stage message read.
	Ref uint64 `json:"ref,omitempty"`
	// Redact, on post.redacted, are the texts to hide (each matched
	// case-insensitively, any run of white space matching any other).
	Redact []string `json:"redact,omitempty"`
	// Revision, on post.revised, is the post's text as the moderator wrote it.
	Revision *Revision `json:"revision,omitempty"`
}

// RedactionMark is what a redacted part of a post reads as, in its text
// and its HTML.
const RedactionMark = "█████"

// Limits of a redaction: how many texts one post.redacted names, and how
// long each may be, in bytes.
const (
	MaxRedactTexts  = 20
	MaxRedactLength = 200
)

// Revision is a moderator's rewrite of a web-form post's text: the plain
// text and the same as sanitised HTML (written by whoever appends it, from
// the text alone, as the web form writes a post's HTML).
type Revision struct {
	Text string `json:"text"`
	HTML string `json:"html"`
}

// ReversalWindow is how recent another person's decision must be for a
// decision made without seeing it (Entry.Was) to ask before reversing it.
const ReversalWindow = 2 * time.Minute

// Validate reports what is missing or wrong for the event's kind, as an
// *Error with code EINVALID. Pos and Time are not checked: the log sets them.
func (e *Entry) Validate() error {
	if !e.Kind.Valid() {
		return Errorf(EINVALID, "unknown event kind %q", e.Kind)
	}
	switch e.Actor.Role {
	case RoleSource, RoleModerator, RoleFacilitator, RoleSystem:
	default:
		return Errorf(EINVALID, "%s: unknown actor role %q", e.Kind, e.Actor.Role)
	}
	switch e.Kind {
	case PostReceived, PostEdited:
		if e.Post == nil {
			return Errorf(EINVALID, "%s: post is required", e.Kind)
		}
		if err := e.Post.Validate(); err != nil {
			return err
		}
		if e.PostID != "" && e.PostID != e.Post.ID {
			return Errorf(EINVALID, "%s: post_id %q does not match post.id %q", e.Kind, e.PostID, e.Post.ID)
		}
		if e.Verdict != nil {
			if err := e.Verdict.Validate(); err != nil {
				return err
			}
		}
	case PostWithdrawn:
		if e.PostID == "" {
			return Errorf(EINVALID, "%s: post_id is required", e.Kind)
		}
		if strings.TrimSpace(e.Reason) == "" {
			return Errorf(EINVALID, "%s: reason is required", e.Kind)
		}
		if e.Post != nil {
			if err := e.Post.Validate(); err != nil {
				return err
			}
			if e.PostID != e.Post.ID {
				return Errorf(EINVALID, "%s: post_id %q does not match post.id %q", e.Kind, e.PostID, e.Post.ID)
			}
		}
	case PostDeleted, PostApproved, PostRejected, PostUndone, PostPinned, PostUnpinned,
		PostMediaHidden, PostMediaShown, QuestionFlagged, QuestionUnflagged:
		if e.PostID == "" {
			return Errorf(EINVALID, "%s: post_id is required", e.Kind)
		}
		switch e.Was {
		case "", "pending", "approved", "rejected":
		default:
			return Errorf(EINVALID, "%s: was must be pending, approved or rejected, not %q", e.Kind, e.Was)
		}
	case PostRedacted:
		if e.PostID == "" {
			return Errorf(EINVALID, "%s: post_id is required", e.Kind)
		}
		if e.Actor.Role != RoleModerator {
			return Errorf(EINVALID, "%s: only a moderator redacts, not a %s", e.Kind, e.Actor.Role)
		}
		if len(e.Redact) == 0 || len(e.Redact) > MaxRedactTexts {
			return Errorf(EINVALID, "%s: redact must name 1 to %d texts", e.Kind, MaxRedactTexts)
		}
		for _, t := range e.Redact {
			if err := ValidRedaction(t); err != nil {
				return Errorf(EINVALID, "%s: %v", e.Kind, err)
			}
		}
	case PostRevised:
		if e.PostID == "" {
			return Errorf(EINVALID, "%s: post_id is required", e.Kind)
		}
		if e.Actor.Role != RoleModerator {
			return Errorf(EINVALID, "%s: only a moderator revises a post, not a %s", e.Kind, e.Actor.Role)
		}
		if e.Revision == nil || strings.TrimSpace(e.Revision.Text) == "" || strings.TrimSpace(e.Revision.HTML) == "" {
			return Errorf(EINVALID, "%s: revision with a text and its html is required", e.Kind)
		}
	case AuthorBlocked, AuthorUnblocked:
		if e.Block == nil {
			return Errorf(EINVALID, "%s: block is required", e.Kind)
		}
		if err := e.Block.Validate(); err != nil {
			return err
		}
	case QuestionAdded:
		if e.Question == nil || strings.TrimSpace(e.Question.Text) == "" {
			return Errorf(EINVALID, "%s: question text is required", e.Kind)
		}
		if e.Question.ID == "" {
			return Errorf(EINVALID, "%s: question id is required", e.Kind)
		}
	case QuestionReordered:
		if len(e.Order) == 0 {
			return Errorf(EINVALID, "%s: order is required", e.Kind)
		}
	case QuestionNoted, QuestionReading, QuestionAnswered, QuestionReopened:
		if e.QuestionID == "" {
			return Errorf(EINVALID, "%s: question_id is required", e.Kind)
		}
		if e.Kind == QuestionNoted && strings.TrimSpace(e.Note) == "" {
			return Errorf(EINVALID, "%s: note is required", e.Kind)
		}
	case QuestionVoted, QuestionUnvoted:
		if e.QuestionID == "" {
			return Errorf(EINVALID, "%s: question_id is required", e.Kind)
		}
		if e.Device == "" || len(e.Device) > MaxDeviceLength {
			return Errorf(EINVALID, "%s: device is required (at most %d bytes)", e.Kind, MaxDeviceLength)
		}
	case StageMessage:
		if strings.TrimSpace(e.Message) == "" {
			return Errorf(EINVALID, "%s: message is required", e.Kind)
		}
	case EventWentLive:
		if e.Actor.Role != RoleModerator && e.Actor.Role != RoleSystem {
			return Errorf(EINVALID, "%s: only a moderator or the system makes an event go live, not a %s", e.Kind, e.Actor.Role)
		}
	case StageRead:
		if e.Ref == 0 {
			return Errorf(EINVALID, "%s: ref (the message's position) is required", e.Kind)
		}
	case SettingsChanged:
		if e.Settings == nil {
			return Errorf(EINVALID, "%s: settings are required", e.Kind)
		}
		if err := e.Settings.Validate(); err != nil {
			return err
		}
	case SourceHealth:
		if e.SourceHealth == nil || e.SourceHealth.State == "" || e.Actor.Name == "" {
			return Errorf(EINVALID, "%s: source_health with a state, and the source's name as actor, are required", e.Kind)
		}
	case ConnectionsSampled:
		if c := e.Connections; c == nil || c.Node == "" || c.Public < 0 || c.Moderators < 0 || c.Facilitators < 0 {
			return Errorf(EINVALID, "%s: connections with a node name and counts of zero or more are required", e.Kind)
		}
	}
	return nil
}

// ValidRedaction reports a text that cannot be redacted: empty, longer
// than MaxRedactLength, or without a letter or digit (white space and
// punctuation alone would hide the whole post's layout, and the mark itself
// must never be a thing to hide).
func ValidRedaction(t string) error {
	if len(t) > MaxRedactLength {
		return Errorf(EINVALID, "a text to redact has at most %d bytes", MaxRedactLength)
	}
	for _, r := range t {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return nil
		}
	}
	return Errorf(EINVALID, "a text to redact %q has no letter or digit", t)
}

// MaxDeviceLength bounds Entry.Device.
const MaxDeviceLength = 64

// IdempotencyKey is the de-duplication key the log should append e under,
// or "" when every append of e is a new event. A post is received once per
// URI; an edit once per URI and edit time; a delete once per post; a
// withdrawal once per version that dropped the tags.
func (e *Entry) IdempotencyKey() string {
	switch e.Kind {
	case PostReceived:
		if e.Post != nil {
			return "post:" + e.Post.URI
		}
	case PostEdited:
		if e.Post != nil {
			return "edit:" + e.Post.URI + "@" + e.Post.EditedAt.UTC().Format(time.RFC3339Nano)
		}
	case PostDeleted:
		return "delete:" + e.PostID
	case PostWithdrawn:
		// Once per version that dropped the tags: the author may put a tag
		// back and take it out again.
		if e.Post != nil && !e.Post.EditedAt.IsZero() {
			return "withdraw:" + e.PostID + "@" + e.Post.EditedAt.UTC().Format(time.RFC3339Nano)
		}
		return "withdraw:" + e.PostID
	}
	return ""
}

// PostID derives a post's short, stable id from its global URI: the same
// post seen on many servers gets the same id on every node, with no lookup.
func PostID(uri string) string {
	sum := sha256.Sum256([]byte(uri))
	return hex.EncodeToString(sum[:10])
}

// Post is one message from outside the room.
type Post struct {
	// ID is PostID(URI).
	ID string `json:"id"`
	// URI is the post's global identity, the same on every server that has
	// it (the ActivityPub id for Mastodon, the at:// URI for Bluesky, a
	// generated urn for the web form). It is the de-duplication key.
	URI string `json:"uri"`
	// Source is the kind of source: "mastodon", "bluesky", "rss", "form", "rehearsal".
	Source string `json:"source"`
	// SourceName is the configured source that saw it first, e.g. "mastodon.social".
	SourceName string `json:"source_name,omitempty"`
	// URL is the post's page at its origin, for people (may be empty).
	URL    string `json:"url,omitempty"`
	Author Author `json:"author"`
	// HTML is the post's body, already sanitised: safe to insert into a page.
	HTML string `json:"html"`
	// Text is the body as plain text, for search, rules and screen readers.
	Text     string `json:"text"`
	Language string `json:"language,omitempty"`
	// CreatedAt is when the author published it (the source's clock).
	CreatedAt time.Time `json:"created_at"`
	// EditedAt is when it was last edited at its source; zero if never.
	EditedAt time.Time `json:"edited_at,omitzero"`
	// ContentWarning is the author's warning (Mastodon's spoiler_text); when
	// set, screens show it and keep the body collapsed.
	ContentWarning string `json:"content_warning,omitempty"`
	// Sensitive marks media that screens blur.
	Sensitive bool    `json:"sensitive,omitempty"`
	Media     []Media `json:"media,omitempty"`
	// Tags are the post's hashtags without '#', as the author wrote them.
	Tags []string `json:"tags,omitempty"`
	// Question is set when the author asked for the post to be a question
	// (the web form's "this is a question" box).
	Question bool `json:"question,omitempty"`
	// Redacted and Revised are set by the fold, never by a source, on a
	// version whose text a moderator redacted (parts read RedactionMark) or
	// rewrote (post.redacted, post.revised): the screens say so.
	Redacted bool `json:"redacted,omitempty"`
	Revised  bool `json:"revised,omitempty"`
}

// Validate reports a post that cannot be stored.
func (p *Post) Validate() error {
	if p.URI == "" {
		return Errorf(EINVALID, "post: uri is required")
	}
	if p.ID != PostID(p.URI) {
		return Errorf(EINVALID, "post: id %q is not PostID(uri)", p.ID)
	}
	if p.Source == "" {
		return Errorf(EINVALID, "post %s: source is required", p.ID)
	}
	return nil
}

// Author is who wrote a post.
type Author struct {
	// ID is the author's stable global identity (the ActivityPub actor URI,
	// the Bluesky DID). Blocks are keyed on it.
	ID string `json:"id"`
	// Name is the display name.
	Name string `json:"name,omitempty"`
	// Handle is how people address the author, e.g. "@ada@mastodon.social".
	Handle string `json:"handle,omitempty"`
	Avatar string `json:"avatar,omitempty"`
	// URL is the author's profile page.
	URL string `json:"url,omitempty"`
	// CreatedAt is when the account was made, as its source says (Mastodon,
	// X); zero when the source does not say.
	CreatedAt time.Time `json:"created_at,omitzero"`
	// Followers is how many follow the account, when FollowersKnown.
	Followers      int  `json:"followers,omitempty"`
	FollowersKnown bool `json:"followers_known,omitempty"`
}

// Domain is the server part of the author's handle ("mastodon.social"), or
// "" when the handle has none.
func (a Author) Domain() string {
	h := strings.TrimPrefix(a.Handle, "@")
	if i := strings.LastIndexByte(h, '@'); i >= 0 {
		return strings.ToLower(h[i+1:])
	}
	if strings.Contains(h, ".") { // Bluesky handles are domains
		return strings.ToLower(h)
	}
	return ""
}

// Media is one attachment of a post.
type Media struct {
	// Kind is "image", "gifv", "video", "audio" or "unknown".
	Kind       string `json:"kind"`
	URL        string `json:"url"`
	PreviewURL string `json:"preview_url,omitempty"`
	// Alt is the author's description of the media.
	Alt      string `json:"alt,omitempty"`
	Blurhash string `json:"blurhash,omitempty"`
	Width    int    `json:"width,omitempty"`
	Height   int    `json:"height,omitempty"`
}

// Decision is what happens to a post.
type Decision string

// The decisions a rule can take.
const (
	DecisionHold    Decision = "hold"    // to the moderation queue
	DecisionApprove Decision = "approve" // straight to public surfaces
	DecisionReject  Decision = "reject"  // never shown
)

// Verdict is what the moderation rules decided when a post arrived.
type Verdict struct {
	Decision Decision `json:"decision"`
	// Rule names the rule that decided, in words a moderator understands,
	// e.g. "pre-moderation", `blocked word "spam"`, "trusted domain example.org".
	Rule string `json:"rule"`
	// Checks are the personal-data and spam rules that found something in
	// the post (the one that decided among them), for moderators only.
	Checks []Check `json:"checks,omitempty"`
}

// Check is what one personal-data or spam rule found in a post.
type Check struct {
	// Rule is the rule's name as moderators see it ("UK phone number",
	// "near-duplicate"); Detail says more ("3 posts in a minute, limit 5").
	Rule   string `json:"rule"`
	Detail string `json:"detail,omitempty"`
	// Score is the rule's measure, from 0 to 1 (similarity, share of the
	// limit, confidence); 1 for a plain match.
	Score float64 `json:"score"`
	// Spans are what matched in Post.Text, so a card can mark them.
	Spans []Span `json:"spans,omitempty"`
}

// Span is a part of a post's Text: bytes [Start, End), and the text itself
// (so a page can find it in the post's HTML without counting bytes).
type Span struct {
	Start int    `json:"start"`
	End   int    `json:"end"`
	Text  string `json:"text"`
}

// Validate reports an unknown decision.
func (v *Verdict) Validate() error {
	switch v.Decision {
	case DecisionHold, DecisionApprove, DecisionReject:
		return nil
	}
	return Errorf(EINVALID, "verdict: unknown decision %q", v.Decision)
}

// Block names an author, or every author of a domain, whose posts are kept off
// every surface.
type Block struct {
	// AuthorID is the blocked author's Author.ID; empty for a domain block.
	AuthorID string `json:"author_id,omitempty"`
	// Handle is the author's handle at the time, for people reading the audit.
	Handle string `json:"handle,omitempty"`
	// Domain blocks every author whose handle is on it; empty for an author block.
	Domain string `json:"domain,omitempty"`
	// Until ends the block; zero means for good.
	Until time.Time `json:"until,omitzero"`
}

// Validate reports a block that names nobody, or two things at once.
func (b *Block) Validate() error {
	if (b.AuthorID == "") == (b.Domain == "") {
		return Errorf(EINVALID, "block: exactly one of author_id and domain is required")
	}
	return nil
}

// Key is the block's identity: blocking the same key again replaces it.
func (b *Block) Key() string {
	if b.AuthorID != "" {
		return "author:" + b.AuthorID
	}
	return "domain:" + strings.ToLower(b.Domain)
}

// Question is a question heard in the room (QuestionAdded); questions that
// come from posts are flagged with QuestionFlagged instead.
type Question struct {
	// ID is the question's id, chosen by whoever appends it (unique per event).
	ID   string `json:"id"`
	Text string `json:"text"`
	// Name is who asked, if they said.
	Name string `json:"name,omitempty"`
}

// Mode is an event's moderation mode.
type Mode string

// The moderation modes.
const (
	// ModePre: nothing reaches a public surface until a moderator approves it.
	ModePre Mode = "pre"
	// ModeAuto: posts the rules do not hold are approved at once.
	ModeAuto Mode = "auto"
)

// Valid reports whether m is ModePre or ModeAuto.
func (m Mode) Valid() bool { return m == ModePre || m == ModeAuto }

// Settings are an event's settings that can change while it runs. In a
// SettingsChanged event only the non-nil fields change.
type Settings struct {
	Title      *string `json:"title,omitempty"`
	Moderation *Mode   `json:"moderation,omitempty"`
	// Display holds the screens' options (DisplayKeys). A key with an empty
	// value is removed. Whoever appends writes layouts and themes under
	// their canonical names (Display.Canonical), so the screens need no
	// aliases.
	Display Display `json:"display,omitempty"`
}

// Validate reports an unknown moderation mode or a refused display option
// (a *DisplayError), and a layout or theme written under an alias: the log
// holds canonical names only, so no screen needs to know the aliases.
func (s *Settings) Validate() error {
	if s.Moderation != nil && !s.Moderation.Valid() {
		return Errorf(EINVALID, "moderation must be %q or %q, not %q", ModePre, ModeAuto, *s.Moderation)
	}
	if err := s.Display.Validate(); err != nil {
		return err
	}
	c := s.Display.Canonical()
	for _, k := range []string{DisplayLayout, DisplayTheme} {
		if v := s.Display[k]; v != c[k] {
			return &DisplayError{Key: k, Reason: fmt.Sprintf("%q is another name for %q: append the canonical name", v, c[k])}
		}
	}
	return nil
}

// SourceHealthChange is a source's health state as it changed (the states
// of ingest's Health: "ok", "backing_off", "rate_limited", ...).
type SourceHealthChange struct {
	// SourceKind is the kind of source: "mastodon", "bluesky", "rss", ...
	SourceKind string `json:"source_kind,omitempty"`
	State      string `json:"state"`
	// Error says why a source is backing off or rate-limited.
	Error string `json:"error,omitempty"`
	// RetryAt is when it tries again.
	RetryAt time.Time `json:"retry_at,omitzero"`
}

// Connections counts the websocket connections one fan-out node served.
type Connections struct {
	// Node names the fan-out node; the counts of several nodes add up.
	Node string `json:"node"`
	// Public counts the walls, participant pages and overlays: they share
	// the public socket.
	Public       int `json:"public"`
	Moderators   int `json:"moderators"`
	Facilitators int `json:"facilitators"`
}

// String gives a one-line description for logs.
func (e *Entry) String() string {
	s := fmt.Sprintf("#%d %s by %s", e.Pos, e.Kind, e.Actor.Role)
	if e.Actor.Name != "" {
		s += ":" + e.Actor.Name
	}
	if e.PostID != "" {
		s += " post " + e.PostID
	}
	if e.QuestionID != "" {
		s += " question " + e.QuestionID
	}
	return s
}
