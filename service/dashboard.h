// dashboard.h — the figures behind the live dashboard (/debug/ui).
//
// A DashboardSample is one reading of everything the page plots, taken
// without stopping the world: the collector's MemStats and counters
// (gc/stats.h), goroutines by state (runtime/goroutine.h), run queues and
// the scheduling-latency histogram (runtime/gort.h), and the RED metrics
// (request_metrics.h). Counters in it are cumulative; dashboard_json turns
// two readings into one event of the page: gauges as of the later one, and
// rates, GC CPU share and latency quantiles over the window between them.
// The stream (/debug/ui/stream) sends one such event a second; the
// snapshot (/debug/ui/data) one for a window it waits out.
//
// The JSON (units in the key names, Prometheus style; quantiles are null
// when the window saw nothing):
//   {"time_unix_ms":…, "window_seconds":1.0003,
//    "heap":{"alloc_bytes","inuse_bytes","goal_bytes","objects","stack_bytes","sys_bytes"},
//    "gc":{"cycles","cycles_in_window","cpu_fraction","cpu_fraction_since_start",
//          "pause_total_seconds","pauses":[{"gc":12,"pause_seconds":…,"end_unix_ms":…}…]},
//    "goroutines":{"total":9,"by_state":{"running":1,"runnable":0,"syscall":0,"IO wait":4,…}},
//    "sched":{"gomaxprocs","runqueue_global","runqueue_local":[…],
//             "latency_p50_seconds","latency_p99_seconds","latency_samples"},
//    "http":{"in_flight","requests_per_second","by_route":{"/work":12.5,…},
//            "by_code":{"200":12,"503":0.5},"latency_p50_seconds","latency_p99_seconds"}}
// by_state lists running, runnable and syscall always and each wait reason
// (Go's strings, as in goroutine dumps) with goroutines in it; by_route
// and by_code list what had requests in the window; pauses lists the
// collections that ended in the window (the latest kMaxPausesPerEvent).
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "runtime/goroutine.h"
#include "runtime/gort.h"
#include "service/request_metrics.h"

namespace gortd {

struct DashboardSample {
  int64_t mono_ns = 0;  // gort::nanotime() when taken: the window's clock
  int64_t unix_ms = 0;  // wall clock, the page's time axis

  // Heap, from gc::MemStats (Go's names in the comments).
  uint64_t heap_alloc = 0;    // HeapAlloc
  uint64_t heap_inuse = 0;    // HeapInuse
  uint64_t next_gc = 0;       // NextGC: the heap goal
  uint64_t heap_objects = 0;  // HeapObjects
  uint64_t stack_inuse = 0;   // StackInuse
  uint64_t sys = 0;           // Sys

  // Collector.
  uint32_t num_gc = 0;           // NumGC
  uint64_t pause_total_ns = 0;   // PauseTotalNs
  double gc_cpu_fraction = 0;    // GCCPUFraction: since the process started
  int64_t gc_cpu_ns = 0;         // gc::GcCounters::gc_cpu_ns, cumulative
  struct Pause {
    uint32_t gc = 0;             // cycle number
    uint64_t pause_ns = 0;
    uint64_t end_unix_ns = 0;
  };
  std::vector<Pause> pauses;     // the last min(NumGC, 256) pauses, oldest first

  // Scheduler.
  int gomaxprocs = 0;
  gort::GoroutineCounts goroutines;
  int64_t global_runq = 0;
  std::vector<int64_t> local_runq;  // per P
  gort::LatencyHistogram sched_latency;

  RequestSnapshot requests;
};

// kMaxPausesPerEvent bounds an event's pause list: a heap churning through
// hundreds of tiny cycles a second would otherwise make each event large.
inline constexpr size_t kMaxPausesPerEvent = 64;

// take_dashboard_sample reads the runtime, the collector and metrics. No
// stop-the-world; walks every goroutine record once (count_goroutines).
DashboardSample take_dashboard_sample(const RequestMetrics& metrics);

// dashboard_json renders the event for the window from prev to cur (see
// above): one line of JSON, no trailing newline.
std::string dashboard_json(const DashboardSample& prev, const DashboardSample& cur);

// histogram_quantile returns the q-quantile (0 <= q <= 1) of a histogram
// as Prometheus's histogram_quantile estimates it: find the bucket holding
// rank q*total and interpolate linearly inside it (the first bucket starts
// at 0); a rank in the +Inf bucket gives the highest finite bound. counts
// are per bucket (not cumulative) with the +Inf bucket last, so counts has
// one more element than bounds. NaN when the histogram is empty.
double histogram_quantile(double q, std::span<const double> bounds, std::span<const uint64_t> counts);

}  // namespace gortd
