package fanout

import (
	"encoding/json"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// Feed is the live fold of one event as the hub needs it. LiveFeed adapts
// a *fold.Live; tests may use a small fold of their own.
type Feed interface {
	// Subscribe calls fn with every event applied after Subscribe returns,
	// in position order, after the state reflects it. fn must not block
	// for long: it runs on the fold's goroutine.
	Subscribe(fn func(e event.Entry, eff fold.Effect)) (cancel func())
	// Pos is the position the state reflects now.
	Pos() uint64
	// Snapshot returns the audience's whole view, consistent at one
	// position (Snapshot.Pos). Only a's fields need be set.
	Snapshot(a Audience) Snapshot
}

// Snapshot is an audience's whole view at one log position. The hub
// encodes only the fields that belong to the socket's audience, whatever
// else is set.
type Snapshot struct {
	// Pos is the log position the view reflects.
	Pos uint64
	// Wall is the public wall (public, moderator).
	Wall *fold.Wall
	// Queue are the posts waiting for a decision, oldest first (moderator).
	Queue []fold.PostView
	// Questions are the open questions in the facilitators' order,
	// including the one being read (moderator, facilitator).
	Questions []fold.QuestionView
	// Answered are the answered questions (facilitator, moderator).
	Answered []fold.QuestionView
	// NowReading is the question being read out (facilitator).
	NowReading *fold.QuestionView
	// Stage are the recent stage messages, newest first (facilitator, moderator).
	Stage []fold.StageMessageView
	// Counts are the moderator page's numbers (moderator).
	Counts *fold.Counts
	// Settings are the event's settings (moderator, facilitator).
	Settings *fold.SettingsView
}

// The wire format. Every server frame is a JSON array of messages; each
// message has a type and the log position it reflects. docs/PROTOCOL.md
// describes it for client authors.

type snapshotMsg struct {
	Type     string `json:"type"` // "snapshot"
	Pos      uint64 `json:"pos"`
	Epoch    string `json:"epoch"`
	Audience string `json:"audience"`

	Wall       *fold.Wall              `json:"wall,omitempty"`
	Queue      []fold.PostView         `json:"queue,omitempty"`
	Questions  []fold.QuestionView     `json:"questions,omitempty"`
	Answered   []fold.QuestionView     `json:"answered,omitempty"`
	NowReading *fold.QuestionView      `json:"now_reading,omitempty"`
	Stage      []fold.StageMessageView `json:"stage,omitempty"`
	Counts     *fold.Counts            `json:"counts,omitempty"`
	Settings   *fold.SettingsView      `json:"settings,omitempty"`
}

type resumeMsg struct {
	Type  string `json:"type"` // "resume"
	Pos   uint64 `json:"pos"`
	Epoch string `json:"epoch"`
}

type publicEventMsg struct {
	Type string       `json:"type"` // "event"
	Pos  uint64       `json:"pos"`
	Wall *publicDelta `json:"wall"`
}

// publicSnapshotMsg is snapshotMsg on a public socket (public.go).
type publicSnapshotMsg struct {
	Type     string      `json:"type"` // "snapshot"
	Pos      uint64      `json:"pos"`
	Epoch    string      `json:"epoch"`
	Audience string      `json:"audience"`
	Wall     *publicWall `json:"wall"`
}

type staffEventMsg struct {
	Type   string       `json:"type"` // "event"
	Pos    uint64       `json:"pos"`
	Time   time.Time    `json:"time"`
	Kind   event.Kind   `json:"kind"`
	Actor  event.Actor  `json:"actor"`
	Effect *fold.Effect `json:"effect"`
}

// encodeSnapshot encodes s as audience a may see it.
func encodeSnapshot(a Audience, epoch string, s Snapshot) ([]byte, error) {
	m := snapshotMsg{Type: "snapshot", Pos: s.Pos, Epoch: epoch, Audience: a.String()}
	switch a {
	case Public:
		w := s.Wall
		if w == nil {
			w = &fold.Wall{Pos: s.Pos}
		}
		return marshalPublic(publicSnapshotMsg{Type: m.Type, Pos: m.Pos, Epoch: m.Epoch, Audience: m.Audience, Wall: toPublicWall(w)})
	case Moderator:
		m.Wall, m.Queue, m.Questions, m.Answered = s.Wall, s.Queue, s.Questions, s.Answered
		m.Stage, m.Counts, m.Settings = s.Stage, s.Counts, s.Settings
	case Facilitator:
		m.Questions, m.Answered, m.NowReading = s.Questions, s.Answered, s.NowReading
		m.Stage, m.Settings = s.Stage, s.Settings
	}
	return json.Marshal(m)
}

// encodeEvent encodes what e did as audience a may see it, or returns nil
// when a has nothing to see. It is called once per event and audience; the
// bytes are shared by every connection of the audience.
func encodeEvent(a Audience, e *event.Entry, eff *fold.Effect) ([]byte, error) {
	switch a {
	case Public:
		// The one place public content is chosen: only the wall delta,
		// which the fold fills from approved posts only, in the public
		// wire form (public.go).
		if eff.Wall == nil {
			return nil, nil
		}
		return marshalPublic(publicEventMsg{Type: "event", Pos: e.Pos, Wall: toPublicDelta(eff.Wall)})
	case Moderator:
		return json.Marshal(staffEventMsg{Type: "event", Pos: e.Pos, Time: e.Time, Kind: e.Kind, Actor: e.Actor, Effect: eff})
	case Facilitator:
		f := fold.Effect{Pos: eff.Pos, Applied: eff.Applied, Questions: eff.Questions,
			QuestionsGone: eff.QuestionsGone, Stage: eff.Stage, Settings: eff.Settings}
		if eff.Wall != nil && eff.Wall.NowReadingChanged {
			f.Wall = &fold.WallDelta{NowReadingChanged: true, NowReading: eff.Wall.NowReading}
		}
		if f.Questions == nil && f.QuestionsGone == nil && f.Stage == nil && f.Settings == nil && f.Wall == nil {
			return nil, nil
		}
		return json.Marshal(staffEventMsg{Type: "event", Pos: e.Pos, Time: e.Time, Kind: e.Kind, Actor: e.Actor, Effect: &f})
	}
	return nil, nil
}

func encodeResume(pos uint64, epoch string) ([]byte, error) {
	return json.Marshal(resumeMsg{Type: "resume", Pos: pos, Epoch: epoch})
}
