#!/bin/sh
# matrix.sh [OUT]: the published fan-out matrix. Before each run it waits
# (polling every 30 s, at most 40 minutes) for the 1-minute load average to
# fall under 0.5, and gives up on that run otherwise. Appends every report
# to OUT (default /tmp/fanout-matrix.txt).
set -u
out=${1:-/tmp/fanout-matrix.txt}
quiet() {
	waited=0
	while [ "$(awk '{print ($1 < 0.5)}' /proc/loadavg)" != 1 ]; do
		[ $waited -ge 2400 ] && return 1
		sleep 30
		waited=$((waited + 30))
	done
}
one() { # label, then the command
	label=$1; shift
	if ! quiet; then
		echo "=== $label: SKIPPED, load $(cut -d' ' -f1-3 /proc/loadavg) after 40 minutes" >>"$out"
		return
	fi
	echo "=== $label $(date -u +%FT%TZ)" >>"$out"
	timeout 400 "$@" >>"$out" 2>&1
}
{ echo "nproc $(nproc); $(lscpu | grep 'Model name' | tr -s ' ')"; } >>"$out"
for r in 1 2; do
	one "loadgen 1000x100 run $r" cmd/loadgen/bench.sh 1000 100 20s
	one "loadgen 10000x10 run $r" cmd/loadgen/bench.sh 10000 10 20s
	one "loadgen 10000x50 run $r" cmd/loadgen/bench.sh 10000 50 20s
	one "loadgen 18000x2 run $r" cmd/loadgen/bench.sh 18000 2 20s
	one "wsprobe 10000x10 run $r" env CLIENT=wsprobe cmd/loadgen/bench.sh 10000 10 20s
	one "wsprobe 1000x100 run $r" env CLIENT=wsprobe cmd/loadgen/bench.sh 1000 100 20s
	one "redis loadgen 10000x10 run $r" cmd/loadgen/bench-redis.sh 10000 10 20s
	one "redis wsprobe 10000x10 run $r" env CLIENT=wsprobe cmd/loadgen/bench-redis.sh 10000 10 20s
done
echo "=== done $(date -u +%FT%TZ)" >>"$out"
