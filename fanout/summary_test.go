package fanout

import (
	"log/slog"
	"strings"
	"testing"
	"time"
)

// Joining clients are logged at debug only; the summary at info says how
// many each audience has and the churn since the last summary.
func TestConnectionsSummaryAtInfo(t *testing.T) {
	_, l := openLog(t)
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	n := startNode(t, l, Options{PublicInterval: 10 * time.Millisecond, SummaryEvery: 20 * time.Millisecond, Logger: logger}, nil)
	a := dial(t, n.url(Public, ""), nil)
	b := dial(t, n.url(Public, ""), nil)
	m := dial(t, n.url(Moderator, ""), nil)
	for _, c := range []*client{a, b, m} {
		if _, err := c.next(5 * time.Second); err != nil {
			t.Fatal(err)
		}
	}
	want := "public.open=2 public.opened=2 public.closed=0 moderator.open=1 moderator.opened=1"
	waitLog(t, &logs, want)
	b.ws.Close()
	waitLog(t, &logs, "public.open=1 public.opened=0 public.closed=1 moderator.open=1 moderator.opened=0")
	if strings.Contains(logs.String(), "client joined") {
		t.Errorf("an upgrade was logged at info:\n%s", logs.String())
	}
}

func waitLog(t *testing.T, logs *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no summary %q within 5s; logs:\n%s", want, logs.String())
		}
		time.Sleep(5 * time.Millisecond) // polling the log against a deadline
	}
}
