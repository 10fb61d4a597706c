package fanout

import (
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
)

// LiveFeed adapts a *fold.Live to the Feed a Hub reads. WallLimit bounds
// the posts of a public or moderator snapshot (newest first, pinned
// first); zero means DefaultWallLimit.
type LiveFeed struct {
	Live      *fold.Live
	WallLimit int
}

// DefaultWallLimit is how many posts a snapshot's wall carries by default:
// more than any screen shows, few enough that thousands of walls
// reconnecting at once after a node restart cost little.
const DefaultWallLimit = 500

// stageLimit is how many recent stage messages a snapshot carries.
const stageLimit = 50

// Subscribe implements Feed.
func (f LiveFeed) Subscribe(fn func(e event.Entry, eff fold.Effect)) func() {
	return f.Live.Subscribe(fn)
}

// Pos implements Feed.
func (f LiveFeed) Pos() uint64 { return f.Live.Pos() }

// Snapshot implements Feed: one View, so every part is at one position.
func (f LiveFeed) Snapshot(a Audience) Snapshot {
	limit := f.WallLimit
	if limit == 0 {
		limit = DefaultWallLimit
	}
	var s Snapshot
	f.Live.View(func(st *fold.State) {
		s.Pos = st.Pos()
		switch a {
		case Public:
			w := st.Wall(limit)
			s.Wall = &w
		case Moderator:
			w := st.Wall(limit)
			c := st.Counts()
			set := st.Settings()
			s.Wall, s.Counts, s.Settings = &w, &c, &set
			s.Queue, s.Questions, s.Answered = st.Queue(), st.Questions(), st.Answered()
			s.Stage = st.StageMessages(stageLimit)
		case Facilitator:
			set := st.Settings()
			s.Settings = &set
			s.Questions, s.Answered = st.Questions(), st.Answered()
			s.Stage = st.StageMessages(stageLimit)
			for i := range s.Questions {
				if s.Questions[i].State == fold.QuestionReading {
					q := s.Questions[i]
					s.NowReading = &q
				}
			}
		}
	})
	return s
}
