// sync_bench.cpp — the uncontended fast paths of gort::Mutex and
// gort::RWMutex, against Go's BenchmarkMutexUncontended and
// BenchmarkRWMutexUncontended's halves. (contention_hooks_test checks that
// these paths never wait; this is what they cost.)
//
//   BM_MutexUncontended        lock + unlock by one goroutine, nobody else
//                              competing: one CAS, one atomic decrement and
//                              the preemption safepoint check in lock().
//   BM_RWMutexRLockUncontended rlock + runlock: one atomic add each way.
//   BM_RWMutexLockUncontended  lock + unlock: the writer Mutex plus the
//                              reader-count swing both ways.
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

void BM_RWMutexRLockUncontended(benchmark::State& state) {
  gort_bench::run_on_runtime(state, [&] {
    gort::RWMutex rw;
    for (auto _ : state) {
      rw.rlock();
      rw.runlock();
    }
  });
}

void BM_RWMutexLockUncontended(benchmark::State& state) {
  gort_bench::run_on_runtime(state, [&] {
    gort::RWMutex rw;
    for (auto _ : state) {
      rw.lock();
      rw.unlock();
    }
  });
}

}  // namespace

BENCHMARK(BM_MutexUncontended)->Apply(gort_bench::procs_1_2);
BENCHMARK(BM_RWMutexRLockUncontended)->Apply(gort_bench::procs_1_2);
BENCHMARK(BM_RWMutexLockUncontended)->Apply(gort_bench::procs_1_2);
