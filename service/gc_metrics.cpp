// gc_metrics.cpp — go_memstats_*, go_gc_* and gort_gc_* metric sources (see
// gc_metrics.h).
//
// HELP texts: go_memstats_* and go_gc_duration_seconds are client_golang
// v1.13's (prometheus/go_collector.go, the Go 1.19 era); go_gc_gogc_percent
// and go_gc_gomemlimit_bytes arrived later (runtime/metrics /gc/gogc:percent
// and /gc/gomemlimit:bytes, Go 1.21) and carry that client's text,
// "… Sourced from /gc/…". go_memstats_gc_cpu_fraction is not exported: the
// client of that era dropped it for Go ≥ 1.17.
//
// go_gc_duration_seconds is computed as client_golang does from
// debug.ReadGCStats: the quantiles 0, .25, .5, .75, 1 of the most recent
// min(NumGC, 256) pauses (sorted; quantile i/4 is sorted[n*i/4], 1 is the
// maximum), _sum PauseTotalNs, _count NumGC.
#include "service/gc_metrics.h"

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "gc/heap.h"
#include "gc/stats.h"

namespace gortd {

namespace {

// Pause histogram bounds (seconds): 10 µs to 1 s, about three per decade —
// stop-the-world pauses of a healthy heap sit in the low hundreds of µs.
constexpr double kPauseBoundsSeconds[] = {10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3,
                                         5e-3,  10e-3, 25e-3, 50e-3,  100e-3, 250e-3, 500e-3, 1};
constexpr size_t kPauseBuckets = sizeof kPauseBoundsSeconds / sizeof kPauseBoundsSeconds[0];

// PauseHistogram is written by the cycle callback and read by scrapes.
struct PauseHistogram {
  std::atomic<uint64_t> counts[kPauseBuckets + 1] = {};  // atomic; the last one is +Inf
  std::atomic<int64_t> sum_ns{0};                        // atomic
};
PauseHistogram pause_histogram;

void observe_cycle(const gc::CycleSummary& c) {
  double s = static_cast<double>(c.pause_ns) * 1e-9;
  size_t b = std::lower_bound(kPauseBoundsSeconds, kPauseBoundsSeconds + kPauseBuckets, s) - kPauseBoundsSeconds;
  pause_histogram.counts[b].fetch_add(1, std::memory_order_relaxed);
  pause_histogram.sum_ns.fetch_add(c.pause_ns, std::memory_order_relaxed);
}

// pause_quantiles returns debug.ReadGCStats' PauseQuantiles (5 of them) in
// seconds, from ms's recent pauses.
std::vector<double> pause_quantiles(const gc::MemStats& ms) {
  constexpr size_t kQuantiles = 5;
  std::vector<double> q(kQuantiles, 0);
  size_t n = std::min<size_t>(ms.num_gc, 256);
  if (n == 0) return q;
  std::vector<uint64_t> sorted(n);
  for (size_t i = 0; i < n; i++) sorted[i] = ms.pause_ns[(ms.num_gc - 1 - i + 256) % 256];
  std::sort(sorted.begin(), sorted.end());
  const size_t nq = kQuantiles - 1;
  for (size_t i = 0; i < nq; i++) q[i] = static_cast<double>(sorted[n * i / nq]) * 1e-9;
  q[nq] = static_cast<double>(sorted[n - 1]) * 1e-9;
  return q;
}

}  // namespace

void start_gc_metrics() {
  static std::once_flag once;
  std::call_once(once, [] { gc::add_cycle_callback(observe_cycle); });
}

void collect_gc_metrics(Families& f) {
  auto ms = std::make_unique<gc::MemStats>();  // 5 KiB: off the goroutine stack
  gc::read_mem_stats(ms.get());
  auto d = [](uint64_t v) { return static_cast<double>(v); };

  f.gauge("go_memstats_alloc_bytes", "Number of bytes allocated and still in use.", d(ms->alloc));
  f.counter("go_memstats_alloc_bytes_total", "Total number of bytes allocated, even if freed.", d(ms->total_alloc));
  f.gauge("go_memstats_sys_bytes", "Number of bytes obtained from system.", d(ms->sys));
  f.counter("go_memstats_lookups_total", "Total number of pointer lookups.", d(ms->lookups));
  f.counter("go_memstats_mallocs_total", "Total number of mallocs.", d(ms->mallocs));
  f.counter("go_memstats_frees_total", "Total number of frees.", d(ms->frees));
  f.gauge("go_memstats_heap_alloc_bytes", "Number of heap bytes allocated and still in use.", d(ms->heap_alloc));
  f.gauge("go_memstats_heap_sys_bytes", "Number of heap bytes obtained from system.", d(ms->heap_sys));
  f.gauge("go_memstats_heap_idle_bytes", "Number of heap bytes waiting to be used.", d(ms->heap_idle));
  f.gauge("go_memstats_heap_inuse_bytes", "Number of heap bytes that are in use.", d(ms->heap_inuse));
  f.gauge("go_memstats_heap_released_bytes", "Number of heap bytes released to OS.", d(ms->heap_released));
  f.gauge("go_memstats_heap_objects", "Number of allocated objects.", d(ms->heap_objects));
  f.gauge("go_memstats_stack_inuse_bytes", "Number of bytes in use by the stack allocator.", d(ms->stack_inuse));
  f.gauge("go_memstats_stack_sys_bytes", "Number of bytes obtained from system for stack allocator.",
          d(ms->stack_sys));
  f.gauge("go_memstats_mspan_inuse_bytes", "Number of bytes in use by mspan structures.", d(ms->mspan_inuse));
  f.gauge("go_memstats_mspan_sys_bytes", "Number of bytes used for mspan structures obtained from system.",
          d(ms->mspan_sys));
  f.gauge("go_memstats_mcache_inuse_bytes", "Number of bytes in use by mcache structures.", d(ms->mcache_inuse));
  f.gauge("go_memstats_mcache_sys_bytes", "Number of bytes used for mcache structures obtained from system.",
          d(ms->mcache_sys));
  f.gauge("go_memstats_buck_hash_sys_bytes", "Number of bytes used by the profiling bucket hash table.",
          d(ms->buck_hash_sys));
  f.gauge("go_memstats_gc_sys_bytes", "Number of bytes used for garbage collection system metadata.",
          d(ms->gc_sys));
  f.gauge("go_memstats_other_sys_bytes", "Number of bytes used for other system allocations.", d(ms->other_sys));
  f.gauge("go_memstats_next_gc_bytes", "Number of heap bytes when next garbage collection will take place.",
          d(ms->next_gc));
  f.gauge("go_memstats_last_gc_time_seconds", "Number of seconds since 1970 of last garbage collection.",
          d(ms->last_gc) * 1e-9);

  std::vector<double> q = pause_quantiles(*ms);
  f.summary("go_gc_duration_seconds", "A summary of the pause duration of garbage collection cycles.",
            {{0, q[0]}, {0.25, q[1]}, {0.5, q[2]}, {0.75, q[3]}, {1, q[4]}}, ms->num_gc,
            d(ms->pause_total_ns) * 1e-9);
  f.gauge("go_gc_gogc_percent",
          "Heap size target percentage configured by the user, otherwise 100. This value is set by the GOGC "
          "environment variable, and the runtime/debug.SetGCPercent function. Sourced from /gc/gogc:percent.",
          gc::gogc());
  f.gauge("go_gc_gomemlimit_bytes",
          "Go runtime memory limit configured by the user, otherwise math.MaxInt64. This value is set by the "
          "GOMEMLIMIT environment variable, and the runtime/debug.SetMemoryLimit function. Sourced from "
          "/gc/gomemlimit:bytes.",
          static_cast<double>(gc::memory_limit()));

  gc::GcCounters c = gc::read_gc_counters();
  std::vector<double> bounds(kPauseBoundsSeconds, kPauseBoundsSeconds + kPauseBuckets);
  std::vector<uint64_t> counts(kPauseBuckets + 1);
  for (size_t i = 0; i <= kPauseBuckets; i++) counts[i] = pause_histogram.counts[i].load(std::memory_order_relaxed);
  f.histogram("gort_gc_pause_seconds", "Stop-the-world time of each garbage collection cycle (both phases).",
              bounds, counts, static_cast<double>(pause_histogram.sum_ns.load(std::memory_order_relaxed)) * 1e-9);
  f.counter("gort_gc_assist_seconds_total", "CPU time goroutines spent in mark assists, charged for allocating.",
            static_cast<double>(c.assist_cpu_ns) * 1e-9);
  f.counter("gort_gc_cpu_seconds_total", "CPU time spent by the collector (pauses times Ps, marking, sweeping).",
            static_cast<double>(c.gc_cpu_ns) * 1e-9);
  f.labelled_counters("gort_gc_cycles_total", "Completed garbage collection cycles, by whether they were forced.",
                      "forced", {{"false", d(c.cycles - c.forced_cycles)}, {"true", d(c.forced_cycles)}});
  f.gauge("gort_gc_heap_live_bytes", "Heap bytes the pacer counts as live now.", d(c.heap_live));
  f.gauge("gort_gc_trigger_bytes", "Live heap size that starts the next cycle.", d(c.trigger));
  f.gauge("gort_gc_sweep_pending_spans", "Spans not yet swept in the current cycle.", d(c.sweep_pending_spans));
  f.gauge("gort_gc_cpu_limiter_active", "1 while the GC CPU limiter caps collector work, else 0.",
          c.cpu_limiter_on ? 1 : 0);
}

}  // namespace gortd
