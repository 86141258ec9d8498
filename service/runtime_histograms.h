// runtime_histograms.h — how client_golang (v1.14: go_collector_latest.go's
// batchHistogram, internal/go_runtime_metrics.go's
// RuntimeMetricsBucketsForUnit) turns a Go runtime/metrics Float64Histogram
// into a Prometheus histogram, ported so that gortd's go_gc_pauses_seconds,
// go_sched_latencies_seconds and go_gc_heap_{allocs,frees}_by_size_bytes
// have exactly the buckets a Go 1.19 service's have.
//
// A runtime/metrics histogram has fine buckets, lower bound inclusive
// ([b[i], b[i+1])), the first one possibly from -Inf. client_golang keeps
// only boundaries a factor apart — powers of 2 for bytes, powers of 10 for
// seconds, with everything above 1 s merged into +Inf — drops -Inf, and
// writes each kept boundary as an inclusive upper bound: the next float64
// below it (so 9 bytes becomes le="8.999999999999998"). The counts of the
// fine buckets are summed into the kept ones. Its sum is exact where
// runtime/metrics has one (/gc/heap/allocs:bytes for allocs-by-size, …);
// otherwise it is an underestimate: each bucket's count times its lower
// bound.
//
// For Go 1.19 that gives: seconds — 0, 1e-9, 1e-8, 1e-7, 1.024e-6,
// 1.024e-5, 1.024e-4, 1.048576e-3, 1.048576e-2, 0.1048576, +Inf (9 finite
// le values); bytes (size classes) — 1, 9, 25, 65, 145, 321, 705, 1537,
// 3201, 6529, 13569, 27265, +Inf (11 finite le values).
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

namespace gortd {

// RuntimeHistogram is a runtime/metrics Float64Histogram: bucket i counts
// [buckets[i], buckets[i+1]); buckets.size() == counts.size() + 1.
struct RuntimeHistogram {
  std::vector<double> buckets;
  std::vector<uint64_t> counts;
};

// runtime_metrics_buckets_for_unit is client_golang's
// RuntimeMetricsBucketsForUnit: the boundaries kept for a histogram whose
// runtime/metrics unit is unit ("bytes", "seconds"; others unchanged).
std::vector<double> runtime_metrics_buckets_for_unit(const std::vector<double>& buckets, std::string_view unit);

// PromHistogram is what client_golang writes: finite inclusive upper
// bounds (le), per-bucket counts (upper_bounds.size() + 1, the last for
// +Inf) and the sum.
struct PromHistogram {
  std::vector<double> upper_bounds;
  std::vector<uint64_t> counts;
  double sum = 0;
};

// to_prom_histogram converts one read of h as client_golang's batchHistogram
// does (newBatchHistogram, update, Write). exact_sum is the runtime/metrics
// sum when it has one; without it, the sum is Σ count × lower bound.
PromHistogram to_prom_histogram(const RuntimeHistogram& h, std::string_view unit, std::optional<double> exact_sum);

}  // namespace gortd
