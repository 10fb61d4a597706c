package mastodon

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/ingest/ingesttest"
)

// envelope wraps a status (or an id) the way the streaming server does:
// the payload is a JSON string inside the JSON message.
func envelope(t testing.TB, ev string, payload any) []byte {
	t.Helper()
	var p string
	switch v := payload.(type) {
	case string:
		p = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		p = string(b)
	}
	b, err := json.Marshal(map[string]any{"stream": []string{"hashtag", "ourday"}, "event": ev, "payload": p})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStreaming runs the source against a local streaming server that
// replays recorded events: an update, a status.update (edit) and a delete
// of the same status by its local id; then the connection drops in the
// middle of a frame, a post is published during the gap, and the source
// reconnects and closes the gap by polling.
func TestStreaming(t *testing.T) {
	f := newFakeServer(t)
	f.token = "user-token"
	cfg := fastConfig(f.srv.URL, "OurDay", "Leaders4Leeds")
	cfg.Token = "user-token"
	cfg.Stream = true
	// Poll slowly, so what arrives fast arrived by the stream.
	cfg.PollInterval = time.Hour
	log := ingesttest.NewLog()
	src := mustNew(t, cfg)
	sink := newMemSink(log, src.Name())
	run(t, src, sink)

	ingesttest.WaitUntil(t, "streaming with both tags subscribed", func() bool {
		subs := f.subscriptions()
		return sink.Health().Snapshot().Streaming && slices.Contains(subs, "OurDay") && slices.Contains(subs, "Leaders4Leeds")
	})
	// The first poll round (back-fill of empty tags) runs beside the stream.
	ingesttest.WaitUntil(t, "the first poll", func() bool { return f.requestCount("/api/v1/timelines/tag/") >= 2 })

	// The recorded filters_changed envelope: no payload, nothing to do.
	if err := f.push(readFixture(t, "mastodon_stream_ws_filters_changed_envelope.json")); err != nil {
		t.Fatal(err)
	}
	// The recorded status.update payload's status, first as a new post.
	edited := loadStatusMap(t, "mastodon_stream_status_update_payload.json")
	// The hashtag stream carries only statuses with the tag; the recorded
	// one (from a user stream) has none.
	edited["tags"] = []any{map[string]any{"name": "OurDay", "url": "https://fake.example/tags/OurDay"}}
	uri := edited["uri"].(string)
	first := clone(t, edited)
	first["edited_at"] = nil
	if err := f.push(envelope(t, "update", first)); err != nil {
		t.Fatal(err)
	}
	ingesttest.WaitUntil(t, "the streamed post", func() bool { return log.CountOf(event.PostReceived, uri) == 1 })
	if err := f.push(envelope(t, "status.update", edited)); err != nil {
		t.Fatal(err)
	}
	ingesttest.WaitUntil(t, "the streamed edit", func() bool { return log.CountOf(event.PostEdited, uri) == 1 })
	// Garbage between events is skipped, not fatal.
	if err := f.push([]byte(`{"event":"update","payload":"{not json`)); err != nil {
		t.Fatal(err)
	}
	// The recorded delete payload: the status's local id.
	if err := f.push(envelope(t, "delete", string(readFixture(t, "mastodon_stream_delete_payload.txt")))); err != nil {
		t.Fatal(err)
	}
	ingesttest.WaitUntil(t, "the streamed delete", func() bool { return log.CountOf(event.PostDeleted, uri) == 1 })
	if !sink.Health().Snapshot().Streaming {
		t.Error("garbage in the stream must not drop it")
	}

	// The recorded websocket update envelope (a public timeline frame),
	// re-addressed to the hashtag stream.
	var ws map[string]any
	if err := json.Unmarshal(readFixture(t, "mastodon_stream_ws_update_envelope.json"), &ws); err != nil {
		t.Fatal(err)
	}
	ws["stream"] = []string{"hashtag", "ourday"}
	b, _ := json.Marshal(ws)
	if err := f.push(b); err != nil {
		t.Fatal(err)
	}
	const fosstodon = "https://fosstodon.org/users/tobtobxx/statuses/108913983628474640"
	ingesttest.WaitUntil(t, "the recorded envelope's post", func() bool { return log.CountOf(event.PostReceived, fosstodon) == 1 })

	// Drop mid-event; publish during the gap; the reconnect polls.
	polls := f.requestCount("/api/v1/timelines/tag/")
	f.dropMidFrame()
	gap := numbered(t, 7, "OurDay", time.Now().Add(-time.Minute))
	f.add(gap)
	ingesttest.WaitUntil(t, "the drop to be seen", func() bool { return len(f.subscriptions()) >= 4 })
	ingesttest.WaitUntil(t, "streaming again", func() bool { return sink.Health().Snapshot().Streaming })
	ingesttest.WaitUntil(t, "the gap closed by a poll", func() bool { return log.CountOf(event.PostReceived, uriOf(7)) == 1 })
	if f.requestCount("/api/v1/timelines/tag/") <= polls {
		t.Error("the gap post arrived without a poll")
	}
	// Nothing doubled.
	k := log.Kinds()
	if k[event.PostReceived] != 3 || k[event.PostEdited] != 1 || k[event.PostDeleted] != 1 {
		t.Errorf("events = %v", k)
	}
}

// TestStreamingRefusedTokenKeepsPolling: a token the streaming server
// refuses leaves streaming off and polling on.
func TestStreamingRefusedTokenKeepsPolling(t *testing.T) {
	f := newFakeServer(t)
	cfg := fastConfig(f.srv.URL, "OurDay")
	cfg.Token = "stale-token" // the fake's REST needs none; its streaming refuses this one
	cfg.Stream = true
	log := ingesttest.NewLog()
	src := mustNew(t, cfg)
	sink := newMemSink(log, src.Name())
	run(t, src, sink)
	f.add(numbered(t, 1, "OurDay", time.Now().Add(-time.Minute)))
	ingesttest.WaitUntil(t, "a polled post", func() bool { return log.CountOf(event.PostReceived, uriOf(1)) == 1 })
	ingesttest.WaitUntil(t, "more polls", func() bool { return f.requestCount("/api/v1/timelines/tag/") >= 5 })
	if sink.Health().Snapshot().Streaming {
		t.Error("streaming reported live after a refused handshake")
	}
	// AuthBackoff is an hour: one handshake, not a hammering.
	if n := f.requestCount("/api/v1/streaming"); n != 1 {
		t.Errorf("%d streaming handshakes, want 1", n)
	}
}

// TestStreamingHostFromInstance: the streaming host is the one
// /api/v2/instance names, not the API host.
func TestStreamingHostFromInstance(t *testing.T) {
	api, streaming := newFakeServer(t), newFakeServer(t)
	streaming.token = "tok"
	api.mu.Lock()
	api.streamingHost = "ws" + strings.TrimPrefix(streaming.srv.URL, "http")
	api.mu.Unlock()
	cfg := fastConfig(api.srv.URL, "OurDay")
	cfg.Token, cfg.Stream, cfg.PollInterval = "tok", true, time.Hour
	log := ingesttest.NewLog()
	src := mustNew(t, cfg)
	sink := newMemSink(log, src.Name())
	run(t, src, sink)
	ingesttest.WaitUntil(t, "a subscription on the streaming host", func() bool { return len(streaming.subscriptions()) == 1 })
	if api.requestCount("/api/v1/streaming") != 0 {
		t.Error("streamed from the API host")
	}
	if err := streaming.push(envelope(t, "update", numbered(t, 1, "OurDay", time.Now()))); err != nil {
		t.Fatal(err)
	}
	ingesttest.WaitUntil(t, "the streamed post", func() bool { return log.CountOf(event.PostReceived, uriOf(1)) == 1 })
}

func BenchmarkStreamToSink(b *testing.B) {
	benchStreamLatency(b)
}
