// mark.cpp — marking (Go's mgcmark.go): find every object reachable from
// the roots and set its mark bit.
//
// Roots: every goroutine's stack and saved registers (runtime/scan.h
// stack_scan_range; the collecting goroutine's own through scan_own_stack),
// scanned conservatively — any word that points into an allocated object
// slot, at its start or inside it, marks that object; the Root registry,
// registered ranges and root scanners (roots.cpp). Heap objects are traced
// precisely: a grey object is taken off the mark stack and its type's
// trace() visits its Member fields.
//
// Conservative words are filtered by the span table (heap_internal.h
// span_of) and by the span's alloc state: a word pointing at a free slot is
// ignored, as Go's scanConservative does, so a stale value on a stack does
// not resurrect freed memory. Precise pointers are trusted.
//
// In this issue the mark runs with the world stopped, and in parallel: the
// other Ps are stopped, so their CPUs are free, and GOMAXPROCS−1 mark
// helper threads (plain threads, started once, parked between cycles) join
// the collecting goroutine. Roots are scanned by the collecting goroutine;
// then every marker drains its own grey stack, gives half of it to a shared
// pool when another marker is hungry, and takes a batch from the pool when
// its own runs dry. The mark ends when every marker is hungry and the pool
// is empty. Mark bits are set with an atomic or (Span::try_mark), so an
// object is marked — and counted — exactly once, whoever reaches it.
// Helpers run trace() on their own threads; trace() only visits fields.
#include <condition_variable>
#include <cstring>
#include <thread>

#include "gc/heap_internal.h"
#include "runtime/goroutine.h"
#include "runtime/gort.h"
#include "runtime/scan.h"

namespace gc::detail {

namespace {

struct Marker {
  std::vector<uintptr_t> grey;  // marked objects whose fields are not traced yet
  MarkResult result;
};

inline void grey_object(Marker& m, uintptr_t addr, bool conservative) {
  Span* s = span_of(addr);
  if (!s || addr >= s->limit || addr < s->base) return;
  uint32_t slot = s->slot_of(addr);
  if (conservative && s->is_free(slot)) return;
  if (!s->try_mark(slot)) return;
  m.result.marked_bytes += s->elemsize;
  m.result.marked_objects++;
  if (!s->noscan) m.grey.push_back(s->slot_addr(slot));
}

Marker* marker_of(Visitor& v) { return static_cast<Marker*>(VisitorAccess::marker(v)); }

// scan_words is the conservative scan of one range. (grey_object's span_of
// rejects non-heap words too; the range test here keeps the common case —
// a word that is no heap pointer — to two compares with the arena bounds
// loaded once.)
GORT_CONSERVATIVE_SCAN void scan_words(Marker& m, uintptr_t lo, uintptr_t hi) {
  uintptr_t base = g_arena.base;
  uintptr_t size = g_arena.used.load(std::memory_order_relaxed) - base;
  for (uintptr_t p = lo; p + sizeof(uintptr_t) <= hi; p += sizeof(uintptr_t)) {
    uintptr_t v = *reinterpret_cast<const uintptr_t*>(p);
    if (v - base < size) grey_object(m, v, true);
  }
}

void scan_stack_range(Marker& m, const gort::StackScanRange& r) {
  scan_words(m, r.lo, r.hi);
  for (size_t i = 0; i < r.nregs; i++) {
    grey_object(m, r.regs[i], true);
  }
  m.result.stack_bytes += r.hi - r.lo;
}

// trace_object traces one grey object's fields.
inline void trace_object(Marker& m, Visitor& v, uintptr_t obj) {
  Span* s = span_of(obj);
  uint32_t slot = s->slot_of(obj);
  uint16_t type = s->type_of(slot);
  if (type == 0 || type == Span::kMixedTypes)
    GC_THROW("gc: object %#lx in scan span %#lx (class %d) has no type", obj, s->base, s->spanclass >> 1);
  type_info(type).trace(reinterpret_cast<const void*>(obj), v);
  m.result.scan_work += s->elemsize;
}

// WorkPool is where markers share grey objects: batches given away by
// markers with plenty, taken by markers with none. Guarded by mu.
struct WorkPool {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::vector<uintptr_t>> batches;
  int markers = 1;              // markers taking part in this mark (helpers join late)
  int waiting = 0;              // markers waiting for a batch
  bool finished = false;        // every marker waited with no batch left
  std::atomic<int> hungry{0};   // = waiting, read without the lock by givers
};

// give moves half of m's grey stack to the pool.
void give(WorkPool& pool, Marker& m) {
  size_t half = m.grey.size() / 2;
  std::vector<uintptr_t> batch(m.grey.end() - static_cast<std::ptrdiff_t>(half), m.grey.end());
  m.grey.resize(m.grey.size() - half);
  std::lock_guard<std::mutex> guard(pool.mu);
  pool.batches.push_back(std::move(batch));
  pool.cv.notify_one();
}

// take waits for a batch for m and returns true, or returns false when the
// mark is finished.
bool take(WorkPool& pool, Marker& m) {
  std::unique_lock<std::mutex> guard(pool.mu);
  pool.waiting++;
  pool.hungry.store(pool.waiting, std::memory_order_relaxed);
  while (pool.batches.empty() && !pool.finished) {
    if (pool.waiting == pool.markers) {
      pool.finished = true;
      pool.cv.notify_all();
      break;
    }
    pool.cv.wait(guard);
  }
  pool.waiting--;
  pool.hungry.store(pool.waiting, std::memory_order_relaxed);
  if (pool.batches.empty()) return false;
  m.grey = std::move(pool.batches.back());
  pool.batches.pop_back();
  return true;
}

// drain marks until the mark is finished: its own grey stack first, then
// batches from the pool.
void drain(WorkPool& pool, Marker& m, Visitor& v) {
  do {
    while (!m.grey.empty()) {
      if (m.grey.size() >= 2 && pool.hungry.load(std::memory_order_relaxed) > 0) give(pool, m);
      uintptr_t obj = m.grey.back();
      m.grey.pop_back();
      trace_object(m, v, obj);
    }
  } while (take(pool, m));
}

// MarkHelpers are the threads that mark beside the collecting goroutine.
// A helper joins a mark only if it wakes while the mark is still going:
// the collecting goroutine never waits for a helper the OS has not run yet
// (on a busy machine that wait is a whole scheduler tick, milliseconds of
// pause), only for helpers that joined, which are running.
struct MarkHelpers {
  std::mutex mu;
  std::condition_variable start_cv, done_cv;
  uint64_t generation = 0;      // bumped to start a mark
  WorkPool* pool = nullptr;     // the mark in progress; null once it ended
  int running = 0;              // helpers inside the current mark
  int threads = 0;              // helper threads started so far
  std::vector<Marker> markers;  // one per helper (index = helper number)
};
MarkHelpers& helpers() {
  static MarkHelpers* h = new MarkHelpers;  // never destroyed: helper threads outlive main
  return *h;
}

void helper_loop(int index) {
  MarkHelpers& h = helpers();
  uint64_t seen = 0;
  for (;;) {
    WorkPool* pool;
    Marker* m;
    {
      std::unique_lock<std::mutex> guard(h.mu);
      h.start_cv.wait(guard, [&] { return h.generation != seen; });
      seen = h.generation;
      if (h.pool == nullptr) continue;  // that mark is over already
      pool = h.pool;
      m = &h.markers[static_cast<size_t>(index)];
      h.running++;
    }
    bool joined = false;
    {
      std::lock_guard<std::mutex> guard(pool->mu);
      if (!pool->finished) {
        pool->markers++;
        joined = true;
      }
    }
    if (joined) {
      Visitor v = VisitorAccess::make(m);
      drain(*pool, *m, v);
    }
    std::lock_guard<std::mutex> guard(h.mu);
    if (--h.running == 0) h.done_cv.notify_all();
  }
}

// parallel_drain drains m's grey stack with up to n−1 helpers; their
// results are added to m's.
void parallel_drain(Marker& m, Visitor& v, int n) {
  MarkHelpers& h = helpers();
  WorkPool pool;
  if (n > 1) {
    std::lock_guard<std::mutex> guard(h.mu);
    if (h.markers.empty()) h.markers.resize(static_cast<size_t>(kMaxProcs));
    while (h.threads < n - 1) std::thread(helper_loop, h.threads++).detach();
    for (Marker& hm : h.markers) hm.result = MarkResult{};
    h.pool = &pool;
    h.generation++;
    h.start_cv.notify_all();
  }
  drain(pool, m, v);
  if (n > 1) {
    std::unique_lock<std::mutex> guard(h.mu);
    h.pool = nullptr;
    h.done_cv.wait(guard, [&] { return h.running == 0; });
    for (const Marker& hm : h.markers) {
      m.result.marked_bytes += hm.result.marked_bytes;
      m.result.marked_objects += hm.result.marked_objects;
      m.result.scan_work += hm.result.scan_work;
    }
  }
}

}  // namespace

static std::atomic<Marker*> g_barrier_marker{nullptr};

void mark_from_visitor(Visitor& v, const void* p) {
  grey_object(*marker_of(v), reinterpret_cast<uintptr_t>(p), false);
}

void scan_range_conservative(Visitor& v, uintptr_t lo, uintptr_t hi) { scan_words(*marker_of(v), lo, hi); }

MarkResult mark_all() {
  Marker m;
  m.grey.reserve(4096);
  Visitor v = VisitorAccess::make(&m);
  g_barrier_marker.store(&m, std::memory_order_release);
  g_write_barrier_enabled.store(true, std::memory_order_relaxed);
  gort::G* self = gort::current_g();
  gort::for_each_goroutine([&](gort::G* g) {
    if (g == self) return;
    gort::StackScanRange r;
    if (gort::stack_scan_range(g, &r)) scan_stack_range(m, r);
  });
  gort::scan_own_stack([](const gort::StackScanRange& r, void* arg) { scan_stack_range(*static_cast<Marker*>(arg), r); },
                       &m);
  scan_roots(v, &m.result.globals_bytes);
  parallel_drain(m, v, std::min(gort::gomaxprocs(), kMaxProcs));
  g_write_barrier_enabled.store(false, std::memory_order_relaxed);
  g_barrier_marker.store(nullptr, std::memory_order_release);
  return m.result;
}

// The write barrier's slow path. While marking runs with the world
// stopped no mutator stores, so this runs only if a store happens on the
// collecting goroutine itself; it shades both values (Go's hybrid barrier)
// through the marker of the cycle in progress.
std::atomic<bool> g_write_barrier_enabled{false};

void write_barrier_slow(void* const* slot, const void* new_value) {
  Marker* m = g_barrier_marker.load(std::memory_order_acquire);
  if (!m) return;
  if (slot) grey_object(*m, reinterpret_cast<uintptr_t>(*slot), false);
  grey_object(*m, reinterpret_cast<uintptr_t>(new_value), false);
}

}  // namespace gc::detail
