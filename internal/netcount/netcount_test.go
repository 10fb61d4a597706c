package netcount

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"testing"
)

// Every byte read through a dialled connection is counted, none twice.
func TestDialCounts(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		_, _ = c.Write(make([]byte, 1234))
		c.Close()
	}()
	var n atomic.Int64
	c, err := Dial((&net.Dialer{}).DialContext, &n)(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 1234 || n.Load() != 1234 {
		t.Errorf("read %d bytes, counted %d; want 1234 and 1234", len(b), n.Load())
	}
}
