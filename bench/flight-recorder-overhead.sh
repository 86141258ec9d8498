#!/usr/bin/env bash
# bench/flight-recorder-overhead.sh — what the flight recorder costs: two
# gortd processes side by side, one plain and one with --flight-recorder
# WINDOW, and wrk against each in turn (the order alternating between
# pairs), PAIRS pairs per endpoint, GOMAXPROCS=2 each:
#
#   /work?n=200000  wrk -t1 -c16    CPU-bound handlers: few events, busy Ps
#   /sleep?ms=10    wrk -t1 -c1000  timer parks and netpoll wake-ups at ~80k
#                                   req/s: the most trace events per second
#
# The recorder traces all the time and cuts every WINDOW/4 (a brief
# stop-the-world each), so its cost is the tracer's plus the cuts'. Prints
# every pair (req/s plain and recording, overhead = (1 − recording/plain) ×
# 100), the median per endpoint, and the recorder's own figures from
# /metrics: history kept, cuts made, the last cut's duration.
#
# Usage: bench/flight-recorder-overhead.sh GORTD
# Environment: DURATION (seconds, default 10), PAIRS (default 5), WINDOW
#   (default 10s).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [[ $# -ne 1 ]]; then
  echo "usage: $0 GORTD" >&2
  exit 2
fi
gortd=$1
duration=${DURATION:-10}
duration=${duration%s}
pairs=${PAIRS:-5}
window=${WINDOW:-10s}
[[ $duration =~ ^[1-9][0-9]*$ ]] || { echo "$0: DURATION=$duration: want whole seconds >= 1" >&2; exit 2; }
[[ $pairs =~ ^[1-9][0-9]*$ ]] || { echo "$0: PAIRS=$pairs: want an integer >= 1" >&2; exit 2; }
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
plain_port=18474 rec_port=18475
paths=('/work?n=200000' '/sleep?ms=10')
conns=(16 1000)
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

for p in $plain_port $rec_port; do
  if curl -s -o /dev/null "http://127.0.0.1:$p/"; then
    echo "$0: something already answers on 127.0.0.1:$p" >&2
    exit 1
  fi
done
GOMAXPROCS=2 "$gortd" --addr "127.0.0.1:$plain_port" >/dev/null 2>&1 &
wait_ready plain "$plain_port"
GOMAXPROCS=2 "$gortd" --addr "127.0.0.1:$rec_port" --flight-recorder "$window" >/dev/null 2>&1 &
wait_ready recording "$rec_port"
curl -sf -o /dev/null "http://127.0.0.1:$rec_port/debug/pprof/flightrecorder" ||
  { echo "$0: $gortd has no flight recorder (/debug/pprof/flightrecorder failed)" >&2; exit 1; }

# wrk_rps PORT PATH CONNS → req/s of one wrk run; exits on non-2xx replies.
wrk_rps() {
  local out rps
  out=$(wrk -t1 -c"$3" -d"${duration}s" "http://127.0.0.1:$1$2")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  if grep -q 'Non-2xx' <<<"$out" || [[ -z $rps ]]; then
    echo "$0: port $1 $2: wrk: $(grep -E 'Non-2xx|errors' <<<"$out" | tr -s ' \n' ' ')" >&2
    exit 1
  fi
  echo "$rps"
}

printf '%-15s %4s %12s %14s %9s\n' endpoint pair plain_rps recording_rps overhead
for e in "${!paths[@]}"; do
  path=${paths[$e]} c=${conns[$e]}
  for p in $plain_port $rec_port; do wrk -t1 -c"$c" -d3s "http://127.0.0.1:$p$path" >/dev/null; done  # warm up
  : >"$tmp/$e.overheads"
  for i in $(seq "$pairs"); do
    if (( i % 2 )); then
      plain=$(wrk_rps $plain_port "$path" "$c"); rec=$(wrk_rps $rec_port "$path" "$c")
    else
      rec=$(wrk_rps $rec_port "$path" "$c"); plain=$(wrk_rps $plain_port "$path" "$c")
    fi
    overhead=$(awk -v a="$plain" -v b="$rec" 'BEGIN { printf "%.2f", (1 - b / a) * 100 }')
    echo "$overhead" >>"$tmp/$e.overheads"
    printf '%-15s %4d %12s %14s %8s%%\n' "$path" "$i" "$plain" "$rec" "$overhead"
  done
done
echo
for e in "${!paths[@]}"; do
  printf '%-15s median overhead %s\n' "${paths[$e]}" "$(median "$tmp/$e.overheads")"
done
echo
curl -s "http://127.0.0.1:$rec_port/metrics" | grep -E '^gort_flight_recorder_' || true
