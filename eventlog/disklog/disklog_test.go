package disklog_test

import (
	"testing"

	"github.com/backchannel/backchannel/eventlog"
	"github.com/backchannel/backchannel/eventlog/disklog"
	"github.com/backchannel/backchannel/eventlog/logtest"
)

// engine opens disklog stores in fresh temporary directories; Reopen opens
// the same directory again, as a restarted process would.
func engine() logtest.Engine {
	dirs := make(map[eventlog.Store]string)
	return logtest.Engine{
		Open: func(t *testing.T) eventlog.Store {
			dir := t.TempDir()
			s, err := disklog.Open(dir)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			dirs[s] = dir
			return s
		},
		Reopen: func(t *testing.T, s eventlog.Store) eventlog.Store {
			dir := dirs[s]
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			s2, err := disklog.Open(dir)
			if err != nil {
				t.Fatalf("reopen: %v", err)
			}
			dirs[s2] = dir
			return s2
		},
	}
}

func TestConformance(t *testing.T) {
	logtest.Run(t, engine())
}
