package itest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// wallClient is a public wall's websocket client that behaves as the wall
// page does: it keeps the position and epoch of what it has handled and,
// when its socket drops, reconnects to the next node it knows with them.
type wallClient struct {
	name  string
	nodes []string // host:port of the fan-out nodes, first is where it starts
	slug  string

	mu sync.Mutex
	// Everything below is under mu.
	node       int    // index in nodes of the node it is (or was last) connected to
	pos        uint64 // position of the last message handled
	epoch      string
	connects   int         // successful upgrades
	firsts     []string    // type of the first message after each connect
	positions  []uint64    // positions of the "event" messages, in the order received
	times      []time.Time // when each of them arrived
	upserts    map[string]int
	removes    map[string]int
	problems   []string // protocol violations seen (repeats, regressions, epoch changes)
	snapshotAt []uint64 // positions of the snapshots received
	snapPosts  int      // posts carried by snapshots
}

type wireMsg struct {
	Type  string `json:"type"`
	Pos   uint64 `json:"pos"`
	Epoch string `json:"epoch"`
	Wall  *struct {
		Upsert []struct {
			ID string `json:"id"`
		} `json:"upsert"`
		Remove []string `json:"remove"`
		Posts  []struct {
			ID string `json:"id"`
		} `json:"posts"` // a snapshot's wall
	} `json:"wall"`
}

func newWallClient(name, slug string, nodes ...string) *wallClient {
	return &wallClient{name: name, slug: slug, nodes: nodes, upserts: map[string]int{}, removes: map[string]int{}}
}

// run connects and reads until ctx is done, moving to the next node each
// time a connection fails or drops.
func (c *wallClient) run(ctx context.Context) {
	for ctx.Err() == nil {
		c.mu.Lock()
		addr := c.nodes[c.node]
		q := url.Values{}
		if c.epoch != "" {
			q.Set("since", strconv.FormatUint(c.pos, 10))
			q.Set("epoch", c.epoch)
		}
		c.mu.Unlock()
		u := "ws://" + addr + "/api/events/" + c.slug + "/ws"
		if len(q) > 0 {
			u += "?" + q.Encode()
		}
		dctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		ws, _, err := websocket.DefaultDialer.DialContext(dctx, u, nil)
		cancel()
		if err == nil {
			c.read(ctx, ws)
		}
		if ctx.Err() != nil {
			return
		}
		// The node is gone (or refused): the next one, as a load balancer
		// would send the reconnecting wall to a live node.
		c.mu.Lock()
		c.node = (c.node + 1) % len(c.nodes)
		c.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond): // reconnect backoff, as the page has
		}
	}
}

func (c *wallClient) read(ctx context.Context, ws *websocket.Conn) {
	defer ws.Close()
	stop := context.AfterFunc(ctx, func() { _ = ws.Close() })
	defer stop()
	first := true
	c.mu.Lock()
	c.connects++
	c.mu.Unlock()
	for {
		_, data, err := ws.ReadMessage()
		if err != nil {
			return
		}
		var msgs []wireMsg
		if err := json.Unmarshal(data, &msgs); err != nil {
			c.problem("undecodable frame: %v", err)
			return
		}
		c.mu.Lock()
		for _, m := range msgs {
			if first {
				c.firsts = append(c.firsts, m.Type)
				first = false
			}
			switch m.Type {
			case "snapshot":
				c.snapshotAt = append(c.snapshotAt, m.Pos)
				if m.Wall != nil {
					c.snapPosts += len(m.Wall.Posts)
				}
				c.setEpoch(m.Epoch)
				c.pos = m.Pos
			case "resume":
				c.setEpoch(m.Epoch)
				if m.Pos != c.pos {
					c.problemLocked("resume at %d, but the client said %d", m.Pos, c.pos)
				}
			case "event":
				if m.Pos <= c.pos {
					c.problemLocked("event at %d after %d: a repeat or a regression", m.Pos, c.pos)
				}
				c.pos = m.Pos
				c.positions = append(c.positions, m.Pos)
				c.times = append(c.times, time.Now())
				if m.Wall != nil {
					for _, p := range m.Wall.Upsert {
						c.upserts[p.ID]++
					}
					for _, id := range m.Wall.Remove {
						c.removes[id]++
					}
				}
			}
		}
		c.mu.Unlock()
	}
}

func (c *wallClient) setEpoch(e string) {
	if c.epoch != "" && e != c.epoch {
		c.problemLocked("epoch changed from %s to %s", c.epoch, e)
	}
	c.epoch = e
}

func (c *wallClient) problem(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.problemLocked(format, args...)
}

func (c *wallClient) problemLocked(format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf(format, args...))
}

// lastPos is the position of the last message the client handled.
func (c *wallClient) lastPos() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos
}

// connectedTo reports the node the client is on and how many times it connected.
func (c *wallClient) connectedTo() (node string, connects int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[c.node], c.connects
}
