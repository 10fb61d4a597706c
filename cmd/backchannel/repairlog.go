package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/eventlog/disklog"
)

// repairLog cuts the damage out of embedded logs that serve refuses to
// open (docs/OPERATIONS.md, "A damaged log"): it keeps every intact
// record, saves what it cuts beside the log, and says what it did. The
// server must be stopped: the data directory's lock keeps the two apart.
func repairLog(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	fs := flag.NewFlagSet("repair-log", flag.ContinueOnError)
	fs.SetOutput(stderr)
	data := fs.String("data", getenv(config.EnvName("data")), "directory of the embedded log (default "+config.DefaultData+"; env BACKCHANNEL_DATA)")
	slug := fs.String("event", "", "repair this event's log only (default: every log in --data)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "backchannel repair-log: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *data == "" {
		*data = config.DefaultData
	}
	if _, err := os.Stat(*data); err != nil {
		fmt.Fprintf(stderr, "backchannel repair-log: %v\n", err)
		return 1
	}
	s, err := disklog.Open(*data)
	if err != nil {
		fmt.Fprintf(stderr, "backchannel repair-log: %v (stop the server first)\n", err)
		return 1
	}
	defer s.Close()
	slugs := []string{*slug}
	if *slug == "" {
		if slugs, err = logSlugs(*data); err != nil {
			fmt.Fprintf(stderr, "backchannel repair-log: %v\n", err)
			return 1
		}
	}
	code := 0
	for _, sl := range slugs {
		if err := repairOne(ctx, s, sl, stdout); err != nil {
			fmt.Fprintf(stderr, "backchannel repair-log: %s: %v\n", sl, err)
			code = 1
		}
	}
	return code
}

// logSlugs lists the events with an embedded log in data.
func logSlugs(data string) ([]string, error) {
	ents, err := os.ReadDir(data)
	if err != nil {
		return nil, err
	}
	var slugs []string
	for _, e := range ents {
		if !e.IsDir() || e.Name()[0] == '.' {
			continue
		}
		if _, err := os.Stat(filepath.Join(data, e.Name(), "events.log")); err == nil {
			slugs = append(slugs, e.Name())
		}
	}
	if len(slugs) == 0 {
		return nil, fmt.Errorf("no event log in %s", data)
	}
	return slugs, nil
}

// repairOne repairs one log, reports on w, and checks the log opens.
func repairOne(ctx context.Context, s *disklog.Store, slug string, w io.Writer) error {
	rep, err := s.Repair(ctx, slug)
	if err != nil {
		return err
	}
	if len(rep.Cuts) == 0 {
		fmt.Fprintf(w, "%s: whole, nothing to repair (%d events)\n", rep.File, rep.Kept)
	} else {
		fmt.Fprintf(w, "%s: kept %d events, cut %d range(s):\n", rep.File, rep.Kept, len(rep.Cuts))
	}
	var lost uint64
	for _, c := range rep.Cuts {
		lost += c.Lost
		what := fmt.Sprintf("%d bytes at offset %d", c.Bytes, c.Offset)
		switch {
		case c.Tail:
			what += ", a torn tail (events never acknowledged)"
		case c.Lost == 1:
			what += fmt.Sprintf(", 1 event lost (position %d)", c.FirstLost)
		case c.Lost > 1:
			what += fmt.Sprintf(", %d events lost (positions %d-%d)", c.Lost, c.FirstLost, c.FirstLost+c.Lost-1)
		default:
			what += ", no event lost"
		}
		if c.SavedAs != "" {
			what += "; saved in " + c.SavedAs
		}
		fmt.Fprintf(w, "  %s\n", what)
		if c.Lost > 0 {
			fmt.Fprintf(w, "  the lost events were appended between %s and %s: check what moderators decided then (an approval lost hides a post again; a rejection or block lost can put a post back)\n",
				stamp(c.Before), stamp(c.After))
		}
	}
	if rep.Renumbered {
		fmt.Fprintf(w, "  events after a cut moved down %d position(s) to keep the log dense; new epoch %s: open screens reload\n", lost, rep.Epoch)
	}
	// Leave the log as the server will find it, and prove it opens.
	l, err := s.Log(ctx, slug)
	if err != nil {
		return fmt.Errorf("the repaired log does not open: %w", err)
	}
	h, err := l.Head(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: opens with %d events\n", slug, h.Last)
	return nil
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "(the start of the log)"
	}
	return t.UTC().Format("2006-01-02T15:04:05.000Z07:00")
}
