// go_runtime_metrics.h — Go 1.19's runtime/metrics on /metrics: the 33
// families client_golang 1.14's Go collector exports with
// collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsAll)
// (go_gc_cycles_*, go_gc_heap_*, go_gc_pauses_seconds, go_memory_classes_*,
// go_sched_*, …; 81 series), with client_golang's names, types, HELP texts
// and histogram buckets, so Go dashboards built on them work on gortd.
// The values come from gc/stats.h and runtime/gort.h; go_memstats_* and the
// other client_golang families stay in gc_metrics.cpp and
// runtime_metrics.cpp.
#pragma once

#include "service/metrics_exporter.h"

namespace gortd {

// collect_go_runtime_metrics is the scrape-time source (no stop-the-world;
// reads MemStats, the heap's allocation counters, the pause and scheduling
// latency distributions, and the scheduler's statistics).
void collect_go_runtime_metrics(Families& f);

}  // namespace gortd
