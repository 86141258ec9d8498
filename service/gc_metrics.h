// gc_metrics.h — the collected heap on /metrics: client_golang's Go
// collector families (go_memstats_*, go_gc_duration_seconds,
// go_gc_gogc_percent, go_gc_gomemlimit_bytes — names, types and HELP texts
// as client_golang prints them, so Go dashboards and alerts work on gortd)
// and gort's own gort_gc_* figures that Go does not export (per-cycle pause
// histogram, assist time, cycles by cause).
#pragma once

#include "service/metrics_exporter.h"

namespace gortd {

// start_gc_metrics registers the cycle callback that feeds
// gort_gc_pause_seconds. Call once at start-up, before collections start;
// later calls do nothing.
void start_gc_metrics();

// collect_gc_metrics is the scrape-time source (reads MemStats and the
// collector's counters without stopping the world).
void collect_gc_metrics(Families& f);

}  // namespace gortd
