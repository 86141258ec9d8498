#!/usr/bin/env bash
# bench/http.sh — HTTP load benchmark of gortd (or any server with the same
# endpoints, e.g. the Go peer) with wrk. Prints one summary line per test:
#   path, threads/connections, req/s, p50, p99, socket errors, non-2xx.
#
# Usage: bench/http.sh HOST:PORT        (e.g. bench/http.sh 127.0.0.1:8080)
# Environment: DURATION (default 10s), WRK (default wrk), RAW_DIR (keep the
# raw wrk output there).
#
# Targets (SPEC/issue 3, GOMAXPROCS=2 with wrk -t1 sharing the two cores):
#   /                 -t1 -c64    >= 100k req/s
#   /work?n=200000    -t1 -c16    >= 5.0k req/s, p99 <= 2 x p50
#   /sleep?ms=10      -t1 -c1000  >= 75k req/s
#   zero socket errors and zero non-2xx everywhere.
set -euo pipefail

if [[ $# -ne 1 || "$1" == -h || "$1" == --help ]]; then
  echo "usage: $0 HOST:PORT" >&2
  exit 2
fi
addr=$1
duration=${DURATION:-10s}
wrk=${WRK:-wrk}
command -v "$wrk" >/dev/null || { echo "$0: wrk not found" >&2; exit 1; }

# 1000 connections need 1000 descriptors on our side (and as many in the server).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if (( $(ulimit -n) < 2100 )); then
  echo "$0: warning: open-file limit $(ulimit -n) is low for -c1000" >&2
fi

# to_ms converts a wrk latency ("812.68us", "1.21ms", "2.01s") to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

run() {  # run PATH THREADS CONNECTIONS
  local path=$1 t=$2 c=$3 out
  out=$("$wrk" -t"$t" -c"$c" -d"$duration" --latency "http://$addr$path" 2>&1) || {
    echo "$0: wrk failed for $path:" >&2
    echo "$out" >&2
    return 1
  }
  if [[ -n "${RAW_DIR:-}" ]]; then
    mkdir -p "$RAW_DIR"
    printf '%s\n' "$out" >"$RAW_DIR/$(echo "$path" | tr -c 'a-zA-Z0-9\n' '_').txt"
  fi
  local rps p50 p99 errs non2xx
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
  errs=$(awk '/Socket errors:/ {gsub(",", ""); print $4 + $6 + $8 + $10}' <<<"$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $5}' <<<"$out")
  printf '%-18s -t%s -c%-5s %10.1f req/s  p50 %8s ms  p99 %8s ms  errors %s  non-2xx %s\n' \
    "$path" "$t" "$c" "$rps" "$p50" "$p99" "${errs:-0}" "${non2xx:-0}"
}

run / 1 64
run '/work?n=200000' 1 16
run '/sleep?ms=10' 1 1000
