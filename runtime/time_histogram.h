// time_histogram.h — Go 1.19's timeHistogram (runtime/histogram.go): a
// distribution of durations in nanoseconds, recorded with one atomic add
// and read without stopping anyone. The scheduler keeps one of scheduling
// latencies (Go's sched.timeToRun, gort.h sched_latency_distribution) and
// the collector one of its stop-the-world pauses (Go's
// memstats.gcPauseDist, gc/stats.h read_gc_pause_distribution); exporters
// read them in runtime/metrics' Float64Histogram layout, with the same
// boundaries, so /sched/latencies:seconds and /gc/pauses:seconds come out
// as Go's do.
//
// The buckets are Go's HDR scheme: a duration falls in a super-bucket by
// its most significant set bit (power-of-two sized), then in one of 16
// linear sub-buckets by the next 4 bits — at most ~6% error, from 0 ns to
// 2^48 ns (about 3 days; longer durations land in the last bucket).
// Super-bucket 0 holds 0..15 ns one nanosecond per sub-bucket. Negative
// durations (clock skew) are counted apart as underflow, as Go does.
#pragma once

#include <atomic>
#include <cstdint>
#include <vector>

namespace gort {

inline constexpr int kTimeHistSubBucketBits = 4;                              // Go's timeHistSubBucketBits
inline constexpr int kTimeHistNumSubBuckets = 1 << kTimeHistSubBucketBits;    // 16: ~6% error
inline constexpr int kTimeHistNumSuperBuckets = 45;                           // up to 2^48 ns
inline constexpr int kTimeHistBuckets = kTimeHistNumSuperBuckets * kTimeHistNumSubBuckets;  // 720

// time_histogram_bucket returns the bucket index (0 … kTimeHistBuckets-1)
// of a duration ≥ 0 ns: Go's timeHistogram.record without the add.
constexpr int time_histogram_bucket(int64_t ns) {
  if (ns < kTimeHistNumSubBuckets) return static_cast<int>(ns);
  int super = (64 - __builtin_clzll(static_cast<uint64_t>(ns))) - kTimeHistSubBucketBits;
  if (super >= kTimeHistNumSuperBuckets) return kTimeHistBuckets - 1;  // beyond 2^48 ns: the last bucket
  int sub = static_cast<int>((static_cast<uint64_t>(ns) >> (super - 1)) % kTimeHistNumSubBuckets);
  return super * kTimeHistNumSubBuckets + sub;
}

// TimeHistogramCounts is a histogram read out in runtime/metrics'
// Float64Histogram layout: counts[0] is the underflow bucket [-Inf, 0),
// counts[1 + i] bucket i; kTimeHistBuckets + 1 entries. Its boundaries are
// time_histogram_boundaries_seconds().
using TimeHistogramCounts = std::vector<uint64_t>;

// TimeHistogram is safe for concurrent use: every count is an atomic,
// written with relaxed adds and read with relaxed loads (a read may miss
// the adds in flight, as Go's does).
class TimeHistogram final {
 public:
  TimeHistogram() = default;
  TimeHistogram(const TimeHistogram&) = delete;
  TimeHistogram& operator=(const TimeHistogram&) = delete;

  // record adds one duration (ns; negative counts as underflow). Lock-free.
  void record(int64_t ns) {
    if (ns < 0) {
      underflow_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    counts_[time_histogram_bucket(ns)].fetch_add(1, std::memory_order_relaxed);
  }

  // read returns the counts in runtime/metrics layout (see TimeHistogramCounts).
  TimeHistogramCounts read() const {
    TimeHistogramCounts out(kTimeHistBuckets + 1);
    out[0] = underflow_.load(std::memory_order_relaxed);
    for (int i = 0; i < kTimeHistBuckets; i++) out[1 + i] = counts_[i].load(std::memory_order_relaxed);
    return out;
  }

 private:
  std::atomic<uint64_t> counts_[kTimeHistBuckets] = {};  // atomic
  std::atomic<uint64_t> underflow_{0};                   // atomic
};

// time_histogram_boundaries_seconds returns the kTimeHistBuckets + 2
// bucket boundaries in seconds, runtime/metrics style (Go's
// timeHistogramMetricsBuckets): -Inf, 0, 1e-9, … , +Inf; bucket i of
// TimeHistogramCounts is [b[i], b[i+1]), lower bound inclusive.
std::vector<double> time_histogram_boundaries_seconds();

}  // namespace gort
