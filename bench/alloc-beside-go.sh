#!/usr/bin/env bash
# bench/alloc-beside-go.sh — the collected heap under HTTP load, gortd and
# the Go peer side by side in one run: wrk -t1 -c16 on /alloc?kb=256 and
# /alloc?kb=256&keep=64 at GOGC=100 and 200, GOMAXPROCS=2, each server
# started fresh with GODEBUG=gctrace=1. From the gctrace lines printed
# during the timed window it reports the cycles run and the stop-the-world
# pause per cycle — sweep termination + mark termination, the first and
# third clock figures, for both servers — as median, p90, p99 and max.
# Then /work?n=WORK_N's latency (wrk -t1 -c2) while /alloc?kb=256&keep=64
# loads the same server (wrk -t1 -c16), GOGC=100: what a collection costs
# a request that does not allocate.
#
# Usage: bench/alloc-beside-go.sh GORTD GOPEER   (binaries)
# Environment: DURATION (default 10s), ROUNDS (default 1: each setting is
# run ROUNDS times per server, interleaved), WORK_N (default 200000),
# KEEP_LOGS (a directory: the gctrace logs are copied there).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [[ $# -ne 2 ]]; then
  echo "usage: $0 GORTD GOPEER" >&2
  exit 2
fi
gortd=$1
gopeer=$2
duration=${DURATION:-10s}
rounds=${ROUNDS:-1}
port=18471
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

start() {  # start NAME GOGC LOG → pid in $pid
  local name=$1 gogc=$2 log=$3
  if [[ $name == gortd ]]; then
    GOGC=$gogc GOMAXPROCS=2 GODEBUG=gctrace=1 "$gortd" --addr "127.0.0.1:$port" 2>"$log" >/dev/null &
  else
    GOGC=$gogc GOMAXPROCS=2 GODEBUG=gctrace=1 "$gopeer" -addr "127.0.0.1:$port" 2>"$log" >/dev/null &
  fi
  pid=$!
  wait_ready "$name" "$port"
}

# pauses FROM_LINE LOG → the STW pause of each cycle (ms), one per line:
# sweep termination + mark termination.
pauses() {
  local from=$1 log=$2
  tail -n +"$from" "$log" | grep -E '^gc [0-9]+ @' | sed -E 's/.*: ([0-9.]+)\+([0-9.]+)\+([0-9.]+) ms clock.*/\1 \3/' |
    awk '{ print $1 + $2 }'
}

stat() {  # median, p90, p99 and max of numbers on stdin
  sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "- - - -"; exit }
    p90 = a[int((NR - 1) * 0.90) + 1]; p99 = a[int((NR - 1) * 0.99) + 1]
    printf "%.3f %.3f %.3f %.3f\n", (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2), p90, p99, a[NR] }'
}

printf '%-6s %-22s %-5s %10s %8s %8s %9s %9s %9s %9s\n' server path GOGC req/s p50_ms p99_ms stw_med stw_p90 stw_p99 stw_max
for gogc in 100 200; do
  for path in '/alloc?kb=256' '/alloc?kb=256&keep=64'; do
    for round in $(seq "$rounds"); do
      for name in gortd go; do
        log=$tmp/$name.log
        start "$name" "$gogc" "$log"
        # Warm up (fills the keep ring), then measure from the next line.
        wrk -t1 -c16 -d2s "http://127.0.0.1:$port$path" >/dev/null
        from=$(($(wc -l <"$log") + 1))
        out=$(wrk -t1 -c16 -d"$duration" --latency "http://127.0.0.1:$port$path")
        kill "$pid"
        wait "$pid" 2>/dev/null || true
        rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
        p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
        p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
        read -r med p90 p99s max < <(pauses "$from" "$log" | stat)
        cycles=$(tail -n +"$from" "$log" | grep -cE '^gc [0-9]+ @' || true)
        printf '%-6s %-22s %-5s %10s %8s %8s %9s %9s %9s %9s  cycles=%s\n' "$name" "$path" "$gogc" "$rps" "$p50" "$p99" "$med" "$p90" "$p99s" "$max" "$cycles"
        if [[ -n "${KEEP_LOGS:-}" ]]; then cp "$log" "$KEEP_LOGS/$name-$gogc-$(echo "$path" | tr -c 'a-z0-9\n' _).log"; fi
      done
    done
  done
done

# /work beside /alloc?keep=64 on the same server.
work_n=${WORK_N:-200000}
printf '\n%-6s %-34s %10s %8s %8s %8s   (while /alloc?kb=256&keep=64 runs, GOGC=100)\n' server path req/s p50 p99 max
for round in $(seq "$rounds"); do
  for name in gortd go; do
    log=$tmp/$name.log
    start "$name" 100 "$log"
    wrk -t1 -c16 -d2s "http://127.0.0.1:$port/alloc?kb=256&keep=64" >/dev/null
    secs=${duration%s}
    wrk -t1 -c16 -d"$((secs + 2))s" "http://127.0.0.1:$port/alloc?kb=256&keep=64" >/dev/null &
    alloc=$!
    sleep 1
    out=$(wrk -t1 -c2 -d"$duration" --latency "http://127.0.0.1:$port/work?n=$work_n")
    wait "$alloc" || true
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    max=$(awk '$1 == "Latency" {print $4}' <<<"$out")
    printf '%-6s %-34s %10s %8s %8s %8s\n' "$name" "/work?n=$work_n" "$rps" "$p50" "$p99" "$max"
  done
done
