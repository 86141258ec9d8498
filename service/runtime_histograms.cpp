// runtime_histograms.cpp — client_golang's runtime/metrics histogram
// conversion (see runtime_histograms.h). Each function names the Go
// function it follows; the code keeps its shape so the two can be read
// side by side.
#include "service/runtime_histograms.h"

#include <cmath>
#include <limits>

namespace gortd {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// re_bucket_exp is client_golang's reBucketExp: keep the boundaries that
// are at least a factor of base apart (a -Inf first boundary is kept as
// is), and always the last one.
std::vector<double> re_bucket_exp(std::vector<double> buckets, double base) {
  std::vector<double> kept;
  size_t first = 0;
  if (buckets[0] == -kInf) {
    kept.push_back(buckets[0]);
    first = 1;
  }
  double bucket = buckets[first];
  for (size_t i = first + 1; i < buckets.size(); i++) {
    if (bucket >= 0 && buckets[i] < bucket * base) continue;
    if (bucket < 0 && buckets[i] < bucket / base) continue;
    kept.push_back(bucket);
    bucket = buckets[i];
  }
  kept.push_back(bucket);
  return kept;
}

}  // namespace

std::vector<double> runtime_metrics_buckets_for_unit(const std::vector<double>& buckets, std::string_view unit) {
  if (unit == "bytes") return re_bucket_exp(buckets, 2);
  if (unit == "seconds") {
    // Powers of 10, and everything above 1 second merged into +Inf.
    std::vector<double> b = re_bucket_exp(buckets, 10);
    for (size_t i = 0; i < b.size(); i++) {
      if (b[i] <= 1) continue;
      b[i] = kInf;
      b.resize(i + 1);
      break;
    }
    return b;
  }
  return buckets;
}

PromHistogram to_prom_histogram(const RuntimeHistogram& h, std::string_view unit, std::optional<double> exact_sum) {
  // newBatchHistogram: the kept boundaries, without -Inf.
  std::vector<double> kept = runtime_metrics_buckets_for_unit(h.buckets, unit);
  if (kept.front() == -kInf) kept.erase(kept.begin());
  std::vector<uint64_t> counts(kept.size() - 1, 0);

  // update: sum the fine buckets into the kept ones; a fine bucket belongs
  // to kept bucket j until its upper boundary is kept bucket j's.
  size_t j = 0;
  for (size_t i = 0; i < h.counts.size() && j < counts.size(); i++) {
    counts[j] += h.counts[i];
    if (h.buckets[i + 1] == kept[j + 1]) j++;
  }

  // Write: inclusive upper bounds (the float64 just below each exclusive
  // boundary), the +Inf bucket implicit, the sum exact or underestimated.
  PromHistogram out;
  out.sum = 0;
  for (size_t i = 0; i < counts.size(); i++) {
    if (!exact_sum && counts[i] != 0) out.sum += kept[i] * static_cast<double>(counts[i]);
    out.counts.push_back(counts[i]);
    if (std::isinf(kept[i + 1]) && kept[i + 1] > 0) break;
    out.upper_bounds.push_back(std::nextafter(kept[i + 1], kept[i]));
  }
  if (out.counts.size() == out.upper_bounds.size()) out.counts.push_back(0);  // no +Inf boundary: empty +Inf bucket
  if (exact_sum) out.sum = *exact_sum;
  return out;
}

}  // namespace gortd
