// Command backchannel collects posts with an event's hashtag, lets
// moderators approve them and shows the approved ones on a projected wall.
//
//	backchannel serve --tag Leaders4Leeds --mastodon https://mastodon.social
//	backchannel serve --config events.yaml
//	backchannel version
//	backchannel healthcheck http://127.0.0.1:8080/readyz
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=v1.2.3";
// otherwise it is the module version Go recorded, or "dev".
var version = ""

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
}

const usage = `backchannel: voices from outside the room, on the wall inside it.

Usage:
  backchannel serve [flags]   run the service (see: backchannel serve -h)
  backchannel version         print the version
  backchannel healthcheck URL exit 0 if URL answers 2xx (the container's HEALTHCHECK)
  backchannel export-log --event SLUG [--redis URL|--data DIR] [--file F]
                              write an event's log as JSON lines (a backup)
  backchannel import-log --event SLUG [--redis URL|--data DIR] [--file F]
                              restore such a backup into an empty log
  backchannel repair-log [--data DIR] [--event SLUG]
                              cut the damage out of an embedded log that serve
                              refuses to open, keeping a copy of what it cuts

A first run needs only a hashtag and a server:
  backchannel serve --tag Leaders4Leeds --mastodon https://mastodon.social
`

// run runs the command in args and returns the process's exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(ctx, args[1:], stderr, getenv)
	case "healthcheck":
		return healthcheck(ctx, args[1:], stdout, stderr)
	case "export-log":
		return exportLog(ctx, args[1:], stdout, stderr, getenv)
	case "import-log":
		return importLog(ctx, args[1:], os.Stdin, stderr, getenv)
	case "repair-log":
		return repairLog(ctx, args[1:], stdout, stderr, getenv)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "backchannel %s %s %s/%s\n", buildVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "backchannel: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}
