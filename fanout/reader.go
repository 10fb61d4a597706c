package fanout

// clientReader reads what the clients of an audience send. Staff clients,
// few, each get a goroutine (readLoop); public ones, by the tens of
// thousands, share the hub's poller where there is one (poller_linux.go),
// so that an idle public socket costs no goroutine.
type clientReader interface {
	// serve starts reading c, which has joined the hub; it never blocks.
	serve(c *conn)
	// forget is told, once, that c has left the hub (conn.detach).
	forget(c *conn)
	// stop stops the reader as the hub closes; a goroutine of its own
	// counts on Hub.wg, which the hub then waits for.
	stop()
}

// goroutineReader reads each connection on a goroutine of its own.
type goroutineReader struct{}

func (goroutineReader) serve(c *conn)  { go c.readLoop() }
func (goroutineReader) forget(c *conn) {}
func (goroutineReader) stop()          {}
