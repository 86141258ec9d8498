#!/usr/bin/env bash
# profile-diff.sh — the leak-hunting workflow on a running gortd: a heap (or
# goroutine) snapshot, N seconds of whatever grows it (wrk load with --load,
# or your own traffic), a second snapshot, then what grew between them:
# `go tool pprof -base OLD -top NEW`. Both snapshots are kept, timestamped.
# Fetching, auth, progress and load come from lib/profile-common.sh.
set -euo pipefail
# shellcheck source=SCRIPTDIR/lib/profile-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/profile-common.sh"
PROG=profile-diff.sh

# Long enough for a slow leak to show, short enough to wait for.
readonly DIFF_DEFAULT_SECONDS=30
# How many lines of growth the -top listing shows.
readonly DIFF_TOP_NODES=25

usage() {
  cat <<EOF
usage: profile-diff.sh [--kind heap|goroutine] [--seconds N] [--addr HOST:PORT]
                       [--debug-addr HOST:PORT] [--auth USER:PASS] [--load PATH]
                       [--out-dir DIR]

Takes a snapshot, waits N seconds, takes another, keeps both and prints what
grew in between (go tool pprof -base OLD -top NEW) and the command that opens
the difference in a browser.

  --kind K                heap (default; live heap after a forced GC, compared
                          by inuse_space) or goroutine (leaked goroutines)
  --seconds N             time between the snapshots (default $DIFF_DEFAULT_SECONDS)
  --addr HOST:PORT        gortd's main listener, where --load goes (default localhost:8080)
  --debug-addr HOST:PORT  where /debug/pprof is served when gortd runs with
                          --debug-addr (default: --addr)
  --auth USER:PASS        gortd's --debug-auth credentials (default: \$GORTD_AUTH)
  --load PATH             run wrk on http://ADDR/PATH between the snapshots and stop
                          it before the second, e.g. '/alloc?kb=64&keep=256'
  --out-dir DIR           where the snapshots go (default: here), named
                          KIND-YYYYmmdd-HHMMSS.pb.gz
  -h, --help              this text
EOF
}

kind=heap
seconds=$DIFF_DEFAULT_SECONDS
ADDR=localhost:8080
DEBUG_ADDR=""
auth=""
load_path=""
out_dir=.
need_value() { (($# >= 2)) || die "$1 needs a value (see --help)"; }
while (($#)); do
  case "$1" in
    --kind) need_value "$@"; kind=$2; shift 2 ;;
    --kind=*) kind=${1#*=}; shift ;;
    --seconds) need_value "$@"; seconds=$2; shift 2 ;;
    --seconds=*) seconds=${1#*=}; shift ;;
    --addr) need_value "$@"; ADDR=$2; shift 2 ;;
    --addr=*) ADDR=${1#*=}; shift ;;
    --debug-addr) need_value "$@"; DEBUG_ADDR=$2; shift 2 ;;
    --debug-addr=*) DEBUG_ADDR=${1#*=}; shift ;;
    --auth) need_value "$@"; auth=$2; shift 2 ;;
    --auth=*) auth=${1#*=}; shift ;;
    --load) need_value "$@"; load_path=$2; shift 2 ;;
    --load=*) load_path=${1#*=}; shift ;;
    --out-dir) need_value "$@"; out_dir=$2; shift 2 ;;
    --out-dir=*) out_dir=${1#*=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done

case "$kind" in
  heap)
    # gc=1: compare live heaps, not whatever garbage the last cycle left.
    query="heap?gc=1"
    pprof_flags=(-sample_index=inuse_space) ;;
  goroutine)
    query="goroutine"
    pprof_flags=() ;;
  *) die "bad --kind '$kind': want heap or goroutine" ;;
esac
ADDR=$(normalize_addr "$ADDR")
DEBUG_ADDR=$(normalize_addr "${DEBUG_ADDR:-$ADDR}")
check_seconds --seconds "$seconds"
[[ -d "$out_dir" ]] || die "no such directory: $out_dir"
[[ -z "$load_path" ]] || need_wrk
profile_init "$auth"
url="http://$DEBUG_ADDR/debug/pprof/$query"

# snapshot sets REPLY to the file of a new snapshot in out_dir.
snapshot() {
  local file tmp
  file="$out_dir/$kind-$(date +%Y%m%d-%H%M%S).pb.gz"
  new_tmp "$out_dir" "$(basename "$file")"
  tmp=$REPLY
  fetch "$url" "$tmp" 0 "$kind snapshot"
  check_pprof "$tmp"
  publish "$tmp" "$file"
  REPLY=$file
}

snapshot
old=$REPLY
printf '%s: base snapshot %s; the next in %d s\n' "$PROG" "$old" "$seconds" >&2
[[ -z "$load_path" ]] || start_load "$ADDR" "$load_path" "$((seconds + FETCH_SLACK_SECONDS))"
sleep "$seconds" &
_progress_wait $! "$seconds" "waiting"
stop_load
snapshot
new=$REPLY
printf '%s: second snapshot %s\n' "$PROG" "$new" >&2

top_cmd=(go tool pprof "${pprof_flags[@]}" -nodecount="$DIFF_TOP_NODES" -base "$old" -top "$new")
web_cmd=(go tool pprof -http=:8081 "${pprof_flags[@]}" -base "$old" "$new")
# shell_words prints its arguments quoted for pasting into a shell.
shell_words() {
  local shown
  printf -v shown '%q ' "$@"
  printf '%s\n' "${shown% }"
}
printf '$ '
shell_words "${top_cmd[@]}"
if command -v go >/dev/null; then
  errf=""
  new_tmp "${TMPDIR:-/tmp}" pprof-err
  errf=$REPLY
  "${top_cmd[@]}" 2>"$errf" || die "go tool pprof failed: $(tail -n1 "$errf")"
else
  printf '%s: go not found: install golang-go to see the difference\n' "$PROG" >&2
fi
printf 'open the difference in a browser:\n  '
shell_words "${web_cmd[@]}"
