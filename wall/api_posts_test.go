package wall_test

import (
	"fmt"
	"testing"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/fold"
	"github.com/backchannel/backchannel/wall"
)

// TestPostsByState lists posts by state, newest change first, a page at a
// time, and refuses a state or a page it does not know.
func TestPostsByState(t *testing.T) {
	n := newDiskNode(t)
	var in []event.Post
	for i := range 7 {
		in = append(in, textPost(fmt.Sprintf("https://a.example/%d", i), fmt.Sprintf("post %d", i), "@ada@a.example"))
	}
	ids := n.receive(t, in...)
	// Rejected in the order 3, 0, 5: newest first is 5, 0, 3.
	for _, i := range []int{3, 0, 5} {
		n.call(t, "POST", "/api/events/ev/posts/"+ids[i]+"/reject", modCred, nil, 200, nil)
	}
	// 1 approved alone, then 2 and 4 in one bulk approval.
	n.call(t, "POST", "/api/events/ev/posts/"+ids[1]+"/approve", modCred, nil, 200, nil)
	n.call(t, "POST", "/api/events/ev/posts/approve", modCred, map[string]any{"ids": []string{ids[2], ids[4]}}, 200, nil)

	list := func(query string) wall.PostsView {
		t.Helper()
		var v wall.PostsView
		n.call(t, "GET", "/api/events/ev/posts?"+query, modCred, nil, 200, &v)
		return v
	}
	idsOf := func(v wall.PostsView) []string {
		var out []string
		for _, p := range v.Posts {
			out = append(out, p.ID)
		}
		return out
	}
	same := func(name string, got, want []string) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}

	rej := list("state=rejected")
	same("rejected", idsOf(rej), []string{ids[5], ids[0], ids[3]})
	if rej.Before != 0 || rej.Pos == 0 {
		t.Errorf("rejected, one page: before=%d pos=%d", rej.Before, rej.Pos)
	}
	for _, p := range rej.Posts {
		if p.State != fold.StateRejected || p.DecidedBy.Role != event.RoleModerator {
			t.Errorf("rejected list holds %+v", p)
		}
	}
	// Pages of 2: the next page starts where the previous said.
	p1 := list("state=rejected&limit=2")
	same("rejected page 1", idsOf(p1), []string{ids[5], ids[0]})
	if p1.Before == 0 {
		t.Fatal("a first page of 2 out of 3 says there is no next page")
	}
	p2 := list(fmt.Sprintf("state=rejected&limit=2&before=%d", p1.Before))
	same("rejected page 2", idsOf(p2), []string{ids[3]})
	if p2.Before != 0 {
		t.Errorf("last page's before = %d, want 0", p2.Before)
	}

	// The bulk approval appends one event per post, in the order given.
	same("approved", idsOf(list("state=approved")), []string{ids[4], ids[2], ids[1]})
	a1 := list("state=approved&limit=1")
	same("approved page 1", idsOf(a1), []string{ids[4]})
	a2 := list(fmt.Sprintf("state=approved&limit=1&before=%d", a1.Before))
	same("approved page 2", idsOf(a2), []string{ids[2]})

	same("pending", idsOf(list("state=pending")), []string{ids[6]})

	// Undo sends a rejected post back: it leaves the list.
	n.call(t, "POST", "/api/events/ev/posts/"+ids[0]+"/undo", modCred, nil, 200, nil)
	same("rejected after undo", idsOf(list("state=rejected")), []string{ids[5], ids[3]})

	if v := list("state=rejected&before=1"); len(v.Posts) != 0 || v.Posts == nil {
		t.Errorf("before the first event = %+v, want an empty list", v.Posts)
	}
	for _, q := range []string{"state=deleted", "", "state=rejected&limit=0", "state=rejected&before=x", "state=rejected&before=0"} {
		if status, body := n.do(t, "GET", "/api/events/ev/posts?"+q, modCred, nil); status != 400 {
			t.Errorf("GET posts?%s = %d %s, want 400", q, status, body)
		}
	}
}
