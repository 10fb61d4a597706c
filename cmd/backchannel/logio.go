package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/backchannel/backchannel/config"
	"github.com/backchannel/backchannel/event"
	"github.com/backchannel/backchannel/eventlog"
)

// logIOFlags are the flags export-log and import-log share: which store
// (the same --redis / --data and environment variables as serve) and
// which event.
type logIOFlags struct {
	redis, data, slug, file string
}

func (f *logIOFlags) parse(name string, args []string, stderr io.Writer, getenv func(string) string, fileUsage string) error {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.redis, "redis", getenv(config.EnvName("redis")), "redis:// URL of the log store (env BACKCHANNEL_REDIS); without it, the embedded log in --data")
	fs.StringVar(&f.data, "data", getenv(config.EnvName("data")), "directory of the embedded log (default "+config.DefaultData+"; env BACKCHANNEL_DATA)")
	fs.StringVar(&f.slug, "event", "", "the event's slug (required)")
	fs.StringVar(&f.file, "file", "", fileUsage)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if f.slug == "" || fs.NArg() > 0 {
		return fmt.Errorf("%s: give --event SLUG and no other argument", name)
	}
	if f.data == "" {
		f.data = config.DefaultData
	}
	return nil
}

// openLog opens the event's log in the store the flags name.
func (f *logIOFlags) openLog(ctx context.Context) (eventlog.Store, eventlog.Log, error) {
	store, _, err := openStore(ctx, &config.Config{Redis: f.redis, Data: f.data})
	if err != nil {
		return nil, nil, err
	}
	log, err := store.Log(ctx, f.slug)
	if err != nil {
		_ = store.Close()
		return nil, nil, fmt.Errorf("open the log of %q: %w", f.slug, err)
	}
	return store, log, nil
}

// exportLog writes every event of one event's log as JSON lines, in
// position order: a backup that any engine can take back (import-log),
// readable with jq. It reads while the service runs; what is appended
// after it reached the end is not in the file.
func exportLog(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	var f logIOFlags
	if err := f.parse("export-log", args, stderr, getenv, "write to this file instead of standard output"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "backchannel %v\n", err)
		return 2
	}
	store, log, err := f.openLog(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "backchannel export-log: %v\n", err)
		return 1
	}
	defer store.Close()
	out := stdout
	var file *os.File
	if f.file != "" {
		if file, err = os.OpenFile(f.file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err != nil {
			fmt.Fprintf(stderr, "backchannel export-log: %v\n", err)
			return 1
		}
		out = file
	}
	n, err := writeEvents(ctx, log, out)
	if file != nil {
		if cerr := file.Sync(); err == nil {
			err = cerr
		}
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "backchannel export-log: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "backchannel export-log: %d events of %q\n", n, f.slug)
	return 0
}

// writeEvents writes the log's events as JSON lines, a page at a time.
func writeEvents(ctx context.Context, log eventlog.Log, w io.Writer) (uint64, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	var after uint64
	for {
		page, err := log.Read(ctx, after, 1000)
		if err != nil {
			return after, fmt.Errorf("read after %d: %w", after, err)
		}
		for i := range page {
			if err := enc.Encode(&page[i]); err != nil {
				return after, err
			}
			after = page[i].Pos
		}
		if len(page) < 1000 {
			return after, bw.Flush()
		}
	}
}

// importLog appends the events of an export-log file to an event's log,
// which must be empty: the events get their original positions back, and
// posts, edits and deletes their de-duplication keys, so the sources
// find them after a restore and append none twice. Staff actions have no
// such key, so importing into a log that has events is refused rather
// than doubling them. The restored log has a new epoch: screens that were
// open reload their view once.
func importLog(ctx context.Context, args []string, stdin io.Reader, stderr io.Writer, getenv func(string) string) int {
	var f logIOFlags
	if err := f.parse("import-log", args, stderr, getenv, "read this file instead of standard input"); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "backchannel %v\n", err)
		return 2
	}
	in := stdin
	if f.file != "" {
		file, err := os.Open(f.file)
		if err != nil {
			fmt.Fprintf(stderr, "backchannel import-log: %v\n", err)
			return 1
		}
		defer file.Close()
		in = file
	}
	store, log, err := f.openLog(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "backchannel import-log: %v\n", err)
		return 1
	}
	n, err := readEvents(ctx, log, in)
	if cerr := store.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close the log: %w", cerr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "backchannel import-log: %v (%d events appended)\n", err, n)
		return 1
	}
	fmt.Fprintf(stderr, "backchannel import-log: %d events into %q\n", n, f.slug)
	return 0
}

// readEvents appends the JSON lines of r to log, which must be empty, and
// checks each lands at the position it had.
func readEvents(ctx context.Context, log eventlog.Log, r io.Reader) (uint64, error) {
	h, err := log.Head(ctx)
	if err != nil {
		return 0, err
	}
	if h.Last != 0 {
		return 0, event.Errorf(event.ECONFLICT, "the log already holds %d events: import only into an empty log (a new slug, or a store without it)", h.Last)
	}
	dec := json.NewDecoder(bufio.NewReader(r))
	var n uint64
	for {
		var e event.Entry
		if err := dec.Decode(&e); errors.Is(err, io.EOF) {
			return n, nil
		} else if err != nil {
			return n, fmt.Errorf("event %d of the file: %w", n+1, err)
		}
		if e.Pos != n+1 {
			return n, fmt.Errorf("event %d of the file has position %d: the file is not a whole export", n+1, e.Pos)
		}
		a, err := log.Append(ctx, e.IdempotencyKey(), e)
		if err != nil {
			return n, fmt.Errorf("append event %d: %w", e.Pos, err)
		}
		if a.Duplicate || a.Pos != e.Pos {
			return n, fmt.Errorf("event %d landed at %d (duplicate %v): the file holds a key twice", e.Pos, a.Pos, a.Duplicate)
		}
		n++
	}
}
