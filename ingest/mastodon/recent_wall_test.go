package mastodon

import (
	"fmt"
	"testing"
	"time"
)

// A post on the wall is re-checked for deletion however old it is: with
// 1,000 newer posts, the newest-first window alone would never reach it.
func TestDeleteCheckVisitsPostsOnTheWall(t *testing.T) {
	r := newRecent(5000)
	uri := func(i int) string { return fmt.Sprintf("https://a.example/users/ada/statuses/%d", i) }
	for i := range 1001 {
		r.add(fmt.Sprint(i), uri(i), time.Time{})
	}
	onWall := map[string]bool{uri(0): true, uri(500): true} // old posts a moderator approved
	seenOld := map[string]int{}
	for range 3 {
		batch := r.batch(10, 200, func(u string) bool { return onWall[u] })
		if len(batch) != 10 {
			t.Fatalf("batch of %d, want 10", len(batch))
		}
		ids := map[string]bool{}
		for _, s := range batch {
			if ids[s.ID] {
				t.Fatalf("status %s twice in one batch", s.ID)
			}
			ids[s.ID] = true
			if onWall[s.URI] {
				seenOld[s.URI]++
			}
		}
	}
	if seenOld[uri(0)] != 3 || seenOld[uri(500)] != 3 {
		t.Errorf("posts on the wall checked %v times in 3 checks, want 3 each", seenOld)
	}
	// Without the hook, the old posts are never visited.
	r2 := newRecent(5000)
	for i := range 1001 {
		r2.add(fmt.Sprint(i), uri(i), time.Time{})
	}
	for range 3 {
		for _, s := range r2.batch(10, 200, nil) {
			if onWall[s.URI] {
				t.Fatalf("the newest-first window reached the old post %s", s.URI)
			}
		}
	}
}
