package fold

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/backchannel/backchannel/event"
)

var zeroTime time.Time

// describe says in a few words what e does, for the audit trail. It is
// called after e was applied, so a post it names may already be deleted;
// the words then fall back to the post's id.
func (s *State) describe(e event.Entry) string {
	var sum string
	switch e.Kind {
	case event.PostReceived:
		sum = "received " + s.postName(postIDOf(e))
	case event.PostEdited:
		sum = "edited " + s.postName(postIDOf(e))
	case event.PostDeleted:
		sum = "deleted " + s.postName(e.PostID)
	case event.PostApproved:
		sum = "approved " + s.postName(e.PostID)
	case event.PostRejected:
		sum = "rejected " + s.postName(e.PostID)
	case event.PostUndone:
		sum = "undid the last decision on " + s.postName(e.PostID)
	case event.PostPinned:
		sum = "pinned " + s.postName(e.PostID)
	case event.PostUnpinned:
		sum = "unpinned " + s.postName(e.PostID)
	case event.PostMediaHidden:
		sum = "hid the media of " + s.postName(e.PostID)
	case event.PostMediaShown:
		sum = "showed the media of " + s.postName(e.PostID)
	case event.AuthorBlocked, event.AuthorUnblocked:
		verb := "blocked "
		if e.Kind == event.AuthorUnblocked {
			verb = "unblocked "
		}
		sum = verb + blockName(e.Block)
		if e.Kind == event.AuthorBlocked && e.Block != nil {
			if e.Block.Until.IsZero() {
				sum += " for good"
			} else {
				sum += " until " + e.Block.Until.UTC().Format("2006-01-02 15:04 UTC")
			}
		}
	case event.QuestionFlagged:
		sum = "marked " + s.postName(e.PostID) + " as a question"
	case event.QuestionUnflagged:
		sum = "unmarked " + s.postName(e.PostID) + " as a question"
	case event.QuestionAdded:
		text := ""
		if e.Question != nil {
			text = e.Question.Text
		}
		sum = "added a question from the room: " + clip(text)
	case event.QuestionReordered:
		sum = "reordered the questions"
	case event.QuestionNoted:
		sum = "noted " + s.questionName(e.QuestionID) + ": " + clip(e.Note)
	case event.QuestionReading:
		sum = "now reading " + s.questionName(e.QuestionID)
	case event.QuestionAnswered:
		sum = "answered " + s.questionName(e.QuestionID)
	case event.QuestionReopened:
		sum = "reopened " + s.questionName(e.QuestionID)
	case event.StageMessage:
		sum = "to the stage: " + clip(e.Message)
	case event.SettingsChanged:
		var what []string
		if e.Settings != nil {
			if e.Settings.Title != nil {
				what = append(what, fmt.Sprintf("title %q", *e.Settings.Title))
			}
			if e.Settings.Moderation != nil {
				what = append(what, "moderation "+string(*e.Settings.Moderation))
			}
			if len(e.Settings.Display) > 0 {
				what = append(what, "display")
			}
		}
		sum = "changed settings: " + strings.Join(what, ", ")
	default:
		sum = string(e.Kind)
	}
	if e.Reason != "" {
		sum += " (" + clip(e.Reason) + ")"
	}
	return sum
}

// postName names a post by its author, as moderators know it.
func (s *State) postName(id string) string {
	p := s.posts[id]
	if p == nil {
		return "post " + id
	}
	switch a := p.v.Author; {
	case a.Handle != "":
		return "post by " + a.Handle
	case a.Name != "":
		return "post by " + a.Name
	}
	return "post " + id
}

func (s *State) questionName(id string) string {
	if q := s.questions[id]; q != nil {
		return "question " + fmt.Sprintf("%q", clip(q.Text))
	}
	return "question " + id
}

func blockName(b *event.Block) string {
	switch {
	case b == nil:
		return "nobody"
	case b.AuthorID == "":
		return "domain " + b.Domain
	case b.Handle != "":
		return b.Handle
	}
	return b.AuthorID
}

func postsRejected(n int) string {
	switch n {
	case 0:
		return ""
	case 1:
		return "; 1 post rejected"
	}
	return fmt.Sprintf("; %d posts rejected", n)
}

// clip shortens free text to what fits on one audit line.
func clip(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	const max = 60
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	r := []rune(s)
	return string(r[:max-1]) + "…"
}
