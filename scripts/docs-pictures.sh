#!/usr/bin/env bash
# docs-pictures.sh — regenerates the README's pictures (docs/pictures/*.png)
# from a gortd it starts itself on a free loopback port and keeps busy with
# wrk: pprof's flame graph and call graph of a CPU profile gortd took, the
# /debug/ui dashboard, and go tool trace's timeline. Pages are captured by
# headless Chromium through scripts/screenshot.py, once each page is ready.
set -euo pipefail

usage() {
  cat <<EOF
usage: scripts/docs-pictures.sh [--gortd PATH] [--out-dir DIR]

Starts gortd (default build/service/gortd), loads it with wrk, and writes
  flamegraph.png  go tool pprof -http's flame graph of a 5 s CPU profile
  callgraph.png   the same profile's call graph (go tool pprof -dot | dot -Tpng)
  dashboard.png   gortd's /debug/ui under load (skipped if gortd has no /debug/ui)
  trace.png       go tool trace's timeline of a 1 s execution trace
into DIR (default docs/pictures). Needs go, wrk, curl, chromium, graphviz, python3.
EOF
}

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GORTD=$ROOT/build/service/gortd
OUT=$ROOT/docs/pictures
# Pictures are committed: 1400 px wide, and each under this size.
readonly WIDTH_PX=1400
readonly MAX_BYTES=307200

die() { echo "docs-pictures.sh: $*" >&2; exit 1; }
while (($#)); do
  case "$1" in
    --gortd) GORTD=${2:?--gortd needs a path}; shift 2 ;;
    --out-dir) OUT=${2:?--out-dir needs a directory}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see --help)" ;;
  esac
done
[[ -x "$GORTD" ]] || die "no gortd at $GORTD (build it: scripts/build.sh)"
for tool in go wrk curl chromium dot python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed (scripts/setup.sh installs it)"
done
mkdir -p "$OUT"

tmp=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# wait_for DESCRIPTION COMMAND... retries COMMAND for up to 30 s.
wait_for() {
  local what=$1; shift
  for _ in $(seq 300); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  die "$what did not happen within 30 s"
}

# free_port prints a loopback port nobody listens on (for go tool pprof,
# which cannot report a port 0 picked for it).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# shot URL FILE HEIGHT WAIT_JS [THEN_JS] captures URL at WIDTH_PX x HEIGHT.
shot() {
  python3 "$ROOT/scripts/screenshot.py" "$1" "$2" --width "$WIDTH_PX" --height "$3" \
    --wait-js "$4" --then-js "${5:-}" --settle-ms 1500 --timeout 120
}

# check_size FILE fails if a picture is too big to commit.
check_size() {
  local bytes
  bytes=$(stat -c %s "$1")
  ((bytes <= MAX_BYTES)) || die "$1 is $bytes bytes, over $MAX_BYTES: make it smaller before committing"
  echo "docs-pictures.sh: wrote $1 ($bytes bytes)"
}

# gortd, with the contention profiles on so the dashboard has them too, and
# two Ps whatever the machine, so the pictures look the same everywhere.
GOMAXPROCS=2 "$GORTD" --addr 127.0.0.1:0 --mutex-profile-fraction 10 --block-profile-rate 100000 2>"$tmp/gortd.log" &
pids+=($!)
wait_for "gortd's listening line" grep -q 'gortd listening on' "$tmp/gortd.log"
addr=$(grep -o 'gortd listening on [^ ]*' "$tmp/gortd.log" | awk '{print $4}')
base=http://$addr

# The pictures' traffic, for the whole run: /work (the CPU hot spot) on four
# connections, and beside it the collected heap (a ring of 64 lists of
# 256 KiB keeps ~20 MiB live, so the heap saws between live and goal) and
# scatter-gather. The dashboard page draws what it receives from when it
# opens, a point a second, over a two-minute axis; the load lasts until it
# has DASHBOARD_POINTS.
readonly LOAD_SECONDS=100
readonly DASHBOARD_POINTS=70  # one a second, from when the page opens (~20 s in)
wrk -t2 -c4 -d"${LOAD_SECONDS}s" "$base/work?n=1000000" >/dev/null 2>&1 &
pids+=($!)
wrk -t1 -c1 -d"${LOAD_SECONDS}s" "$base/alloc?kb=256&keep=64" >/dev/null 2>&1 &
pids+=($!)
wrk -t1 -c1 -d"${LOAD_SECONDS}s" "$base/fanout?g=8&n=2000000" >/dev/null 2>&1 &
pids+=($!)
sleep 1

# (a) a CPU profile under load: flame graph and call graph.
curl -sSf -o "$tmp/cpu.pb.gz" "$base/debug/pprof/profile?seconds=5" || die "CPU profile failed"
port=$(free_port)
go tool pprof -http="127.0.0.1:$port" -no_browser "$tmp/cpu.pb.gz" >"$tmp/pprof.log" 2>&1 &
pids+=($!)
wait_for "go tool pprof's web UI" curl -sf -o /dev/null "http://127.0.0.1:$port/ui/flamegraph"
# The flame graph draws its frames, then fades their labels in.
shot "http://127.0.0.1:$port/ui/flamegraph" "$OUT/flamegraph.png" 560 \
  "document.querySelector('#chart').innerText.includes('xorshift_rounds')"
check_size "$OUT/flamegraph.png"
# The call graph at 72 dpi, scaled to fit WIDTH_PX (graphviz sizes are inches).
go tool pprof -dot -nodefraction=0.02 -edgefraction=0.01 "$tmp/cpu.pb.gz" 2>/dev/null |
  dot -Tpng -Gdpi=72 -Gsize="$((WIDTH_PX / 72)),40" -o "$OUT/callgraph.png" || die "call graph failed"
check_size "$OUT/callgraph.png"

# (b) an execution trace under load, in go tool trace's timeline.
curl -sSf -o "$tmp/trace.out" "$base/debug/pprof/trace?seconds=1" || die "trace failed"
BROWSER=true go tool trace -http=127.0.0.1:0 "$tmp/trace.out" >"$tmp/trace.log" 2>&1 &
pids+=($!)
wait_for "go tool trace's web UI" grep -q 'listening on http://' "$tmp/trace.log"
trace_url=$(grep -o 'http://[0-9.:]*' "$tmp/trace.log" | head -1)
# The viewer imports the trace in steps behind an "Importing..." dialog; the
# tracks are drawn once it is gone. The yellow bar about the web components
# polyfill (Go 1.19's viewer predates Chromium dropping HTML imports) and the
# empty selection panel below the tracks are hidden, so the tracks fill the
# picture.
shot "$trace_url/trace" "$OUT/trace.png" 360 \
  "document.body.innerText.includes('Proc 0') && !document.body.innerText.includes('Importing')" \
  "for (const e of Array.from(document.querySelectorAll('tr-ui-b-info-bar, tr-ui-a-analysis-view, tr-ui-b-drag-handle')))
     e.style.display = 'none'"
check_size "$OUT/trace.png"

# (c) the dashboard, once its charts have DASHBOARD_POINTS of history.
if [[ $(curl -s -o /dev/null -w '%{http_code}' "$base/debug/ui") == 200 ]]; then
  # Chart.js keeps its charts in Chart.instances.
  shot "$base/debug/ui" "$OUT/dashboard.png" 1000 \
    "window.Chart && Object.values(Chart.instances).length > 0 &&
     Object.values(Chart.instances).every(c => c.data.datasets.some(d => d.data.length >= $DASHBOARD_POINTS))"
  check_size "$OUT/dashboard.png"
else
  echo "docs-pictures.sh: gortd has no /debug/ui: dashboard.png not made" >&2
fi
