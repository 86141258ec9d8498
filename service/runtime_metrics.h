// runtime_metrics.h — scrape-time metric sources for gortd's /metrics:
//
//   collect_go_metrics       go_goroutines, go_threads, go_info (client_golang
//                            names, so Go dashboards read gortd unchanged)
//   collect_sched_metrics    gort_sched_* — scheduler internals Go does not
//                            export: run-queue lengths, steals, preemption
//                            requests, handoffs, and the runnable->running
//                            latency histogram
//   collect_process_metrics  process_* from /proc/self (client_golang's
//                            process collector)
#pragma once

#include "service/metrics_exporter.h"

namespace gortd {

inline constexpr const char* kServiceName = "gortd";
inline constexpr const char* kServiceVersion = "0.1.0";

void collect_go_metrics(Families& f);
void collect_sched_metrics(Families& f);
void collect_process_metrics(Families& f);

}  // namespace gortd
