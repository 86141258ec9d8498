// heap_internal.h — what the collected heap's files share: spans, the page
// heap, central span lists, per-P caches, the marker and the sweeper. The
// one internal header of gc/ (STYLE.md habit 14); nothing outside gc/
// includes it.
//
// The allocator is Go's (malloc.go, mheap.go, mcentral.go, mcache.go):
//
//   page heap (page_heap.cpp)   one reserved arena of 8 KiB pages; free page
//       runs; a page → span table for pointer lookups; a scavenger thread
//       returns idle pages to the OS with madvise.
//   span                         a run of pages holding objects of one size
//       class (or one large object): alloc bits (allocated at the last
//       sweep), mark bits (found live by the current mark), a free index
//       and a 64-bit cache of inverted alloc bits for the fast path.
//   central lists (central.cpp)  per span class (size class × scan/no-scan):
//       spans with free slots and full spans, each split into swept and
//       unswept halves by sweep generation, under a per-class lock.
//   per-P caches (malloc.cpp)    one span per span class for each P. The
//       fast path takes the next free slot of the cached span with no lock
//       and no atomic read-modify-write: the goroutine stays on its P until
//       its next safepoint (runtime/scan.h current_p_index).
//
// The collector (collector.cpp, mark.cpp, mark_workers.cpp, sweep.cpp) is
// a non-moving mark-sweep whose mark runs concurrently with the goroutines,
// between two short stop-the-world pauses: sweep termination (caches
// flushed, barriers on) and mark termination (barriers off, sweep
// generation flipped). Goroutine stacks are scanned conservatively, once
// each; heap objects are traced precisely through their trace(); mark
// workers and allocating goroutines (assists) do the marking. Spans are then
// swept lazily — by the allocation that wants a span of their class — by
// allocation in proportion, and by a background sweeper goroutine.
//
// Sweep generations (Go's mspan.sweepgen, with g = g_sweepgen):
//   span.sweepgen == g - 2   the span needs sweeping
//   span.sweepgen == g - 1   the span is being swept
//   span.sweepgen == g       the span is swept and ready
// g grows by 2 at every mark termination, which turns every swept span into
// an unswept one without touching it. Central lists come in pairs indexed
// by (g/2)&1, so the "swept" list of one cycle is the "unswept" list of the
// next, again without moving a span.
//
// Ownership (who may touch a span's allocation state: free index, alloc
// cache, alloc count, bits): exactly one of — the P whose cache holds it,
// the central list's lock holder while it sits on a list, the goroutine
// that took it off a list to sweep it, or the collector with the world
// stopped. Spans move between owners under the central lock. While a mark
// runs, markers also read a span's free index (acquire; the owner publishes
// it with release after marking the new slot), alloc bits (not written then:
// nothing is swept during a mark), types and mark bits (atomic).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include "gc/heap.h"
#include "gc/hooks.h"
#include "gc/sizeclasses.h"
#include "gc/spin_lock.h"
#include "gc/stats.h"
#include "runtime/base.h"
#include "runtime/scan.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define GC_ASAN 1
#define GC_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define GC_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define GC_ASAN 0
#define GC_POISON(p, n) ((void)(p), (void)(n))
#define GC_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

namespace gc::detail {

// GC_THROW prints a fatal heap error and aborts (the runtime's style).
[[noreturn]] void gc_throw(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
#define GC_THROW(...) ::gc::detail::gc_throw(__VA_ARGS__)

inline constexpr int kNumSpanClasses = kNumSizeClasses * 2;  // × {scan, no-scan}
inline constexpr uint32_t kMaxObjectsPerSpan = 1024;         // 8 KiB of 8-byte objects
inline constexpr int kBitmapWords = kMaxObjectsPerSpan / 64;
inline constexpr int kMaxProcs = 256;                        // per-P caches allocated up front

inline int span_class(int sizeclass, bool noscan) { return sizeclass * 2 + (noscan ? 1 : 0); }
inline int span_class_size(int spc) { return spc >> 1; }
inline bool span_class_noscan(int spc) { return spc & 1; }

// Special is a sampled allocation's profiler handle, kept with its span.
struct Special {
  uint32_t slot;
  uint32_t bytes;
  void* handle;
};

// g_alloc_black is set while a mark runs: new objects are allocated black
// (their mark bit set before the slot is published; mark.cpp).
extern std::atomic<bool> g_alloc_black;

struct Span {
  uintptr_t base = 0;          // first byte
  uintptr_t limit = 0;         // one past the last object (base + nelems*elemsize)
  size_t npages = 0;
  uint32_t elemsize = 0;
  uint32_t nelems = 0;
  uint32_t div_magic = 0;      // slot = ((addr - base) * div_magic) >> 32 (0 for large)
  uint8_t spanclass = 0;       // 0/1: large (scan / no-scan)
  bool noscan = false;
  bool large = false;
  bool in_use = false;         // between alloc_span and free_span (heap lock)
  bool needzero = true;        // pages may hold old data (large spans)
  bool cached = false;         // held by a P's cache (owner)

  // Allocation state (see "Ownership" above).
  uint32_t freeindex = 0;      // slots below are allocated
  uint32_t alloc_count = 0;    // allocated slots
  uint64_t alloc_cache = 0;    // inverted alloc bits from freeindex's word, shifted to freeindex
  std::atomic<uint32_t> sweepgen{0};
  uint64_t alloc_bits[kBitmapWords] = {};  // allocated at the last sweep
  uint64_t mark_bits[kBitmapWords] = {};   // marked this cycle (atomic or: markers, barrier, allocate-black)
  // Types of a scan span's objects: while every object has the same type,
  // uniform_type holds it (0: none allocated yet) and types is null; the
  // first object of another type makes the span mixed — types[slot] then
  // holds each object's type (kMixedTypes in uniform_type). Owner writes;
  // markers read concurrently (type_of_concurrent).
  static constexpr uint16_t kMixedTypes = 0xffff;
  uint16_t uniform_type = 0;
  uint16_t* types = nullptr;
  std::vector<Special>* specials = nullptr;  // sampled objects (g_specials_lock)

  Span* next = nullptr;        // central list / free span list links
  Span* prev = nullptr;
  int8_t list = -1;            // which central list holds it (debugging)

  // next_free_fast returns the next free slot from the alloc cache, or
  // kNoSlot when the cache's 64 slots are used up (then next_free_index).
  static constexpr uint32_t kNoSlot = ~uint32_t{0};
  uint32_t next_free_fast() {
    if (alloc_cache == 0) return kNoSlot;
    uint32_t bit = static_cast<uint32_t>(__builtin_ctzll(alloc_cache));
    uint32_t result = freeindex + bit;
    if (result >= nelems) return kNoSlot;
    uint32_t next = result + 1;
    if (next % 64 == 0 && next != nelems) return kNoSlot;  // refill the cache first
    alloc_cache = bit == 63 ? 0 : alloc_cache >> (bit + 1);
    if (__builtin_expect(g_alloc_black.load(std::memory_order_relaxed), 0)) try_mark(result);
    publish_freeindex(next);
    alloc_count++;
    return result;
  }
  // publish_freeindex: markers read freeindex concurrently
  // (is_free_concurrent); a slot's mark bit, set while marking, is visible
  // to whoever sees the slot allocated.
  void publish_freeindex(uint32_t v) { __atomic_store_n(&freeindex, v, __ATOMIC_RELEASE); }
  // next_free_index is the slow half: finds the next free slot at or after
  // freeindex, refilling alloc_cache; returns nelems when the span is full.
  uint32_t next_free_index();
  void refill_alloc_cache(uint32_t whole_word_index);
  bool is_free(uint32_t slot) const {
    return slot >= freeindex && !(alloc_bits[slot / 64] >> (slot % 64) & 1);
  }
  // is_free_concurrent is is_free for a marker while the owner allocates
  // (alloc_bits do not change during a mark: nothing is swept then).
  bool is_free_concurrent(uint32_t slot) const {
    return slot >= __atomic_load_n(&freeindex, __ATOMIC_ACQUIRE) && !(alloc_bits[slot / 64] >> (slot % 64) & 1);
  }
  uint32_t slot_of(uintptr_t addr) const {
    return large ? 0 : static_cast<uint32_t>((uint64_t{addr - base} * div_magic) >> 32);
  }
  uintptr_t slot_addr(uint32_t slot) const { return base + uintptr_t{slot} * elemsize; }
  bool marked(uint32_t slot) const {
    return __atomic_load_n(&mark_bits[slot / 64], __ATOMIC_RELAXED) >> (slot % 64) & 1;
  }
  // try_mark sets slot's mark bit; false if it was already set.
  bool try_mark(uint32_t slot) {
    uint64_t bit = uint64_t{1} << (slot % 64);
    uint64_t* w = &mark_bits[slot / 64];
    if (__atomic_load_n(w, __ATOMIC_RELAXED) & bit) return false;
    return !(__atomic_fetch_or(w, bit, __ATOMIC_RELAXED) & bit);
  }
  uint16_t type_of(uint32_t slot) const { return types ? types[slot] : uniform_type; }
  // type_of_concurrent is type_of for a marker while the owner may make
  // the span mixed (set_type_slow publishes types before kMixedTypes).
  uint16_t type_of_concurrent(uint32_t slot) const {
    if (const uint16_t* t = __atomic_load_n(&types, __ATOMIC_ACQUIRE)) return t[slot];
    uint16_t u = __atomic_load_n(&uniform_type, __ATOMIC_ACQUIRE);
    if (u != kMixedTypes) return u;
    return __atomic_load_n(&types, __ATOMIC_ACQUIRE)[slot];
  }
  // set_type records a new object's type (scan spans).
  void set_type(uint32_t slot, uint16_t type) {
    if (__builtin_expect(uniform_type == type, 1)) return;
    if (types) {
      types[slot] = type;
      return;
    }
    set_type_slow(slot, type);
  }
  void set_type_slow(uint32_t slot, uint16_t type);
};

// zero_object clears a new object. The small classes get inline stores of
// a constant size; a call to memset costs more than the stores themselves.
inline void zero_object(void* p, size_t n) {
  switch (n) {
    case 8: __builtin_memset(p, 0, 8); return;
    case 16: __builtin_memset(p, 0, 16); return;
    case 24: __builtin_memset(p, 0, 24); return;
    case 32: __builtin_memset(p, 0, 32); return;
    case 48: __builtin_memset(p, 0, 48); return;
    case 64: __builtin_memset(p, 0, 64); return;
    case 80: __builtin_memset(p, 0, 80); return;
    case 96: __builtin_memset(p, 0, 96); return;
    case 112: __builtin_memset(p, 0, 112); return;
    case 128: __builtin_memset(p, 0, 128); return;
    default: __builtin_memset(p, 0, n); return;
  }
}

// ---- page_heap.cpp ----

// The arena: one reservation of address space, grown page-run by page-run.
struct Arena {
  uintptr_t base = 0;                // first page
  uintptr_t end = 0;                 // end of the reservation
  std::atomic<uintptr_t> used{0};    // end of the pages handed out so far (grows)
  Span** span_of_page = nullptr;     // page index → in-use span (heap lock to write)
};
extern Arena g_arena;

// ArenaExtent is the part of the arena handed out so far: {0, 0} before
// heap_init. The first allocation initializes the arena while markers and
// barriers may already be reading it (a forced collection can start before
// any allocation), so heap_init publishes `used` last, with release: a
// reader that sees it nonzero sees base and span_of_page too, and one that
// does not sees an empty arena — never a new base with the old `used`.
struct ArenaExtent {
  uintptr_t base;
  uintptr_t size;
};
inline ArenaExtent arena_extent() {
  uintptr_t used = g_arena.used.load(std::memory_order_acquire);
  if (used == 0) return {0, 0};
  return {g_arena.base, used - g_arena.base};
}

inline Span* span_of(uintptr_t addr) {
  ArenaExtent a = arena_extent();
  uintptr_t off = addr - a.base;
  if (off >= a.size) return nullptr;
  return __atomic_load_n(&g_arena.span_of_page[off >> kPageShift], __ATOMIC_ACQUIRE);
}

// heap_init reserves the arena on first use. Idempotent, thread-safe.
void heap_init();
// alloc_span returns a span of npages for spanclass (0/1 = large), from
// free pages or by growing the arena; it is not on any list. Takes the
// heap lock.
Span* alloc_span(size_t npages, int spanclass, uint32_t elemsize, uint32_t nelems);
// free_span returns a span's pages to the free runs. Heap lock.
void free_span(Span* s);

struct PageStats {
  uint64_t sys = 0;       // arena bytes grown
  uint64_t inuse = 0;     // bytes in in-use spans
  uint64_t released = 0;  // free bytes returned to the OS
  uint64_t spans_inuse = 0;
};
PageStats page_stats();
// scavenge_to releases free pages to the OS until retained heap bytes
// (sys − released) fall to target or max_bytes were released; returns the
// bytes released. Heap lock.
uint64_t scavenge(uint64_t target_retained, uint64_t max_bytes);
void start_scavenger();
// clear_all_mark_bits clears every span's mark bits (an abandoned mark).
void clear_all_mark_bits();

// ---- central.cpp ----

struct SpanList {
  Span* head = nullptr;
  size_t n = 0;
  void push(Span* s);
  Span* pop();
  void remove(Span* s);
};

struct Central {
  SpinLock lock;
  SpanList partial[2];  // spans with free slots, [swept_index] / [1 - swept_index]
  SpanList full[2];
};
extern Central g_central[kNumSpanClasses];
extern std::atomic<uint32_t> g_sweepgen;
inline int swept_index(uint32_t sg) { return (sg >> 1) & 1; }
inline int unswept_index(uint32_t sg) { return 1 - swept_index(sg); }

// cache_span returns a swept span of spc with at least one free slot,
// sweeping unswept spans of the class first and growing the heap last.
Span* cache_span(int spc);
// uncache_span puts a span a P's cache gave up on its central list.
void uncache_span(Span* s);

// Large spans, on one pair of lists.
struct LargeSpans {
  SpinLock lock;
  SpanList lists[2];  // [swept_index] / [unswept_index]
};
extern LargeSpans g_large;

// ---- sweep.cpp ----

// claim_unswept pops spans off l (whose list lock the caller holds) until
// it claims one for sweeping (sweepgen g−2 → g−1) and returns it, or
// nullptr. end_sweep_claim ends the claim once the span is swept and filed
// (sweep_all_for_testing waits for open claims).
Span* claim_unswept(SpanList& l, uint32_t sg);
void end_sweep_claim();
// sweep_span sweeps s, which the caller owns and which is unswept: frees
// unmarked objects, makes the mark bits the alloc bits, and reports the
// freed objects. Returns the live object count. Does not free the span.
uint32_t sweep_span(Span* s);
// sweep_one sweeps one unswept span from any list (background sweeper,
// proportional sweep); returns the pages it swept, 0 when none was left.
size_t sweep_one();
// deduct_sweep_credit sweeps before `bytes` more are allocated, as many
// pages as keep sweeping ahead of allocation (Go's proportional sweep):
// every span must be swept by the time heap_live reaches the trigger.
void deduct_sweep_credit(uint64_t bytes);
// set_sweep_pace sets that pace at mark termination: pages_in_use pages to
// sweep over the heap_live growth from heap_marked to trigger.
void set_sweep_pace(uint64_t pages_in_use, uint64_t heap_marked, uint64_t trigger);
// finish_sweep sweeps everything still unswept (world stopped).
void finish_sweep();
// sweep_pending is the number of unswept spans.
extern std::atomic<int64_t> g_sweep_pending;
// g_sweeps_active counts spans claimed for sweeping and not yet filed.
extern std::atomic<int64_t> g_sweeps_active;
void start_background_sweeper();

// ---- malloc.cpp ----

struct MCache {
  Span* alloc[kNumSpanClasses];
  uint64_t black_bytes = 0;         // allocated black during this mark (summed at its end)
  int64_t next_sample = INT64_MAX;  // bytes until the next profiled allocation
  uint64_t rand = 0;                // sampling RNG state
  uint32_t sample_epoch = 0;        // g_sample_epoch when next_sample was drawn
};
extern MCache g_caches[kMaxProcs];
extern Span g_empty_span;  // cached where no span is: its fast path always fails
// flush_caches returns every P's cached spans to the central lists (world
// stopped).
void flush_caches();

// Statistics, updated at refill, uncache, sweep and large alloc/free
// (atomic; never on the fast path).
struct HeapCounters {
  std::atomic<uint64_t> heap_live{0};   // marked at the last cycle + allocated since (pacer)
  std::atomic<uint64_t> small_mallocs[kNumSizeClasses] = {};
  std::atomic<uint64_t> small_frees[kNumSizeClasses] = {};
  std::atomic<uint64_t> large_mallocs{0};
  std::atomic<uint64_t> large_alloc_bytes{0};
  std::atomic<uint64_t> large_frees{0};
  std::atomic<uint64_t> large_free_bytes{0};
};
extern HeapCounters g_counters;

// Sampling (hooks.h).
extern std::atomic<AllocSampleHook> g_alloc_hook;
extern std::atomic<FreeSampleHook> g_free_hook;
extern std::atomic<int64_t> g_mem_profile_rate;
extern std::atomic<uint32_t> g_sample_epoch;
extern std::mutex g_specials_lock;
void report_freed_special(const Special& sp);

// Debug: fill freed objects with kFreedFill (GORT_GCCHECK=1 in the environment).
inline constexpr uint8_t kFreedFill = 0xdb;
extern bool g_poison_freed;

// ---- mark.cpp ----

const TypeInfo& type_info(uint16_t index);
// Marker is one marker's state: its local grey stack and what it counted.
struct Marker {
  std::vector<uintptr_t> grey;
  uint64_t marked_bytes = 0;
  uint64_t scan_work = 0;  // heap bytes traced
  // Set by drain: this marker was the last one out and left no work
  // queued, so the mark's work may be over and it must try_finish_mark —
  // nobody else may be left to notice (Go's "incnwait == work.nproc &&
  // !gcMarkWorkAvailable" completion point, for workers and assists alike).
  bool finish_point = false;
};
struct MarkTotals {
  uint64_t marked_bytes = 0;      // found live, including objects allocated black
  uint64_t heap_scan_work = 0;
  uint64_t stack_scan_work = 0;
  uint64_t globals_scan_work = 0;
};
// mark_begin (world stopped) turns on the barriers and allocate-black and
// resets the mark's queues and counts; mark_end (world stopped) turns them
// off and returns the totals.
void mark_begin();
MarkTotals mark_end();
// stack_scan_fn is what the runtime calls to scan a stack (scan.h).
gort::StackScanFn stack_scan_fn();
// grey_root_scanners greys what the root scanners hold (world stopped).
void grey_root_scanners();
// drain marks until budget scan work is done, no work is left, or
// should_stop(arg) (asked every 64 objects) says so; returns the work done.
int64_t drain(Marker& m, int64_t budget, bool (*should_stop)(void*), void* arg);
// scrub_dead_frames zeroes the kScrubBytes of stack below its caller,
// where a marker's frames just were. Those frames hold addresses of
// objects it marked, and the frames a park then builds over them keep
// uninitialized slots; the parked goroutine's conservative scans would
// find the addresses there and keep the objects alive a cycle longer, or
// for as long as it stays parked (a mark worker, an assisting goroutine
// gone to sleep). Markers call it before they park or go back to their
// goroutine's own code. Go scans stacks precisely and needs no such step.
inline constexpr size_t kScrubBytes = 8 * 1024;  // below the 16 KiB a smallest stack slot has
void scrub_dead_frames();
// work_available: some grey object or root job is waiting.
bool work_available();
// mark_work_done: no marker is draining, no work waits, every stack is
// scanned (scanning those it can, asking running goroutines to stop).
bool mark_work_done();
// rescan_at_termination (world stopped) scans what has no barrier once
// more; true if that found work, and the mark must go on.
bool rescan_at_termination();
// scan work done so far this cycle (heap + stacks + globals).
uint64_t heap_scan_work_so_far();
// roots.cpp: the roots other than stacks. Each returns the bytes it covered.
uint64_t scan_root_slots(Visitor& v);
uint64_t scan_root_ranges(Visitor& v);
void scan_root_scanners(Visitor& v);
void roots_gc_start();
uint64_t globals_bytes();
// scan_range_conservative marks every heap object a word of [lo, hi)
// points into (lo, hi 8-byte aligned).
void scan_range_conservative(Visitor& v, uintptr_t lo, uintptr_t hi);

// ---- mark_workers.cpp ----

// charge_assist adds bytes to the calling goroutine's assist debt;
// pay_assist_debt pays it off with mark work, its credit or background
// credit, parking in "GC assist wait" when there is nothing to do (Go's
// gcAssistAlloc). A safepoint.
void charge_assist(uint64_t bytes);
void pay_assist_debt();
// plan_mark_workers (world stopped) plans this cycle's workers — dedicated
// and fractional from GOMAXPROCS, as Go's startCycle — and the assist
// ratio's inputs: the scan work expected, the goal and the hard goal.
void plan_mark_workers(int64_t now, double scan_expected, uint64_t heap_goal, uint64_t hard_goal);
// stop_mark_workers (world stopped, mark termination) ends them and wakes
// parked assists; returns the CPU each kind used.
struct MarkCpu {
  int64_t assist_ns = 0, dedicated_ns = 0, fractional_ns = 0, idle_ns = 0;
};
MarkCpu stop_mark_workers();
// forget_mark_workers drops the worker and assist goroutines of a runtime
// that has exited (they were discarded with it).
void forget_mark_workers();
// drop_mark_work empties every grey queue (an abandoned mark).
void drop_mark_work();
// wake_assists wakes goroutines parked in "GC assist wait" (more credit,
// or the mark ended).
void wake_assists();
// mark_running: between the two pauses of a cycle.
bool mark_running();

// ---- collector.cpp ----

// maybe_start_cycle starts a collection if the heap passed its trigger
// (the allocation slow path calls it). A safepoint.
void maybe_start_cycle();
// try_finish_mark: a marker found no work; if none is left anywhere, run
// mark termination (one caller at a time). A safepoint: stops the world.
void try_finish_mark();
bool mark_held();  // hold_mark_for_testing
// assists_limited: the GC CPU limiter is limiting, so mutators skip
// assists (Go's gcAssistAlloc); note_mark_cpu feeds it assist CPU and idle
// marking time.
bool assists_limited();
void note_mark_cpu(int64_t gc_ns, int64_t idle_ns);
extern std::atomic<uint64_t> g_trigger;  // heap_live that starts a cycle (cached from the pacer)
// scavenger_heap_goal is the heap goal the scavenger keeps retained memory
// near; non_heap_sys_bytes the memory that is not heap (stacks, metadata).
uint64_t scavenger_heap_goal();
// note_sweep_done tells the pacer this cycle's sweeping is finished (its
// goal then loses the sweep-distance floor, as after Go's isSweepDone()).
void note_sweep_done();
uint64_t non_heap_sys_bytes();

}  // namespace gc::detail

namespace gc {
// VisitorAccess lets gc/ build Visitors.
struct VisitorAccess {
  static Visitor make(void* marker) {
    Visitor v;
    v.marker_ = marker;
    return v;
  }
  static void* marker(Visitor& v) { return v.marker_; }
};
}  // namespace gc
