#!/bin/sh
# matrix.sh [OUT [WAIT]]: the published fan-out matrix. Before each run it
# waits, polling every 30 s, for the 1-minute load average to fall under
# 0.5: WAIT seconds in all (default 2400, 40 minutes) shared by the whole
# matrix, then at most 60 s a run; a run that starts on a busy machine is
# marked BUSY with its load. Appends every report to OUT (default
# /tmp/fanout-matrix.txt).
set -u
out=${1:-/tmp/fanout-matrix.txt}
budget=${2:-2400}
quiet() {
	waited=0
	while [ "$(awk '{print ($1 < 0.5)}' /proc/loadavg)" != 1 ]; do
		if [ $budget -le 0 ] && [ $waited -ge 60 ]; then return 1; fi
		sleep 30
		waited=$((waited + 30))
		budget=$((budget - 30))
	done
}
one() { # label, then the command
	label=$1; shift
	if quiet; then
		echo "=== $label $(date -u +%FT%TZ) quiet" >>"$out"
	else
		echo "=== $label $(date -u +%FT%TZ) BUSY: load $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out"
	fi
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
	# Compressed sockets, as browsers open them, on real posts' text: the
	# bytes per delivered post (the client's inflating, not the server,
	# sets the latency of these runs).
	one "deflate 1000x100 run $r" cmd/loadgen/bench.sh 1000 100 20s -deflate -corpus cmd/loadgen/testdata/mastodon_public_timeline_2020_tootkit.json
	one "deflate 10000x10 run $r" cmd/loadgen/bench.sh 10000 10 20s -deflate -corpus cmd/loadgen/testdata/mastodon_public_timeline_2020_tootkit.json
done
echo "=== done $(date -u +%FT%TZ)" >>"$out"
