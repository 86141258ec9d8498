#!/usr/bin/env bash
# bench/soak.sh — a bounded soak of gortd on loopback: its own gortd under
# mixed wrk load for DURATION, profiles and traces taken all along, memory
# and goroutines sampled, then pass/fail on what a long-running service
# must keep true.
#
# Usage: bench/soak.sh [--gortd PATH] [--port N] [--out DIR] DURATION
#   DURATION  90s, 2m, 10m, 1h30m (Go-style h/m/s; a bare number is
#             seconds), from 60s to 24h
#   --gortd   the binary (default: build/service/gortd of this checkout,
#             the Release build)
#   --port    its port on 127.0.0.1 (default 0: a free port, read from
#             gortd's "listening on" line)
#   --out     where to keep everything (default: a new /tmp/gort-soak.XXXXXX);
#             created if missing, and must be empty or a previous soak's
#             output (which is then replaced)
#
# What runs, all at once, for DURATION (GOMAXPROCS=2):
#   wrk -t1 -c2   /work?n=WORK_N                      CPU, preemption
#   wrk -t1 -c4   /alloc?kb=ALLOC_KB&keep=ALLOC_KEEP  collected heap; the
#                 keep ring holds at most ALLOC_KEEP lists, so the live heap
#                 plateaus once it is full (its first ALLOC_KEEP requests)
#   wrk -t1 -c64  /sleep?ms=10                        timers, netpoll
#   wrk -t1 -c2   /contend?g=4&n=100                  gort::Mutex contention
#   wrk -t1 -c2   /error?code=… in rotation           the only non-2xx
#   curl, every LEAK_EVERY s: /leak?n=LEAK_N, and every RELEASE_EVERY s
#   /leak?release=1 (goroutines parked, then all woken and gone)
# and a profile round every ROUND_EVERY s (default one a minute, shortened
# so that a run has at least two): a 5 s CPU profile, heap, goroutine
# (debug=2 text and proto), mutex and block profiles, a 2 s trace. gortd
# runs with --mutex-profile-fraction 10 and --block-profile-rate 10000 so
# the last two have samples. Every SAMPLE_EVERY s (default 2) it samples
# gortd's VmRSS (/proc/PID/status), go_memstats_heap_inuse_bytes and
# go_goroutines (/metrics).
#
# It passes when (one line on stderr per failed condition, exit 1):
#   - no wrk saw a socket error (connect, read, write or timeout; wrk's
#     --timeout is 10 s) and no curl failed;
#   - every reply, as wrk and curl saw them and as gortd counted them in
#     http_requests_total (the change over the run, per path and code), is
#     2xx, except /error's, which must be one of the codes it was asked for
#     (or 200, its answer when the coin says no);
#   - RSS and heap in use are flat after the warm-up (see "Flat" below);
#   - once the load stops and the last leak is released, the goroutine
#     count returns to its value before the load (tolerance below) within
#     GOROUTINE_DEADLINE s (default 60);
#   - every profile opens in `go tool pprof` (-raw and -top), the CPU,
#     heap, goroutine, mutex and block profiles have samples, every
#     goroutine dump is a list of "goroutine N [state]:" stacks, and every
#     trace passes shared/tools/check_go_trace.sh (Go's parser and every
#     cmd/trace view) or, where that is absent, `go tool trace -d`;
#   - gortd exits 0 on SIGTERM after the run, with "shutdown complete".
# Exit 2: usage; 77: wrk, curl or go missing (ctest's skip code).
#
# Environment (the load): WORK_N (100000), ALLOC_KB (128), ALLOC_KEEP (64),
# LEAK_N (200), LEAK_EVERY (1), RELEASE_EVERY (10; 0 = never, which is a
# deliberate goroutine leak for checking that the soak notices one),
# SAMPLE_EVERY (2), ROUND_EVERY (auto), GOROUTINE_DEADLINE (60),
# GORT_SHARED_TOOLS (where check_go_trace.sh is; default ../shared/tools
# beside the checkout, then /work/shared/tools).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

usage() {
  echo "usage: $0 [--gortd PATH] [--port N] [--out DIR] DURATION   (e.g. 2m, 10m, 90s)" >&2
  exit 2
}

gortd=$root/build/service/gortd
port=0
out=
duration=
while (($#)); do
  case $1 in
    --gortd) (($# >= 2)) || usage; gortd=$2; shift 2 ;;
    --port) (($# >= 2)) || usage; port=$2; shift 2 ;;
    --out) (($# >= 2)) || usage; out=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) echo "$0: unknown option $1" >&2; usage ;;
    *) [[ -z $duration ]] || usage; duration=$1; shift ;;
  esac
done
[[ -n $duration ]] || usage
if ! [[ $port =~ ^[0-9]+$ ]] || ((port > 65535)); then
  echo "$0: --port $port: want 0..65535" >&2
  exit 2
fi

# parse_duration D → whole seconds ("1h30m", "2m", "90s", "90").
parse_duration() {
  local d=$1 s=0
  [[ $d =~ ^[0-9]+$ ]] && d=${d}s
  [[ $d =~ ^(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?$ && -n $d ]] || return 1
  s=$((10#${BASH_REMATCH[2]:-0} * 3600 + 10#${BASH_REMATCH[4]:-0} * 60 + 10#${BASH_REMATCH[6]:-0}))
  echo "$s"
}
secs=$(parse_duration "$duration") || { echo "$0: DURATION $duration: want e.g. 90s, 2m, 10m, 1h" >&2; exit 2; }
((secs >= 60 && secs <= 86400)) || { echo "$0: DURATION $duration: want 60s to 24h" >&2; exit 2; }
[[ -x $gortd ]] || { echo "$0: no gortd at $gortd (build it: cmake --build build --target gortd, or --gortd PATH)" >&2; exit 2; }
for tool in wrk curl go; do
  command -v "$tool" >/dev/null || { echo "$0: SKIP: $tool is not installed" >&2; exit 77; }
done

work_n=${WORK_N:-100000}
alloc_kb=${ALLOC_KB:-128}
alloc_keep=${ALLOC_KEEP:-64}
leak_n=${LEAK_N:-200}
leak_every=${LEAK_EVERY:-1}
release_every=${RELEASE_EVERY:-10}
sample_every=${SAMPLE_EVERY:-2}
goroutine_deadline=${GOROUTINE_DEADLINE:-60}
# One round a minute; a short run gets at least two (a 2-minute run: at 5 s
# and 60 s), the first 5 s into the load. A round takes about 8 s: 5 s of
# CPU profile, 2 s of trace, the rest quick.
round_every=${ROUND_EVERY:-$(((secs - 10) / 2 < 60 ? (secs - 10) / 2 : 60))}
((round_every >= 10)) || round_every=10

# Warm-up: the first half of the run, at least 60 s. Before it RSS grows
# for reasons that stop: the keep ring fills, the collector's goal settles,
# the allocator and goroutine stacks first touch their pages at the peak of
# the leak cycle, the first profile and trace allocate their buffers — and,
# slowest, the symbolizer's caches fill: every CPU profile meets leaf PCs
# not seen before (each cached, with its CU's DWARF index and the pages of
# the binary's debug info it read), 2–4 MB in the first rounds, then less
# and less (40 CPU profiles in a row under this load: +4.8 MB of malloc'ed
# memory over the first 8, +0.2 MB over the last 12). A quarter of a
# 10-minute run was not enough for that; half is. What grows after it is
# what the soak is looking for.
warmup=$((secs / 2))
((warmup >= 60)) || warmup=60
((warmup >= release_every + 2)) || warmup=$((release_every + 2))

# Flat: the least-squares slope over the samples after the warm-up,
# projected over an hour, must stay under FLAT_PCT_PER_HOUR% (default 50)
# of the plateau (the mean of those samples) for RSS and for heap in use,
# and never needs to be below FLAT_FLOOR_KIB_S KiB/s (default 16).
#
# Why these figures: with RSS plateauing near 140 MB the bound is about
# 19 KiB/s (70 MB an hour). A leak of one 64-byte object per request at the
# soak's ~8k requests/s is 500 KiB/s, twenty-five times that, and one per
# ten requests still fails; the deliberate leak RELEASE_EVERY=0 (200
# goroutines a second, a few KiB of stack each) is several hundred KiB/s of
# RSS, and bench/README.md records that the soak fails it (870 KiB/s).
# What passes: steps of a few MB that stop. Not settled yet: gortd's RSS
# still creeps by 7–22 KiB/s over the second half of a 10-minute run
# (four runs, bench/README.md), near this bound, so a 10-minute soak can
# fail on it; the cause is not pinned down (malloc'ed memory that CPU
# profiles leave — caches that fill more and more slowly — and glibc arena
# growth beyond it are the candidates). Noise: heap in
# use is sampled at a random point of the collector's saw-tooth (between
# the live heap and the goal, twice it at GOGC=100), so a sample is off by
# up to the live heap (~10–20 MB here); over 60 s of 2-second samples that
# puts ±15 KiB/s of scatter into the fitted slope, hence the floor, which
# is still thirty times below a per-request leak. RSS moves in steps (pages
# touched once, the scavenger returning them) and is steadier.
flat_pct=${FLAT_PCT_PER_HOUR:-50}
flat_floor=${FLAT_FLOOR_KIB_S:-16}

# The goroutines allowed above the count before the load: 0. That count is
# taken after one forced collection, because the collector starts its
# GOMAXPROCS background mark workers (goroutines that park between cycles
# and never exit) at its first cycle; it is read through /metrics, whose
# own connection goroutine is counted then as it is at the end. After the
# load every wrk connection is closed and the leaked goroutines released,
# so what remains must be the fixed goroutines of an idle gortd: main, the
# accept loop, the connection reaper, the mark workers.
# GOROUTINE_TOLERANCE (default 0) loosens it.
goroutine_tol=${GOROUTINE_TOLERANCE:-0}

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# ---- output directory -------------------------------------------------------
if [[ -z $out ]]; then
  out=$(mktemp -d /tmp/gort-soak.XXXXXX)
elif [[ -e $out ]]; then
  if [[ -n $(ls -A "$out") && ! -e $out/.gort-soak ]]; then
    echo "$0: --out $out is not empty and not a soak's output; refusing to replace it" >&2
    exit 2
  fi
  find "$out" -mindepth 1 -delete  # the previous soak's files, .stop-sampling included
fi
mkdir -p "$out/profiles"
out=$(cd "$out" && pwd)
touch "$out/.gort-soak"
failures=()
fail() { failures+=("$*"); }

pids=()
gortd_pid=
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  if [[ -n $gortd_pid ]]; then kill -KILL "$gortd_pid" 2>/dev/null || true; fi
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }'; }

# ---- gortd --------------------------------------------------------------------
GOMAXPROCS=2 "$gortd" --addr "127.0.0.1:$port" --mutex-profile-fraction 10 --block-profile-rate 10000 \
  >"$out/gortd.stdout" 2>"$out/gortd.log" &
gortd_pid=$!
for _ in $(seq 200); do
  port_seen=$(sed -nE 's/^gortd listening on [0-9.]+:([0-9]+).*/\1/p' "$out/gortd.log" | head -1)
  [[ -n $port_seen ]] && break
  kill -0 "$gortd_pid" 2>/dev/null || break
  sleep 0.05
done
[[ -n ${port_seen:-} ]] || { echo "$0: gortd did not start:" >&2; cat "$out/gortd.log" >&2; exit 1; }
port=$port_seen
base=http://127.0.0.1:$port
curl -sf -o /dev/null "$base/" || { echo "$0: gortd does not answer on $base" >&2; exit 1; }

# metric NAME → its value (integer) from a /metrics scrape on stdin.
metric() { awk -v n="$1" '$1 == n && !seen { printf "%.0f\n", $2; seen = 1 }'; }  # reads all: no SIGPIPE for curl
scrape() { curl -sf --max-time 10 "$base/metrics"; }
# requests_by_path_code → "PATH CODE COUNT" lines of http_requests_total.
requests_by_path_code() {
  scrape | awk '/^http_requests_total\{/ {
    p = $0; sub(/.*path="/, "", p); sub(/".*/, "", p)
    c = $0; sub(/.*code="/, "", c); sub(/".*/, "", c)
    n[p " " c] += $NF } END { for (k in n) printf "%s %.0f\n", k, n[k] }' | sort
}

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$gortd_pid/status"; }
# rss_split → "RssAnon RssFile" (KiB): the anonymous part and the part that
# is pages of files (the binary, its DWARF, shared libraries).
rss_split() { awk '/^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } END { print a, f }' "/proc/$gortd_pid/status"; }

# The state before the load: one forced collection (see the goroutine
# tolerance above), let start-up settle (two equal goroutine counts a
# second apart, at most 10 s), then read the baseline.
curl -sf -o /dev/null "$base/gc?run=1" || { echo "$0: /gc?run=1 failed" >&2; exit 1; }
prev=-1
for _ in $(seq 10); do
  g0=$(scrape | metric go_goroutines)
  [[ $g0 == "$prev" ]] && break
  prev=$g0
  sleep 1
done
rss0=$(rss_kib)
heap0=$(scrape | metric go_memstats_heap_inuse_bytes)
requests_by_path_code >"$out/requests-before.txt"
echo "soak: gortd pid $gortd_pid on $base, $secs s of load, output in $out"
echo "soak: before the load: $g0 goroutines, RSS $rss0 KiB, heap in use $heap0 bytes"
echo "soak: warm-up $warmup s, a profile round every $round_every s, a sample every $sample_every s"

# ---- load -----------------------------------------------------------------------
t0=$(now)
end_epoch=$(($(printf '%(%s)T' -1) + secs))

# The sampler, samples.txt: seconds since the load began, then VmRSS (KiB),
# heap in use, goroutines, and for a look at where memory goes (not
# judged): the live heap the last collection marked, stacks in use, and
# everything gort's allocators hold from the OS (bytes), RssAnon and
# RssFile (KiB).
(
  while [[ ! -e $out/.stop-sampling ]]; do
    m=$(scrape) || m=
    echo "$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }')" "$(rss_kib)" \
      "$(metric go_memstats_heap_inuse_bytes <<<"$m")" "$(metric go_goroutines <<<"$m")" \
      "$(metric gort_gc_heap_live_bytes <<<"$m")" "$(metric go_memstats_stack_inuse_bytes <<<"$m")" \
      "$(metric go_memstats_sys_bytes <<<"$m")" "$(rss_split)"
    sleep "$sample_every"
  done >"$out/samples.txt"
) &
sampler_pid=$!
pids+=("$sampler_pid")

names=(work alloc sleep contend error)
conns=(2 4 64 2 2)
paths=("/work?n=$work_n" "/alloc?kb=$alloc_kb&keep=$alloc_keep" "/sleep?ms=10" "/contend?g=4&n=100"
  "/error?code=500 /error?code=503&p=0.5 /error?code=404&p=0.5 /error?code=429&p=0.2")
# /error's codes, and 200 for the replies where p said no.
expected_error_codes=" 200 404 429 500 503 "
wrk_pids=()
for i in "${!names[@]}"; do
  # shellcheck disable=SC2086  # the rotation's paths are separate arguments
  wrk -t1 -c"${conns[$i]}" -d"${secs}s" --timeout 10s --latency -s "$here/soak.lua" "$base" -- ${paths[$i]} \
    >"$out/wrk-${names[$i]}.txt" 2>&1 &
  wrk_pids+=($!)
  pids+=($!)
done

# The leak loop: park LEAK_N goroutines every LEAK_EVERY s, release them
# all every RELEASE_EVERY s. Each line of leak.txt: "path http_code".
(
  next_release=$(($(printf '%(%s)T' -1) + release_every))
  while (($(printf '%(%s)T' -1) < end_epoch)); do
    echo "/leak $(curl -s -o /dev/null --max-time 30 -w '%{http_code}' "$base/leak?n=$leak_n")"
    if ((release_every > 0 && $(printf '%(%s)T' -1) >= next_release)); then
      echo "/leak $(curl -s -o /dev/null --max-time 30 -w '%{http_code}' "$base/leak?release=1")"
      next_release=$((next_release + release_every))
    fi
    sleep "$leak_every"
  done >"$out/leak.txt"
) &
leak_pid=$!
pids+=("$leak_pid")

# The profile rounds. profiles.txt: "round kind file http_code bytes".
fetch() {  # fetch ROUND KIND FILE URL-PATH MAX-TIME
  local code
  code=$(curl -s -o "$out/profiles/$3" --max-time "$5" -w '%{http_code}' "$base$4") || true
  echo "$1 $2 $3 ${code:-000} $(stat -c %s "$out/profiles/$3" 2>/dev/null || echo 0)" >>"$out/profiles.txt"
}
: >"$out/profiles.txt"
rounds=0
next_round=$(($(printf '%(%s)T' -1) + 5))
while ((next_round + 10 <= end_epoch)); do
  while (($(printf '%(%s)T' -1) < next_round)); do sleep 0.5; done
  rounds=$((rounds + 1))
  r=$(printf 'r%02d' "$rounds")
  echo "soak: round $rounds at $(since "$t0") s"
  fetch "$r" cpu "$r-cpu.pb.gz" "/debug/pprof/profile?seconds=5" 60
  fetch "$r" heap "$r-heap.pb.gz" "/debug/pprof/heap" 60
  fetch "$r" goroutine-text "$r-goroutine.txt" "/debug/pprof/goroutine?debug=2" 60
  fetch "$r" goroutine "$r-goroutine.pb.gz" "/debug/pprof/goroutine" 60
  fetch "$r" mutex "$r-mutex.pb.gz" "/debug/pprof/mutex" 60
  fetch "$r" block "$r-block.pb.gz" "/debug/pprof/block" 60
  fetch "$r" trace "$r-trace.out" "/debug/pprof/trace?seconds=2" 60
  next_round=$((next_round + round_every))
done

for p in "${wrk_pids[@]}"; do wait "$p" || fail "a wrk exited with status $?"; done
wait "$leak_pid" || true
echo "soak: load over at $(since "$t0") s"
touch "$out/.stop-sampling"
wait "$sampler_pid" || true

# ---- after the load: goroutines back to baseline -----------------------------------
echo "/leak $(curl -s -o /dev/null --max-time 30 -w '%{http_code}' "$base/leak?release=1")" >>"$out/leak.txt"
t_drain=$(now)
g_end=
while :; do
  g_end=$(scrape | metric go_goroutines) || g_end=
  [[ -n $g_end ]] && ((g_end <= g0 + goroutine_tol)) && break
  if (($(since "$t_drain") >= goroutine_deadline)); then
    curl -s -o "$out/goroutines-left.txt" --max-time 30 "$base/debug/pprof/goroutine?debug=1" || true
    fail "goroutines: ${g_end:-?} ${goroutine_deadline} s after the load, baseline $g0 (+$goroutine_tol allowed); dump in $out/goroutines-left.txt"
    break
  fi
  sleep 0.2
done
drain_s=$(since "$t_drain")
rss_after=$(rss_kib)
requests_by_path_code >"$out/requests-after.txt"

# ---- SIGTERM ----------------------------------------------------------------------
kill -TERM "$gortd_pid"
t_term=$(now)
while kill -0 "$gortd_pid" 2>/dev/null && (($(since "$t_term") < 60)); do sleep 0.1; done
if kill -0 "$gortd_pid" 2>/dev/null; then
  fail "shutdown: gortd still running 60 s after SIGTERM"
  kill -KILL "$gortd_pid"
fi
gortd_status=0
wait "$gortd_pid" || gortd_status=$?
gortd_pid=
((gortd_status == 0)) || fail "shutdown: gortd exited with status $gortd_status after SIGTERM"
grep -q 'shutdown complete' "$out/gortd.log" || fail "shutdown: no \"shutdown complete\" in gortd.log"

# ---- statuses and socket errors ----------------------------------------------------------
printf '\n%-9s %-34s %10s %9s %9s %9s  %s\n' load path requests req/s p50 p99 "statuses (wrk)"
for i in "${!names[@]}"; do
  f=$out/wrk-${names[$i]}.txt
  reqs=$(awk '/requests in/ { print $1 }' "$f")
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$f")
  p50=$(awk '$1 == "50%" { print $2 }' "$f")
  p99=$(awk '$1 == "99%" { print $2 }' "$f")
  statuses=$(awk '$1 == "status" { printf "%s%s:%s", sep, $2, $3; sep = " " }' "$f")
  printf '%-9s %-34s %10s %9s %9s %9s  %s\n' "${names[$i]}" "${paths[$i]%% *}" "${reqs:-?}" "${rps:-?}" "${p50:-?}" "${p99:-?}" "$statuses"
  read -r _ _ c _ r _ w _ t _ _ < <(awk '$1 == "errors"' "$f") || true
  if [[ -z ${c:-} ]]; then
    fail "wrk ${names[$i]}: no report (see $f)"
  elif ((c + r + w + t > 0)) || grep -q 'Socket errors' "$f"; then
    fail "wrk ${names[$i]}: socket errors: connect $c, read $r, write $w, timeout $t"
  fi
  while read -r _ s n; do
    if [[ ${names[$i]} == error ]]; then
      [[ $expected_error_codes == *" $s "* ]] || fail "wrk error: $n replies with unexpected status $s"
    elif ((s < 200 || s > 299)); then
      fail "wrk ${names[$i]}: $n replies with status $s"
    fi
  done < <(awk '$1 == "status"' "$f")
done
leak_bad=$(awk '$2 != 200' "$out/leak.txt" | sort | uniq -c | awk '{ printf "%s%s x%s", sep, $3, $1; sep = ", " }')
printf '%-9s %-34s %10s %9s %9s %9s  %s\n' leak "/leak?n=$leak_n, ?release=1" "$(wc -l <"$out/leak.txt")" - - - \
  "$(awk '{ n[$2]++ } END { for (c in n) printf "%s:%s ", c, n[c] }' "$out/leak.txt")"
[[ -z $leak_bad ]] || fail "leak loop: statuses other than 200: $leak_bad"

# gortd's own count: the change in http_requests_total over the run.
join -a2 -e 0 -o 2.1,0,1.2,2.2 <(awk '{ print $1 "|" $2, $3 }' "$out/requests-before.txt" | sort) \
  <(awk '{ print $1 "|" $2, $3 }' "$out/requests-after.txt" | sort) 2>/dev/null |
  awk '{ split($2, k, "|"); d = $4 - $3; if (d > 0) print k[1], k[2], d }' >"$out/requests-delta.txt" || true
printf '\ngortd http_requests_total over the run (path: code=count):\n'
awk '{ a[$1] = a[$1] (a[$1] == "" ? "" : " ") $2 "=" $3 } END { for (p in a) printf "  %-26s %s\n", p, a[p] }' \
  "$out/requests-delta.txt" | sort
while read -r path code n; do
  if [[ $path == /error ]]; then
    [[ $expected_error_codes == *" $code "* ]] || fail "gortd counted $n replies $code on /error (expected $expected_error_codes)"
  elif ((code < 200 || code > 299)); then
    fail "gortd counted $n replies $code on $path"
  fi
done <"$out/requests-delta.txt"

# ---- memory: flat after the warm-up --------------------------------------------------
# fit COLUMN → "n slope_per_s mean min max" over the samples after the warm-up.
fit() {
  awk -v w="$warmup" -v col="$1" '$1 >= w && $col != "" {
      n++; x = $1; y = $col; sx += x; sy += y; sxx += x * x; sxy += x * y
      if (n == 1 || y < lo) lo = y; if (n == 1 || y > hi) hi = y }
    END { if (n < 3) { print 0, 0, 0, 0, 0; exit }
      b = (n * sxy - sx * sy) / (n * sxx - sx * sx); printf "%d %.6f %.1f %.0f %.0f\n", n, b, sy / n, lo, hi }' \
    "$out/samples.txt"
}
read -r n_rss slope_rss mean_rss lo_rss hi_rss < <(fit 2)   # KiB, KiB/s
read -r n_heap slope_heap mean_heap lo_heap hi_heap < <(fit 3)  # bytes, bytes/s
slope_heap_kib=$(awk -v b="$slope_heap" 'BEGIN { printf "%.2f", b / 1024 }')
rss_first=$(awk 'NR == 1 { print $2 }' "$out/samples.txt")
rss_last=$(awk 'END { print $2 }' "$out/samples.txt")
g_max=$(awk '$4 > m { m = $4 } END { print m + 0 }' "$out/samples.txt")
# limit MEAN_KIB FLOOR_KIB_S → the largest slope (KiB/s) allowed: an hour of
# it is flat_pct% of the plateau, and never less than the floor.
limit() { awk -v m="$1" -v p="$flat_pct" -v f="$2" 'BEGIN { l = m * p / 100 / 3600; if (l < f) l = f; printf "%.2f", l }'; }
# judge NAME N SLOPE_KIB_S LIMIT_KIB_S records a failure when it grows faster.
judge() {
  if (($2 < 10)); then
    fail "$1: only $2 samples after the warm-up; cannot judge"
  elif awk -v s="$3" -v l="$4" 'BEGIN { exit !(s > l) }'; then
    fail "$1: grows $3 KiB/s after the warm-up ($(awk -v s="$3" 'BEGIN { printf "%.1f", s * 3600 / 1024 }') MiB/h), limit $4 KiB/s"
  fi
}
limit_rss=$(limit "$mean_rss" "$flat_floor")
limit_heap=$(limit "$(awk -v m="$mean_heap" 'BEGIN { print m / 1024 }')" "$flat_floor")
judge RSS "$n_rss" "$slope_rss" "$limit_rss"
judge "heap in use" "$n_heap" "$slope_heap_kib" "$limit_heap"

printf '\nmemory (%s samples after the %s s warm-up):\n' "$n_rss" "$warmup"
printf '  %-10s %10s %10s %10s %18s %10s %10s %12s %8s\n' "" before first plateau "min..max" end after "slope KiB/s" "limit"
printf '  %-10s %10s %10s %10s %18s %10s %10s %12s %8s\n' "RSS KiB" "$rss0" "$rss_first" "${mean_rss%.*}" "$lo_rss..$hi_rss" \
  "$rss_last" "$rss_after" "$slope_rss" "$limit_rss"
printf '  %-10s %10s %10s %10s %18s %10s %10s %12s %8s\n' "heap KiB" "$((heap0 / 1024))" \
  "$(awk 'NR == 1 { printf "%.0f", $3 / 1024 }' "$out/samples.txt")" "$(awk -v m="$mean_heap" 'BEGIN { printf "%.0f", m / 1024 }')" \
  "$((lo_heap / 1024))..$((hi_heap / 1024))" "$(awk 'END { printf "%.0f", $3 / 1024 }' "$out/samples.txt")" - "$slope_heap_kib" "$limit_heap"
printf 'goroutines: %s before the load, up to %s during it, %s at the end (%s s after the last release)\n' \
  "$g0" "$g_max" "${g_end:-?}" "$drain_s"

# ---- profiles and traces open in Go's tools ---------------------------------------------
tools=${GORT_SHARED_TOOLS:-}
for d in "$tools" "$root/../shared/tools" /work/shared/tools; do
  if [[ -n $d && -x $d/check_go_trace.sh ]]; then tools=$d; break; fi
  tools=
done
# samples RAW → the number of samples in `go tool pprof -raw` output.
samples() { awk '/^Samples:/ { s = 1; next } /^Locations/ { s = 0 } s && /^ *[0-9]+.*:/ { n++ } END { print n + 0 }' "$1"; }
declare -A taken valid
while read -r r kind file code bytes; do
  taken[$kind]=$((${taken[$kind]:-0} + 1))
  f=$out/profiles/$file
  if [[ $code != 200 || $bytes == 0 ]]; then
    fail "$file: HTTP $code, $bytes bytes"
    continue
  fi
  case $kind in
    trace)
      if [[ -n $tools ]]; then
        verdict=$("$tools/check_go_trace.sh" "$f" 2>&1 | tail -1) || { fail "$file: ${verdict#FAIL }"; continue; }
      else
        go tool trace -d "$f" >/dev/null 2>"$f.err" || { fail "$file: go tool trace -d: $(head -1 "$f.err")"; continue; }
        rm -f "$f.err"
        verdict="PASS $f: parser only"
      fi
      echo "$verdict" >>"$out/trace-checks.txt"
      ;;
    goroutine-text)
      # Every stack begins "goroutine N [state…]:"; the file begins with one.
      if ! head -1 "$f" | grep -qE '^goroutine [0-9]+ \[.*\]:$'; then
        fail "$file: does not begin with a \"goroutine N [state]:\" line"
        continue
      fi
      ;;
    *)
      if ! go tool pprof -raw "$f" >"$f.raw" 2>"$f.err" || ! go tool pprof -top "$f" >/dev/null 2>>"$f.err"; then
        fail "$file: go tool pprof: $(head -1 "$f.err")"
        continue
      fi
      n=$(samples "$f.raw")
      rm -f "$f.err" "$f.raw"
      if ((n == 0)); then
        fail "$file: no samples"
        continue
      fi
      ;;
  esac
  valid[$kind]=$((${valid[$kind]:-0} + 1))
done <"$out/profiles.txt"
printf 'profiles (%s rounds; taken/opened in Go'"'"'s tools):' "$rounds"
for kind in cpu heap goroutine-text goroutine mutex block trace; do
  printf ' %s %s/%s' "$kind" "${valid[$kind]:-0}" "${taken[$kind]:-0}"
  ((${taken[$kind]:-0} >= 1)) || fail "profiles: no $kind taken"
done
echo
if [[ -s $out/trace-checks.txt ]]; then
  echo "traces: $(if [[ -n $tools ]]; then echo "check_go_trace.sh (Go's parser and every cmd/trace view)"; else echo "go tool trace -d (check_go_trace.sh not found)"; fi)"
  sed 's/^/  /' "$out/trace-checks.txt" | cut -c1-160
fi
echo "shutdown: gortd exited $gortd_status after SIGTERM"
echo "output: $out"

if ((${#failures[@]})); then
  echo
  for f in "${failures[@]}"; do echo "soak: FAIL: $f" >&2; done
  exit 1
fi
echo "soak: PASS"
