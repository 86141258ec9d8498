// sync_bench.cpp — the uncontended fast path of gort::Mutex, against Go's
// BenchmarkMutexUncontended.
//
//   BM_MutexUncontended  lock + unlock by one goroutine, nobody else
//                        competing: one CAS, one atomic decrement and the
//                        preemption safepoint check in lock().
#include "bench/micro/harness.h"
#include "runtime/sync.h"

namespace {

void BM_MutexUncontended(benchmark::State& state) {
  gort_bench::run_on_runtime(state, [&] {
    gort::Mutex mu;
    for (auto _ : state) {
      mu.lock();
      mu.unlock();
    }
  });
}

}  // namespace

BENCHMARK(BM_MutexUncontended)->Apply(gort_bench::procs_1_2);
