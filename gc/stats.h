// stats.h — what the collected heap reports: Go's runtime.MemStats (read
// without stopping the world), the summary of each collection, the
// counters and pause distribution behind Go's runtime/metrics, and the
// gctrace switch. Exporters (service/ for /metrics and /debug/vars) turn
// these into their formats; gc/ knows none of them.
#pragma once

#include <cstdint>
#include <functional>

#include "gc/sizeclasses.h"
#include "runtime/time_histogram.h"

namespace gc {

// MemStats mirrors Go's runtime.MemStats field for field (Go's names in the
// comments; service/ exports them under those names). Byte counts unless
// said otherwise. Unlike Go's ReadMemStats, read_mem_stats does not stop
// the world: each counter is read atomically, and the set is consistent to
// within the allocations in flight (per-P caches count a span's objects
// when the span is cached, as Go's do).
struct MemStats {
  uint64_t alloc = 0;          // Alloc: bytes of allocated heap objects (= heap_alloc)
  uint64_t total_alloc = 0;    // TotalAlloc: cumulative bytes allocated
  uint64_t sys = 0;            // Sys: bytes obtained from the OS (heap + stacks + metadata)
  uint64_t lookups = 0;        // Lookups: always 0, as in Go
  uint64_t mallocs = 0;        // Mallocs: cumulative objects allocated
  uint64_t frees = 0;          // Frees: cumulative objects freed
  uint64_t heap_alloc = 0;     // HeapAlloc
  uint64_t heap_sys = 0;       // HeapSys: heap address space obtained from the OS
  uint64_t heap_idle = 0;      // HeapIdle: bytes in spans with no objects
  uint64_t heap_inuse = 0;     // HeapInuse: bytes in spans with objects
  uint64_t heap_released = 0;  // HeapReleased: idle bytes returned to the OS
  uint64_t heap_objects = 0;   // HeapObjects
  uint64_t stack_inuse = 0;    // StackInuse: goroutine stack slots in use
  uint64_t stack_sys = 0;      // StackSys
  uint64_t mspan_inuse = 0;    // MSpanInuse: span metadata
  uint64_t mspan_sys = 0;      // MSpanSys
  uint64_t mcache_inuse = 0;   // MCacheInuse
  uint64_t mcache_sys = 0;     // MCacheSys
  uint64_t buck_hash_sys = 0;  // BuckHashSys: the profiler's, 0 here
  uint64_t gc_sys = 0;         // GCSys: mark bitmaps, root registry
  uint64_t other_sys = 0;      // OtherSys
  uint64_t next_gc = 0;        // NextGC: the heap goal
  uint64_t last_gc = 0;        // LastGC: end of the last collection, ns since the Unix epoch
  uint64_t pause_total_ns = 0; // PauseTotalNs
  uint64_t pause_ns[256] = {}; // PauseNs: recent pauses, latest at [(num_gc+255)%256]
  uint64_t pause_end[256] = {};// PauseEnd: their end times, ns since the Unix epoch
  uint32_t num_gc = 0;         // NumGC
  uint32_t num_forced_gc = 0;  // NumForcedGC
  double gc_cpu_fraction = 0;  // GCCPUFraction: GC's share of CPU since start
  bool enable_gc = true;       // EnableGC
  bool debug_gc = false;       // DebugGC
  struct BySize {
    uint32_t size = 0;
    uint64_t mallocs = 0;
    uint64_t frees = 0;
  } by_size[61];               // BySize: Go reports the first 61 classes
};

// read_mem_stats fills *out. No stop-the-world; takes no lock the
// allocation fast path takes.
void read_mem_stats(MemStats* out);

// CycleSummary describes one finished collection.
struct CycleSummary {
  uint32_t num = 0;                // 1-based cycle number (NumGC after it)
  bool forced = false;             // collect(), /gc?run=1
  int64_t start_unix_ns = 0;
  int64_t end_unix_ns = 0;
  int64_t wall_ns = 0;             // start of sweep termination to start the world
  int64_t pause_ns = 0;            // total stop-the-world time (both STW phases)
  int64_t sweep_term_ns = 0;       // phase wall times, as gctrace prints them
  int64_t mark_ns = 0;             // concurrent mark: 0 while marking stops the world
  int64_t mark_term_ns = 0;        // includes the stop-the-world mark
  int64_t assist_cpu_ns = 0;       // mark CPU by allocating goroutines
  int64_t background_cpu_ns = 0;   // mark CPU by background workers
  int64_t idle_cpu_ns = 0;         // mark CPU by idle Ps
  uint64_t heap_start = 0;         // heap_live when the cycle began
  uint64_t heap_end = 0;           // heap_live when marking ended
  uint64_t heap_marked = 0;        // bytes found live
  uint64_t heap_goal = 0;          // the goal for this cycle
  uint64_t next_goal = 0;          // the goal set for the next one
  uint64_t stacks = 0;             // stack bytes scanned
  uint64_t globals = 0;            // root bytes scanned
  int procs = 0;
};

// add_cycle_callback registers fn, called on the collecting goroutine after
// every collection, with the world running again. fn must not allocate from
// the collected heap or start a collection. Register before collections
// start (at start-up); callbacks cannot be removed.
void add_cycle_callback(std::function<void(const CycleSummary&)> fn);

// set_gctrace turns the GODEBUG=gctrace=1 line on stderr on or off
// (run_main-independent; the service sets it from GODEBUG at start).
void set_gctrace(bool on);
bool gctrace_enabled();

// GcCounters are gort's own figures that Go does not put in MemStats.
struct GcCounters {
  uint64_t cycles = 0;
  uint64_t forced_cycles = 0;
  int64_t assist_cpu_ns = 0;      // total mark assist CPU
  int64_t gc_cpu_ns = 0;          // total GC CPU (STW pauses × procs, mark, sweep)
  uint64_t heap_live = 0;         // bytes the pacer counts as live now
  uint64_t trigger = 0;           // heap_live that starts the next cycle
  bool cpu_limiter_on = false;   // the GC CPU limiter is limiting, or held a memory-limit cycle
  uint64_t sweep_pending_spans = 0;
  // The cycle during which the CPU limiter last turned on (completed
  // cycles + 1 then), 0 if it never did: Go's lastEnabledCycle.
  uint32_t limiter_last_enabled_cycle = 0;
};
GcCounters read_gc_counters();

// HeapAllocCounts are the allocation counters behind Go 1.19's
// runtime/metrics heap figures (/gc/heap/allocs-by-size, frees-by-size,
// allocs, frees, objects): objects allocated and freed per size class,
// and large objects (each its own span) by count and bytes. Allocations are
// counted as Go counts them: a span's free slots when a P caches the span,
// less those still free when it gives the span back — so a class's malloc
// count can dip by a span's unused slots between two reads (at a cycle's
// cache flush). Frees are counted by the sweeper.
struct HeapAllocCounts {
  uint64_t small_mallocs[kNumSizeClasses] = {};  // [0] unused: class 0 stands for large objects
  uint64_t small_frees[kNumSizeClasses] = {};
  uint64_t large_mallocs = 0;
  uint64_t large_frees = 0;
  uint64_t large_alloc_bytes = 0;  // whole spans (pages), as Go counts large objects
  uint64_t large_free_bytes = 0;
};
// read_heap_alloc_counts fills *out; each counter is read atomically, no
// lock, no stop-the-world (frees are clamped to mallocs per class).
void read_heap_alloc_counts(HeapAllocCounts* out);

// read_gc_pause_distribution returns every stop-the-world pause of the
// collector — two per cycle, from before the world stops to after it runs
// again — in Go's time-histogram buckets (runtime/time_histogram.h; Go
// 1.19's memstats.gcPauseDist, /gc/pauses:seconds). Lock-free.
gort::TimeHistogramCounts read_gc_pause_distribution();

}  // namespace gc
