package presence_test

import (
	"testing"
	"time"

	"github.com/backchannel/backchannel/presence"
	"github.com/backchannel/backchannel/presence/presencetest"
)

func TestMemory(t *testing.T) {
	presencetest.Run(t, func(t *testing.T, ttl time.Duration) (presence.Store, presence.Store) {
		// Two nodes with the in-memory store each have their own.
		return presence.NewMemory(ttl), presence.NewMemory(ttl)
	}, false)
}
