// park_bench.cpp — what a *parked* goroutine costs: the time to start N
// goroutines that each block in a channel receive, and the memory they hold
// while parked. Go's reference is gopeer's /leak?n=100000 (0.29 s, 2.7 KB of
// RSS per goroutine).
//
//   BM_Park100k/procs:P        100,000 goroutines, fresh runtime per run.
//   BM_Park100kWarm/procs:P    the same after an untimed round, so Gs and
//                              their committed stacks come from the free
//                              lists (no page faults; RSS growth ~0).
//   BM_Park1M/procs:P/stack_kb:S  1,000,000 goroutines with S KiB stack slots
//                              (256 = the default: 256 GiB of lazily
//                              committed address space).
//
// One iteration: sample memory; spawn N goroutines that each increment an
// atomic counter and then block in ch.recv() on one unbuffered channel; the
// one that brings the counter to N wakes the main goroutine (parked on a
// second channel, not polling: a polling yield loop would measure the
// scheduler's yield policy instead); stop the clock. Then, untimed: check that N goroutines
// really are parked in "chan receive", sample memory again, close the
// channel and wait until all have exited.
//
// Reported (manual time = spawn-to-all-parked):
//   ns_per_goroutine         wall time / N
//   rss_bytes_per_goroutine  RSS growth / N (/proc/self/statm): the stack
//                            pages a goroutine touched + its G record
//   pte_bytes_per_goroutine  page-table growth / N (VmPTE, not in RSS): the
//                            kernel's cost of spreading stacks over a large
//                            address range
// The runtime is fresh on every run (Iterations(1)), so stacks start
// uncommitted and the page faults of first touch are part of the time, as
// they are for Go's fresh stacks.
#include <atomic>
#include <chrono>

#include "bench/micro/harness.h"
#include "runtime/chan.h"
#include "runtime/observer.h"

namespace {

// ParkResult is one round's measurements.
struct ParkResult {
  double ns = 0;
  gort_bench::MemSample before, after;
};

// park_round starts n goroutines parked on one channel, measures, then
// releases them and returns once all have exited. On the main goroutine.
ParkResult park_round(int64_t n) {
  ParkResult r;
  gort::Chan<int> ch;
  gort::Chan<int> all_started(1), all_exited(1);  // buffered: the signal never blocks
  std::atomic<int64_t> started{0};
  std::atomic<int64_t> exited{0};
  r.before = gort_bench::sample_memory();
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; i++) {
    // n by value: a goroutine still reads it after the last one has woken
    // main, which may have left this frame by then.
    gort::go([&, n] {
      if (started.fetch_add(1, std::memory_order_relaxed) + 1 == n) all_started.send(0);
      ch.recv();
      if (exited.fetch_add(1, std::memory_order_relaxed) + 1 == n) all_exited.send(0);
    });
  }
  all_started.recv();
  auto t1 = std::chrono::steady_clock::now();
  r.ns = std::chrono::duration<double, std::nano>(t1 - t0).count();

  // With procs > 1 the last few may still be between the increment and the
  // park; wait until the scheduler has them all parked.
  while (gort_bench::count_parked(gort::WaitReason::ChanReceive) < n) gort::yield();
  r.after = gort_bench::sample_memory();

  ch.close();
  all_exited.recv();
  return r;
}

void park_n(benchmark::State& state, int64_t n, size_t stack_bytes, bool warm) {
  double sum_ns = 0, sum_rss = 0, sum_pte = 0;
  gort_bench::run_on_runtime(
      state,
      [&] {
        if (warm) park_round(n);
        for (auto _ : state) {
          ParkResult r = park_round(n);
          state.SetIterationTime(r.ns * 1e-9);
          sum_ns += r.ns / double(n);
          sum_rss += double(r.after.rss_bytes - r.before.rss_bytes) / double(n);
          sum_pte += double(r.after.pte_bytes - r.before.pte_bytes) / double(n);
        }
      },
      stack_bytes);
  using benchmark::Counter;
  state.counters["ns_per_goroutine"] = Counter(sum_ns, Counter::kAvgIterations);
  state.counters["rss_bytes_per_goroutine"] = Counter(sum_rss, Counter::kAvgIterations);
  state.counters["pte_bytes_per_goroutine"] = Counter(sum_pte, Counter::kAvgIterations);
}

void BM_Park100k(benchmark::State& state) { park_n(state, 100'000, 0, false); }
void BM_Park100kWarm(benchmark::State& state) { park_n(state, 100'000, 0, true); }

void BM_Park1M(benchmark::State& state) {
  park_n(state, 1'000'000, static_cast<size_t>(state.range(1)) * 1024, false);
}

}  // namespace

// One timed pass per run (manual time: spawning and parking only).
void park_100k_args(benchmark::internal::Benchmark* b) {
  b->ArgName("procs")->Arg(1)->Arg(2)->Iterations(1)->UseManualTime()->MeasureProcessCPUTime()->Unit(
      benchmark::kMillisecond);
}
BENCHMARK(BM_Park100k)->Apply(park_100k_args);
BENCHMARK(BM_Park100kWarm)->Apply(park_100k_args);
BENCHMARK(BM_Park1M)
    ->ArgNames({"procs", "stack_kb"})
    ->Args({2, 256})
    ->Args({2, 64})
    ->Iterations(1)
    ->UseManualTime()
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond);
