// time_histogram.cpp — the boundaries of Go's timeHistogram buckets (see
// time_histogram.h), as runtime/metrics publishes them.
#include "runtime/time_histogram.h"

#include <limits>

namespace gort {

// Go's timeHistogramMetricsBuckets: each bucket's lower bound in ns,
// divided by 1e9 (exact: every bound below 2^53 is a float64 integer).
std::vector<double> time_histogram_boundaries_seconds() {
  std::vector<double> b(kTimeHistBuckets + 2);
  b[0] = -std::numeric_limits<double>::infinity();
  for (int i = 0; i < kTimeHistNumSubBuckets; i++) b[i + 1] = static_cast<double>(i) / 1e9;
  for (int i = 0; i < kTimeHistNumSuperBuckets - 1; i++) {
    for (int j = 0; j < kTimeHistNumSubBuckets; j++) {
      uint64_t ns = (uint64_t{1} << (i + kTimeHistSubBucketBits)) | (uint64_t(j) << i);
      b[(i + 1) * kTimeHistNumSubBuckets + j + 1] = static_cast<double>(ns) / 1e9;
    }
  }
  b[kTimeHistBuckets + 1] = std::numeric_limits<double>::infinity();
  return b;
}

}  // namespace gort
