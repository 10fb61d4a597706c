package fold

import (
	"time"

	"github.com/backchannel/backchannel/event"
)

// PostState is where a post stands in moderation.
type PostState string

// The post states.
const (
	StatePending  PostState = "pending"
	StateApproved PostState = "approved"
	StateRejected PostState = "rejected"
)

// PostView is a post as the screens show it.
type PostView struct {
	event.Post
	State PostState `json:"state"`
	// Pinned posts come first on the wall; PinnedAt orders them (newest pin first).
	Pinned   bool      `json:"pinned,omitempty"`
	PinnedAt time.Time `json:"-"`
	// MediaHidden: the wall shows no media for this post.
	MediaHidden bool `json:"media_hidden,omitempty"`
	// Question is set when the post is a question (its question id is the post id).
	Question bool `json:"question,omitempty"`
	// QuestionCandidate is set when the author asked for the post to be a
	// question (the web form's tick, Post.Question): approving it makes it one.
	QuestionCandidate bool `json:"question_candidate,omitempty"`
	// Checks are what the personal-data and spam rules found when it
	// arrived (event.Verdict.Checks), with the spans to mark; moderators only.
	Checks []event.Check `json:"checks,omitempty"`
	// ReceivedPos is the position of the post.received event: queue order.
	ReceivedPos uint64    `json:"received_pos"`
	ReceivedAt  time.Time `json:"received_at"`
	// Rule is the rule that decided the post's state when it arrived (or
	// "author blocked"), shown to moderators only.
	Rule string `json:"rule,omitempty"`
	// DecidedBy and DecidedAt say who moved the post to its state; moderators only.
	DecidedBy event.Actor `json:"decided_by,omitzero"`
	DecidedAt time.Time   `json:"decided_at,omitzero"`
	// LastPos is the position of the last event that changed this post.
	LastPos uint64 `json:"last_pos"`

	// Edit is set on an approved post edited at its source after it was
	// approved, when no rule passed the new version: the version a
	// moderator has not yet seen. Public surfaces keep showing Post (the
	// version that was passed) until a moderator approves the edit. Only
	// moderators see it; a second edit replaces it.
	Edit *event.Post `json:"edit,omitempty"`
	// EditRule is the rule that held the edit (the rules' verdict on the
	// new version, "no verdict" for edits logged without one).
	EditRule string `json:"edit_rule,omitempty"`
	// EditPos and EditReceivedAt are the position and time of the edit's
	// post.edited event: where the edit stands in the queue.
	EditPos        uint64    `json:"edit_pos,omitempty"`
	EditReceivedAt time.Time `json:"edit_received_at,omitzero"`
	// Version is the position of the entry that brought the content a
	// moderator decides on now: the edit waiting, or else the newest
	// version received. A decision sends it back as Entry.Seen.
	Version uint64 `json:"version"`
	// Redactions are the texts moderators hid in the post (post.redacted):
	// every version it holds, and every later one from its source, reads
	// event.RedactionMark in their place. Moderators only.
	Redactions []string `json:"redactions,omitempty"`
	// Original is the newest version as its source sent it, before the
	// moderators redacted or rewrote it; nil when they changed nothing.
	// Moderators only: no public surface carries it.
	Original *event.Post `json:"original,omitempty"`
}

// QueuedAt is when the post entered the moderators' queue: when its edit
// arrived, for a shown post with an edit waiting, else when it arrived.
func (p *PostView) QueuedAt() time.Time {
	if p.Edit != nil {
		return p.EditReceivedAt
	}
	return p.ReceivedAt
}

// queuePos orders the queue: the edit's position for an edit waiting,
// else the post's.
func (p *PostView) queuePos() uint64 {
	if p.Edit != nil {
		return p.EditPos
	}
	return p.ReceivedPos
}

// QuestionState is where a question stands.
type QuestionState string

// The question states.
const (
	QuestionOpen     QuestionState = "open"
	QuestionReading  QuestionState = "reading"
	QuestionAnswered QuestionState = "answered"
)

// QuestionView is a question as the facilitators see it.
type QuestionView struct {
	ID string `json:"id"`
	// PostID is set for a question that came from a post.
	PostID string `json:"post_id,omitempty"`
	// Text is the question's plain text; HTML its sanitised body when it came from a post.
	Text   string        `json:"text"`
	HTML   string        `json:"html,omitempty"`
	Author event.Author  `json:"author,omitzero"`
	Name   string        `json:"name,omitempty"` // who asked, for questions heard in the room
	State  QuestionState `json:"state"`
	Notes  []Note        `json:"notes,omitempty"`
	// Votes counts the participants' devices that vote for it now.
	Votes int `json:"votes"`
	// AskedAt is when it became a question; ReadAt and AnsweredAt when it moved on.
	AskedAt    time.Time `json:"asked_at"`
	ReadAt     time.Time `json:"read_at,omitzero"`
	AnsweredAt time.Time `json:"answered_at,omitzero"`
}

// Note is a facilitator's or moderator's note on a question.
type Note struct {
	Text string      `json:"text"`
	By   event.Actor `json:"by"`
	At   time.Time   `json:"at"`
}

// AuditEntry is one human or rule decision, for the audit view.
type AuditEntry struct {
	Pos        uint64      `json:"pos"`
	Time       time.Time   `json:"time"`
	Kind       event.Kind  `json:"kind"`
	Actor      event.Actor `json:"actor"`
	PostID     string      `json:"post_id,omitempty"`
	QuestionID string      `json:"question_id,omitempty"`
	// Summary says in words what happened ("approved", "blocked @x@y until 15:00").
	Summary string `json:"summary"`
	// Applied is false when the event changed nothing (approving a deleted post).
	Applied bool `json:"applied"`
}

// Counts are the numbers the moderator page shows.
type Counts struct {
	Received int `json:"received"`
	Pending  int `json:"pending"`
	Approved int `json:"approved"`
	Rejected int `json:"rejected"`
	Deleted  int `json:"deleted"`
	Pinned   int `json:"pinned"`
	// Edits counts approved posts with an edit waiting for a moderator
	// (PostView.Edit): they are in the queue as well as on the wall, so
	// the queue holds Pending + Edits posts.
	Edits             int `json:"edits"`
	QuestionsOpen     int `json:"questions_open"`
	QuestionsAnswered int `json:"questions_answered"`
	// Rehearsal counts the posts from the rehearsal source still in the
	// views (they are counted in the others too): going live removes them.
	Rehearsal int `json:"rehearsal"`
	// Live is set once the event went live (event.went_live).
	Live bool `json:"live"`
}

// Wall is what public surfaces show: approved posts only.
type Wall struct {
	// Posts are the approved posts: pinned first (newest pin first), then
	// newest received first.
	Posts []PublicPost `json:"posts"`
	// NowReading is the question being read out, if any.
	NowReading *PublicQuestion `json:"now_reading,omitempty"`
	// Questions are the open questions (the one being read among them), in
	// the facilitators' order, with their votes: what participants vote on.
	Questions []PublicQuestion `json:"questions"`
	// Pos is the log position this view reflects.
	Pos uint64 `json:"pos"`
}

// PublicPost is a post as a public surface may show it: no moderation
// detail, no media when a moderator hid it. Its Redacted (or Revised) is
// set when the moderators hid parts of it (or rewrote it): the screens say
// so; what was hidden is never in it.
type PublicPost struct {
	event.Post
	Pinned   bool `json:"pinned,omitempty"`
	Question bool `json:"question,omitempty"`
}

// PublicQuestion is the question being read out, as the wall shows it.
type PublicQuestion struct {
	ID     string       `json:"id"`
	Text   string       `json:"text"`
	HTML   string       `json:"html,omitempty"`
	Author event.Author `json:"author,omitzero"`
	Name   string       `json:"name,omitempty"`
	// Votes counts the devices that vote for it; Reading is set while it is read out.
	Votes   int  `json:"votes,omitempty"`
	Reading bool `json:"reading,omitempty"`
}

// BlockView is a block in force.
type BlockView struct {
	event.Block
	By event.Actor `json:"by"`
	At time.Time   `json:"at"`
}

// StageMessageView is a message sent to the stage.
type StageMessageView struct {
	Text string      `json:"text"`
	By   event.Actor `json:"by"`
	At   time.Time   `json:"at"`
	Pos  uint64      `json:"pos"`
	// ReadAt and ReadBy say when, and by whom, the stage acknowledged the
	// message (stage.read); zero until then.
	ReadAt time.Time   `json:"read_at,omitzero"`
	ReadBy event.Actor `json:"read_by,omitzero"`
}

// Effect is what one event did to the views, per audience, so the fan-out
// can send each audience only what it may see without folding again.
type Effect struct {
	// Pos is the event's position.
	Pos uint64 `json:"pos"`
	// Applied is false when the event changed nothing.
	Applied bool `json:"applied"`
	// Wall is the change to public surfaces; nil when they do not change.
	Wall *WallDelta `json:"wall,omitempty"`
	// Posts are the moderator views, after the event, of the posts it changed.
	Posts []PostView `json:"posts,omitempty"`
	// Gone are ids of posts that left every view (deleted at their source).
	Gone []string `json:"gone,omitempty"`
	// Questions are the questions the event changed, after it.
	Questions []QuestionView `json:"questions,omitempty"`
	// QuestionsGone are ids of questions that left the list.
	QuestionsGone []string `json:"questions_gone,omitempty"`
	// Stage is set by a stage message.
	Stage *StageMessageView `json:"stage,omitempty"`
	// Settings is set, to the settings after the event, when they changed.
	Settings *SettingsView `json:"settings,omitempty"`
}

// WallDelta is a change to the public wall.
type WallDelta struct {
	// Upsert are posts that appeared on the wall or changed there (by ID).
	Upsert []PublicPost `json:"upsert,omitempty"`
	// Remove are ids of posts that left the wall.
	Remove []string `json:"remove,omitempty"`
	// NowReadingChanged is set when the question being read changed; then
	// NowReading is the new one, nil when none is being read.
	NowReadingChanged bool            `json:"now_reading_changed,omitempty"`
	NowReading        *PublicQuestion `json:"now_reading,omitempty"`
	// Title is set when the event's title changed.
	Title string `json:"title,omitempty"`
	// Display is set, whole, when the display options changed.
	Display map[string]string `json:"display,omitempty"`
	// QuestionsChanged is set when the open questions changed (one was
	// added, left, moved, was edited or is being read); then Questions is
	// the whole list, as Wall.Questions.
	QuestionsChanged bool             `json:"questions_changed,omitempty"`
	Questions        []PublicQuestion `json:"questions,omitempty"`
	// Votes are the new vote counts of questions whose votes alone changed,
	// by question id: counts, never increments, so the later replaces the
	// earlier and the fan-out may drop all but the last.
	Votes map[string]int `json:"votes,omitempty"`
}

// SettingsView is an event's settings as they stand.
type SettingsView struct {
	Title      string            `json:"title"`
	Moderation event.Mode        `json:"moderation"`
	Display    map[string]string `json:"display,omitempty"`
}
