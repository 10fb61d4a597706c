// Package netcount counts the bytes a client reads off its connections:
// what the load generator and the fan-out's tests measure a frame's cost
// on the wire by, compression included (a websocket library hands back
// the inflated message, not what crossed the socket).
package netcount

import (
	"context"
	"net"
	"sync/atomic"
)

// Conn is a net.Conn whose reads add to N.
type Conn struct {
	net.Conn
	N *atomic.Int64
}

func (c Conn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.N.Add(int64(n))
	return n, err
}

// Dial wraps dial so that every connection it opens counts into n.
func Dial(dial func(ctx context.Context, network, addr string) (net.Conn, error), n *atomic.Int64) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return Conn{c, n}, nil
	}
}
