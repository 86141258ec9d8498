// malloc.cpp — allocation (Go's mallocgc and mcache): the per-P fast path,
// the refill from the central lists, large objects, and heap profile
// sampling.
//
// Fast path (allocate, small objects): find the calling goroutine's P, take
// the next free slot of that P's cached span for the size class, zero it,
// record its type. No lock, no atomic read-modify-write: the P's cache is
// touched only by the goroutine running on that P, which cannot be switched
// out before its next safepoint — and there is none between reading the P
// and returning the object. Every statistic is counted at refill time, for
// a whole span's worth of slots (Go's scheme): heap_live, mallocs and
// TotalAlloc include the unused slots of cached spans, and uncaching a span
// takes its unused slots back out.
//
// Slow path (refill): a safepoint first (the goroutine may stop for the
// world here), then the collector's trigger check — a cycle starts before
// the refill, while this goroutine holds nothing half-done — then the P
// index is read again (the goroutine may have moved) and the cached span is
// swapped for one with free slots.
//
// Off-goroutine allocation is fatal: a plain thread has no P (and no cache),
// and its stack is not among the collector's roots.
#include <cmath>
#include <cstdio>
#include <cstring>

#include "gc/heap_internal.h"
#include "runtime/observer.h"
#include "runtime/scan.h"

namespace gc::detail {

MCache g_caches[kMaxProcs];
Span g_empty_span;  // nelems 0: next_free_fast fails, next_free_index says "full"
HeapCounters g_counters;

std::atomic<AllocSampleHook> g_alloc_hook{nullptr};
std::atomic<FreeSampleHook> g_free_hook{nullptr};
std::atomic<int64_t> g_mem_profile_rate{kDefaultMemProfileRateBytes};
std::atomic<uint32_t> g_sample_epoch{1};
std::mutex g_specials_lock;

namespace {

struct CachesInit {
  CachesInit() {
    for (MCache& c : g_caches)
      for (Span*& s : c.alloc) s = &g_empty_span;
  }
} caches_init;

// next_sample_bytes draws the distance to the next sampled allocation:
// exponential with mean rate (Go's fastexprand in nextSample), so that
// sampling is a Poisson process over allocated bytes.
int64_t next_sample_bytes(MCache& c) {
  int64_t rate = g_mem_profile_rate.load(std::memory_order_relaxed);
  if (rate <= 0 || g_alloc_hook.load(std::memory_order_relaxed) == nullptr) return INT64_MAX;
  if (rate == 1) return 0;
  if (c.rand == 0) c.rand = 0x9e3779b97f4a7c15ull ^ reinterpret_cast<uintptr_t>(&c);
  c.rand ^= c.rand << 13;
  c.rand ^= c.rand >> 7;
  c.rand ^= c.rand << 17;
  double u = static_cast<double>((c.rand >> 11) + 1) / 9007199254740993.0;  // (0, 1]
  double d = -std::log(u) * static_cast<double>(rate);
  return d >= 9.0e18 ? INT64_MAX : static_cast<int64_t>(d);
}

// sample records a sampled allocation: the profiler's hook, then a special
// on the span so the sweep can report the free.
void sample(MCache& c, Span* s, uint32_t slot, void* obj, size_t bytes) {
  c.next_sample = next_sample_bytes(c);
  AllocSampleHook hook = g_alloc_hook.load(std::memory_order_acquire);
  if (!hook) return;
  void* handle = hook(obj, bytes);
  if (!handle) return;
  std::lock_guard<std::mutex> guard(g_specials_lock);
  if (!s->specials) s->specials = new std::vector<Special>;
  s->specials->push_back({slot, static_cast<uint32_t>(std::min<size_t>(bytes, UINT32_MAX)), handle});
}

// count_down charges an allocation to P cache c's countdown to its next
// sample, and samples when it runs out. A new rate or hook (a new epoch)
// replaces the countdown first, on every path, so it reaches the very next
// allocation: a P that last drew at 512 KiB would otherwise sample nothing
// for its next 512 KiB after the rate became 1 (Go rereads MemProfileRate
// on every allocation for the same reason).
__attribute__((noinline)) void count_down_slow(MCache& c, Span* s, uint32_t slot, void* obj, size_t bytes) {
  uint32_t epoch = g_sample_epoch.load(std::memory_order_relaxed);
  if (c.sample_epoch != epoch) {
    c.sample_epoch = epoch;
    c.next_sample = next_sample_bytes(c) - static_cast<int64_t>(bytes);
    if (c.next_sample >= 0) return;
  }
  sample(c, s, slot, obj, bytes);
}
__attribute__((always_inline)) inline void count_down(MCache& c, Span* s, uint32_t slot, void* obj, size_t bytes) {
  if (__builtin_expect((c.next_sample -= static_cast<int64_t>(bytes)) < 0 ||
                           c.sample_epoch != g_sample_epoch.load(std::memory_order_relaxed),
                       0))
    count_down_slow(c, s, slot, obj, bytes);
}

// hand_out finishes a small allocation from slot of s, P cache c's span:
// zeroes the object, records its type, counts down to the next sample.
__attribute__((always_inline)) inline void* hand_out(MCache& c, Span* s, uint32_t slot, size_t bytes, uint16_t type) {
  void* obj = reinterpret_cast<void*>(s->slot_addr(slot));
  GC_UNPOISON(obj, s->elemsize);
  zero_object(obj, s->elemsize);
  if (type) s->set_type(slot, type);
  if (__builtin_expect(g_alloc_black.load(std::memory_order_relaxed), 0)) c.black_bytes += s->elemsize;
  count_down(c, s, slot, obj, bytes);
  return obj;
}

[[noreturn]] __attribute__((noinline)) void off_goroutine(size_t bytes) {
  GC_THROW("gc: allocation of %zu bytes off a goroutine: the collected heap is used only on goroutines "
           "(gort::go / gort::run_main)", bytes);
}

// uncache gives P cache c's span of class spc back to its central list,
// taking the slots it did not use back out of the statistics counted when
// it was cached.
void uncache(MCache& c, int spc) {
  Span* s = c.alloc[spc];
  if (s == &g_empty_span) return;
  if (uint64_t unused = s->nelems - s->alloc_count) {
    g_counters.heap_live.fetch_sub(unused * s->elemsize, std::memory_order_relaxed);
    g_counters.small_mallocs[span_class_size(spc)].fetch_sub(unused, std::memory_order_relaxed);
  }
  uncache_span(s);
  c.alloc[spc] = &g_empty_span;
}

// refill replaces P p's cached span of class spc with one that has a free
// slot (Go's mcache.refill).
void refill(MCache& c, int spc) {
  uncache(c, spc);
  deduct_sweep_credit(kClassToPages[span_class_size(spc)] << kPageShift);
  Span* s = cache_span(spc);
  s->cached = true;
  uint64_t fresh = s->nelems - s->alloc_count;
  g_counters.small_mallocs[span_class_size(spc)].fetch_add(fresh, std::memory_order_relaxed);
  uint64_t live = g_counters.heap_live.fetch_add(fresh * s->elemsize, std::memory_order_relaxed) + fresh * s->elemsize;
  c.alloc[spc] = s;
  // Marking: the goroutine owes assist work for what it may now allocate
  // (Go charges per allocation; here per refill, as heap_live counts). It
  // pays at its next slow path, before it picks a P's cache (a safepoint).
  if (__builtin_expect(g_alloc_black.load(std::memory_order_relaxed), 0)) charge_assist(fresh * s->elemsize);
  // The tracer's HeapAlloc event, at every refill as Go's mcache.refill.
  if (__builtin_expect(gort::observers_attached(), 0)) gort::emit_gc_event(gort::GcEvent::HeapAlloc, live);
}

__attribute__((noinline)) void* allocate_slow(size_t bytes, uint16_t type);

void* allocate_large(size_t bytes, uint16_t type) {
  size_t npages = (bytes + kPageBytes - 1) >> kPageShift;
  deduct_sweep_credit(npages << kPageShift);
  Span* s = alloc_span(npages, type == 0 ? 1 : 0, static_cast<uint32_t>(std::min<size_t>(npages << kPageShift, UINT32_MAX)), 1);
  s->uniform_type = type;
  s->alloc_count = 1;
  s->alloc_cache = 0;
  void* obj = reinterpret_cast<void*>(s->base);
  GC_UNPOISON(obj, bytes);
  if (s->needzero) std::memset(obj, 0, npages << kPageShift > bytes ? bytes : npages << kPageShift);
  bool black = g_alloc_black.load(std::memory_order_relaxed);
  if (black) s->try_mark(0);  // before the slot is published
  s->publish_freeindex(1);
  g_counters.heap_live.fetch_add(npages << kPageShift, std::memory_order_relaxed);
  g_counters.large_mallocs.fetch_add(1, std::memory_order_relaxed);
  g_counters.large_alloc_bytes.fetch_add(npages << kPageShift, std::memory_order_relaxed);
  int p = gort::current_p_index();
  MCache& c = g_caches[p];
  if (black) c.black_bytes += s->elemsize;
  count_down(c, s, 0, obj, bytes);
  {
    std::lock_guard<SpinLock> guard(g_large.lock);
    g_large.lists[swept_index(g_sweepgen.load(std::memory_order_relaxed))].push(s);
  }
  return obj;
}

void* allocate_slow(size_t bytes, uint16_t type) {
  if (gort::current_p_index() < 0) off_goroutine(bytes);
  gort::alloc_safepoint();
  maybe_start_cycle();
  if (__builtin_expect(g_alloc_black.load(std::memory_order_relaxed), 0)) {
    if (bytes > kMaxSmallBytes) charge_assist(bytes);
    pay_assist_debt();
  }
  if (bytes > kMaxSmallBytes) return allocate_large(bytes, type);
  int p = gort::current_p_index();
  MCache& c = g_caches[p];
  int spc = span_class(size_to_class(bytes), type == 0);
  Span* s = c.alloc[spc];
  uint32_t slot = s->next_free_index();
  if (slot >= s->nelems) {
    refill(c, spc);
    s = c.alloc[spc];
    slot = s->next_free_index();
    if (slot >= s->nelems) GC_THROW("gc: refill gave span %#lx of class %d with no free slot", s->base, spc);
  }
  s->alloc_count++;
  return hand_out(c, s, slot, bytes, type);
}

}  // namespace

void* allocate(size_t bytes, uint16_t type) {
  int p = gort::current_p_index();
  if (__builtin_expect(p >= 0 && bytes <= kMaxSmallBytes, 1)) {
    MCache& c = g_caches[p];
    int spc = span_class(size_to_class(bytes), type == 0);
    Span* s = c.alloc[spc];
    uint32_t slot = s->next_free_fast();
    if (__builtin_expect(slot != Span::kNoSlot, 1)) return hand_out(c, s, slot, bytes, type);
  }
  return allocate_slow(bytes, type);
}

void Span::refill_alloc_cache(uint32_t whole_word_index) {
  alloc_cache = whole_word_index < kBitmapWords ? ~alloc_bits[whole_word_index] : 0;
}

uint32_t Span::next_free_index() {
  uint32_t sfree = freeindex;
  if (sfree >= nelems) return nelems;
  uint64_t cache = alloc_cache;
  while (cache == 0) {
    sfree = (sfree + 64) & ~uint32_t{63};
    if (sfree >= nelems) {
      publish_freeindex(nelems);
      return nelems;
    }
    refill_alloc_cache(sfree / 64);
    cache = alloc_cache;
  }
  uint32_t bit = static_cast<uint32_t>(__builtin_ctzll(cache));
  uint32_t result = sfree + bit;
  if (result >= nelems) {
    publish_freeindex(nelems);
    return nelems;
  }
  alloc_cache = bit == 63 ? 0 : cache >> (bit + 1);
  sfree = result + 1;
  if (sfree % 64 == 0 && sfree != nelems) refill_alloc_cache(sfree / 64);
  if (g_alloc_black.load(std::memory_order_relaxed)) try_mark(result);  // before the slot is published
  publish_freeindex(sfree);
  return result;
}

void Span::set_type_slow(uint32_t slot, uint16_t type) {
  if (uniform_type == 0) {
    __atomic_store_n(&uniform_type, type, __ATOMIC_RELEASE);
    return;
  }
  uint16_t* t = new uint16_t[nelems];
  for (uint32_t i = 0; i < nelems; i++) t[i] = uniform_type;
  t[slot] = type;
  // Markers read these concurrently (type_of_concurrent): the table first.
  __atomic_store_n(&types, t, __ATOMIC_RELEASE);
  __atomic_store_n(&uniform_type, kMixedTypes, __ATOMIC_RELEASE);
}

void flush_caches() {
  for (MCache& c : g_caches)
    for (int spc = 0; spc < kNumSpanClasses; spc++) uncache(c, spc);
}

void report_freed_special(const Special& sp) {
  if (FreeSampleHook hook = g_free_hook.load(std::memory_order_acquire)) hook(sp.handle, sp.bytes);
}

}  // namespace gc::detail

namespace gc {

void set_alloc_sample_hooks(AllocSampleHook on_alloc, FreeSampleHook on_free) {
  detail::g_free_hook.store(on_free, std::memory_order_release);
  detail::g_alloc_hook.store(on_alloc, std::memory_order_release);
  detail::g_sample_epoch.fetch_add(1, std::memory_order_relaxed);
}

int64_t set_mem_profile_rate(int64_t bytes) {
  int64_t prev = detail::g_mem_profile_rate.exchange(bytes < 0 ? 0 : bytes);
  detail::g_sample_epoch.fetch_add(1, std::memory_order_relaxed);
  return prev;
}

int64_t mem_profile_rate() { return detail::g_mem_profile_rate.load(std::memory_order_relaxed); }

// The sweep generation advances by 2 per mark termination (heap_internal.h).
uint32_t sample_cycle() { return detail::g_sweepgen.load(std::memory_order_relaxed) / 2; }

void finish_sweeping() { detail::sweep_all_for_testing(); }

}  // namespace gc
