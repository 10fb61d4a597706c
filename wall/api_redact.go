package wall

import (
	"net/http"
	"strings"

	"github.com/backchannel/backchannel/auth"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/ingest/sanitize"
)

// MaxRevisionLength is the longest text, in characters, a moderator may
// give a web-form post: the web form's own default limit.
const MaxRevisionLength = 500

func (st *staffAPI) routeRedactions() {
	const base = "POST /api/events/{slug}/posts/{id}/"
	st.handle(base+"redact", event.RoleModerator, st.redact)
	st.handle(base+"revise", event.RoleModerator, st.revise)
}

// RedactRequest is the body of POST .../posts/{id}/redact.
type RedactRequest struct {
	// Texts are the parts to hide: what the personal-data rules matched
	// (PostView.Checks[].Spans[].Text) or a moderator's selection.
	Texts  []string `json:"texts"`
	Reason string   `json:"reason"`
}

// redact appends post.redacted for the texts that occur in the post now;
// 409 when none does (nothing to redact: a repeat, or text not in it).
func (st *staffAPI) redact(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	var body RedactRequest
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	reason, err := cleanText("reason", body.Reason, MaxReasonLength, false)
	if err != nil {
		return err
	}
	if len(body.Texts) == 0 || len(body.Texts) > event.MaxRedactTexts {
		return event.Errorf(event.EINVALID, "texts must list 1 to %d texts to redact", event.MaxRedactTexts)
	}
	texts := make([]string, 0, len(body.Texts))
	for _, t := range body.Texts {
		t, err := cleanText("a text to redact", t, event.MaxRedactLength, true)
		if err != nil {
			return err
		}
		if err := event.ValidRedaction(t); err != nil {
			return err
		}
		texts = append(texts, t)
	}
	pid := r.PathValue("id")
	cur, err := currentPost(e, pid)
	if err != nil {
		return err
	}
	if len(fold.Redactable(cur, texts)) == 0 {
		writeResult(w, ActionResult{Post: &cur}, nothingToRedact)
		return nil
	}
	return st.postChange(w, r, e, id, event.Entry{Kind: event.PostRedacted, PostID: pid, Redact: texts, Reason: reason}, nothingToRedact)
}

const nothingToRedact = "nothing to redact: the post does not hold that text (or it is redacted already)"

// ReviseRequest is the body of POST .../posts/{id}/revise: the web-form
// post's new text, plain (written as HTML as the web form writes it).
type ReviseRequest struct {
	Text   string `json:"text"`
	Reason string `json:"reason"`
}

// revise appends post.revised with the moderator's text for a web-form
// post; a post from any other source keeps its author's words (409).
func (st *staffAPI) revise(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity) error {
	var body ReviseRequest
	if err := decodeBody(w, r, &body); err != nil {
		return err
	}
	reason, err := cleanText("reason", body.Reason, MaxReasonLength, false)
	if err != nil {
		return err
	}
	text, err := cleanText("text", body.Text, MaxRevisionLength, true)
	if err != nil {
		return err
	}
	pid := r.PathValue("id")
	cur, err := currentPost(e, pid)
	if err != nil {
		return err
	}
	if cur.Source != fold.SourceForm {
		writeResult(w, ActionResult{Post: &cur}, notRevisable(cur))
		return nil
	}
	safe, plain := sanitize.Plain(text)
	return st.postChange(w, r, e, id, event.Entry{Kind: event.PostRevised, PostID: pid, Reason: reason,
		Revision: &event.Revision{Text: plain, HTML: safe}}, "the post reads that way already")
}

// notRevisable says why a post's text cannot be rewritten.
func notRevisable(p fold.PostView) string {
	msg := "only a web-form post's text can be edited"
	if p.Source != "" {
		msg += "; this post is from " + strings.ToLower(p.Source)
	}
	if p.Source == "x" {
		msg += ", whose rules require its text unaltered"
	}
	return msg + ": redact parts of it instead, or reject it"
}

// postChange appends ev and answers with the post as it stands after it,
// or 409 with noop when it changed nothing.
func (st *staffAPI) postChange(w http.ResponseWriter, r *http.Request, e *Event, id auth.Identity, ev event.Entry, noop string) error {
	pos, err := st.appendAction(r.Context(), e, id, ev)
	if err != nil {
		return err
	}
	res := ActionResult{Pos: pos}
	var (
		p     fold.PostView
		found bool
	)
	e.Live.View(func(s *fold.State) {
		res.Applied = appliedAt(s, pos)
		p, found = s.Post(ev.PostID)
	})
	if !found {
		writeResult(w, ActionResult{Pos: pos}, "the post was deleted at its source")
		return nil
	}
	res.Post = &p
	writeResult(w, res, noop)
	return nil
}
