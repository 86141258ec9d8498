// yield_bench.cpp — goroutine switches through the scheduler, against Go's
// BenchmarkGoschedPair / BenchmarkGoschedAlone.
//
//   BM_YieldPair   two goroutines each call gort::yield() N times (N = the
//                  iteration count, as Go's b.N): one iteration is one
//                  yield by each, i.e. two yields; ns_per_yield is half.
//                  At procs:1 every yield is a real switch to the other
//                  goroutine (G -> g0 -> G: two fcontext jumps plus a run
//                  queue put and get).
//   BM_YieldAlone  one goroutine yields with nothing else runnable: the
//                  yield path's fixed cost (switch to g0 and straight back).
#include <chrono>

#include "bench/micro/harness.h"
#include "runtime/sync.h"

namespace {

void BM_YieldPair(benchmark::State& state) {
  gort_bench::run_on_runtime(state, [&] {
    const benchmark::IterationCount n = state.max_iterations;
    auto t0 = std::chrono::steady_clock::now();
    // One batch of exactly n, so the partner's last yields are timed too.
    static gort::WaitGroup wg;  // outlives the partner's done(); see harness.h
    while (state.KeepRunningBatch(n)) {
      wg.add(1);
      gort::go([&] {
        for (benchmark::IterationCount i = 0; i < n; i++) gort::yield();
        wg.done();
      });
      for (benchmark::IterationCount i = 0; i < n; i++) gort::yield();
      wg.wait();
    }
    auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
    state.counters["ns_per_yield"] = ns / (2.0 * static_cast<double>(n));
  });
}

void BM_YieldAlone(benchmark::State& state) {
  gort_bench::run_on_runtime(state, [&] {
    for (auto _ : state) gort::yield();
  });
}

}  // namespace

BENCHMARK(BM_YieldPair)->Apply(gort_bench::procs_1_2);
BENCHMARK(BM_YieldAlone)->Apply(gort_bench::procs_1_2);
