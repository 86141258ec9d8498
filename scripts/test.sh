#!/usr/bin/env bash
# test.sh — set up, build, and run the whole suite with ctest:
#   1. the Release build (build/): unit, stress and integration tests;
#   2. an AddressSanitizer + UBSan build with clang (build-asan/,
#      scripts/lib/asan-build.sh): the unit tests and the gortd integration
#      tests against a sanitized gortd, with the runtime's fiber-switch
#      annotations so ASan follows goroutine stacks; then a short run of
#      every libFuzzer target (scripts/fuzz.sh all 30);
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

echo "== ASan + UBSan build: unit tests, gortd integration tests, fuzz targets =="
source scripts/lib/asan-build.sh
asan_build
# Everything but the tests whose point is a browser, a tutorial's recorded
# figures or deploy files: those judge gortd's output, not its memory, and
# run in the Release build above; and but descriptor exhaustion, which
# starves the sanitizer runtime as well (UBSan reported an invalid vptr in
# error_code::message() at EMFILE, not seen in the Release build).
(cd "$asan_build_dir" && ctest --output-on-failure -j1 --timeout 1800 \
  -E '^(gortd_ui_test|docs_tutorial_.*|deploy_.*|profile_scripts_test|gortd_faults_conns_test)$')
echo "== Fuzz every target for ${GORT_FUZZ_SECONDS:-30}s =="
./scripts/fuzz.sh all "${GORT_FUZZ_SECONDS:-30}"

echo "== ThreadSanitizer build of the runtime tests =="
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGORT_TSAN=ON \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
  -DGORT_BUILD_SERVICE=OFF -DGORT_BUILD_BENCH=OFF >/dev/null
cmake --build build-tsan -j"$jobs"
# die_after_fork=0: the death tests fork a multi-threaded process and run the
# runtime in the child.
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1:exitcode=66:second_deadlock_stack=1:history_size=7:die_after_fork=0 \
  ctest --output-on-failure -j1 --timeout 1800)
