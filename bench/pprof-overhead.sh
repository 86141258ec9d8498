#!/usr/bin/env bash
# bench/pprof-overhead.sh — what a running CPU profile costs: wrk -t1 -c16
# on /work?n=200000 for DURATION without a profile and for DURATION with a
# concurrent /debug/pprof/profile?seconds=DURATION (100 Hz), interleaved
# (the order alternates between pairs), PAIRS pairs per server, gortd and
# the Go peer in one run, GOMAXPROCS=2. Prints every pair and the median
# overhead per server: (req/s without − req/s with) / req/s without.
#
# Usage: bench/pprof-overhead.sh GORTD GOPEER   (binaries)
# Environment: DURATION (default 10, seconds), PAIRS (default 5).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [[ $# -ne 2 ]]; then
  echo "usage: $0 GORTD GOPEER" >&2
  exit 2
fi
gortd=$1
gopeer=$2
duration=${DURATION:-10}
pairs=${PAIRS:-5}
port=18472
path='/work?n=200000'
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

start() {  # start NAME → pid in $pid
  if [[ $1 == gortd ]]; then
    GOMAXPROCS=2 "$gortd" --addr "127.0.0.1:$port" 2>/dev/null >/dev/null &
  else
    GOMAXPROCS=2 "$gopeer" -addr "127.0.0.1:$port" 2>/dev/null >/dev/null &
  fi
  pid=$!
  wait_ready "$1" "$port"
}

measure() {  # measure PROFILED(0|1) → req/s
  local prof_pid=
  if [[ $1 == 1 ]]; then
    curl -sf -o "$tmp/cpu.pb.gz" "http://127.0.0.1:$port/debug/pprof/profile?seconds=$duration" &
    prof_pid=$!
    sleep 0.2  # let the profile start before the load does
  fi
  wrk -t1 -c16 -d"${duration}s" "http://127.0.0.1:$port$path" | awk '/^Requests\/sec:/ {print $2}'
  if [[ -n $prof_pid ]]; then
    wait "$prof_pid"
    [[ -s $tmp/cpu.pb.gz ]] || { echo "$0: empty profile" >&2; exit 1; }
  fi
}

printf '%-6s %4s %12s %12s %9s\n' server pair plain_rps profiled_rps overhead
for name in gortd go; do
  start "$name"
  wrk -t1 -c16 -d3s "http://127.0.0.1:$port$path" >/dev/null  # warm up
  : >"$tmp/$name.overheads"
  for i in $(seq "$pairs"); do
    if (( i % 2 )); then
      plain=$(measure 0); profiled=$(measure 1)
    else
      profiled=$(measure 1); plain=$(measure 0)
    fi
    overhead=$(awk -v a="$plain" -v b="$profiled" 'BEGIN { printf "%.2f", (a - b) / a * 100 }')
    echo "$overhead" >>"$tmp/$name.overheads"
    printf '%-6s %4d %12s %12s %8s%%\n' "$name" "$i" "$plain" "$profiled" "$overhead"
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  sort -g "$tmp/$name.overheads" | awk -v n="$name" '{ a[NR] = $1 } END {
    printf "%-6s median overhead %.2f%% (min %.2f%%, max %.2f%%)\n", n,
      (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2), a[1], a[NR] }'
done
