// time_histogram_test.cpp — Go's timeHistogram (runtime/time_histogram.h):
// bucket indexes as Go 1.19's record computes them, boundaries as
// timeHistogramMetricsBuckets lays them out (and every recorded duration
// inside its bucket's boundaries), underflow, concurrent recording from
// many threads, and the scheduler's latency distribution counting the
// same sampled transitions as its coarse histogram.
#define BOOST_TEST_MODULE time_histogram_test
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <cstdint>
#include <random>
#include <thread>
#include <vector>

#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/sync.h"
#include "runtime/time_histogram.h"

using namespace gort;

namespace {

uint64_t total(const TimeHistogramCounts& c) {
  uint64_t n = 0;
  for (uint64_t v : c) n += v;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(bucket_index_matches_go_record) {
  // Worked by hand from histogram.go: super-bucket = Len64(ns) − 4, the
  // sub-bucket the 4 bits below the top one.
  const std::pair<int64_t, int> cases[] = {
      {0, 0},     {1, 1},      {15, 15},    {16, 16},  // 16: Len64 5 → super 1, sub (16 >> 0) % 16 = 0
      {17, 17},   {31, 31},    {32, 32},             // 32: super 2, sub (32 >> 1) % 16 = 0
      {33, 32},   {34, 33},    {1000, 111},          // 1000: super 6, sub (1000 >> 5) % 16 = 15
      {1024, 112},                                   // super 7, sub 0
      {(int64_t{1} << 47) + (int64_t{1} << 46), 44 * 16 + 8},
      {(int64_t{1} << 48) - 1, 44 * 16 + 15},        // the largest value with a bucket of its own
      {int64_t{1} << 48, kTimeHistBuckets - 1},      // beyond: the last bucket
      {INT64_MAX, kTimeHistBuckets - 1},
  };
  for (auto [ns, want] : cases) BOOST_TEST(time_histogram_bucket(ns) == want, "ns=" << ns);
}

BOOST_AUTO_TEST_CASE(boundaries_are_go_runtime_metrics_buckets) {
  std::vector<double> b = time_histogram_boundaries_seconds();
  BOOST_REQUIRE_EQUAL(b.size(), size_t(kTimeHistBuckets + 2));
  BOOST_TEST(std::isinf(b.front()));
  BOOST_TEST(b.front() < 0);
  BOOST_TEST(std::isinf(b.back()));
  BOOST_TEST(b.back() > 0);
  BOOST_TEST(b[1] == 0.0);
  BOOST_TEST(b[2] == 1e-9);
  BOOST_TEST(b[1 + 16] == 16e-9);
  BOOST_TEST(b[1 + 112] == 1024e-9);
  BOOST_TEST(b[1 + 111] == 992e-9);  // 512 + 15 × 32
  for (size_t i = 1; i + 1 < b.size(); i++) BOOST_REQUIRE_LT(b[i], b[i + 1]);
  // Every duration lands in the bucket whose boundaries hold it.
  std::mt19937_64 rng(42);
  for (int k = 0; k < 100000; k++) {
    int64_t ns = static_cast<int64_t>(rng() >> (16 + rng() % 48));  // below 2^48, every magnitude
    int i = time_histogram_bucket(ns);
    double s = static_cast<double>(ns) / 1e9;
    BOOST_REQUIRE_MESSAGE(b[1 + i] <= s && s < b[2 + i], "ns=" << ns << " bucket " << i);
  }
}

BOOST_AUTO_TEST_CASE(negative_durations_are_underflow) {
  TimeHistogram h;
  h.record(-5);
  h.record(0);
  h.record(1500);
  TimeHistogramCounts c = h.read();
  BOOST_REQUIRE_EQUAL(c.size(), size_t(kTimeHistBuckets + 1));
  BOOST_TEST(c[0] == 1u);
  BOOST_TEST(c[1 + 0] == 1u);
  BOOST_TEST(c[1 + time_histogram_bucket(1500)] == 1u);
  BOOST_TEST(total(c) == 3u);
}

BOOST_AUTO_TEST_CASE(concurrent_records_are_all_counted) {
  TimeHistogram h;
  constexpr int kThreads = 4, kEach = 100000;
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++)
    ts.emplace_back([&h, t] {
      for (int i = 0; i < kEach; i++) h.record((i * 7919 + t) % 5000);  // a few hot buckets, shared
    });
  for (auto& t : ts) t.join();
  BOOST_TEST(total(h.read()) == uint64_t{kThreads} * kEach);
}

BOOST_AUTO_TEST_CASE(sched_latency_distribution_counts_sampled_transitions) {
  run_main([] {
    uint64_t before = total(sched_latency_distribution());
    // Two goroutines ping-pong over unbuffered channels: every hand-off is
    // a runnable → running transition, one in eight of them timed.
    Chan<int> ping, pong;
    WaitGroup wg;
    wg.add(1);
    go([&] {
      for (int i = 0; i < 2000; i++) pong.send(ping.recv() + 1);
      wg.done();
    });
    for (int i = 0; i < 2000; i++) {
      ping.send(i);
      BOOST_REQUIRE_EQUAL(pong.recv(), i + 1);
    }
    wg.wait();
    TimeHistogramCounts d = sched_latency_distribution();
    BOOST_TEST(d[0] == 0u);  // no negative latencies
    BOOST_TEST(total(d) > before);
    // Both histograms are fed by the same sampled transitions: read between
    // two equal reads of the coarse one (nothing else switched), they agree.
    for (int attempt = 0; attempt < 1000; attempt++) {
      uint64_t coarse = sched_latency().total;
      uint64_t go_buckets = total(sched_latency_distribution());
      if (sched_latency().total != coarse) continue;
      BOOST_TEST(go_buckets == coarse);
      return;
    }
    BOOST_ERROR("the scheduler never stood still between two reads");
  });
}
