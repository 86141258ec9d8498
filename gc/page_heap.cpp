// page_heap.cpp — the page heap (Go's mheap): one reserved arena of 8 KiB
// pages, the runs of free pages, the page → span table that turns any
// address into its span, and the scavenger that returns idle pages to the
// OS.
//
// The arena is a single reservation (kArenaBytes of address space, mapped
// MAP_NORESERVE so untouched pages cost nothing) that grows upward: `used`
// marks the end of the pages ever handed out. A pointer is a heap pointer
// iff it falls in [base, used) and its page maps to an in-use span — one
// subtraction, one compare and one load, which is what conservative stack
// scanning needs. Go reserves 64 MiB arenas one at a time and keeps a
// two-level arena map; one flat reservation is simpler and, on 64-bit
// Linux, costs only address space.
//
// Free pages are kept as runs, indexed by address (to coalesce neighbours)
// and by size (best fit, lowest address first — low addresses stay dense,
// which is what lets the scavenger release the top). Span allocation is
// not on the allocation fast path (a span holds many objects), so one
// mutex guards it all.
//
// Scavenging. Every page carries a "released" bit: set when madvise
// (MADV_DONTNEED) gave it back to the OS, cleared when a span takes it again
// (the kernel then supplies a zero page). A background thread — not a
// goroutine: it touches no heap object and must outlive run_main — keeps
// the retained heap (grown − released) near a target derived from the heap
// goal, releasing at most a little per wake-up (Go paces its scavenger to
// ~1% of a CPU), and without pacing when total memory nears the memory
// limit (Go 1.19's memory-limit scavenging goal, 95% of the limit).
#include <sys/mman.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <thread>

#include "gc/heap_internal.h"

namespace gc::detail {

Arena g_arena;

namespace {

constexpr size_t kArenaBytes = size_t{64} << 30;          // address space reserved for the heap
constexpr size_t kArenaPages = kArenaBytes >> kPageShift;
constexpr size_t kGrowMinPages = 128;                     // grow the arena by at least 1 MiB
constexpr int64_t kScavengePeriodNs = 10'000'000;         // scavenger wake-up
constexpr uint64_t kScavengeChunkBytes = 64 << 10;        // released per step
constexpr uint64_t kScavengePacedBytesPerWake = 1 << 20;  // ~1% of a CPU at madvise's cost

struct PageHeap {
  std::mutex lock;
  std::map<uintptr_t, size_t> free_by_addr;              // run base → pages
  std::set<std::pair<size_t, uintptr_t>> free_by_size;   // (pages, base)
  uint64_t* released_bits = nullptr;                     // one bit per arena page
  uint64_t sys_bytes = 0;
  uint64_t inuse_bytes = 0;
  uint64_t released_bytes = 0;
  uint64_t spans_inuse = 0;
  std::vector<Span*> free_span_structs;                  // Span records to reuse
  std::once_flag init_once;
};
// Never destroyed: the scavenger thread runs until the process exits.
PageHeap& heap = *new PageHeap;

void* map_noreserve(size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) GC_THROW("gc: cannot reserve %zu bytes of address space", bytes);
  return p;
}

size_t page_index(uintptr_t addr) { return (addr - g_arena.base) >> kPageShift; }

bool released(size_t page) { return heap.released_bits[page / 64] >> (page % 64) & 1; }
void set_released(size_t page, bool on) {
  uint64_t bit = uint64_t{1} << (page % 64);
  if (on)
    heap.released_bits[page / 64] |= bit;
  else
    heap.released_bits[page / 64] &= ~bit;
}

void insert_free(uintptr_t base, size_t npages) {
  heap.free_by_addr.emplace(base, npages);
  heap.free_by_size.emplace(npages, base);
}
void erase_free(std::map<uintptr_t, size_t>::iterator it) {
  heap.free_by_size.erase({it->second, it->first});
  heap.free_by_addr.erase(it);
}

// add_free_run inserts [base, base + npages) into the free runs, merging
// it with free neighbours.
void add_free_run(uintptr_t base, size_t npages) {
  auto next = heap.free_by_addr.lower_bound(base);
  if (next != heap.free_by_addr.begin()) {
    auto prev = std::prev(next);
    if (prev->first + (prev->second << kPageShift) == base) {
      base = prev->first;
      npages += prev->second;
      erase_free(prev);
    }
  }
  next = heap.free_by_addr.lower_bound(base);
  if (next != heap.free_by_addr.end() && base + (npages << kPageShift) == next->first) {
    npages += next->second;
    erase_free(next);
  }
  insert_free(base, npages);
}

// take_pages removes npages from the free runs (best fit), growing the
// arena if no run is large enough. Returns the base; *fresh is true when
// the pages were never handed out before (so they are zero).
uintptr_t take_pages(size_t npages, bool* fresh) {
  auto it = heap.free_by_size.lower_bound({npages, 0});
  uintptr_t base;
  *fresh = false;
  if (it != heap.free_by_size.end()) {
    size_t run = it->first;
    base = it->second;
    heap.free_by_size.erase(it);
    heap.free_by_addr.erase(base);
    if (run > npages) insert_free(base + (npages << kPageShift), run - npages);
  } else {
    // Grow: extend a free run that ends at `used`, or start at `used`.
    uintptr_t used = g_arena.used.load(std::memory_order_relaxed);
    size_t have = 0;
    auto last = heap.free_by_addr.empty() ? heap.free_by_addr.end() : std::prev(heap.free_by_addr.end());
    if (last != heap.free_by_addr.end() && last->first + (last->second << kPageShift) == used) {
      have = last->second;
      base = last->first;
      erase_free(last);
    } else {
      base = used;
    }
    size_t grow = std::max(npages - have, kGrowMinPages);
    if (used + (grow << kPageShift) > g_arena.end)
      GC_THROW("gc: out of memory: the %zu GiB heap arena is exhausted", kArenaBytes >> 30);
    g_arena.used.store(used + (grow << kPageShift), std::memory_order_release);
    heap.sys_bytes += grow << kPageShift;
    size_t total = have + grow;
    if (total > npages) insert_free(base + (npages << kPageShift), total - npages);
    *fresh = have == 0;
  }
  // Pages taken back from the OS come back as zero pages.
  size_t first = page_index(base);
  for (size_t p = first; p < first + npages; p++) {
    if (released(p)) {
      set_released(p, false);
      heap.released_bytes -= kPageBytes;
    }
  }
  return base;
}

Span* new_span_struct() {
  if (!heap.free_span_structs.empty()) {
    Span* s = heap.free_span_structs.back();
    heap.free_span_structs.pop_back();
    return s;
  }
  return new Span;
}

}  // namespace

void heap_init() {
  std::call_once(heap.init_once, [] {
    // Align the arena to a page so page indexes are exact.
    uintptr_t raw = reinterpret_cast<uintptr_t>(map_noreserve(kArenaBytes + kPageBytes));
    g_arena.base = (raw + kPageBytes - 1) & ~(kPageBytes - 1);
    g_arena.end = g_arena.base + kArenaBytes;
    g_arena.span_of_page = static_cast<Span**>(map_noreserve(kArenaPages * sizeof(Span*)));
    heap.released_bits = static_cast<uint64_t*>(map_noreserve(kArenaPages / 8));
    g_arena.used.store(g_arena.base, std::memory_order_release);
#if GC_ASAN
    // Only the objects handed out are addressable.
    GC_POISON(reinterpret_cast<void*>(g_arena.base), kArenaBytes);
#endif
    start_scavenger();
  });
}

Span* alloc_span(size_t npages, int spanclass, uint32_t elemsize, uint32_t nelems) {
  heap_init();
  std::lock_guard<std::mutex> guard(heap.lock);
  bool fresh = false;
  uintptr_t base = take_pages(npages, &fresh);
  Span* s = new_span_struct();
  s->base = base;
  s->npages = npages;
  s->elemsize = elemsize;
  s->nelems = nelems;
  s->limit = base + uintptr_t{elemsize} * nelems;
  s->spanclass = static_cast<uint8_t>(spanclass);
  s->large = span_class_size(spanclass) == 0;
  s->noscan = span_class_noscan(spanclass);
  s->div_magic = s->large ? 0 : class_div_magic(span_class_size(spanclass));
  s->in_use = true;
  s->needzero = !fresh;
  s->cached = false;
  s->freeindex = 0;
  s->alloc_count = 0;
  std::memset(s->alloc_bits, 0, sizeof(s->alloc_bits));
  std::memset(s->mark_bits, 0, sizeof(s->mark_bits));
  s->alloc_cache = ~uint64_t{0};
  s->sweepgen.store(g_sweepgen.load(std::memory_order_relaxed), std::memory_order_relaxed);
  s->uniform_type = 0;
  delete[] s->types;
  s->types = nullptr;
  s->specials = nullptr;
  s->next = s->prev = nullptr;
  s->list = -1;
  size_t first = page_index(base);
  for (size_t p = first; p < first + npages; p++) __atomic_store_n(&g_arena.span_of_page[p], s, __ATOMIC_RELEASE);
  heap.inuse_bytes += npages << kPageShift;
  heap.spans_inuse++;
  return s;
}

void free_span(Span* s) {
  std::lock_guard<std::mutex> guard(heap.lock);
  if (!s->in_use) GC_THROW("gc: free_span: span %p (base %#lx) is not in use", static_cast<void*>(s), s->base);
  size_t first = page_index(s->base);
  for (size_t p = first; p < first + s->npages; p++) __atomic_store_n(&g_arena.span_of_page[p], nullptr, __ATOMIC_RELEASE);
  GC_POISON(reinterpret_cast<void*>(s->base), s->npages << kPageShift);
  add_free_run(s->base, s->npages);
  heap.inuse_bytes -= s->npages << kPageShift;
  heap.spans_inuse--;
  s->in_use = false;
  if (s->specials) GC_THROW("gc: free_span: span %#lx still has sampled objects", s->base);
  heap.free_span_structs.push_back(s);
}

PageStats page_stats() {
  std::lock_guard<std::mutex> guard(heap.lock);
  return {heap.sys_bytes, heap.inuse_bytes, heap.released_bytes, heap.spans_inuse};
}

uint64_t scavenge(uint64_t target_retained, uint64_t max_bytes) {
  uint64_t done = 0;
  std::lock_guard<std::mutex> guard(heap.lock);
  // Highest addresses first: the allocator prefers low ones.
  for (auto it = heap.free_by_addr.rbegin(); it != heap.free_by_addr.rend(); ++it) {
    size_t first = page_index(it->first);
    for (size_t p = first + it->second; p-- > first;) {
      if (heap.sys_bytes - heap.released_bytes <= target_retained || done >= max_bytes) return done;
      if (released(p)) continue;
      // Release a chunk of contiguous unreleased pages ending at p.
      size_t lo = p;
      while (lo > first && !released(lo - 1) && ((p - lo + 1) << kPageShift) < kScavengeChunkBytes) lo--;
      uintptr_t addr = g_arena.base + (lo << kPageShift);
      size_t bytes = (p - lo + 1) << kPageShift;
      GC_UNPOISON(reinterpret_cast<void*>(addr), bytes);
      madvise(reinterpret_cast<void*>(addr), bytes, MADV_DONTNEED);
      GC_POISON(reinterpret_cast<void*>(addr), bytes);
      for (size_t q = lo; q <= p; q++) set_released(q, true);
      heap.released_bytes += bytes;
      done += bytes;
      p = lo;
    }
  }
  return done;
}

// retained_target is the scavenger's goal for retained heap bytes: Go
// 1.19's gcPercentGoal (the heap goal plus 10%) and, when a memory limit is
// set, 95% of it less the memory that is not heap.
static uint64_t retained_target(bool* urgent) {
  uint64_t goal = scavenger_heap_goal();
  uint64_t target = goal + goal / 10;
  *urgent = false;
  int64_t limit = memory_limit();
  if (limit != kNoMemoryLimit) {
    uint64_t lim95 = static_cast<uint64_t>(limit) / 100 * 95;
    uint64_t non_heap = non_heap_sys_bytes();
    uint64_t lim_target = lim95 > non_heap ? lim95 - non_heap : 0;
    if (lim_target < target) {
      target = lim_target;
      *urgent = true;
    }
  }
  return target;
}

void start_scavenger() {
  std::thread([] {
    for (;;) {
      std::this_thread::sleep_for(std::chrono::nanoseconds(kScavengePeriodNs));
      bool urgent = false;
      uint64_t target = retained_target(&urgent);
      scavenge(target, urgent ? UINT64_MAX : kScavengePacedBytesPerWake);
    }
  }).detach();
}

}  // namespace gc::detail
