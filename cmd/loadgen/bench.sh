#!/bin/sh
# bench.sh CONNS RATE [DURATION [loadgen run flags...]]: one fan-out load
# run, the server pinned to core 0 and loadgen to core 1, both on loopback.
# Prints the commit, the load average before and after, and loadgen's report.
# CLIENT=wsprobe measures with cmd/wsprobe (another websocket library).
set -eu
conns=$1 rate=$2 dur=${3:-20s}
shift 2; [ $# -gt 0 ] && shift
port=${PORT:-28089}
bin=${BIN:-/tmp/loadgen}
go build -o "$bin" ./cmd/loadgen
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- fanout cmd/loadgen || echo +changes); load $(cut -d' ' -f1-3 /proc/loadavg)"
# The log lives on tmpfs: this measures the fan-out, not the fsync of a
# virtual disk shared with other jobs (10-100+ ms per commit here).
dir=$(mktemp -d -p /dev/shm)
GOMAXPROCS=${SERVER_GOMAXPROCS:-1} taskset -c 0 "$bin" serve -addr 127.0.0.1:$port -dir "$dir" >"$dir/serve.log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; wait $srv 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do
	curl -fs http://127.0.0.1:$port/pid >/dev/null 2>&1 && break
	sleep 0.1
done
if [ "${CLIENT:-loadgen}" = wsprobe ]; then
	(cd cmd/wsprobe && go build -o /tmp/wsprobe .)
	taskset -c 1 /tmp/wsprobe -ws ws://127.0.0.1:$port/ws -publish http://127.0.0.1:$port/publish \
		-conns "$conns" -rate "$rate" -duration "$dur" -size 600 -pid "$(curl -fs http://127.0.0.1:$port/pid)" "$@"
else
	taskset -c 1 "$bin" run -server http://127.0.0.1:$port -conns "$conns" -rate "$rate" -duration "$dur" -size 600 "$@"
fi
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
