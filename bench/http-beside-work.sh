#!/usr/bin/env bash
# bench/http-beside-work.sh — does one long CPU-bound request starve the
# others? Starts its own gortd with GOMAXPROCS=1 on a loopback port, keeps a
# /work?n=WORK_N request running (seconds of CPU) and meanwhile measures
# GET / with wrk -t1 -c1. Without preemption in /work every / would wait for
# it; with sysmon's 10 ms time slice each / waits about one slice at most.
# gortd_test checks that / is answered while /work runs; this measures how
# fast.
#
# Prints one line: p50, p99 and max latency of /, requests served, and the
# preemptions gortd counted. Exits 1 when max exceeds MAX_MS or /work ended
# before wrk did (raise WORK_N), 2 on usage errors.
#
# Usage: bench/http-beside-work.sh [GORTD_BINARY]   (default build/service/gortd)
# Environment: DURATION (default 5s), WORK_N (default 10000000000),
#   MAX_MS (default 200: the former gortd_test assertion), WRK (default wrk)
set -euo pipefail

if [[ $# -gt 1 || "${1:-}" == -h || "${1:-}" == --help ]]; then
  echo "usage: $0 [GORTD_BINARY]" >&2
  exit 2
fi
gortd=${1:-build/service/gortd}
duration=${DURATION:-5s}
work_n=${WORK_N:-10000000000}
max_ms=${MAX_MS:-200}
wrk=${WRK:-wrk}
[[ -x "$gortd" ]] || { echo "$0: $gortd is not an executable" >&2; exit 2; }
command -v "$wrk" >/dev/null || { echo "$0: wrk not found" >&2; exit 2; }
command -v curl >/dev/null || { echo "$0: curl not found" >&2; exit 2; }

log=$(mktemp)
gortd_pid='' curl_pid=''
cleanup() {
  [[ -n "$curl_pid" ]] && kill "$curl_pid" 2>/dev/null || true
  [[ -n "$gortd_pid" ]] && kill -KILL "$gortd_pid" 2>/dev/null || true  # no graceful wait for /work
  rm -f "$log"
}
trap cleanup EXIT

GOMAXPROCS=1 "$gortd" --addr 127.0.0.1:0 2>"$log" &
gortd_pid=$!
port=''
for _ in $(seq 600); do  # up to 60 s for the "listening on" line
  port=$(sed -n 's/^gortd listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$log")
  [[ -n "$port" ]] && break
  sleep 0.1
done
[[ -n "$port" ]] || { echo "$0: gortd did not start:" >&2; cat "$log" >&2; exit 1; }
base="http://127.0.0.1:$port"

# in_flight prints http_requests_in_flight as a /metrics request sees it
# (counting itself).
in_flight() { curl -s "$base/metrics" | awk '$1 == "http_requests_in_flight" {print $2 + 0}'; }

curl -s -o /dev/null "$base/work?n=$work_n" &
curl_pid=$!
for _ in $(seq 600); do  # until /work is being handled
  [[ "$(in_flight)" == 2 ]] && break
  sleep 0.1
done
[[ "$(in_flight)" == 2 ]] || { echo "$0: /work did not start" >&2; exit 1; }

out=$("$wrk" -t1 -c1 -d"$duration" --latency "$base/" 2>&1)
still_running=$(in_flight)

# to_ms converts a wrk latency ("812.68us", "1.21ms", "2.01s") to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}
p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
max=$(to_ms "$(awk '$1 == "Latency" {print $4}' <<<"$out")")
served=$(awk '/requests in/ {print $1}' <<<"$out")
preemptions=$(curl -s "$base/metrics" | awk '$1 == "gort_sched_preemptions_total" {print $2 + 0}')
printf '/ beside /work (GOMAXPROCS=1, -c1, %s)  p50 %s ms  p99 %s ms  max %s ms  requests %s  preemptions %s\n' \
  "$duration" "$p50" "$p99" "$max" "${served:-0}" "${preemptions:-?}"

if [[ "$still_running" != 2 ]]; then
  echo "$0: /work finished before wrk did; raise WORK_N" >&2
  exit 1
fi
if awk -v m="$max" -v lim="$max_ms" 'BEGIN { exit !(m > lim) }'; then
  echo "$0: max latency $max ms exceeds $max_ms ms" >&2
  exit 1
fi
