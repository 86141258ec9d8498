// runtime_metrics_test — the heap's figures behind Go's runtime/metrics
// (gc/stats.h): allocation and free counts per size class and for large
// objects (read_heap_alloc_counts) follow what a goroutine allocates and
// the collector frees, and add up to MemStats; the pause distribution
// (read_gc_pause_distribution) gets both stop-the-world pauses of every
// cycle; the CPU limiter's last-enabled cycle is in pacer_test.
#define BOOST_TEST_MODULE runtime_metrics
#include <boost/test/unit_test.hpp>

#include <memory>
#include <vector>

#include "gc/heap.h"
#include "gc/sizeclasses.h"
#include "gc/stats.h"
#include "runtime/gort.h"
#include "runtime/time_histogram.h"

using namespace gort;

namespace {

constexpr size_t kSmallBytes = 100;     // size class 9 (112 bytes)
constexpr int kSmallObjects = 2000;
constexpr size_t kLargeBytes = 40000;   // a 5-page span of its own
constexpr int kLargeObjects = 10;

std::unique_ptr<gc::HeapAllocCounts> read_counts() {
  auto c = std::make_unique<gc::HeapAllocCounts>();  // 1 KiB: off the goroutine stack
  gc::read_heap_alloc_counts(c.get());
  return c;
}

uint64_t total(const TimeHistogramCounts& c) {
  uint64_t n = 0;
  for (uint64_t v : c) n += v;
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(alloc_counts_follow_allocations_and_frees) {
  run_main([] {
    const int cls = gc::size_to_class(kSmallBytes);
    const uint64_t per_span = gc::kClassToPages[cls] * gc::kPageBytes / gc::kClassToSize[cls];
    auto a0 = read_counts();
    {
      std::vector<gc::Root<uint8_t>> keep;
      for (int i = 0; i < kSmallObjects; i++) keep.emplace_back(gc::alloc_bytes(kSmallBytes));
      for (int i = 0; i < kLargeObjects; i++) keep.emplace_back(gc::alloc_bytes(kLargeBytes));
      auto a1 = read_counts();
      // A P counts a span's free slots when it caches the span, so the
      // count runs ahead of the objects by at most one span per P.
      uint64_t small = a1->small_mallocs[cls] - a0->small_mallocs[cls];
      BOOST_TEST(small >= uint64_t{kSmallObjects});
      BOOST_TEST(small <= kSmallObjects + per_span * static_cast<uint64_t>(gomaxprocs()));
      BOOST_TEST(a1->large_mallocs - a0->large_mallocs == uint64_t{kLargeObjects});
      BOOST_TEST(a1->large_alloc_bytes - a0->large_alloc_bytes == kLargeObjects * 5 * gc::kPageBytes);
      for (auto& r : keep) r = nullptr;  // all garbage now
    }
    gc::collect();
    gc::detail::sweep_all_for_testing();
    auto a2 = read_counts();
    // Conservative stack scanning may keep a stray object or two alive.
    BOOST_TEST(a2->small_frees[cls] - a0->small_frees[cls] >= uint64_t{kSmallObjects} / 2);
    BOOST_TEST(a2->large_frees - a0->large_frees >= uint64_t{kLargeObjects} / 2);
    BOOST_TEST(a2->large_free_bytes - a0->large_free_bytes ==
               (a2->large_frees - a0->large_frees) * 5 * gc::kPageBytes);
    for (int k = 1; k < gc::kNumSizeClasses; k++) BOOST_TEST(a2->small_frees[k] <= a2->small_mallocs[k]);

    // The same counters as MemStats' totals (nothing allocates or sweeps
    // between the two reads).
    auto ms = std::make_unique<gc::MemStats>();
    gc::read_mem_stats(ms.get());
    auto a3 = read_counts();
    uint64_t mallocs = a3->large_mallocs, frees = a3->large_frees, bytes = a3->large_alloc_bytes;
    for (int k = 1; k < gc::kNumSizeClasses; k++) {
      mallocs += a3->small_mallocs[k];
      frees += a3->small_frees[k];
      bytes += a3->small_mallocs[k] * gc::kClassToSize[k];
    }
    BOOST_TEST(mallocs == ms->mallocs);
    BOOST_TEST(frees == ms->frees);
    BOOST_TEST(bytes == ms->total_alloc);
  });
}

BOOST_AUTO_TEST_CASE(pause_distribution_gets_both_pauses_of_every_cycle) {
  run_main([] {
    TimeHistogramCounts d0 = gc::read_gc_pause_distribution();
    uint64_t n0 = gc::read_gc_counters().cycles;
    for (int i = 0; i < 3; i++) gc::collect();
    TimeHistogramCounts d1 = gc::read_gc_pause_distribution();
    uint64_t n1 = gc::read_gc_counters().cycles;
    BOOST_REQUIRE_EQUAL(d1.size(), size_t(kTimeHistBuckets + 1));
    BOOST_TEST(n1 - n0 >= 3u);
    // Sweep termination and mark termination of each cycle, plus any mark
    // termination that found work and let the world go again.
    BOOST_TEST(total(d1) - total(d0) >= 2 * (n1 - n0));
    BOOST_TEST(d1[0] == 0u);  // no negative pause
    for (size_t i = 0; i < d1.size(); i++) BOOST_TEST(d1[i] >= d0[i]);
  });
}
