// preempt_bench.cpp — how fast the runtime takes the CPU back from a
// goroutine that does not yield on its own.
//
//   BM_StopTheWorld  GOMAXPROCS=2 with one CPU-bound goroutine spinning on
//                    preempt_check(): one iteration is stop_the_world +
//                    start_the_world from the main goroutine, started
//                    once the spinner runs again. Counter time_to_stop_ns
//                    is the mean time until every P stopped.
//   BM_PreemptLatency GOMAXPROCS=1, a spinner with preempt_check() and the
//                    main goroutine sleeping 1 ms per iteration: main runs
//                    again only after sysmon preempts the spinner. Counters:
//                    preempt_latency_ns (mean, request to switch) and its
//                    max; the iteration time is dominated by sysmon's 10 ms
//                    time slice, as in Go.
#include <atomic>

#include "bench/micro/harness.h"
#include "runtime/gort.h"
#include "runtime/stw.h"

namespace {

void BM_StopTheWorld(benchmark::State& state) {
  gort_bench::run_on_runtime(state, [&] {
    static std::atomic<bool> stop;
    static std::atomic<uint64_t> spins;
    stop = false;
    spins = 0;
    gort::go([] {
      while (!stop.load(std::memory_order_relaxed)) {
        spins.fetch_add(1, std::memory_order_relaxed);
        gort::preempt_check();
      }
    });
    double total_ns = 0;
    for (auto _ : state) {
      // Untimed: wait until the spinner is really running on the other P
      // (after a restart its M first has to wake up).
      state.PauseTiming();
      uint64_t s0 = spins.load();
      while (spins.load() < s0 + 1000) gort::yield();
      state.ResumeTiming();
      total_ns += static_cast<double>(gort::stop_the_world("bench"));
      gort::start_the_world();
    }
    stop = true;
    state.counters["time_to_stop_ns"] = total_ns / static_cast<double>(state.iterations());
  });
}

void BM_PreemptLatency(benchmark::State& state) {
  gort_bench::run_on_runtime(state, [&] {
    static std::atomic<bool> stop;
    stop = false;
    gort::go([] {
      while (!stop.load(std::memory_order_relaxed)) gort::preempt_check();
    });
    gort::yield();
    gort::SchedStats before = gort::sched_stats();
    for (auto _ : state) gort::sleep_ms(1);
    gort::SchedStats after = gort::sched_stats();
    stop = true;
    uint64_t n = after.preemptions - before.preemptions;
    state.counters["preemptions"] = static_cast<double>(n);
    state.counters["preempt_latency_ns"] =
        n ? static_cast<double>(after.preempt_latency_sum_ns - before.preempt_latency_sum_ns) / static_cast<double>(n) : 0;
    state.counters["preempt_latency_max_ns"] = static_cast<double>(after.preempt_latency_max_ns);
  });
}

}  // namespace

// procs:2 only: at procs:1 the spinner could not be running while main stops the world.
BENCHMARK(BM_StopTheWorld)->ArgName("procs")->Arg(2)->UseRealTime()->MeasureProcessCPUTime();
BENCHMARK(BM_PreemptLatency)->Apply(gort_bench::procs_1)->Iterations(50);
