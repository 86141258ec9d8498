#!/usr/bin/env bash
# test.sh — set up, build, and run the whole suite with ctest:
#   1. the Release build (build/): unit, stress and integration tests;
#   2. an AddressSanitizer + UBSan build of the runtime tests (build-asan/),
#      with the runtime's fiber-switch annotations so ASan follows goroutine
#      stacks.
# Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
jobs=$(nproc)

echo "== Release build =="
./scripts/build.sh
(cd build && ctest --output-on-failure -j1 --timeout 900)

echo "== ASan + UBSan build of the runtime tests =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGORT_SANITIZE=ON \
  -DGORT_BUILD_SERVICE=OFF -DGORT_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$jobs"
(cd build-asan && ASAN_OPTIONS=detect_stack_use_after_return=0:abort_on_error=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --output-on-failure -j1 --timeout 1800)
