#!/usr/bin/env bash
# profile_scripts_test.sh — ctest test of scripts/profile*.sh against the real
# gortd: every KIND gives a file Go's tools read, --load puts /work's
# xorshift loop into the CPU profile, each failure (service down, 409, 401,
# 404, wrk missing) is one line on stderr and leaves no file, --debug-addr
# and --auth reach a separate authenticated debug listener, and
# profile-diff.sh shows a goroutine leak and heap growth.
#
# usage: profile_scripts_test.sh GORTD SCRIPTS_DIR
# Needs go, wrk and curl; exits 77 (ctest's skip) when one is missing.
# Waits only on conditions (a line in a log, a goroutine in a dump), each
# under a generous deadline; gortd runs on free ports (--addr 127.0.0.1:0).
set -euo pipefail

GORTD=${1:?usage: profile_scripts_test.sh GORTD SCRIPTS_DIR}
SCRIPTS=$(cd "${2:?usage: profile_scripts_test.sh GORTD SCRIPTS_DIR}" && pwd)
for tool in go wrk curl; do
  command -v "$tool" >/dev/null || { echo "SKIP: $tool not installed" >&2; exit 77; }
done

# The longest any awaited condition may take before the test gives up.
readonly DEADLINE_SECONDS=60

work=$(mktemp -d)
pids=()
cleanup() {
  local pid
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
ok() { echo "ok: $*"; }

# wait_for DESCRIPTION COMMAND... polls COMMAND until it succeeds.
wait_for() {
  local what=$1 deadline=$((SECONDS + DEADLINE_SECONDS))
  shift
  until "$@"; do
    ((SECONDS < deadline)) || fail "gave up waiting for $what"
    sleep 0.05
  done
}

# start_gortd NAME ARGS... starts gortd on a free port and sets MAIN (and
# DEBUG with --debug-addr) from its "listening on" lines.
start_gortd() {
  local name=$1 log="$work/$1.err"
  shift
  "$GORTD" --addr 127.0.0.1:0 "$@" 2>"$log" &
  pids+=($!)
  GORTD_PID=$!
  local want="gortd listening on"
  [[ " $* " == *" --debug-addr "* ]] && want="gortd debug listening on"
  wait_for "$name to listen" grep -q "$want" "$log"
  MAIN=$(sed -n 's/^gortd listening on \([^ ]*\).*/\1/p' "$log")
  DEBUG=$(sed -n 's/^gortd debug listening on \([^ ]*\).*/\1/p' "$log")
}

# goroutines_match ADDR PATTERN: some goroutine's stack matches PATTERN.
goroutines_match() {
  curl -sf "http://$1/debug/pprof/goroutine?debug=1" | grep -q "$2"
}
goroutines_lack() { ! goroutines_match "$@"; }

# expect_failure WHAT PATTERN SCRIPT ARGS... runs a script in an empty
# directory and checks it fails with exactly one stderr line matching
# PATTERN and leaves no file (not even a hidden partial one) behind.
expect_failure() {
  local what=$1 pattern=$2 dir
  shift 2
  dir=$(mktemp -d "$work/fail.XXXXXX")
  local rc=0
  (cd "$dir" && "$@") >"$dir.out" 2>"$dir.err" || rc=$?
  ((rc != 0)) || fail "$what: exited 0"
  [[ $(wc -l <"$dir.err") == 1 ]] || fail "$what: want one line on stderr, got: $(cat "$dir.err")"
  grep -q -- "$pattern" "$dir.err" || fail "$what: stderr lacks '$pattern': $(cat "$dir.err")"
  [[ -z "$(ls -A "$dir")" ]] || fail "$what: left files behind: $(ls -A "$dir")"
  ok "$what: $(cat "$dir.err")"
}

# pprof_top FILE [FLAGS...] prints go tool pprof -top's report of FILE.
pprof_top() {
  local file=$1
  shift
  go tool pprof "$@" -top "$file" 2>"$work/pprof.err" || fail "go tool pprof cannot read $file: $(cat "$work/pprof.err")"
}

# --- every KIND, default file names ---------------------------------------
start_gortd plain
A=$MAIN
mkdir "$work/kinds"
for kind in heap allocs goroutine block mutex cpu trace; do
  args=(--addr "$A")
  [[ "$kind" == cpu || "$kind" == trace ]] && args+=(--seconds 1)
  (cd "$work/kinds" && "$SCRIPTS/profile-$kind.sh" "${args[@]}") >"$work/out" 2>"$work/err" ||
    fail "profile-$kind.sh: $(cat "$work/err")"
  if [[ "$kind" == trace ]]; then
    file=$(sed -n 's/^go tool trace \(.*\)$/\1/p' "$work/out")
    [[ "$file" =~ ^trace-[0-9]{8}-[0-9]{6}\.out$ ]] || fail "trace: unexpected output: $(cat "$work/out")"
    go tool trace -d "$work/kinds/$file" >"$work/trace.txt" 2>&1 || fail "go tool trace cannot parse $file: $(tail -n3 "$work/trace.txt")"
    grep -q ' GoCreate ' "$work/trace.txt" || fail "trace $file has no GoCreate events"
  else
    file=$(sed -n 's/^go tool pprof -http=:8081 \(.*\)$/\1/p' "$work/out")
    [[ "$file" =~ ^$kind-[0-9]{8}-[0-9]{6}\.pb\.gz$ ]] || fail "$kind: unexpected output: $(cat "$work/out")"
    pprof_top "$work/kinds/$file" | grep -q '^Type: ' || fail "$kind: go tool pprof -top shows no Type"
  fi
  ok "profile-$kind.sh wrote $file, which Go's tools read"
done
"$SCRIPTS/profile-heap.sh" --addr "$A" --seconds 1 --out "$work/delta.pb.gz" >/dev/null 2>"$work/err" ||
  fail "heap delta: $(cat "$work/err")"
pprof_top "$work/delta.pb.gz" | grep -q '^Type: inuse_space' || fail "heap delta: not an inuse_space profile"
ok "profile-heap.sh --seconds 1 gives a delta profile"

# --- --load: the CPU profile shows /work's xorshift loop --------------------
"$SCRIPTS/profile-cpu.sh" --addr "$A" --seconds 2 --load --out "$work/load.pb.gz" >/dev/null 2>"$work/err" ||
  fail "cpu --load: $(cat "$work/err")"
grep -q "load: wrk GET http://$A/work: [0-9]* requests" "$work/err" || fail "cpu --load: no wrk summary: $(cat "$work/err")"
pprof_top "$work/load.pb.gz" >"$work/top.txt"
grep -q 'xorshift_rounds' "$work/top.txt" || fail "cpu --load: xorshift_rounds not in the profile: $(cat "$work/top.txt")"
ok "profile-cpu.sh --load: $(grep -m1 xorshift_rounds "$work/top.txt" | sed 's/  */ /g')"

# --- 409 while another CPU profile or trace runs ----------------------------
curl -s -o /dev/null "http://$A/debug/pprof/profile?seconds=300" &
holder=$!
pids+=("$holder")
wait_for "the held CPU profile to run" goroutines_match "$A" 'wait_or_hangup<.*serve_cpu_profile'
expect_failure "cpu during a CPU profile" '409 Conflict' "$SCRIPTS/profile-cpu.sh" --addr "$A" --seconds 1
kill "$holder"
wait_for "gortd to drop the held CPU profile" goroutines_lack "$A" serve_cpu_profile
curl -s -o /dev/null "http://$A/debug/pprof/trace?seconds=300" &
holder=$!
pids+=("$holder")
wait_for "the held trace to run" goroutines_match "$A" serve_trace
expect_failure "trace during a trace" '409 Conflict' "$SCRIPTS/profile-trace.sh" --addr "$A" --seconds 1
kill "$holder"
wait_for "gortd to drop the held trace" goroutines_lack "$A" serve_trace

# --- wrk missing, bad load path ---------------------------------------------
# A PATH without wrk: the other tools the scripts use, linked into one
# directory (copying all of /usr/bin but wrk takes seconds on slow disks).
mkdir "$work/nowrk"
for tool in env bash dirname basename curl date mktemp base64 gzip head tail stat sed grep tr wc sleep chmod mv rm cat go; do
  ln -s "$(command -v "$tool")" "$work/nowrk/$tool"
done
expect_failure "--load without wrk" 'needs wrk' env PATH="$work/nowrk" "$SCRIPTS/profile-cpu.sh" --addr "$A" --load
expect_failure "--load on a bad path" 'HTTP 400' "$SCRIPTS/profile-cpu.sh" --addr "$A" --load '/work?n=abc'

# --- service down ------------------------------------------------------------
kill "$GORTD_PID"
wait "$GORTD_PID" || true
expect_failure "service down" 'connection refused' "$SCRIPTS/profile-heap.sh" --addr "$A"

# --- a separate debug listener with basic auth ------------------------------
start_gortd secured --debug-addr 127.0.0.1:0 --debug-auth tester:s3cret
expect_failure "no credentials" '401 Unauthorized.*--auth' "$SCRIPTS/profile-heap.sh" --addr "$MAIN" --debug-addr "$DEBUG"
expect_failure "wrong credentials" '401 Unauthorized.*rejected' "$SCRIPTS/profile-heap.sh" --addr "$MAIN" --debug-addr "$DEBUG" --auth tester:wrong
expect_failure "debug routes not on --addr" '404.*--debug-addr' "$SCRIPTS/profile-heap.sh" --addr "$MAIN" --auth tester:s3cret
GORTD_AUTH=tester:s3cret "$SCRIPTS/profile-goroutine.sh" --addr "$MAIN" --debug-addr "$DEBUG" --out "$work/auth.pb.gz" >/dev/null 2>"$work/err" ||
  fail "GORTD_AUTH: $(cat "$work/err")"
pprof_top "$work/auth.pb.gz" | grep -q '^Type: goroutine' || fail "GORTD_AUTH: not a goroutine profile"
ok "GORTD_AUTH and --debug-addr reach the debug listener"
"$SCRIPTS/profile-cpu.sh" --addr "$MAIN" --debug-addr "$DEBUG" --auth tester:s3cret --seconds 1 --load \
  --out "$work/auth-cpu.pb.gz" >/dev/null 2>"$work/err" || fail "cpu with --debug-addr and --load: $(cat "$work/err")"
grep -q "load: wrk GET http://$MAIN/work" "$work/err" || fail "--load did not go to --addr: $(cat "$work/err")"
pprof_top "$work/auth-cpu.pb.gz" | grep -q '^Type: cpu' || fail "cpu via --debug-addr: not a CPU profile"
ok "--load goes to --addr while the profile comes from --debug-addr"

# --- profile-diff.sh: heap growth under keep= load ---------------------------
mkdir "$work/diff-heap"
"$SCRIPTS/profile-diff.sh" --addr "$MAIN" --debug-addr "$DEBUG" --auth tester:s3cret --seconds 2 \
  --load '/alloc?kb=64&keep=256' --out-dir "$work/diff-heap" >"$work/diff.txt" 2>"$work/err" ||
  fail "profile-diff heap: $(cat "$work/err")"
snaps=("$work"/diff-heap/heap-[0-9]*-[0-9]*.pb.gz)
((${#snaps[@]} == 2)) ||
  fail "profile-diff heap: want two snapshots, got: $(ls -A "$work/diff-heap")"
grep -q '^\$ go tool pprof -sample_index=inuse_space .*-base .*-top ' "$work/diff.txt" || fail "profile-diff heap: no command: $(cat "$work/diff.txt")"
grep -q 'go tool pprof -http=:8081 -sample_index=inuse_space -base ' "$work/diff.txt" || fail "profile-diff heap: no browser command"
# The ring holds 256 lists of 64 KiB: about 16 MB more live heap, under
# handle_alloc (sampled every 512 KiB, so far above 4 MB in any run).
grown=$(awk '/handle_alloc/ { print $4; exit }' "$work/diff.txt")
grown_mb=0
[[ "$grown" =~ ^([0-9]+)(\.[0-9]*)?MB$ ]] && grown_mb=${BASH_REMATCH[1]}
[[ "$grown" =~ ^[0-9.]+GB$ ]] && grown_mb=1024
if ((grown_mb < 4)); then
  fail "profile-diff heap: handle_alloc did not grow by MBs (cum '$grown'): $(cat "$work/diff.txt")"
fi
ok "profile-diff.sh heap: handle_alloc grew by $grown"

# --- profile-diff.sh: a goroutine leak between the snapshots ----------------
mkdir "$work/diff-g"
"$SCRIPTS/profile-diff.sh" --kind goroutine --addr "$MAIN" --debug-addr "$DEBUG" --auth tester:s3cret --seconds 3 \
  --out-dir "$work/diff-g" >"$work/diff-g.txt" 2>"$work/diff-g.err" &
differ=$!
pids+=("$differ")
wait_for "the base goroutine snapshot" grep -q 'base snapshot' "$work/diff-g.err"
curl -sf "http://$MAIN/leak?n=500" >/dev/null || fail "/leak?n=500 failed"
wait "$differ" || fail "profile-diff goroutine: $(cat "$work/diff-g.err")"
leaked=$(awk '/Demos::leak/ { print $4; exit }' "$work/diff-g.txt")
[[ "$leaked" == 500 ]] || fail "profile-diff goroutine: want the leak's 500 goroutines, got '$leaked': $(cat "$work/diff-g.txt")"
ok "profile-diff.sh goroutine: $leaked leaked goroutines under Demos::leak"
echo "PASS"
