// sleep_bench.cpp — how late a sleeping goroutine wakes (Go's time.Sleep
// overshoot). The tests only check that a sleep is never early; this is
// where "within 1 ms when idle" is measured.
//
//   BM_SleepLateness/procs:P/sleep_us:S  one iteration = gort::sleep_for(S µs)
//                    on the main goroutine of an otherwise idle runtime: the
//                    M blocked in the netpoller sleeps until the earliest
//                    timer. Counters: lateness_p50_ns, lateness_p99_ns,
//                    lateness_max_ns (wake-up time minus S, over all
//                    iterations). Target: p50 < 1 ms (the former
//                    sched_test assertion).
#include <algorithm>
#include <chrono>
#include <vector>

#include "bench/micro/harness.h"

namespace {

void BM_SleepLateness(benchmark::State& state) {
  const int64_t sleep_ns = state.range(1) * 1000;
  std::vector<int64_t> late;
  gort_bench::run_on_runtime(state, [&] {
    late.reserve(static_cast<size_t>(state.max_iterations));
    for (auto _ : state) {
      int64_t t0 = gort::nanotime();
      gort::sleep_for(std::chrono::nanoseconds(sleep_ns));
      late.push_back(gort::nanotime() - t0 - sleep_ns);
    }
  });
  gort_bench::report_lateness(state, late);
}

}  // namespace

BENCHMARK(BM_SleepLateness)
    ->ArgNames({"procs", "sleep_us"})
    ->Args({1, 1000})
    ->Args({2, 1000})
    ->Args({2, 3000})
    ->Iterations(200)
    ->UseRealTime()
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMicrosecond);
