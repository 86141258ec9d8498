# asan-build.sh — sourced by test.sh and fuzz.sh: configures and builds
# build-asan/, the one sanitizer build both use. clang 14 with
# AddressSanitizer + UBSan and libFuzzer's coverage instrumentation, the
# whole project (runtime, gc, profilers, gortd, tests, fuzz targets): ctest
# there runs the unit and gortd integration tests under ASan+UBSan, and
# scripts/fuzz.sh runs the NAME_fuzz programs from the same objects, so the
# suite compiles the project with sanitizers once, not twice.
#
#   asan_build [TARGET...]   configure if needed, then build (all by default)

asan_build_dir=build-asan

asan_build() {
  local jobs
  jobs=$(nproc)
  cmake -S . -B "$asan_build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 \
    -DGORT_SANITIZE=ON -DGORT_FUZZ=ON -DGORT_BUILD_BENCH=OFF >/dev/null
  if [ $# -eq 0 ]; then
    cmake --build "$asan_build_dir" -j"$jobs"
  else
    local t
    for t in "$@"; do cmake --build "$asan_build_dir" -j"$jobs" --target "$t"; done
  fi
}

# The sanitizers' settings for everything run from build-asan: no
# use-after-return checks (goroutine stacks are switched under ASan's feet;
# the runtime annotates switches, not fake stacks), stop at the first report.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_stack_use_after_return=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
