#!/usr/bin/env bash
# bench/trace-overhead.sh — what a running execution trace costs, beside Go:
# for each endpoint, wrk for DURATION without a trace and for DURATION with
# a concurrent /debug/pprof/trace?seconds=DURATION, interleaved (the order
# alternates between pairs), PAIRS pairs per endpoint per server, gortd and
# the Go peer in one run, GOMAXPROCS=2, one server process per server.
#
#   /work?n=200000  wrk -t1 -c16  (as bench/pprof-overhead.sh: CPU-bound,
#                   the tracer's cost per event on busy Ps)
#   /sleep?ms=10    wrk -t1 -c64  (timer parks and netpoll wake-ups: many
#                   events per request; 64 connections so throughput, not
#                   the 10 ms sleep of one connection, is what is measured.
#                   64 / 10 ms bounds it at 6.4k req/s, so the overhead is
#                   the latency the tracer adds per request; SLEEP_CONNS=1000
#                   (bench/http.sh's setting) makes it CPU-bound instead)
#
# Prints every pair (req/s without and with the trace, the overhead
# (1 − traced/plain) × 100, the trace's size) and the median overhead per
# endpoint per server. A pair counts only if the trace request answered 200
# with a non-empty body; anything else stops the script with a one-line
# reason (gortd answers 501 until its tracer exists).
#
# Usage: bench/trace-overhead.sh GORTD GOPEER   (binaries)
# Environment: DURATION (default 10, seconds), PAIRS (default 5),
#   SERVERS (default "gortd go": which to run, in order), SLEEP_CONNS
#   (default 64: wrk's connections on /sleep).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

if [[ $# -ne 2 ]]; then
  echo "usage: $0 GORTD GOPEER" >&2
  exit 2
fi
gortd=$1
gopeer=$2
duration=${DURATION:-10}
duration=${duration%s}  # accept 10s as alloc-beside-go.sh's DURATION does
pairs=${PAIRS:-5}
servers=${SERVERS:-gortd go}
sleep_conns=${SLEEP_CONNS:-64}
[[ $duration =~ ^[1-9][0-9]*$ ]] || { echo "$0: DURATION=$duration: want whole seconds >= 1" >&2; exit 2; }
[[ $pairs =~ ^[1-9][0-9]*$ ]] || { echo "$0: PAIRS=$pairs: want an integer >= 1" >&2; exit 2; }
[[ $sleep_conns =~ ^[1-9][0-9]*$ ]] || { echo "$0: SLEEP_CONNS=$sleep_conns: want an integer >= 1" >&2; exit 2; }
for s in $servers; do
  [[ $s == gortd || $s == go ]] || { echo "$0: SERVERS: unknown server $s (gortd, go)" >&2; exit 2; }
done
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true  # for a large SLEEP_CONNS (both servers inherit it)
port=18473
# Endpoints and their wrk connection counts (wrk -t1 for both).
paths=('/work?n=200000' '/sleep?ms=10')
conns=(16 "$sleep_conns")
tmp=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$tmp"' EXIT

if curl -s -o /dev/null "http://127.0.0.1:$port/"; then
  echo "$0: something already answers on 127.0.0.1:$port" >&2
  exit 1
fi

start() {  # start NAME → pid in $pid
  if [[ $1 == gortd ]]; then
    GOMAXPROCS=2 "$gortd" --addr "127.0.0.1:$port" 2>/dev/null >/dev/null &
  else
    GOMAXPROCS=2 "$gopeer" -addr "127.0.0.1:$port" 2>/dev/null >/dev/null &
  fi
  pid=$!
  wait_ready "$1" "$port"
}

# trace_failed NAME CODE: the one-line reason a trace request failed.
trace_failed() {
  local body
  body=$(head -c 200 "$tmp/trace.out" 2>/dev/null | head -n 1 | tr -cd '[:print:]')
  echo "$0: $1: /debug/pprof/trace?seconds=$duration answered ${2:-no reply}${body:+: $body}" >&2
  exit 1
}

# wrk_rps NAME PATH CONNS → req/s of one wrk run of DURATION; exits the
# script if wrk saw non-2xx replies or printed no rate.
wrk_rps() {
  local out rps
  out=$(wrk -t1 -c"$3" -d"${duration}s" "http://127.0.0.1:$port$2")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  if grep -q 'Non-2xx' <<<"$out" || [[ -z $rps ]]; then
    echo "$0: $1 $2: wrk: $(grep -E 'Non-2xx|errors' <<<"$out" | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')" >&2
    exit 1
  fi
  echo "$rps"
}

measure() {  # measure NAME PATH CONNS TRACED(0|1) → "req/s trace-bytes" ("-" untraced)
  local trace_pid code rps
  if [[ $4 == 0 ]]; then
    rps=$(wrk_rps "$1" "$2" "$3") || exit 1
    echo "$rps -"
    return
  fi
  rm -f "$tmp/trace.out" "$tmp/trace.code"
  curl -s -o "$tmp/trace.out" -w '%{http_code}' \
    "http://127.0.0.1:$port/debug/pprof/trace?seconds=$duration" >"$tmp/trace.code" &
  trace_pid=$!
  sleep 0.2  # let the trace start before the load does
  if ! kill -0 "$trace_pid" 2>/dev/null; then  # answered at once: a refusal, not a trace
    wait "$trace_pid" || true
    trace_failed "$1" "$(cat "$tmp/trace.code")"
  fi
  rps=$(wrk_rps "$1" "$2" "$3") || { kill "$trace_pid" 2>/dev/null; exit 1; }
  wait "$trace_pid" || true
  code=$(cat "$tmp/trace.code")
  [[ $code == 200 && -s $tmp/trace.out ]] || trace_failed "$1" "$code"
  echo "$rps $(stat -c %s "$tmp/trace.out")"
}

printf '%-6s %-15s %4s %12s %12s %9s %12s\n' server endpoint pair plain_rps traced_rps overhead trace_bytes
for name in $servers; do
  start "$name"
  for e in "${!paths[@]}"; do
    path=${paths[$e]} c=${conns[$e]}
    wrk -t1 -c"$c" -d3s "http://127.0.0.1:$port$path" >/dev/null  # warm up
    : >"$tmp/$name.$e.overheads"
    for i in $(seq "$pairs"); do
      if (( i % 2 )); then
        plain=$(measure "$name" "$path" "$c" 0); traced=$(measure "$name" "$path" "$c" 1)
      else
        traced=$(measure "$name" "$path" "$c" 1); plain=$(measure "$name" "$path" "$c" 0)
      fi
      plain=${plain%% *} bytes=${traced#* } traced=${traced%% *}
      overhead=$(awk -v a="$plain" -v b="$traced" 'BEGIN { printf "%.2f", (1 - b / a) * 100 }')
      echo "$overhead" >>"$tmp/$name.$e.overheads"
      printf '%-6s %-15s %4d %12s %12s %8s%% %12s\n' "$name" "$path" "$i" "$plain" "$traced" "$overhead" "$bytes"
    done
  done
  kill "$pid"
  wait "$pid" 2>/dev/null || true
done
echo
for name in $servers; do
  for e in "${!paths[@]}"; do
    printf '%-6s %-15s median overhead %s\n' "$name" "${paths[$e]}" "$(median "$tmp/$name.$e.overheads")"
  done
done
