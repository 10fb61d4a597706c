package wall_test

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/wall"
)

func newDiskNode(t *testing.T) *staffNode {
	t.Helper()
	store, err := disklog.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return startNode(t, store, newClock(), nil)
}

func TestPostActionsReadTheirOwnWrite(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t,
		textPost("https://a.example/1", "first", "@ada@a.example"),
		textPost("https://a.example/2", "second", "@ada@a.example"),
		textPost("https://b.example/3", "third", "@bob@b.example"),
	)
	ada := n.login(t, modPass, "ada")
	post := func(action, id string, c cred, want int) wall.ActionResult {
		t.Helper()
		var res wall.ActionResult
		n.call(t, "POST", "/api/events/ev/posts/"+id+"/"+action, c, nil, want, &res)
		return res
	}

	var q wall.QueueView
	n.call(t, "GET", "/api/events/ev/queue", modCred, nil, 200, &q)
	if len(q.Posts) != 3 || q.Posts[0].ID != ids[0] || q.Posts[0].Rule != "pre-moderation" {
		t.Fatalf("queue = %+v", q)
	}

	// Approve answers with the post as it stands after, decided by the caller.
	res := post("approve", ids[0], ada, 200)
	if !res.Applied || res.Post == nil || res.Post.State != fold.StateApproved ||
		res.Post.DecidedBy != (event.Actor{Role: event.RoleModerator, Name: "ada"}) || res.Pos == 0 {
		t.Fatalf("approve = %+v", res)
	}
	// Approving again changes nothing: 409 with the post as it is.
	res = post("approve", ids[0], modCred, 409)
	if res.Applied || res.Error == nil || res.Error.Code != event.ECONFLICT || res.Post.State != fold.StateApproved {
		t.Errorf("second approve = %+v", res)
	}
	// Pin, hide media, question; each visible in the answer.
	if res = post("pin", ids[0], modCred, 200); !res.Post.Pinned {
		t.Errorf("pin = %+v", res.Post)
	}
	if res = post("hide-media", ids[0], modCred, 200); !res.Post.MediaHidden {
		t.Errorf("hide-media = %+v", res.Post)
	}
	if res = post("show-media", ids[0], modCred, 200); res.Post.MediaHidden {
		t.Errorf("show-media = %+v", res.Post)
	}
	if res = post("unpin", ids[0], modCred, 200); res.Post.Pinned {
		t.Errorf("unpin = %+v", res.Post)
	}
	post("unpin", ids[0], modCred, 409)
	if res = post("question", ids[1], modCred, 200); res.Post.State != fold.StateApproved || !res.Post.Question {
		t.Errorf("question on a pending post = %+v", res.Post)
	}
	if res = post("unquestion", ids[1], modCred, 200); res.Post.Question {
		t.Errorf("unquestion = %+v", res.Post)
	}
	// Reject then undo twice walks back through the decisions.
	if res = post("reject", ids[1], modCred, 200); res.Post.State != fold.StateRejected {
		t.Errorf("reject = %+v", res.Post)
	}
	if res = post("pin", ids[1], modCred, 409); res.Error.Message == "" || res.Post.State != fold.StateRejected {
		t.Errorf("pin of a rejected post = %+v", res)
	}
	if res = post("undo", ids[1], modCred, 200); res.Post.State != fold.StateApproved {
		t.Errorf("undo of the reject = %+v", res.Post)
	}
	if res = post("undo", ids[1], modCred, 200); res.Post.State != fold.StatePending {
		t.Errorf("undo of the approval = %+v", res.Post)
	}
	post("undo", ids[1], modCred, 409)

	// Unknown post: 404 and nothing appended.
	before := n.head(t)
	n.call(t, "POST", "/api/events/ev/posts/0000/approve", modCred, nil, 404, nil)
	// A reason is kept in the audit; a bad body is refused before appending.
	n.call(t, "POST", "/api/events/ev/posts/"+ids[2]+"/reject", modCred, map[string]string{"bogus": "x"}, 400, nil)
	if n.head(t) != before {
		t.Errorf("refused actions appended")
	}
	n.call(t, "POST", "/api/events/ev/posts/"+ids[2]+"/reject", modCred, map[string]string{"reason": "off topic"}, 200, nil)

	var audit wall.AuditView
	n.call(t, "GET", "/api/events/ev/audit?limit=3", ada, nil, 200, &audit)
	if len(audit.Entries) != 3 || audit.Entries[0].Kind != event.PostRejected || audit.Entries[0].PostID != ids[2] {
		t.Fatalf("audit = %+v", audit)
	}
	if e := audit.Entries[0]; e.Actor.Role != event.RoleModerator || e.Actor.Name == "" || !e.Applied {
		t.Errorf("audit entry = %+v", e)
	}
	n.call(t, "GET", "/api/events/ev/audit?limit=0", ada, nil, 400, nil)

	var counts wall.CountsView
	n.call(t, "GET", "/api/events/ev/counts", modCred, nil, 200, &counts)
	if counts.Received != 3 || counts.Approved != 1 || counts.Pending != 1 || counts.Rejected != 1 {
		t.Errorf("counts = %+v", counts)
	}
	var one fold.PostView
	n.call(t, "GET", "/api/events/ev/posts/"+ids[0], modCred, nil, 200, &one)
	if one.State != fold.StateApproved {
		t.Errorf("GET post = %+v", one)
	}
	var sources wall.SourcesView
	n.call(t, "GET", "/api/events/ev/sources", modCred, nil, 200, &sources)
	if sources.Sources == nil || len(sources.Sources) != 0 {
		t.Errorf("sources without a runner = %+v", sources)
	}
}

func TestBulkApprove(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t,
		textPost("https://a.example/1", "one", "@ada@a.example"),
		textPost("https://a.example/2", "two", "@ada@a.example"),
		textPost("https://a.example/3", "three", "@ada@a.example"),
	)
	n.call(t, "POST", "/api/events/ev/posts/"+ids[2]+"/approve", modCred, nil, 200, nil)
	var res wall.BulkResult
	n.call(t, "POST", "/api/events/ev/posts/approve", modCred,
		map[string]any{"ids": []string{ids[0], ids[1], ids[0], "0000", ids[2]}}, 200, &res)
	if res.Approved != 2 || len(res.Results) != 4 {
		t.Fatalf("bulk = %+v", res)
	}
	for i, want := range []struct {
		applied bool
		code    string
	}{{true, ""}, {true, ""}, {false, event.ENOTFOUND}, {false, event.ECONFLICT}} {
		it := res.Results[i]
		code := ""
		if it.Error != nil {
			code = it.Error.Code
		}
		if it.Applied != want.applied || code != want.code {
			t.Errorf("result %d = %+v, want applied %v code %q", i, it, want.applied, code)
		}
	}
	var q wall.QueueView
	n.call(t, "GET", "/api/events/ev/queue", modCred, nil, 200, &q)
	if len(q.Posts) != 0 {
		t.Errorf("queue after bulk approval = %+v", q.Posts)
	}
	n.call(t, "POST", "/api/events/ev/posts/approve", modCred, map[string]any{"ids": []string{}}, 400, nil)
}

func TestBlocks(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t,
		textPost("https://troll.example/1", "spam one", "@troll@troll.example"),
		textPost("https://troll.example/2", "spam two", "@troll@troll.example"),
		textPost("https://ok.example/3", "fine", "@ok@ok.example"),
	)
	var res wall.ActionResult
	n.call(t, "POST", "/api/events/ev/authors/block", modCred, map[string]any{"post_id": ids[0], "minutes": 30}, 200, &res)
	if !res.Applied || len(res.Blocks) != 1 || res.Post == nil || res.Post.State != fold.StateRejected {
		t.Fatalf("block = %+v", res)
	}
	b := res.Blocks[0]
	if b.AuthorID != "https://troll.example/users/troll" || b.Handle != "@troll@troll.example" ||
		!b.Until.Equal(n.clock.Now().Add(30*time.Minute)) || b.By.Role != event.RoleModerator {
		t.Errorf("block view = %+v", b)
	}
	var p fold.PostView
	n.call(t, "GET", "/api/events/ev/posts/"+ids[1], modCred, nil, 200, &p)
	if p.State != fold.StateRejected || p.Rule != fold.RuleAuthorBlocked {
		t.Errorf("the author's other post = %+v", p)
	}

	// A domain block for good, then the list, then unblock; unblocking
	// again changes nothing.
	n.call(t, "POST", "/api/events/ev/authors/block", modCred, map[string]any{"domain": "@Spam.Example"}, 200, &res)
	var bl wall.BlocksView
	n.call(t, "GET", "/api/events/ev/blocks", modCred, nil, 200, &bl)
	if len(bl.Blocks) != 2 || bl.Blocks[1].Domain != "spam.example" || !bl.Blocks[1].Until.IsZero() {
		t.Errorf("blocks = %+v", bl)
	}
	// The timed block ends by itself on the API's clock.
	n.clock.Add(31 * time.Minute)
	n.call(t, "GET", "/api/events/ev/blocks", modCred, nil, 200, &bl)
	if len(bl.Blocks) != 1 || bl.Blocks[0].Domain != "spam.example" {
		t.Errorf("blocks after the timed one ended = %+v", bl)
	}
	var un wall.ActionResult
	n.call(t, "POST", "/api/events/ev/authors/unblock", modCred, map[string]any{"domain": "spam.example"}, 200, &un)
	if !un.Applied || len(un.Blocks) != 0 {
		t.Errorf("blocks after unblock = %+v", un)
	}
	n.call(t, "POST", "/api/events/ev/authors/unblock", modCred, map[string]any{"domain": "spam.example"}, 409, nil)

	for _, bad := range []map[string]any{
		{},
		{"domain": "a.example", "author_id": "x"},
		{"domain": "no spaces allowed.example"},
		{"author_id": "x", "minutes": -1},
		{"post_id": "0000"},
	} {
		status, body := n.do(t, "POST", "/api/events/ev/authors/block", modCred, bad)
		if status != 400 && status != 404 {
			t.Errorf("block %v = %d %s", bad, status, body)
		}
	}
}

func TestQuestionsAndStage(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t, textPost("https://a.example/q", "What about the buses?", "@ada@a.example"))
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/question", modCred, nil, 200, nil)
	fay := n.login(t, facPass, "fay")

	var res wall.ActionResult
	n.call(t, "POST", "/api/events/ev/questions", fay, map[string]string{"text": "  Who pays for it?  ", "name": "Row 3"}, 200, &res)
	room := res.Question
	if room == nil || room.Text != "Who pays for it?" || room.Name != "Row 3" || room.State != fold.QuestionOpen {
		t.Fatalf("added question = %+v", res)
	}
	var got fold.QuestionView
	n.call(t, "GET", "/api/events/ev/questions/"+room.ID, fay, nil, 200, &got)
	if got.ID != room.ID || got.Text != room.Text {
		t.Errorf("GET question = %+v", got)
	}
	n.call(t, "POST", "/api/events/ev/questions", fay, map[string]string{"text": "   "}, 400, nil)
	n.call(t, "POST", "/api/events/ev/questions", fay, map[string]string{"text": "a\u202Eb"}, 400, nil)

	n.call(t, "POST", "/api/events/ev/questions/order", fay, map[string]any{"order": []string{room.ID, ids[0]}}, 200, &res)
	if len(res.Questions) != 2 || res.Questions[0].ID != room.ID {
		t.Errorf("reordered = %+v", res.Questions)
	}
	n.call(t, "POST", "/api/events/ev/questions/order", fay, map[string]any{"order": []string{room.ID, ids[0]}}, 409, nil)

	n.call(t, "POST", "/api/events/ev/questions/"+room.ID+"/reading", fay, nil, 200, &res)
	if res.Question.State != fold.QuestionReading {
		t.Errorf("reading = %+v", res.Question)
	}
	n.call(t, "POST", "/api/events/ev/questions/"+room.ID+"/reading", fay, nil, 409, nil)
	n.call(t, "POST", "/api/events/ev/questions/"+room.ID+"/note", fay, map[string]string{"note": "asked twice"}, 200, &res)
	if len(res.Question.Notes) != 1 || res.Question.Notes[0].By.Name != "fay" {
		t.Errorf("note = %+v", res.Question)
	}
	n.call(t, "POST", "/api/events/ev/questions/"+room.ID+"/note", fay, map[string]string{}, 400, nil)

	// The wall shows the question being read.
	var wv fold.Wall
	n.call(t, "GET", "/api/events/ev/wall", noCred, nil, 200, &wv)
	if wv.NowReading == nil || wv.NowReading.ID != room.ID {
		t.Errorf("wall now reading = %+v", wv.NowReading)
	}

	n.call(t, "POST", "/api/events/ev/questions/"+room.ID+"/answered", fay, nil, 200, &res)
	n.call(t, "POST", "/api/events/ev/questions/"+room.ID+"/answered", fay, nil, 409, nil)
	var qs wall.QuestionsView
	n.call(t, "GET", "/api/events/ev/questions", fay, nil, 200, &qs)
	if len(qs.Open) != 1 || qs.Open[0].ID != ids[0] || len(qs.Answered) != 1 || qs.Answered[0].ID != room.ID || qs.NowReading != nil {
		t.Errorf("questions = %+v", qs)
	}
	n.call(t, "POST", "/api/events/ev/questions/"+room.ID+"/reopen", modCred, nil, 200, &res)
	if res.Question.State != fold.QuestionOpen {
		t.Errorf("reopened = %+v", res.Question)
	}
	n.call(t, "POST", "/api/events/ev/questions/"+ids[0]+"/reading", fay, nil, 200, nil)
	n.call(t, "GET", "/api/events/ev/questions", fay, nil, 200, &qs)
	if qs.NowReading == nil || qs.NowReading.ID != ids[0] {
		t.Errorf("now reading = %+v", qs.NowReading)
	}

	n.call(t, "POST", "/api/events/ev/stage", fay, map[string]string{"message": "two more questions"}, 200, &res)
	if res.Stage == nil || res.Stage.Text != "two more questions" || res.Stage.By.Name != "fay" {
		t.Errorf("stage = %+v", res)
	}
	n.call(t, "POST", "/api/events/ev/stage", fay, map[string]string{"message": string(make([]byte, 300))}, 400, nil)
	var sv wall.StageView
	n.call(t, "GET", "/api/events/ev/stage", fay, nil, 200, &sv)
	if len(sv.Messages) != 1 || sv.Messages[0].Text != "two more questions" {
		t.Errorf("stage = %+v", sv)
	}
	// The facilitator reads questions, not the moderation queue.
	n.call(t, "GET", "/api/events/ev/queue", fay, nil, 403, nil)
}

func TestPresence(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t,
		textPost("https://a.example/1", "one", "@ada@a.example"),
		textPost("https://a.example/2", "two", "@ada@a.example"),
	)
	// Two moderators sharing the passphrase and giving no name are still two.
	a := n.login(t, modPass, "")
	b := n.login(t, modPass, "")
	var open wall.OpenResult
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/open", a, nil, 200, &open)
	if len(open.Others) != 0 || open.Post.ID != ids[0] || open.TTLSeconds != 30 {
		t.Fatalf("first open = %+v", open)
	}
	n.clock.Add(time.Second)
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/open", b, nil, 200, &open)
	if len(open.Others) != 1 || open.Others[0].You || open.Others[0].PostID != ids[0] {
		t.Fatalf("second moderator sees = %+v", open.Others)
	}
	var pv wall.PresenceView
	n.call(t, "GET", "/api/events/ev/presence", a, nil, 200, &pv)
	if len(pv.Open) != 2 || !pv.Open[0].You || pv.Open[1].You || pv.Open[0].Viewer == pv.Open[1].Viewer {
		t.Fatalf("presence = %+v", pv)
	}
	// Opening another post lets go of the first; close lets go of it.
	n.call(t, "POST", "/api/events/ev/posts/"+ids[1]+"/open", a, nil, 200, &open)
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/open", b, nil, 200, &open)
	if len(open.Others) != 0 {
		t.Errorf("after moving on, others on the first post = %+v", open.Others)
	}
	n.call(t, "POST", "/api/events/ev/posts/"+ids[1]+"/close", a, nil, 204, nil)
	n.call(t, "GET", "/api/events/ev/presence", a, nil, 200, &pv)
	if len(pv.Open) != 1 || pv.Open[0].PostID != ids[0] {
		t.Errorf("presence after close = %+v", pv)
	}
	// Unrenewed, it ends by itself; presence is never in the log.
	before := n.head(t)
	n.clock.Add(31 * time.Second)
	n.call(t, "GET", "/api/events/ev/presence", a, nil, 200, &pv)
	if len(pv.Open) != 0 {
		t.Errorf("presence after the TTL = %+v", pv)
	}
	if n.head(t) != before {
		t.Errorf("presence wrote to the log")
	}
	n.call(t, "POST", "/api/events/ev/posts/0000/open", a, nil, 404, nil)
}

// TestConcurrentModerators has moderators approve and reject one post at
// the same moment. Every answer reflects at least its own write, and the
// post ends in the state of the decision the log holds last.
func TestConcurrentModerators(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t, textPost("https://a.example/1", "contested", "@ada@a.example"))
	type answer struct {
		status int
		res    wall.ActionResult
	}
	const each = 8
	answers := make(chan answer, 2*each)
	var wg sync.WaitGroup
	for i := range 2 * each {
		action := "approve"
		if i%2 == 1 {
			action = "reject"
		}
		wg.Go(func() {
			status, body := n.do(t, "POST", "/api/events/ev/posts/"+ids[0]+"/"+action, modCred, nil)
			var res wall.ActionResult
			if err := json.Unmarshal(body, &res); err != nil {
				t.Errorf("%s: %v in %s", action, err, body)
			}
			answers <- answer{status, res}
		})
	}
	wg.Wait()
	close(answers)
	var lastPos uint64
	var lastState fold.PostState
	for a := range answers {
		if a.status != 200 && a.status != 409 {
			t.Errorf("status %d: %+v", a.status, a.res)
			continue
		}
		if a.res.Post == nil || a.res.Post.LastPos < a.res.Pos && a.res.Applied {
			t.Errorf("an answer that does not reflect its own write: %+v", a.res)
		}
		if a.res.Applied && a.res.Pos > lastPos {
			lastPos, lastState = a.res.Pos, a.res.Post.State
		}
	}
	var p fold.PostView
	n.call(t, "GET", "/api/events/ev/posts/"+ids[0], modCred, nil, 200, &p)
	if p.State != lastState {
		t.Errorf("final state %s, but the last applied decision (pos %d) said %s", p.State, lastPos, lastState)
	}
	var audit wall.AuditView
	n.call(t, "GET", "/api/events/ev/audit?limit=100", modCred, nil, 200, &audit)
	if len(audit.Entries) != 2*each {
		t.Errorf("%d audit entries, want one per request (%d)", len(audit.Entries), 2*each)
	}
}

// TestDeletedPostAndDeadLog: a post deleted at its source is gone for
// the API (404, nothing appended), and a log that cannot be reached
// answers 503 without claiming the action happened.
func TestDeletedPostAndDeadLog(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t, textPost("https://a.example/1", "deleted soon", "@ada@a.example"), textPost("https://a.example/2", "kept", "@ada@a.example"))
	a, err := n.log.Append(context.Background(), "", event.Entry{Kind: event.PostDeleted, Actor: event.Actor{Role: event.RoleSource, Name: "test"}, PostID: ids[0]})
	if err != nil {
		t.Fatal(err)
	}
	n.waitPos(t, a.Pos)
	before := n.head(t)
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/approve", modCred, nil, 404, nil)
	if n.head(t) != before {
		t.Errorf("approving a deleted post appended")
	}

	if err := n.store.Close(); err != nil {
		t.Fatal(err)
	}
	var eb wall.ErrorBody
	n.call(t, "POST", "/api/events/ev/posts/"+ids[1]+"/approve", modCred, nil, 503, &eb)
	if eb.Error.Code != event.EUNAVAILABLE || !strings.Contains(eb.Error.Message, "not recorded") {
		t.Errorf("approve with the log closed = %+v", eb)
	}
}

// TestApprovalNamesTheVersionSeen: an approval carries the version the
// moderator looked at; if the source edited the post since, the answer is
// 409 and the post stays as it was, for one post and in a bulk approval.
func TestApprovalNamesTheVersionSeen(t *testing.T) {
	n := newDiskNode(t)
	ids := n.receive(t,
		textPost("https://a.example/1", "first", "@ada@a.example"),
		textPost("https://a.example/2", "second", "@ada@a.example"),
	)
	var before [2]fold.PostView
	for i, pid := range ids {
		n.call(t, "GET", "/api/events/ev/posts/"+pid, modCred, nil, 200, &before[i])
	}
	// Both posts are edited at the source after the moderator looked.
	var last uint64
	for i, pid := range ids {
		p := textPost("https://a.example/"+strconv.Itoa(i+1), "edited to something else", "@ada@a.example")
		p.ID, p.Source, p.EditedAt = pid, "rehearsal", time.Date(2026, 3, 12, 10, 1, 0, 0, time.UTC)
		e := event.Entry{Kind: event.PostEdited, Actor: event.Actor{Role: event.RoleSource, Name: "test"}, Time: n.clock.Now(),
			PostID: pid, Post: &p, Verdict: &event.Verdict{Decision: event.DecisionHold, Rule: "pre-moderation"}}
		a, err := n.log.Append(context.Background(), e.IdempotencyKey(), e)
		if err != nil {
			t.Fatal(err)
		}
		last = a.Pos
	}
	n.waitPos(t, last)

	var res wall.ActionResult
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/approve", modCred, map[string]any{"seen": before[0].Version}, 409, &res)
	if res.Applied || res.Post.State != fold.StatePending || !strings.Contains(res.Error.Message, "changed at its source") {
		t.Fatalf("approve of an old version = %+v", res)
	}
	var bulk wall.BulkResult
	n.call(t, "POST", "/api/events/ev/posts/approve", modCred, map[string]any{"ids": ids[1:], "seen": map[string]uint64{ids[1]: before[1].Version}}, 200, &bulk)
	if bulk.Approved != 0 || bulk.Results[0].Error == nil || !strings.Contains(bulk.Results[0].Error.Message, "changed at its source") {
		t.Fatalf("bulk approve of an old version = %+v", bulk)
	}
	var wallView fold.Wall
	n.call(t, "GET", "/api/events/ev/wall", noCred, nil, 200, &wallView)
	if len(wallView.Posts) != 0 {
		t.Fatalf("the wall shows %d posts nobody passed", len(wallView.Posts))
	}
	// With the version on screen now, the approval goes through.
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/approve", modCred, map[string]any{"seen": res.Post.Version}, 200, &res)
	if !res.Applied || res.Post.Text != "edited to something else" {
		t.Fatalf("approve of the version seen = %+v", res)
	}
}
