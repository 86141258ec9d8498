// spawn_bench.cpp — what a goroutine costs to start and finish, against Go's
// BenchmarkGoroutineSpawnWaitEach / BenchmarkGoroutineSpawnBatch.
//
//   BM_SpawnWaitEach  per iteration: wg.add(1); go(wg.done); wg.wait() —
//                     serial latency of one spawn, first run, exit and the
//                     wakeup of the waiter.
//   BM_SpawnBatch     spawn N goroutines that exit at once, then wait for all
//                     with one WaitGroup; time per goroutine (N = the
//                     iteration count, so the wait is inside the timing as in
//                     Go). Every run starts a fresh runtime, so each
//                     goroutine lands on a never-touched stack slot and pays
//                     the page fault of its first stack page (cold).
//   BM_SpawnBatchWarm the same after an untimed round of N spawns, so the Gs
//                     and their committed stacks come from the free lists:
//                     the scheduler's share of the cost without page faults.
#include "bench/micro/harness.h"
#include "runtime/sync.h"

namespace {

void BM_SpawnWaitEach(benchmark::State& state) {
  gort_bench::run_on_runtime(state, [&] {
    static gort::WaitGroup wg;  // outlives the last done(); see harness.h
    for (auto _ : state) {
      wg.add(1);
      gort::go([] { wg.done(); });
      wg.wait();
    }
  });
}

// spawn_batch spawns n goroutines that call wg.done() and waits for them.
void spawn_batch(gort::WaitGroup& wg, benchmark::IterationCount n) {
  wg.add(n);
  for (benchmark::IterationCount i = 0; i < n; i++) gort::go([&wg] { wg.done(); });
  wg.wait();
}

void spawn_batch_bench(benchmark::State& state, bool warm) {
  gort_bench::run_on_runtime(state, [&] {
    static gort::WaitGroup wg;  // outlives the last done(); see harness.h
    const benchmark::IterationCount n = state.max_iterations;
    if (warm) spawn_batch(wg, n);
    // One batch of exactly n iterations, so wg.wait() is timed.
    while (state.KeepRunningBatch(n)) spawn_batch(wg, n);
  });
}

void BM_SpawnBatch(benchmark::State& state) { spawn_batch_bench(state, false); }
void BM_SpawnBatchWarm(benchmark::State& state) { spawn_batch_bench(state, true); }

}  // namespace

BENCHMARK(BM_SpawnWaitEach)->Apply(gort_bench::procs_1_2);
BENCHMARK(BM_SpawnBatch)->Apply(gort_bench::procs_1_2);
BENCHMARK(BM_SpawnBatchWarm)->Apply(gort_bench::procs_1_2);
