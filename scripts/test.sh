#!/usr/bin/env bash
# test.sh — set up, build, and run the whole suite with ctest:
#   1. the Release build (build/): unit, stress and integration tests;
#   2. an AddressSanitizer + UBSan build of the runtime tests (build-asan/),
#      with the runtime's fiber-switch annotations so ASan follows goroutine
#      stacks;
#   3. a ThreadSanitizer build of the runtime tests (build-tsan/), with clang
#      14: its TSan runtime (v3) has no limit on fibers, where GCC 12's dies
#      at 8,128 threads plus fibers. The runtime tells TSan about every
#      goroutine switch (switch.cpp), so TSan follows goroutines across
#      threads. Any report fails the run (halt_on_error); there are no
#      suppressions.
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

echo "== ThreadSanitizer build of the runtime tests =="
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGORT_TSAN=ON \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DGORT_BUILD_SERVICE=OFF -DGORT_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan -j"$jobs"
# die_after_fork=0: the death tests fork a multi-threaded process and run the
# runtime in the child.
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1:history_size=7:die_after_fork=0 \
  ctest --output-on-failure -j1 --timeout 1800)
