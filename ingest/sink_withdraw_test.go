package ingest

import (
	"context"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
)

func TestSinkWithdrawOncePerVersion(t *testing.T) {
	ctx := context.Background()
	sink, l, now := newTestSink(t)
	uri := "https://example.org/@ada/1"
	p := testPost(uri, "#OurDay first words", now.Add(-time.Minute))
	if _, err := sink.Post(ctx, p); err != nil {
		t.Fatal(err)
	}
	w := p
	w.Text, w.HTML, w.Tags, w.EditedAt = "first words", "<p>first words</p>", nil, now
	for i := range 2 { // the same edit seen twice
		res, err := sink.Withdraw(ctx, w, "edited to remove #OurDay")
		if err != nil || res.Duplicate != (i == 1) {
			t.Fatalf("Withdraw #%d = %+v, %v", i, res, err)
		}
	}
	evs, _ := l.Read(ctx, 0, 0)
	if len(evs) != 2 || evs[1].Kind != event.PostWithdrawn || evs[1].Reason != "edited to remove #OurDay" || evs[1].Post.Text != "first words" {
		t.Fatalf("log = %v", evs)
	}
	noTime := w
	noTime.EditedAt = time.Time{}
	if _, err := sink.Withdraw(ctx, noTime, "edited"); event.ErrorCode(err) != event.EINVALID {
		t.Errorf("withdrawal without edit time: %v, want EINVALID", err)
	}
	if _, err := sink.Withdraw(ctx, w, " "); event.ErrorCode(err) != event.EINVALID {
		t.Errorf("withdrawal without reason: %v, want EINVALID", err)
	}
}
