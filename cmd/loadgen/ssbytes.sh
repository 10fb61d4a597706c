#!/bin/bash
# ssbytes.sh PORT: every 0.5 s, the sum of bytes_acked over the server's established sockets on PORT
while true; do
  s=$(ss -tinH state established "( sport = :$1 )" 2>/dev/null | grep -o 'bytes_acked:[0-9]*' | cut -d: -f2 | awk '{s+=$1} END {print s+0}')
  n=$(ss -tnH state established "( sport = :$1 )" 2>/dev/null | wc -l)
  echo "$(date +%s.%N) $n $s"
  sleep 0.5
done
