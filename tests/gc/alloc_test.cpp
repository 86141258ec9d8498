// alloc_test — the allocator: every size class hands out zeroed,
// non-overlapping objects of at least the size asked; objects of two types
// sharing a span are each traced with their own trace(); heap pointers are
// recognized (interior ones too) and others are not; MemStats add up; a
// new profile rate reaches the very next allocation, large or small;
// allocating off a goroutine is a fatal error with a clear message.
#define BOOST_TEST_MODULE alloc
#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <map>
#include <vector>

#include "../runtime/child_process.h"
#include "gc/heap.h"
#include "gc/hooks.h"
#include "gc/sizeclasses.h"
#include "gc/stats.h"
#include "runtime/gort.h"

using namespace gort;

BOOST_AUTO_TEST_CASE(every_size_class_gives_zeroed_disjoint_objects) {
  bool ok = true;
  std::string why;
  run_main([&] {
    std::vector<gc::Root<uint8_t>> keep;
    std::map<uintptr_t, size_t> spans;  // start → size, to check for overlaps
    for (size_t size : {size_t{1}, size_t{8}, size_t{9}, size_t{24}, size_t{100}, size_t{1000}, size_t{1024},
                        size_t{1025}, size_t{5000}, size_t{32768}, size_t{32769}, size_t{100000}, size_t{1} << 20}) {
      for (int i = 0; i < 40; i++) {
        uint8_t* p = gc::alloc_bytes(size);
        for (size_t b = 0; b < size; b++)
          if (p[b] != 0) {
            ok = false;
            why = "not zeroed at size " + std::to_string(size);
          }
        std::memset(p, 0xab, size);  // dirty it: a reused slot must come back zeroed
        auto a = reinterpret_cast<uintptr_t>(p);
        auto next = spans.lower_bound(a);
        if (next != spans.end() && next->first < a + size) ok = false, why = "overlaps the next object";
        if (next != spans.begin() && std::prev(next)->first + std::prev(next)->second > a)
          ok = false, why = "overlaps the previous object";
        spans[a] = size;
        if (!gc::is_heap_pointer(p) || !gc::is_heap_pointer(p + size - 1)) ok = false, why = "not a heap pointer";
        keep.emplace_back(p);  // all stay reachable while overlaps are checked
      }
    }
    for (size_t i = 1; i < keep.size(); i += 2) keep[i] = nullptr;  // half become garbage
    gc::collect();
    gc::collect();
    // Reallocate over the freed half: zeroed again.
    for (size_t size : {size_t{8}, size_t{100}, size_t{5000}, size_t{100000}})
      for (int i = 0; i < 40; i++) {
        uint8_t* p = gc::alloc_bytes(size);
        for (size_t b = 0; b < size; b++)
          if (p[b] != 0) ok = false, why = "reused slot not zeroed at size " + std::to_string(size);
      }
    for (auto& r : keep)
      if (r.get() && r.get()[0] != 0xab) ok = false, why = "a kept object changed";
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(ok, why);
}

namespace {
// Two types of the same size class (32 bytes) with their pointer at
// different offsets: a span holding both must trace each by its own type.
struct A {
  gc::Member<uint8_t> p;
  uint64_t pad[3];
  void trace(gc::Visitor& v) const { v.trace(p); }
};
struct B {
  uint64_t pad[3];
  gc::Member<uint8_t> p;
  void trace(gc::Visitor& v) const { v.trace(p); }
};
static_assert(sizeof(A) == 32 && sizeof(B) == 32);
}  // namespace

BOOST_AUTO_TEST_CASE(objects_of_two_types_in_one_span_are_traced_by_their_own_type) {
  bool ok = true;
  run_main([&] {
    std::vector<gc::Root<A>> as;
    std::vector<gc::Root<B>> bs;
    for (int i = 0; i < 2000; i++) {
      if (i % 3) {
        A* a = gc::make<A>();
        a->p = gc::alloc_bytes(48);
        a->p[47] = static_cast<uint8_t>(i);
        a->pad[0] = 0x1111;
        as.emplace_back(a);
      } else {
        B* b = gc::make<B>();
        b->p = gc::alloc_bytes(48);
        b->p[47] = static_cast<uint8_t>(i);
        b->pad[0] = 0x2222;
        bs.emplace_back(b);
      }
      gc::alloc_bytes(48);  // garbage of the payloads' class
    }
    gc::collect();
    gc::collect();
    for (int j = 0; j < 4000; j++) std::memset(gc::alloc_bytes(48), 0xee, 48);  // reuse what was freed
    for (auto& a : as)
      if (a->pad[0] != 0x1111 || a->p.get()[0] != 0) ok = false;
    for (auto& b : bs)
      if (b->pad[0] != 0x2222 || b->p.get()[0] != 0) ok = false;
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(ok);
}

BOOST_AUTO_TEST_CASE(heap_pointers_are_recognized) {
  bool inside = false, interior = false, outside = true, stack = true;
  run_main([&] {
    uint8_t* p = gc::alloc_bytes(64);
    inside = gc::is_heap_pointer(p);
    interior = gc::is_heap_pointer(p + 63);
    int local = 0;
    outside = gc::is_heap_pointer(&outside);
    stack = gc::is_heap_pointer(&local);
  });
  BOOST_TEST(inside);
  BOOST_TEST(interior);
  BOOST_TEST(!outside);
  BOOST_TEST(!stack);
}

BOOST_AUTO_TEST_CASE(mem_stats_add_up) {
  gc::MemStats m;
  run_main([&] {
    gc::Root<uint8_t> big = gc::alloc_bytes(1 << 20);
    for (int i = 0; i < 10000; i++) gc::alloc_bytes(100);
    gc::collect();
    gc::read_mem_stats(&m);
  });
  BOOST_TEST(m.mallocs >= 10001u);
  BOOST_TEST(m.frees <= m.mallocs);
  BOOST_TEST(m.heap_objects == m.mallocs - m.frees);
  BOOST_TEST(m.heap_alloc == m.alloc);
  BOOST_TEST(m.heap_alloc >= (1u << 20));
  BOOST_TEST(m.total_alloc >= m.heap_alloc);
  BOOST_TEST(m.heap_inuse + m.heap_idle == m.heap_sys);
  BOOST_TEST(m.heap_released <= m.heap_idle);
  BOOST_TEST(m.sys >= m.heap_sys + m.stack_sys);
  BOOST_TEST(m.num_gc >= 1u);
  BOOST_TEST(m.pause_ns[(m.num_gc + 255) % 256] > 0u);
  BOOST_TEST(m.last_gc > 1'600'000'000'000'000'000u);  // a Unix time in ns
  BOOST_TEST(m.next_gc >= (4u << 20));
}

namespace {
std::atomic<int> samples{0};
void* count_sample(void*, size_t) {
  samples.fetch_add(1);
  return nullptr;
}
}  // namespace

// Each P counts down the bytes to its next sample; a rate set afterwards
// must replace that countdown before the next allocation of either path,
// or a P that last drew at 512 KiB samples nothing for the next 512 KiB.
BOOST_AUTO_TEST_CASE(a_new_profile_rate_reaches_the_next_allocation_large_or_small) {
  int large = -1, small = -1;
  run_main([&] {
    gc::set_alloc_sample_hooks(&count_sample, nullptr);
    gc::set_mem_profile_rate(512 * 1024);
    gc::alloc_bytes(64);  // this P's countdown now starts near 512 KiB
    gc::set_mem_profile_rate(1);
    int before = samples.load();
    gc::alloc_bytes(100'000);
    large = samples.load() - before;
    gc::set_mem_profile_rate(512 * 1024);
    gc::alloc_bytes(64);
    gc::set_mem_profile_rate(1);
    before = samples.load();
    gc::alloc_bytes(64);
    small = samples.load() - before;
    gc::set_mem_profile_rate(512 * 1024);
    gc::set_alloc_sample_hooks(nullptr, nullptr);
  }, Config{.gomaxprocs = 1});
  BOOST_TEST(large == 1);
  BOOST_TEST(small == 1);
}

BOOST_AUTO_TEST_CASE(allocating_off_a_goroutine_is_fatal) {
  auto [status, err] = gort_test::run_child([] { gc::alloc_bytes(80); });
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(err.find("fatal error: gc: allocation of 80 bytes off a goroutine") != std::string::npos, err);
}
