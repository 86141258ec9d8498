# profile-common.sh — what scripts/profile.sh and scripts/profile-diff.sh
# share: fetching one profile from gortd's /debug/pprof into a file (with
# basic auth, a progress bar on a terminal, and a one-line reason for every
# failure), and running wrk load beside it. Sourced, not run.
#
# The caller sets PROG (the name in error lines) and calls profile_init.
# Every temporary file and the wrk process are tracked here and removed or
# stopped on exit, so a failed or interrupted run leaves nothing behind.
# shellcheck shell=bash

# wrk's shape for --load: two threads (one per core on a small machine),
# eight connections, so the service stays busy without queueing for long.
readonly LOAD_WRK_THREADS=2
readonly LOAD_WRK_CONNECTIONS=8
# Seconds curl may take beyond the profile's own duration (encoding,
# symbolization, transfer) before the script gives up.
readonly FETCH_SLACK_SECONDS=60
readonly CONNECT_TIMEOUT_SECONDS=5

_tmp_files=()
_load_pid=""
_load_log=""
_fetch_pid=""
_auth_b64=""

# die prints one line on stderr and exits 1 (the EXIT trap cleans up).
die() {
  printf '%s: %s\n' "$PROG" "$*" >&2
  exit 1
}

_cleanup() {
  [[ -n "$_fetch_pid" ]] && kill "$_fetch_pid" 2>/dev/null
  stop_load quiet
  [[ -t 2 ]] && printf '\r\033[K' >&2
  ((${#_tmp_files[@]})) && rm -f "${_tmp_files[@]}"
  return 0
}

# profile_init installs the cleanup traps and reads the auth (--auth wins
# over GORTD_AUTH). Call after option parsing: profile_init "$auth".
profile_init() {
  trap _cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  local auth="${1:-${GORTD_AUTH:-}}"
  if [[ -n "$auth" ]]; then
    [[ "$auth" == *:* ]] || die "--auth wants USER:PASS"
    _auth_b64=$(printf '%s' "$auth" | base64 -w0)
  fi
  command -v curl >/dev/null || die "curl not found (apt-get install curl)"
}

# normalize_addr turns ":8080" into "localhost:8080" and drops an
# "http://" prefix and a trailing slash.
normalize_addr() {
  local a="${1#http://}"
  a="${a%/}"
  [[ "$a" == :* ]] && a="localhost$a"
  [[ "$a" =~ ^(\[[0-9a-fA-F:.]+\]|[^:/]+):[0-9]+$ ]] || die "bad address '$1': want HOST:PORT"
  printf '%s' "$a"
}

# check_seconds fails unless $2 (the value of option $1) is an integer in
# [1, 3600] — gortd's own limit on a profile's duration.
check_seconds() {
  if ! [[ "$2" =~ ^[0-9]+$ ]] || (($2 < 1 || $2 > 3600)); then
    die "bad $1 '$2': want whole seconds in [1, 3600]"
  fi
}

# new_tmp NAME_TEMPLATE_DIR BASE sets REPLY to a new temporary file beside
# the destination (so the final rename stays on one file system).
new_tmp() {
  REPLY=$(mktemp "$1/.$2.XXXXXX" 2>/dev/null) || die "cannot create a file in $1"
  _tmp_files+=("$REPLY")
}

# _progress_wait PID TOTAL LABEL waits for PID; on a terminal it draws a
# bar counting TOTAL seconds on stderr meanwhile. Returns PID's status.
_progress_wait() {
  local pid=$1 total=$2 label=$3 rc=0
  if [[ -t 2 ]] && ((total > 0)); then
    local width=30 start=${EPOCHREALTIME/[.,]/} now elapsed filled bar
    while kill -0 "$pid" 2>/dev/null; do
      now=${EPOCHREALTIME/[.,]/}
      elapsed=$(((now - start) / 1000000))
      if ((elapsed < total)); then
        filled=$((width * (now - start) / (total * 1000000)))
        printf -v bar '%*s' "$filled" ''
        printf '\r%s [%-*s] %d/%d s ' "$label" "$width" "${bar// /#}" "$elapsed" "$total" >&2
      else
        printf -v bar '%*s' "$width" ''
        printf '\r%s [%s] finishing... ' "$label" "${bar// /#}" >&2
      fi
      sleep 0.2
    done
    printf '\r\033[K' >&2
  fi
  wait "$pid" || rc=$?
  return "$rc"
}

# fetch URL OUT SECONDS LABEL downloads URL into OUT (a file the caller made
# with new_tmp), waiting SECONDS with a progress bar. On anything but a
# complete 200 reply it dies with one line saying why.
fetch() {
  local url=$1 out=$2 seconds=$3 label=$4
  local errf code rc=0
  new_tmp "$(dirname "$out")" curl-err
  errf=$REPLY
  local args=(-sS -o "$out" -w '%{http_code}' --connect-timeout "$CONNECT_TIMEOUT_SECONDS"
    --max-time "$((seconds + FETCH_SLACK_SECONDS))")
  # The credentials go to curl as a header file, never on its command line
  # (where ps would show them).
  if [[ -n "$_auth_b64" ]]; then
    curl "${args[@]}" -H @<(printf 'Authorization: Basic %s\n' "$_auth_b64") "$url" >"$errf.code" 2>"$errf" &
  else
    curl "${args[@]}" "$url" >"$errf.code" 2>"$errf" &
  fi
  _fetch_pid=$!
  _tmp_files+=("$errf.code")
  _progress_wait "$_fetch_pid" "$seconds" "$label" || rc=$?
  _fetch_pid=""
  code=$(<"$errf.code")
  local where=${url#http://}
  where=${where%%/*}
  case "$rc" in
    0) ;;
    7) die "cannot connect to $where (connection refused): is gortd running there?" ;;
    6) die "cannot resolve the host in $where" ;;
    28) die "timed out talking to $where: $(head -n1 "$errf")" ;;
    *) die "request to $url failed: $(head -n1 "$errf" | sed 's/^curl: ([0-9]*) //')" ;;
  esac
  [[ "$code" == 200 ]] && return 0
  local reason
  reason=$(head -c 400 "$out" | head -n1 | tr -d '\r')
  case "$code" in
    401)
      if [[ -n "$_auth_b64" ]]; then
        die "401 Unauthorized from $where: gortd rejected the credentials of --auth / GORTD_AUTH"
      else
        die "401 Unauthorized from $where: gortd runs with --debug-auth; pass --auth USER:PASS or set GORTD_AUTH"
      fi
      ;;
    409) die "409 Conflict from $where: $reason; retry when it ends" ;;
    404)
      if [[ "$url" == */debug/pprof/* && "${DEBUG_ADDR:-}" == "${ADDR:-}" ]]; then
        die "404 from $url: $reason (if gortd runs with --debug-addr, pass --debug-addr HOST:PORT)"
      fi
      die "404 from $url: $reason"
      ;;
    *) die "HTTP $code from $url: ${reason:-no reason given}" ;;
  esac
}

# check_pprof FILE dies unless FILE is a non-empty gzip stream (pprof's
# profile.proto is always gzipped).
check_pprof() {
  [[ -s "$1" ]] || die "gortd sent an empty profile"
  gzip -t "$1" 2>/dev/null || die "gortd sent a profile that is not gzip data (not profile.proto)"
  local n
  n=$(gzip -dc "$1" 2>/dev/null | head -c 1 | wc -c) || true
  ((n > 0)) || die "gortd sent an empty profile"
}

# check_trace FILE dies unless FILE starts with Go's trace header
# ("go 1.19 trace\0\0\0") and has events after it.
check_trace() {
  [[ -s "$1" ]] || die "gortd sent an empty trace"
  [[ "$(head -c 5 "$1")" == "go 1." ]] || die "gortd sent a file that is not a Go execution trace"
  (($(stat -c %s "$1") > 16)) || die "gortd sent a trace with no events"
}

# publish TMP DEST gives TMP the mode a new file gets (mktemp made it 0600)
# and renames it to DEST.
publish() {
  chmod "$(printf '%o' $((0666 & ~$(umask))))" "$1"
  mv -f "$1" "$2"
}

# start_load ADDR PATH SECONDS runs wrk against http://ADDR/PATH in the
# background for up to SECONDS (stop_load ends it sooner). The path is
# requested once first, so a typo fails here instead of profiling nothing.
start_load() {
  local addr=$1 path=$2 seconds=$3
  [[ "$path" == /* ]] || path="/$path"
  local url="http://$addr$path"
  local probe
  new_tmp "${TMPDIR:-/tmp}" load-probe
  probe=$REPLY
  fetch "$url" "$probe" 0 load
  new_tmp "${TMPDIR:-/tmp}" wrk-log
  _load_log=$REPLY
  wrk -t"$LOAD_WRK_THREADS" -c"$LOAD_WRK_CONNECTIONS" -d"${seconds}s" "$url" >"$_load_log" 2>&1 &
  _load_pid=$!
  LOAD_URL=$url
}

# stop_load [quiet] stops wrk (SIGINT: it prints its summary) and waits for
# it; without "quiet" it reports wrk's request count on stderr.
stop_load() {
  [[ -n "$_load_pid" ]] || return 0
  local pid=$_load_pid i
  _load_pid=""
  kill -INT "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  [[ "${1:-}" == quiet ]] && return 0
  local summary
  summary=$(sed -n 's/^ *\([0-9]* requests in [^,]*\).*/\1/p' "$_load_log")
  if [[ -n "$summary" ]]; then
    printf '%s: load: wrk GET %s: %s, %s\n' "$PROG" "$LOAD_URL" "$summary" \
      "$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1 req\/s/p' "$_load_log")" >&2
  fi
  if grep -q 'Non-2xx or 3xx responses' "$_load_log"; then
    printf '%s: load: %s\n' "$PROG" "$(grep -m1 'Non-2xx or 3xx responses' "$_load_log" | sed 's/^ *//')" >&2
  fi
}

# need_wrk dies unless wrk is installed (for --load).
need_wrk() {
  command -v wrk >/dev/null || die "--load needs wrk, which is not installed (apt-get install wrk)"
}
