#!/bin/sh
# bench-redis.sh CONNS RATE [DURATION [loadgen run flags...]]: one load run
# of the real binary over Redis. backchannel --role fanout (GOMAXPROCS=1,
# pinned to core 0) serves the event "loadtest" from a Redis log; on core 1,
# redis-server, loadgen relay (the ingest process: POST /publish appended
# through ingest.LogSink) and loadgen run. Loopback only.
# CLIENT=wsprobe measures with cmd/wsprobe instead of loadgen run. The
# node's profiles are on http://127.0.0.1:28092/debug/pprof/ while it runs.
set -eu
conns=$1 rate=$2 dur=${3:-20s}
shift 2; [ $# -gt 0 ] && shift
port=${PORT:-28090} rport=${RPORT:-28379} lport=${LPORT:-28091} mport=${MPORT:-28092}
go build -o /tmp/loadgen ./cmd/loadgen
go build -o /tmp/backchannel ./cmd/backchannel
(cd cmd/wsprobe && go build -o /tmp/wsprobe .)
echo "commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- fanout cmd || echo +changes); load $(cut -d' ' -f1-3 /proc/loadavg)"
dir=$(mktemp -d -p /dev/shm)
taskset -c 1 redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" >"$dir/redis.log" 2>&1 &
rds=$!
trap 'kill $srv $rly $rds 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
srv= rly=
for _ in $(seq 50); do redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
GOMAXPROCS=1 taskset -c 0 /tmp/backchannel serve --role fanout --redis "redis://127.0.0.1:$rport/0" \
	--tag LoadTest --moderation auto --listen "127.0.0.1:$port" --data "$dir/data" \
	--max-sockets-per-address 60000 --log-level info --metrics-listen "127.0.0.1:$mport" >"$dir/node.log" 2>&1 &
srv=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break; sleep 0.1; done
taskset -c 1 /tmp/loadgen relay -addr "127.0.0.1:$lport" -redis "redis://127.0.0.1:$rport/0" -event loadtest -pid "$srv" >"$dir/relay.log" 2>&1 &
rly=$!
for _ in $(seq 50); do curl -fs "http://127.0.0.1:$lport/pid" >/dev/null 2>&1 && break; sleep 0.1; done
if [ "${CLIENT:-loadgen}" = wsprobe ]; then
	taskset -c 1 /tmp/wsprobe -ws "ws://127.0.0.1:$port/api/events/loadtest/ws" -publish "http://127.0.0.1:$lport/publish" \
		-conns "$conns" -rate "$rate" -duration "$dur" -size 600 -pid "$srv" "$@"
else
	taskset -c 1 /tmp/loadgen run -server "http://127.0.0.1:$lport" -ws "ws://127.0.0.1:$port/api/events/loadtest/ws" \
		-conns "$conns" -rate "$rate" -duration "$dur" -size 600 "$@"
fi
echo "load after $(cut -d' ' -f1-3 /proc/loadavg)"
grep -c . "$dir/node.log" | sed 's/^/node log lines: /'
