// alloc_bench.cpp — collected-heap allocation, GC cost included, against
// Go's BenchmarkAlloc64 / BenchmarkAlloc64Noscan / BenchmarkAlloc64Parallel
// (shared/peers/go-micro):
//
//   BM_Alloc64          64-byte objects holding one traced pointer, each
//                       linked to the previous one except every 1024th, so
//                       the live heap stays small and collections (GOGC as
//                       in the environment, default 100) run inside the
//                       timed loop — their cost is part of ns/op, as in Go.
//   BM_Alloc64Noscan    64-byte pointer-free buffers (gc::alloc_bytes).
//   BM_Alloc64Parallel  BM_Alloc64 on every P at once (Go's RunParallel):
//                       GOMAXPROCS goroutines share the iterations.
//
// Counters: gc_cycles (collections during the timed loop) and
// allocs_per_cycle.
#include <atomic>

#include "bench/micro/harness.h"
#include "gc/heap.h"
#include "gc/stats.h"
#include "runtime/sync.h"

namespace {

struct Obj64 {
  gc::Member<Obj64> next;
  uint8_t pad[56];
  void trace(gc::Visitor& v) const { v.trace(next); }
};
static_assert(sizeof(Obj64) == 64);

gc::Root<Obj64> sink_obj;
gc::Root<uint8_t> sink_raw;

void report_cycles(benchmark::State& state, uint64_t cycles0) {
  uint64_t n = gc::read_gc_counters().cycles - cycles0;
  state.counters["gc_cycles"] = static_cast<double>(n);
  state.counters["allocs_per_cycle"] = n ? static_cast<double>(state.iterations()) / static_cast<double>(n) : 0;
}

__attribute__((noinline)) Obj64* alloc_chain(benchmark::IterationCount n, Obj64* prev) {
  for (benchmark::IterationCount i = 0; i < n; i++) {
    Obj64* o = gc::make<Obj64>();
    if (i & 1023) o->next = prev;
    prev = o;
  }
  return prev;
}

void BM_Alloc64(benchmark::State& state) {
  gort_bench::run_on_runtime(state, [&] {
    uint64_t cycles0 = gc::read_gc_counters().cycles;
    Obj64* prev = nullptr;
    for (auto _ : state) {
      Obj64* o = gc::make<Obj64>();
      if (state.iterations() & 1023) o->next = prev;
      prev = o;
    }
    sink_obj = prev;
    state.SetBytesProcessed(state.iterations() * 64);
    report_cycles(state, cycles0);
    sink_obj = nullptr;
  });
}

void BM_Alloc64Noscan(benchmark::State& state) {
  gort_bench::run_on_runtime(state, [&] {
    uint64_t cycles0 = gc::read_gc_counters().cycles;
    uint8_t* last = nullptr;
    for (auto _ : state) {
      last = gc::alloc_bytes(64);
      benchmark::DoNotOptimize(last);
    }
    sink_raw = last;
    state.SetBytesProcessed(state.iterations() * 64);
    report_cycles(state, cycles0);
    sink_raw = nullptr;
  });
}

void BM_Alloc64Parallel(benchmark::State& state) {
  gort_bench::run_on_runtime(state, [&] {
    uint64_t cycles0 = gc::read_gc_counters().cycles;
    const int procs = gort::gomaxprocs();
    const benchmark::IterationCount n = state.max_iterations;
    static gort::WaitGroup wg;  // see harness.h
    while (state.KeepRunningBatch(n)) {
      wg.add(procs);
      for (int p = 0; p < procs; p++)
        gort::go([&, p] {
          benchmark::IterationCount share = n / procs + (p < n % procs ? 1 : 0);
          benchmark::DoNotOptimize(alloc_chain(share, nullptr));
          wg.done();
        });
      wg.wait();
    }
    state.SetBytesProcessed(state.iterations() * 64);
    report_cycles(state, cycles0);
  });
}

}  // namespace

BENCHMARK(BM_Alloc64)->Apply(gort_bench::procs_1_2);
BENCHMARK(BM_Alloc64Noscan)->Apply(gort_bench::procs_1_2);
BENCHMARK(BM_Alloc64Parallel)->Apply(gort_bench::procs_1_2);
