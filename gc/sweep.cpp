// sweep.cpp — sweeping (Go's mgcsweep.go): after marking, every span's
// unmarked objects are free. Sweeping a span makes its mark bits its alloc
// bits, clears the mark bits for the next cycle, counts the freed objects,
// reports freed sampled objects to the heap profiler, and returns spans
// with no live object to the page heap.
//
// Who sweeps (heap_internal.h has the sweep-generation protocol; a span is
// swept by whoever wins the CAS from sweepgen−2 to sweepgen−1):
//   - the allocation that wants a span of a class (central.cpp cache_span),
//     so memory is reused before the heap grows;
//   - a little more on each heap growth (proportional sweep: about as many
//     pages as the growth takes);
//   - a background sweeper goroutine started after each cycle, which
//     yields after every few spans so it runs in the gaps (Go's bgsweep);
//   - the next cycle's sweep termination, which finishes whatever is left
//     with the world stopped (and gctrace's first phase shows it).
//
// A freed slot is not written to (the next allocation zeroes it), except in
// checking builds: under ASan it is poisoned, and with GORT_GCCHECK=1 in
// the environment it is filled with 0xdb, so a use after free reads
// garbage that the GC stress tests detect.
#include <cstdlib>
#include <cstring>

#include "gc/heap_internal.h"
#include "runtime/gort.h"
#include "runtime/observer.h"

namespace gc::detail {

std::atomic<int64_t> g_sweep_pending{0};
std::atomic<int64_t> g_sweeps_active{0};
bool g_poison_freed = [] {
  const char* e = std::getenv("GORT_GCCHECK");
  return e && e[0] == '1';
}();

namespace {

constexpr int kSweeperYieldSpans = 8;  // the background sweeper yields this often

// below_mask returns the bits of word w that are slots below index.
inline uint64_t below_mask(uint32_t index, int w) {
  uint32_t lo = static_cast<uint32_t>(w) * 64;
  if (index <= lo) return 0;
  if (index >= lo + 64) return ~uint64_t{0};
  return (uint64_t{1} << (index - lo)) - 1;
}
inline uint64_t valid_mask(uint32_t nelems, int w) { return below_mask(nelems, w); }

void free_object(Span* s, uint32_t slot) {
  void* obj = reinterpret_cast<void*>(s->slot_addr(slot));
  if (g_poison_freed) {
    GC_UNPOISON(obj, s->elemsize);  // a large object was unpoisoned only up to its size
    std::memset(obj, kFreedFill, s->elemsize);
  }
  GC_POISON(obj, s->elemsize);
}

// put_swept files a swept span: back on its list, or to the page heap when
// nothing in it is live.
void put_swept(Span* s, uint32_t live, uint32_t sg) {
  if (live == 0) {
    free_span(s);
    return;
  }
  if (s->large) {
    std::lock_guard<SpinLock> guard(g_large.lock);
    g_large.lists[swept_index(sg)].push(s);
    return;
  }
  Central& c = g_central[s->spanclass];
  std::lock_guard<SpinLock> guard(c.lock);
  if (s->alloc_count < s->nelems)
    c.partial[swept_index(sg)].push(s);
  else
    c.full[swept_index(sg)].push(s);
}

std::atomic<uint32_t> g_sweep_cursor{0};

// Proportional sweep state (Go's mheap.sweepPagesPerByte & co.), set with
// the world stopped, read by allocating goroutines.
std::atomic<double> g_sweep_pages_per_byte{0};
std::atomic<uint64_t> g_sweep_live_basis{0};
std::atomic<uint64_t> g_pages_swept{0};  // since the last mark termination

}  // namespace

Span* claim_unswept(SpanList& l, uint32_t sg) {
  while (Span* s = l.pop()) {
    uint32_t expect = sg - 2;
    if (s->sweepgen.compare_exchange_strong(expect, sg - 1, std::memory_order_acquire)) {
      g_sweeps_active.fetch_add(1, std::memory_order_relaxed);
      g_sweep_pending.fetch_sub(1, std::memory_order_relaxed);
      return s;
    }
  }
  return nullptr;
}

void end_sweep_claim() { g_sweeps_active.fetch_sub(1, std::memory_order_release); }

void set_sweep_pace(uint64_t pages_in_use, uint64_t heap_marked, uint64_t trigger) {
  // Go leaves a megabyte of slack so sweeping finishes a little early.
  int64_t distance = static_cast<int64_t>(trigger) - static_cast<int64_t>(heap_marked) - (1 << 20);
  if (distance < static_cast<int64_t>(kPageBytes)) distance = kPageBytes;
  g_sweep_pages_per_byte.store(static_cast<double>(pages_in_use) / static_cast<double>(distance),
                               std::memory_order_relaxed);
  g_sweep_live_basis.store(heap_marked, std::memory_order_relaxed);
  g_pages_swept.store(0, std::memory_order_relaxed);
}

void deduct_sweep_credit(uint64_t bytes) {
  if (g_sweep_pending.load(std::memory_order_relaxed) <= 0) return;
  uint64_t live = g_counters.heap_live.load(std::memory_order_relaxed) + bytes;
  uint64_t basis = g_sweep_live_basis.load(std::memory_order_relaxed);
  if (live <= basis) return;
  double target = g_sweep_pages_per_byte.load(std::memory_order_relaxed) * static_cast<double>(live - basis);
  while (static_cast<double>(g_pages_swept.load(std::memory_order_relaxed)) < target) {
    if (sweep_one() == 0) break;
  }
}

uint32_t sweep_span(Span* s) {
  uint32_t sg = g_sweepgen.load(std::memory_order_relaxed);
  int nwords = static_cast<int>((s->nelems + 63) / 64);
  bool visit_freed = g_poison_freed || GC_ASAN || s->specials != nullptr;
  uint32_t live = 0;
  for (int w = 0; w < nwords; w++) {
    uint64_t marked = s->mark_bits[w] & valid_mask(s->nelems, w);
    uint64_t allocated = (s->alloc_bits[w] | below_mask(s->freeindex, w)) & valid_mask(s->nelems, w);
    live += static_cast<uint32_t>(__builtin_popcountll(marked));
    uint64_t freed = allocated & ~marked;
    if (visit_freed) {
      for (uint64_t f = freed; f; f &= f - 1) free_object(s, static_cast<uint32_t>(w * 64 + __builtin_ctzll(f)));
    }
    s->alloc_bits[w] = marked;
    s->mark_bits[w] = 0;
  }
  if (s->specials) {
    std::lock_guard<std::mutex> guard(g_specials_lock);
    auto& v = *s->specials;
    for (size_t i = 0; i < v.size();) {
      if (!(s->alloc_bits[v[i].slot / 64] >> (v[i].slot % 64) & 1)) {
        report_freed_special(v[i]);
        v[i] = v.back();
        v.pop_back();
      } else {
        i++;
      }
    }
    if (v.empty()) {
      delete s->specials;
      s->specials = nullptr;
    }
  }
  g_pages_swept.fetch_add(s->npages, std::memory_order_relaxed);
  uint32_t freed = s->alloc_count - live;
  if (s->large) {
    if (freed) {
      g_counters.large_frees.fetch_add(1, std::memory_order_relaxed);
      g_counters.large_free_bytes.fetch_add(s->npages << kPageShift, std::memory_order_relaxed);
    }
  } else if (freed) {
    g_counters.small_frees[span_class_size(s->spanclass)].fetch_add(freed, std::memory_order_relaxed);
  }
  s->alloc_count = live;
  s->freeindex = 0;
  s->refill_alloc_cache(0);
  s->sweepgen.store(sg, std::memory_order_release);
  return live;
}

size_t sweep_one() {
  if (g_sweep_pending.load(std::memory_order_relaxed) <= 0) return 0;
  uint32_t sg = g_sweepgen.load(std::memory_order_relaxed);
  // Round-robin over the span classes, then the large spans.
  uint32_t start = g_sweep_cursor.load(std::memory_order_relaxed);
  for (int i = 0; i <= kNumSpanClasses; i++) {
    uint32_t k = (start + static_cast<uint32_t>(i)) % (kNumSpanClasses + 1);
    Span* s = nullptr;
    if (k == kNumSpanClasses) {
      std::lock_guard<SpinLock> guard(g_large.lock);
      s = claim_unswept(g_large.lists[unswept_index(sg)], sg);
    } else {
      Central& c = g_central[k];
      std::lock_guard<SpinLock> guard(c.lock);
      s = claim_unswept(c.partial[unswept_index(sg)], sg);
      if (!s) s = claim_unswept(c.full[unswept_index(sg)], sg);
    }
    if (!s) continue;
    g_sweep_cursor.store(k, std::memory_order_relaxed);
    size_t pages = s->npages;
    put_swept(s, sweep_span(s), sg);
    end_sweep_claim();
    return pages;
  }
  return 0;
}

void finish_sweep() {
  while (sweep_one() > 0) {
  }
}

void sweep_all_for_testing() {
  finish_sweep();
  while (g_sweeps_active.load(std::memory_order_acquire) > 0) gort::yield();
}

void start_background_sweeper() {
  uint32_t gen = g_sweepgen.load(std::memory_order_relaxed);
  gort::go([gen] {
    // Each run between yields is one sweep event pair: a yield may move the
    // sweeper to another P, and the tracer pairs sweep events per P.
    uint64_t pages = 0;
    int n = 0;
    gort::emit_gc_event(gort::GcEvent::SweepStart);
    while (g_sweepgen.load(std::memory_order_relaxed) == gen) {
      size_t p = sweep_one();
      if (p == 0) break;
      pages += p;
      if (++n % kSweeperYieldSpans == 0) {
        gort::emit_gc_event(gort::GcEvent::SweepDone, pages << kPageShift, 0);
        pages = 0;
        gort::yield();
        gort::emit_gc_event(gort::GcEvent::SweepStart);
      }
    }
    if (g_sweepgen.load(std::memory_order_relaxed) == gen && g_sweep_pending.load(std::memory_order_relaxed) <= 0)
      note_sweep_done();
    gort::emit_gc_event(gort::GcEvent::SweepDone, pages << kPageShift, 0);
  });
}

}  // namespace gc::detail
