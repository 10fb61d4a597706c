//go:build !linux

package fanout

import "github.com/prometheus/client_golang/prometheus"

// newPublicReader: without epoll, public clients are read as staff ones
// are, a goroutine each.
func newPublicReader(h *Hub, wakeups prometheus.Counter) clientReader {
	return goroutineReader{}
}

// polled is what a conn keeps for the poller: nothing, without one.
type polled struct{}

var _ = conn{}.polled // the field conn keeps on every system
