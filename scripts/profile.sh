#!/usr/bin/env bash
# profile.sh — take one profile or execution trace from a running gortd
# (its /debug/pprof endpoints, as `go tool pprof URL` would) into a file, and
# print the command that opens it. scripts/profile-KIND.sh are thin wrappers.
# The shared fetching, auth, progress and load code is lib/profile-common.sh.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib/profile-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/profile-common.sh"

# Defaults for the duration of the profiles that have one.
readonly CPU_DEFAULT_SECONDS=10
readonly TRACE_DEFAULT_SECONDS=5
# With --load and no --seconds, a snapshot profile (heap, goroutine …) is
# taken after this much load, while the load still runs.
readonly LOAD_WARMUP_SECONDS=3

usage() {
  cat <<EOF
usage: profile.sh KIND [options]      (or profile-KIND.sh [options])
  KIND: cpu heap allocs goroutine block mutex trace

Takes a profile from gortd's /debug/pprof into a file and prints the command
that opens it (go tool pprof -http=:8081 FILE, or go tool trace FILE).

  --addr HOST:PORT        gortd's main listener, where --load goes (default localhost:8080)
  --debug-addr HOST:PORT  where /debug/pprof is served when gortd runs with
                          --debug-addr (default: --addr)
  --auth USER:PASS        gortd's --debug-auth credentials (default: \$GORTD_AUTH)
  --seconds N             cpu: profile length (default $CPU_DEFAULT_SECONDS); trace: length (default $TRACE_DEFAULT_SECONDS);
                          heap allocs goroutine block mutex: a delta profile of
                          what happened in the next N seconds (default: a
                          snapshot now)
  --load [PATH]           run wrk (${LOAD_WRK_THREADS} threads, ${LOAD_WRK_CONNECTIONS} connections) on http://ADDR/work, or on
                          PATH (e.g. '/alloc?kb=256'), for the whole profile; a
                          snapshot without --seconds is taken after ${LOAD_WARMUP_SECONDS} s of it
  --out FILE              default KIND-YYYYmmdd-HHMMSS.pb.gz (.out for trace) here
  -h, --help              this text

Exits non-zero with a one-line reason (service down, 401, 409 when another CPU
profile or trace is running, any other non-200, an invalid file) and leaves no
partial file behind.
EOF
}

kind=${1:-}
case "$kind" in
  -h | --help) usage; exit 0 ;;
  cpu | heap | allocs | goroutine | block | mutex | trace) shift ;;
  "") PROG=profile.sh; die "missing KIND (cpu heap allocs goroutine block mutex trace); see --help" ;;
  *) PROG=profile.sh; die "unknown KIND '$kind' (cpu heap allocs goroutine block mutex trace)" ;;
esac
PROG="profile-$kind.sh"

ADDR=localhost:8080
DEBUG_ADDR=""
auth=""
seconds=""
load_path=""
out=""
need_value() { (($# >= 2)) || die "$1 needs a value (see --help)"; }
while (($#)); do
  case "$1" in
    --addr) need_value "$@"; ADDR=$2; shift 2 ;;
    --addr=*) ADDR=${1#*=}; shift ;;
    --debug-addr) need_value "$@"; DEBUG_ADDR=$2; shift 2 ;;
    --debug-addr=*) DEBUG_ADDR=${1#*=}; shift ;;
    --auth) need_value "$@"; auth=$2; shift 2 ;;
    --auth=*) auth=${1#*=}; shift ;;
    --seconds) need_value "$@"; seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    --load)
      if (($# >= 2)) && [[ "$2" == /* ]]; then load_path=$2; shift 2; else load_path=/work; shift; fi ;;
    --load=*) load_path=${1#*=}; shift ;;
    --out) need_value "$@"; out=$2; shift 2 ;;
    --out=*) out=${1#*=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

ADDR=$(normalize_addr "$ADDR")
DEBUG_ADDR=$(normalize_addr "${DEBUG_ADDR:-$ADDR}")
[[ -z "$seconds" ]] || check_seconds --seconds "$seconds"
[[ -z "$load_path" ]] || need_wrk
profile_init "$auth"

ext=pb.gz
case "$kind" in
  cpu)
    seconds=${seconds:-$CPU_DEFAULT_SECONDS}
    url="http://$DEBUG_ADDR/debug/pprof/profile?seconds=$seconds" ;;
  trace)
    seconds=${seconds:-$TRACE_DEFAULT_SECONDS}
    url="http://$DEBUG_ADDR/debug/pprof/trace?seconds=$seconds"
    ext=out ;;
  *)
    url="http://$DEBUG_ADDR/debug/pprof/$kind${seconds:+?seconds=$seconds}" ;;
esac
out=${out:-$kind-$(date +%Y%m%d-%H%M%S).$ext}
out_dir=$(dirname "$out")
[[ -d "$out_dir" ]] || die "no such directory: $out_dir"
new_tmp "$out_dir" "$(basename "$out")"
tmp=$REPLY

if [[ -n "$load_path" ]]; then
  start_load "$ADDR" "$load_path" "$((${seconds:-$LOAD_WARMUP_SECONDS} + FETCH_SLACK_SECONDS))"
  if [[ -z "$seconds" ]]; then
    sleep "$LOAD_WARMUP_SECONDS" &
    _progress_wait $! "$LOAD_WARMUP_SECONDS" "load warm-up"
  fi
fi
label="$kind profile"
[[ "$kind" == trace ]] && label="trace"
fetch "$url" "$tmp" "${seconds:-0}" "$label"
stop_load

if [[ "$kind" == trace ]]; then check_trace "$tmp"; else check_pprof "$tmp"; fi
publish "$tmp" "$out"
printf '%s: wrote %s (%s bytes)\n' "$PROG" "$out" "$(stat -c %s "$out")" >&2
if [[ "$kind" == trace ]]; then
  printf 'go tool trace %q\n' "$out"
else
  printf 'go tool pprof -http=:8081 %q\n' "$out"
fi
