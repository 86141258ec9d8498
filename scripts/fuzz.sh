#!/usr/bin/env bash
# fuzz.sh — run gort's libFuzzer targets (tests/fuzz/NAME_fuzz.cpp) under
# ASan + UBSan, from their seed corpora.
#
#   scripts/fuzz.sh --list               the targets, one per line
#   scripts/fuzz.sh TARGET [SECONDS]     fuzz one target (default 60 s)
#   scripts/fuzz.sh all [SECONDS]        every target in turn, SECONDS each
#
# Builds build-asan/ first (scripts/lib/asan-build.sh). The working corpus
# grows in build-asan/fuzz/corpus/TARGET (seeded from tests/fuzz/corpus/
# TARGET, kept between runs); a finding is saved under build-asan/fuzz/
# findings/TARGET/ and the run exits non-zero. To keep a fixed finding
# fixed, copy it into tests/fuzz/regressions/TARGET/ under a name that says
# what it broke: every build replays those (ctest fuzz_replay_TARGET).
# Prints libFuzzer's final stats (execs, coverage) for each target.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/asan-build.sh

targets() {
  local f
  for f in tests/fuzz/*_fuzz.cpp; do
    f=${f##*/}
    echo "${f%_fuzz.cpp}"
  done
}

usage() {
  echo "usage: scripts/fuzz.sh --list | TARGET [SECONDS] | all [SECONDS]" >&2
  exit 2
}

[ $# -ge 1 ] || usage
case "$1" in
  --list) targets; exit 0 ;;
  -h|--help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
esac
which=$1
seconds=${2:-60}
[[ "$seconds" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: SECONDS must be a positive integer, got '$seconds'" >&2; exit 2; }
if [ "$which" = all ]; then
  mapfile -t run < <(targets)
else
  targets | grep -qx -- "$which" || { echo "fuzz.sh: no target '$which' (scripts/fuzz.sh --list)" >&2; exit 2; }
  run=("$which")
fi

asan_build "${run[@]/%/_fuzz}"

status=0
for t in "${run[@]}"; do
  corpus=$asan_build_dir/fuzz/corpus/$t
  findings=$asan_build_dir/fuzz/findings/$t
  mkdir -p "$corpus" "$findings"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  args=(-max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1
        -artifact_prefix="$findings/" -close_fd_mask=1)
  [ -f tests/fuzz/"$t".dict ] && args+=(-dict=tests/fuzz/"$t".dict)
  echo "== fuzz $t for ${seconds}s ==" >&2
  log=$asan_build_dir/fuzz/$t.log
  if "$asan_build_dir/tests/fuzz/${t}_fuzz" "${args[@]}" "$corpus" >"$log" 2>&1; then
    grep -E '^#[0-9]+.*(DONE|cov:)' "$log" | tail -1 >&2 || true
    grep -E '^stat::(number_of_executed_units|peak_rss_mb)' "$log" >&2 || true
  else
    status=1
    tail -60 "$log" >&2
    echo "fuzz.sh: $t found a failure; the input is in $findings/ (full log: $log)" >&2
  fi
done
exit $status
