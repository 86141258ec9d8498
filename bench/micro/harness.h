// harness.h — how gort_micro runs Google Benchmark loops on goroutines.
//
// Google Benchmark calls each benchmark function on a plain thread, but the
// operations we measure (spawn, park, channel hand-off, yield) only exist on
// a goroutine. So every runtime benchmark starts a fresh runtime with
// run_on_runtime, and the `for (auto _ : state)` loop runs on the *main
// goroutine*:
//
//   void BM_X(benchmark::State& state) {
//     gort_bench::run_on_runtime(state, [&] { for (auto _ : state) op(); });
//   }
//   BENCHMARK(BM_X)->Apply(gort_bench::procs_1_2);
//
// Why this is sound: the benchmark is single-threaded and only the main
// goroutine touches `state`, one thread at a time (it may migrate between Ms,
// and every switch is a full barrier through the scheduler). The wall-clock
// timer reads steady_clock, which is thread-independent; per-thread CPU time
// is not (the main goroutine may finish on another M than it started on), so
// runtime benchmarks measure process CPU time instead — which also makes the
// CPU column show what spinning Ms burn — and report real time. Runtime
// start-up (threads, sysmon, P allocation) happens before the loop starts the
// timer and shut-down after it stops, so neither is measured.
//
// Argument 0 of every runtime benchmark is GOMAXPROCS ("procs:1", "procs:2"),
// as Go's `-cpu 1,2` suffixes "-1", "-2".
//
// WaitGroups that goroutines signal as their last act are function-static.
// That was a workaround for a use-after-free in Sema::release (the last
// done() touched the WaitGroup after wait() had returned), fixed since by
// queueing waiters in a global semtable (runtime/sync.cpp); static storage
// is kept because it is harmless and keeps the loops free of set-up.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>
#include <utility>
#include <vector>

#include "runtime/goroutine.h"
#include "runtime/gort.h"

namespace gort_bench {

// run_on_runtime runs body as the main goroutine of a new runtime with
// GOMAXPROCS = state.range(0) and stack slots of stack_bytes (0: default),
// and returns when body has returned and the runtime has shut down.
template <class F>
void run_on_runtime(benchmark::State& state, F&& body, size_t stack_bytes = 0) {
  gort::Config cfg{.gomaxprocs = static_cast<int>(state.range(0)), .stack_bytes = stack_bytes};
  gort::run_main([&] { body(); }, cfg);
}

// procs_1_2 registers GOMAXPROCS 1 and 2, real time, process CPU time.
void procs_1_2(benchmark::internal::Benchmark* b);
// procs_1 registers GOMAXPROCS 1 only (benchmarks defined by a single P).
void procs_1(benchmark::internal::Benchmark* b);

// MemSample is the process's memory as the kernel accounts it.
struct MemSample {
  int64_t rss_bytes = 0;  // resident pages × page size (/proc/self/statm)
  int64_t pte_bytes = 0;  // page tables (VmPTE in /proc/self/status), not part of RSS
  int64_t vm_bytes = 0;   // mapped address space (/proc/self/statm size)
};
MemSample sample_memory();

// count_parked returns how many goroutines are parked with reason.
int64_t count_parked(gort::WaitReason reason);

// report_lateness sorts late (ns past each deadline) and sets the counters
// lateness_p50_ns, lateness_p99_ns and lateness_max_ns.
void report_lateness(benchmark::State& state, std::vector<int64_t>& late);

}  // namespace gort_bench
