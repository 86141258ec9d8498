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
// lock guards it all — a spin lock: sweepers freeing spans and allocators
// taking them meet here on every P, and no section sleeps (the scavenger
// takes its pages out of the free runs and makes its system calls with
// the lock released).
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
constexpr uint64_t kScavengeChunkBytes = 64 << 10;        // released per madvise call
constexpr uint64_t kScavengeBatchBytes = 1 << 20;         // taken out of the free runs per lock hold
constexpr uint64_t kScavengePacedBytesPerWake = 1 << 20;  // ~1% of a CPU at madvise's cost

struct PageHeap {
  SpinLock lock;  // sections are short: no system call is made under it
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
uintptr_t take_pages(size_t npages, bool* fresh, uint64_t* paged_in) {
  auto it = heap.free_by_size.lower_bound({npages, 0});
  uintptr_t base;
  *fresh = false;
  *paged_in = 0;
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
    // Under ASan only the objects handed out are addressable: new pages
    // start poisoned (freed ones are poisoned by free_span).
    GC_POISON(reinterpret_cast<void*>(used), grow << kPageShift);
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
      *paged_in += kPageBytes;
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

static Span* alloc_span_locked(size_t npages, int spanclass, uint32_t elemsize, uint32_t nelems, uint64_t* paged_in);

void heap_init() {
  std::call_once(heap.init_once, [] {
    // Align the arena to a page so page indexes are exact.
    uintptr_t raw = reinterpret_cast<uintptr_t>(map_noreserve(kArenaBytes + kPageBytes));
    g_arena.base = (raw + kPageBytes - 1) & ~(kPageBytes - 1);
    g_arena.end = g_arena.base + kArenaBytes;
    g_arena.span_of_page = static_cast<Span**>(map_noreserve(kArenaPages * sizeof(Span*)));
    heap.released_bits = static_cast<uint64_t*>(map_noreserve(kArenaPages / 8));
    g_arena.used.store(g_arena.base, std::memory_order_release);
    start_scavenger();
  });
}

Span* alloc_span(size_t npages, int spanclass, uint32_t elemsize, uint32_t nelems) {
  heap_init();
  uint64_t paged_in = 0;
  Span* s = alloc_span_locked(npages, spanclass, elemsize, nelems, &paged_in);
  // Paging released memory back in may take the process over the memory
  // limit: release as much elsewhere, now (Go 1.19's mheap.allocSpan does
  // the same).
  int64_t limit = paged_in ? memory_limit() : kNoMemoryLimit;
  if (limit != kNoMemoryLimit) {
    uint64_t non_heap = non_heap_sys_bytes();
    PageStats ps = page_stats();
    uint64_t mapped = ps.sys - ps.released + non_heap;
    if (mapped > static_cast<uint64_t>(limit)) {
      uint64_t target = static_cast<uint64_t>(limit) > non_heap ? static_cast<uint64_t>(limit) - non_heap : 0;
      scavenge(target, mapped - static_cast<uint64_t>(limit));
    }
  }
  return s;
}

static Span* alloc_span_locked(size_t npages, int spanclass, uint32_t elemsize, uint32_t nelems, uint64_t* paged_in) {
  std::lock_guard<SpinLock> guard(heap.lock);
  bool fresh = false;
  uintptr_t base = take_pages(npages, &fresh, paged_in);
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
  std::lock_guard<SpinLock> guard(heap.lock);
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
  std::lock_guard<SpinLock> guard(heap.lock);
  return {heap.sys_bytes, heap.inuse_bytes, heap.released_bytes, heap.spans_inuse};
}

// carve removes [addr, addr + npages) — inside one free run — from the
// free runs (heap lock).
static void carve(uintptr_t addr, size_t npages) {
  auto it = std::prev(heap.free_by_addr.upper_bound(addr));
  uintptr_t base = it->first;
  size_t run = it->second;
  erase_free(it);
  if (addr > base) insert_free(base, (addr - base) >> kPageShift);
  uintptr_t end = addr + (npages << kPageShift);
  if (end < base + (run << kPageShift)) insert_free(end, (base + (run << kPageShift) - end) >> kPageShift);
}

uint64_t scavenge(uint64_t target_retained, uint64_t max_bytes) {
  uint64_t done = 0;
  for (;;) {
    // Under the lock, take up to a batch of unreleased free pages out of
    // the free runs — highest addresses first: the allocator prefers low
    // ones — so nobody allocates them while they are being released.
    std::vector<std::pair<uintptr_t, size_t>> batch;  // (addr, pages)
    uint64_t batch_bytes = 0;
    {
      std::lock_guard<SpinLock> guard(heap.lock);
      uint64_t want = std::min(max_bytes - done, kScavengeBatchBytes);
      uint64_t retained = heap.sys_bytes - heap.released_bytes;
      if (retained <= target_retained) return done;
      want = std::min(want, retained - target_retained);
      for (auto it = heap.free_by_addr.rbegin(); it != heap.free_by_addr.rend() && batch_bytes < want; ++it) {
        size_t first = page_index(it->first);
        for (size_t p = first + it->second; p-- > first && batch_bytes < want;) {
          if (released(p)) continue;
          size_t lo = p;
          while (lo > first && !released(lo - 1) && ((p - lo + 1) << kPageShift) < kScavengeChunkBytes) lo--;
          batch.emplace_back(g_arena.base + (lo << kPageShift), p - lo + 1);
          batch_bytes += (p - lo + 1) << kPageShift;
          p = lo;
        }
      }
      for (auto& [addr, n] : batch) carve(addr, n);
    }
    if (batch.empty()) return done;
    for (auto& [addr, n] : batch) {
      GC_UNPOISON(reinterpret_cast<void*>(addr), n << kPageShift);
      madvise(reinterpret_cast<void*>(addr), n << kPageShift, MADV_DONTNEED);
      GC_POISON(reinterpret_cast<void*>(addr), n << kPageShift);
    }
    std::lock_guard<SpinLock> guard(heap.lock);
    for (auto& [addr, n] : batch) {
      size_t first = page_index(addr);
      for (size_t q = first; q < first + n; q++) set_released(q, true);
      add_free_run(addr, n);
    }
    heap.released_bytes += batch_bytes;
    done += batch_bytes;
    if (done >= max_bytes) return done;
  }
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

void clear_all_mark_bits() {
  std::lock_guard<SpinLock> guard(heap.lock);
  size_t pages = arena_extent().size >> kPageShift;
  for (size_t p = 0; p < pages; p++) {
    Span* s = g_arena.span_of_page[p];
    if (s != nullptr && s->base == g_arena.base + (p << kPageShift)) std::memset(s->mark_bits, 0, sizeof(s->mark_bits));
  }
}

}  // namespace gc::detail
