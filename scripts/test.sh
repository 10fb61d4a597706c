#!/usr/bin/env bash
# The whole test suite: installs what the tests need when it is missing,
# then checks formatting, vet and staticcheck and runs every test with the
# race detector. Exits non-zero on the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."

# Pinned so every machine checks with the same rules: staticcheck 2026.2.2
# (module version v0.8.2), which understands the Go version in go.mod.
STATICCHECK_VERSION=v0.8.2

say() { printf '\n== %s\n' "$*"; }

# Debian packages the tests use: a real redis-server (eventlog/redislog,
# internal/redistest; run with --sentinel for the failover test), a real
# browser (the pages' chromedp tests), prometheus with promtool (deploytest
# checks the Prometheus config and alert rules with promtool, and runs
# prometheus itself with nginx in the compose-as-processes test), and the
# fonts a projector laptop needs for Chinese, Japanese and Korean posts and
# emoji (the wall's font stack names them; e2e checks that they render as
# glyphs, not boxes).
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
	&& ! command -v google-chrome >/dev/null 2>&1; then
	missing+=(chromium)
fi
for pkg in fonts-noto-cjk fonts-noto-color-emoji; do
	dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
	say "installing ${missing[*]}"
	sudo=()
	if [ "$(id -u)" -ne 0 ]; then sudo=(sudo); fi
	"${sudo[@]}" apt-get update
	DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
fi

GOBIN_DIR="$(go env GOPATH)/bin"
STATICCHECK="$GOBIN_DIR/staticcheck"
has_version() { "$1" -version 2>/dev/null | grep -qF "(${STATICCHECK_VERSION#v})"; }
if ! [ -x "$STATICCHECK" ] || ! has_version "$STATICCHECK"; then
	if command -v staticcheck >/dev/null 2>&1 && has_version "$(command -v staticcheck)"; then
		STATICCHECK="$(command -v staticcheck)"
	else
		say "installing staticcheck $STATICCHECK_VERSION"
		go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	fi
fi

# Tests that need Redis fail rather than skip when it is missing here.
export CI=true

say "gofmt"
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
	echo "not gofmt'd:"; echo "$unformatted"; exit 1
fi

# deploytest is a module of its own, so the Kubernetes and Compose
# libraries it checks the deploy files with stay out of the binary's go.mod.
# cmd/wsprobe, the independent load client of docs/bench/fanout.md, is one
# too, so its websocket library is not the server's.
MODULES=(. deploytest cmd/wsprobe)

say "go vet"
for m in "${MODULES[@]}"; do (cd "$m" && go vet ./...); done

say "staticcheck"
for m in "${MODULES[@]}"; do (cd "$m" && "$STATICCHECK" ./...); done

say "go test -race"
for m in "${MODULES[@]}"; do (cd "$m" && go test -race -timeout 15m ./...); done

say "all passed"
