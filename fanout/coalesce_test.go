package fanout

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
)

var participant = event.Actor{Role: event.RoleSource, Name: "participant"}

func appendEntry(t *testing.T, l eventlog.Log, e event.Entry) uint64 {
	t.Helper()
	a, err := l.Append(context.Background(), "", e)
	if err != nil {
		t.Fatal(err)
	}
	return a.Pos
}

// voteCounts reads the vote counts a client was sent, in order: the public
// wall's votes, or the staff effect's questions.
func voteCounts(t *testing.T, raws []string) (msgs int, last map[string]int) {
	t.Helper()
	last = map[string]int{}
	for _, raw := range raws {
		var ms []struct {
			Wall *struct {
				Votes map[string]int `json:"votes"`
			} `json:"wall"`
			Kind   string `json:"kind"`
			Effect *struct {
				Questions []struct {
					ID    string `json:"id"`
					Votes int    `json:"votes"`
				} `json:"questions"`
			} `json:"effect"`
		}
		if err := json.Unmarshal([]byte(raw), &ms); err != nil {
			t.Fatal(err)
		}
		perFrame := map[string]int{}
		for _, m := range ms {
			if m.Wall != nil && m.Wall.Votes != nil {
				msgs++
				for id, n := range m.Wall.Votes {
					last[id] = n
					perFrame[id]++
				}
			}
			if m.Kind == string(event.QuestionVoted) && m.Effect != nil {
				msgs++
				for _, q := range m.Effect.Questions {
					last[q.ID] = q.Votes
					perFrame[q.ID]++
				}
			}
		}
		for id, n := range perFrame {
			if n > 1 {
				t.Errorf("one frame carries %d counts of question %s: %s", n, id, raw)
			}
		}
	}
	return msgs, last
}

// A burst of votes reaches every audience as the latest counts, a few
// frames' worth, never one message per vote; a client resuming from
// before the burst gets the final counts too.
func TestVotesCoalesced(t *testing.T) {
	_, l := openLog(t)
	n := startNode(t, l, Options{PublicInterval: 50 * time.Millisecond, VoteInterval: 50 * time.Millisecond}, nil)
	for _, q := range []string{"q1", "q2"} {
		appendEntry(t, l, event.Entry{Kind: event.QuestionAdded, Actor: mod, Question: &event.Question{ID: q, Text: "Why " + q + "?"}})
	}
	before := appendPost(t, l, "p0", "before the burst", event.DecisionApprove)
	n.waitPos(t, before)
	pub := dial(t, n.url(Public, ""), nil)
	fac := dial(t, n.url(Facilitator, ""), nil)
	pub.readUntil(before)
	epoch := pub.msgs[0].Epoch

	const votes = 400
	var vs []event.Entry
	for i := range votes {
		q := "q1"
		if i%4 == 3 {
			q = "q2"
		}
		vs = append(vs, event.Entry{Kind: event.QuestionVoted, Actor: participant, QuestionID: q, Device: fmt.Sprint("d", i)})
	}
	for _, v := range vs {
		appendEntry(t, l, v)
	}
	last := appendPost(t, l, "p1", "after the burst", event.DecisionApprove)
	pub.readUntil(last)
	fac.readUntil(last - 1)

	want := map[string]int{"q1": votes * 3 / 4, "q2": votes / 4}
	for name, c := range map[string]*client{"public": pub, "facilitator": fac} {
		msgs, got := voteCounts(t, c.raw)
		if got["q1"] != want["q1"] || got["q2"] != want["q2"] {
			t.Errorf("%s: last counts %v, want %v", name, got, want)
		}
		if msgs >= votes/4 {
			t.Errorf("%s: %d vote messages for %d votes: not coalesced", name, msgs, votes)
		}
		t.Logf("%s: %d vote messages in %d frames for %d votes", name, msgs, len(c.raw), votes)
	}

	// Resuming from before the burst: the final counts, from a ring the
	// burst did not flood.
	r := dial(t, n.url(Public, fmt.Sprintf("since=%d&epoch=%s", before, epoch)), nil)
	r.readUntil(last)
	if r.msgs[0].Type != "resume" {
		t.Fatalf("first message %+v, want a resume", r.msgs[0])
	}
	if _, got := voteCounts(t, r.raw); got["q1"] != want["q1"] || got["q2"] != want["q2"] {
		t.Errorf("resumed: counts %v, want %v", got, want)
	}
}
