// mark.cpp — concurrent tri-color marking (Go's mgcmark.go, mbarrier.go,
// mgcwork.go): the grey-object queues, the write barrier, root jobs,
// draining, and the test for "no mark work is left anywhere".
//
// Colours: an object is white until its mark bit is set, grey while it is
// marked and queued (a marker's local stack, the global batches, a P's
// barrier buffer), black once trace() has visited its fields. No-scan
// objects go straight to black.
//
// Who marks (mark_workers.cpp): background workers on Ps, and mutators
// that allocate (assists). Every marker drains the same queues through
// drain(): its own local stack first, then a batch from the global list,
// then a root job, then the Ps' barrier buffers. A marker gives half of a
// long local stack back to the global list so idle markers find work, and
// flushes its whole stack there before it stops (at a safepoint, or when
// its budget is spent), so nothing grey is ever hidden on a parked
// goroutine.
//
// Roots: goroutine stacks (once each, runtime/scan.h's protocol: by a
// marker here, by the M resuming a goroutine, or by a goroutine leaving a
// BlockingSection), Root slots, registered ranges, buffered channels, and
// root scanners (gc::Pool, greyed at sweep termination, world stopped).
// Conservative words are filtered by the span table and by the span's
// allocation state as it was when the mark started (see grey_conservative).
//
// The write barrier is Go's hybrid barrier (mbarrier.go): a store into a
// Member shades the value it overwrites (Yuasa's deletion barrier, which
// keeps everything reachable at the start of the mark reachable for the
// marker) and the value it stores (Dijkstra's insertion barrier). With it a
// stack needs one scan per cycle and no rescan: the essay at the top of
// collector.cpp has the argument, and the C++ cases it must cover.
#include <algorithm>
#include <cstring>

#include "gc/heap_internal.h"
#include "runtime/goroutine.h"
#include "runtime/gort.h"
#include "runtime/scan.h"

namespace gc::detail {

std::atomic<bool> g_write_barrier_enabled{false};
std::atomic<bool> g_alloc_black{false};

namespace {

constexpr size_t kBatchObjects = 512;       // objects per global batch
constexpr size_t kShareAbove = 2 * kBatchObjects;

// BarrierBuffer holds what mutators on one P shaded (write barrier, stack
// scans on that P's M): a spinlock because markers drain it from other Ps.
struct alignas(64) BarrierBuffer {
  SpinLock lock;
  std::vector<uintptr_t> objs;  // (lock)
};

struct MarkState {
  SpinLock lock;
  std::vector<std::vector<uintptr_t>> batches;  // (lock) grey batches
  std::atomic<int64_t> nbatches{0};
  std::atomic<int> active{0};                   // markers inside drain()
  std::atomic<int> next_root_job{0};
  std::atomic<int> root_jobs_done{0};
  std::atomic<uint64_t> marked_bytes{0};        // marked by markers and barriers
  std::atomic<uint64_t> heap_scan_work{0};
  std::atomic<uint64_t> stack_scan_work{0};
  std::atomic<uint64_t> globals_scan_work{0};
  BarrierBuffer barrier[kMaxProcs];
};
MarkState g_mark;

// Root jobs, claimed in order by markers; each runs once per cycle. The
// stacks are not a job: scan_pending_stacks revisits them until all are
// scanned, since a running goroutine cannot be scanned yet.
enum RootJob { kRootSlots, kRootRanges, kRootChans, kNumRootJobs };

Marker* marker_of(Visitor& v) { return static_cast<Marker*>(VisitorAccess::marker(v)); }

// publish moves a whole vector of greys to the global list.
void publish(std::vector<uintptr_t>&& objs) {
  if (objs.empty()) return;
  std::lock_guard<SpinLock> guard(g_mark.lock);
  g_mark.batches.push_back(std::move(objs));
  g_mark.nbatches.fetch_add(1, std::memory_order_release);
}

// take_batch moves a global batch into m's (empty) local stack.
bool take_batch(Marker& m) {
  if (g_mark.nbatches.load(std::memory_order_acquire) == 0) return false;
  std::lock_guard<SpinLock> guard(g_mark.lock);
  if (g_mark.batches.empty()) return false;
  m.grey = std::move(g_mark.batches.back());
  g_mark.batches.pop_back();
  g_mark.nbatches.fetch_sub(1, std::memory_order_relaxed);
  return true;
}

// take_barrier_buffer moves a P's barrier buffer into m's local stack.
bool take_barrier_buffer(Marker& m) {
  int n = std::min(gort::gomaxprocs(), kMaxProcs);
  for (int i = 0; i < n; i++) {
    BarrierBuffer& b = g_mark.barrier[i];
    if (b.lock.try_lock()) {
      if (!b.objs.empty()) {
        m.grey.swap(b.objs);
        b.lock.unlock();
        return true;
      }
      b.lock.unlock();
    }
  }
  return false;
}

}  // namespace

// ---- Greying ----

// mark_slot sets the mark bit of s's slot and queues it for tracing, into
// out. Counts the bytes once, for whoever set the bit.
inline bool mark_slot(Span* s, uint32_t slot, std::vector<uintptr_t>& out, uint64_t& marked) {
  if (!s->try_mark(slot)) return false;
  marked += s->elemsize;
  if (!s->noscan) out.push_back(s->slot_addr(slot));
  return true;
}

// grey_precise greys the object p points into (a Member or trace_raw
// value: trusted to point at an allocated object).
inline void grey_precise(uintptr_t p, std::vector<uintptr_t>& out, uint64_t& marked) {
  Span* s = span_of(p);
  if (!s || p >= s->limit || p < s->base) return;
  mark_slot(s, s->slot_of(p), out, marked);
}

// grey_conservative greys the object a word of a stack or range points
// into, if it is an object at all: the slot must have been allocated when
// the mark started. A slot allocated since is black already — the
// allocator sets its mark bit before it publishes the slot as allocated
// (freeindex, release; Span::next_free_fast), so a marker that sees the
// slot allocated also sees the bit and leaves the object, which may still
// be being constructed, alone.
inline void grey_conservative(uintptr_t p, std::vector<uintptr_t>& out, uint64_t& marked) {
  Span* s = span_of(p);
  if (!s || p >= s->limit || p < s->base) return;
  uint32_t slot = s->slot_of(p);
  if (s->is_free_concurrent(slot)) return;
  mark_slot(s, slot, out, marked);
}

// scan_words is the conservative scan of one range. (The range test keeps
// the common case — a word that is no heap pointer — to two compares with
// the arena bounds loaded once.)
GORT_CONSERVATIVE_SCAN void scan_words(uintptr_t lo, uintptr_t hi, std::vector<uintptr_t>& out, uint64_t& marked) {
  auto [base, size] = arena_extent();
  for (uintptr_t p = lo; p + sizeof(uintptr_t) <= hi; p += sizeof(uintptr_t)) {
    // A plain load: the word may be changing (a goroutine in a
    // BlockingSection writes its own non-heap locals); any value read is
    // one it held. GORT_CONSERVATIVE_SCAN keeps TSan from reporting it —
    // an atomic load it would still see.
    uintptr_t v = *reinterpret_cast<const uintptr_t*>(p);
    if (v - base < size) grey_conservative(v, out, marked);
  }
}

void mark_from_visitor(Visitor& v, const void* p) {
  Marker& m = *marker_of(v);
  grey_precise(reinterpret_cast<uintptr_t>(p), m.grey, m.marked_bytes);
}

void scan_range_conservative(Visitor& v, uintptr_t lo, uintptr_t hi) {
  Marker& m = *marker_of(v);
  scan_words(lo, hi, m.grey, m.marked_bytes);
}

namespace {

// shade_into_p greys one object into the calling P's barrier buffer (or
// the global list off-goroutine).
void shade_into_p(uintptr_t p, bool conservative) {
  Span* s = span_of(p);
  if (!s || p >= s->limit || p < s->base) return;
  uint32_t slot = s->slot_of(p);
  if (conservative && s->is_free_concurrent(slot)) return;
  if (!s->try_mark(slot)) return;
  g_mark.marked_bytes.fetch_add(s->elemsize, std::memory_order_relaxed);
  if (s->noscan) return;
  uintptr_t obj = s->slot_addr(slot);
  int pi = gort::current_p_index();
  if (pi < 0) {
    publish(std::vector<uintptr_t>{obj});
    return;
  }
  BarrierBuffer& b = g_mark.barrier[pi];
  std::vector<uintptr_t> full;
  {
    std::lock_guard<SpinLock> guard(b.lock);
    b.objs.push_back(obj);
    if (b.objs.size() >= kBatchObjects) full.swap(b.objs);
  }
  publish(std::move(full));
}

// scan_stack_range is the runtime's StackScanFn: one goroutine's stack,
// greyed into a vector published whole.
GORT_CONSERVATIVE_SCAN void scan_stack_range(const gort::StackScanRange& r) {
  std::vector<uintptr_t> out;
  uint64_t marked = 0;
  scan_words(r.lo, r.hi, out, marked);
  for (size_t i = 0; i < r.nregs; i++) {
    uintptr_t v = r.regs[i];
    grey_conservative(v, out, marked);
  }
  g_mark.marked_bytes.fetch_add(marked, std::memory_order_relaxed);
  g_mark.stack_scan_work.fetch_add(r.hi - r.lo, std::memory_order_relaxed);
  publish(std::move(out));
}

// shade_words is the runtime's TransferBarrier: a value copied between
// goroutines outside the heap (a channel element, a closure) is shaded
// word by word, conservatively.
GORT_CONSERVATIVE_SCAN void shade_words(const void* p, size_t n) {
  auto lo = (reinterpret_cast<uintptr_t>(p) + 7) & ~uintptr_t{7};
  auto hi = (reinterpret_cast<uintptr_t>(p) + n) & ~uintptr_t{7};
  auto [base, size] = arena_extent();
  for (uintptr_t a = lo; a < hi; a += 8) {
    uintptr_t v = *reinterpret_cast<const uintptr_t*>(a);
    if (v - base < size) shade_into_p(v, true);
  }
}

std::vector<uintptr_t>* g_chan_scan_out;  // chan scan's output (root job, one marker)
uint64_t g_chan_scan_marked;

GORT_CONSERVATIVE_SCAN void scan_chan_elem(const void* p, size_t n) {
  auto lo = (reinterpret_cast<uintptr_t>(p) + 7) & ~uintptr_t{7};
  auto hi = (reinterpret_cast<uintptr_t>(p) + n) & ~uintptr_t{7};
  scan_words(lo, hi, *g_chan_scan_out, g_chan_scan_marked);
}

// run_root_job runs job j into m.
void run_root_job(int j, Marker& m, Visitor& v) {
  switch (j) {
    case kRootSlots: {
      uint64_t bytes = scan_root_slots(v);
      g_mark.globals_scan_work.fetch_add(bytes, std::memory_order_relaxed);
      break;
    }
    case kRootRanges: {
      uint64_t bytes = scan_root_ranges(v);
      g_mark.globals_scan_work.fetch_add(bytes, std::memory_order_relaxed);
      break;
    }
    case kRootChans: {
      static SpinLock chan_scan_lock;  // the job runs once; the lock orders its globals
      std::lock_guard<SpinLock> guard(chan_scan_lock);
      g_chan_scan_out = &m.grey;
      g_chan_scan_marked = 0;
      gort::for_each_chan_buffer(&scan_chan_elem);
      m.marked_bytes += g_chan_scan_marked;
      break;
    }
  }
}

// trace_object traces one grey object's fields.
inline void trace_object(Marker& m, Visitor& v, uintptr_t obj) {
  Span* s = span_of(obj);
  uint32_t slot = s->slot_of(obj);
  uint16_t type = s->type_of_concurrent(slot);
  if (type == 0 || type == Span::kMixedTypes)
    GC_THROW("gc: object %#lx in scan span %#lx (class %d) has no type", obj, s->base, s->spanclass >> 1);
  type_info(type).trace(reinterpret_cast<const void*>(obj), v);
  m.scan_work += s->elemsize;
}

}  // namespace

// ---- The mark phase's state ----

void mark_begin() {
  g_mark.active.store(0, std::memory_order_relaxed);
  g_mark.next_root_job.store(0, std::memory_order_relaxed);
  g_mark.root_jobs_done.store(0, std::memory_order_relaxed);
  g_mark.marked_bytes.store(0, std::memory_order_relaxed);
  g_mark.heap_scan_work.store(0, std::memory_order_relaxed);
  g_mark.stack_scan_work.store(0, std::memory_order_relaxed);
  g_mark.globals_scan_work.store(0, std::memory_order_relaxed);
  for (MCache& c : g_caches) c.black_bytes = 0;
  gort::set_transfer_barrier(&shade_words);
  g_write_barrier_enabled.store(true, std::memory_order_relaxed);
  g_alloc_black.store(true, std::memory_order_relaxed);
}

gort::StackScanFn stack_scan_fn() { return &scan_stack_range; }

void grey_root_scanners() {
  Marker m;
  Visitor v = VisitorAccess::make(&m);
  scan_root_scanners(v);
  g_mark.marked_bytes.fetch_add(m.marked_bytes, std::memory_order_relaxed);
  publish(std::move(m.grey));
}

MarkTotals mark_end() {
  g_write_barrier_enabled.store(false, std::memory_order_relaxed);
  g_alloc_black.store(false, std::memory_order_relaxed);
  gort::set_transfer_barrier(nullptr);
  MarkTotals t;
  t.marked_bytes = g_mark.marked_bytes.load(std::memory_order_relaxed);
  for (MCache& c : g_caches) t.marked_bytes += c.black_bytes;
  t.heap_scan_work = g_mark.heap_scan_work.load(std::memory_order_relaxed);
  t.stack_scan_work = g_mark.stack_scan_work.load(std::memory_order_relaxed);
  t.globals_scan_work = g_mark.globals_scan_work.load(std::memory_order_relaxed);
  return t;
}

uint64_t heap_scan_work_so_far() {
  return g_mark.heap_scan_work.load(std::memory_order_relaxed) + g_mark.stack_scan_work.load(std::memory_order_relaxed) +
         g_mark.globals_scan_work.load(std::memory_order_relaxed);
}

// ---- The barrier ----

void write_barrier_slow(void* const* slot, const void* new_value) {
  if (!g_write_barrier_enabled.load(std::memory_order_relaxed)) return;
  if (slot) {
    uintptr_t old = __atomic_load_n(reinterpret_cast<const uintptr_t*>(slot), __ATOMIC_RELAXED);
    if (old) shade_into_p(old, false);
  }
  if (new_value) shade_into_p(reinterpret_cast<uintptr_t>(new_value), false);
}

// ---- Draining ----

__attribute__((noinline)) void scrub_dead_frames() {
  char frames[kScrubBytes];
  explicit_bzero(frames, sizeof frames);
}

int64_t drain(Marker& m, int64_t budget, bool (*should_stop)(void*), void* arg) {
  Visitor v = VisitorAccess::make(&m);
  g_mark.active.fetch_add(1, std::memory_order_acq_rel);
  int64_t done = 0;
  uint32_t n = 0;
  for (;;) {
    if (m.grey.empty()) {
      int j;
      if (take_batch(m)) {
      } else if ((j = g_mark.next_root_job.load(std::memory_order_relaxed)) < kNumRootJobs &&
                 (j = g_mark.next_root_job.fetch_add(1, std::memory_order_acq_rel)) < kNumRootJobs) {
        run_root_job(j, m, v);
        g_mark.root_jobs_done.fetch_add(1, std::memory_order_release);
        continue;
      } else if (!take_barrier_buffer(m)) {
        break;
      }
    }
    uintptr_t obj = m.grey.back();
    m.grey.pop_back();
    uint64_t before = m.scan_work;
    trace_object(m, v, obj);
    done += static_cast<int64_t>(m.scan_work - before);
    if (m.grey.size() >= kShareAbove && g_mark.nbatches.load(std::memory_order_relaxed) == 0) {
      std::vector<uintptr_t> half(m.grey.begin(), m.grey.begin() + static_cast<std::ptrdiff_t>(kBatchObjects));
      m.grey.erase(m.grey.begin(), m.grey.begin() + static_cast<std::ptrdiff_t>(kBatchObjects));
      publish(std::move(half));
    }
    if (done >= budget) break;
    if ((++n & 63) == 0 && should_stop && should_stop(arg)) break;
  }
  // Nothing grey stays with a marker that stops.
  if (!m.grey.empty()) publish(std::move(m.grey));
  m.grey.clear();
  g_mark.marked_bytes.fetch_add(m.marked_bytes, std::memory_order_relaxed);
  g_mark.heap_scan_work.fetch_add(m.scan_work, std::memory_order_relaxed);
  m.marked_bytes = 0;
  m.scan_work = 0;
  // The decrements are totally ordered, so exactly one of the markers
  // leaving together reads 1 here: the last one out checks for work.
  bool last = g_mark.active.fetch_sub(1, std::memory_order_acq_rel) == 1;
  m.finish_point = last && !work_available();
  return done;
}

bool work_available() {
  if (g_mark.nbatches.load(std::memory_order_acquire) > 0) return true;
  if (g_mark.next_root_job.load(std::memory_order_relaxed) < kNumRootJobs) return true;
  int n = std::min(gort::gomaxprocs(), kMaxProcs);
  for (int i = 0; i < n; i++) {
    BarrierBuffer& b = g_mark.barrier[i];
    std::lock_guard<SpinLock> guard(b.lock);
    if (!b.objs.empty()) return true;
  }
  return false;
}

bool scan_pending_stacks() {
  bool all = true;
  gort::for_each_goroutine([&](gort::G* g) {
    if (gort::stack_scanned(g)) return;
    if (gort::scan_stack(g)) return;
    gort::request_stack_scan(g);
    all = false;
  });
  return all;
}

bool mark_work_done() {
  if (g_mark.active.load(std::memory_order_acquire) != 0) return false;
  if (g_mark.root_jobs_done.load(std::memory_order_acquire) < kNumRootJobs) return false;
  if (work_available()) return false;
  if (!scan_pending_stacks()) return false;
  // Stack scans may have found work.
  return !work_available() && g_mark.active.load(std::memory_order_acquire) == 0;
}

bool rescan_at_termination() {
  // World stopped: every goroutine is at a safepoint, so any stack still
  // unscanned (a goroutine that stayed on a run queue) is scanned here, and
  // the registered ranges, whose stores have no barrier, once more.
  scan_pending_stacks();
  Marker m;
  Visitor v = VisitorAccess::make(&m);
  scan_root_ranges(v);
  g_mark.marked_bytes.fetch_add(m.marked_bytes, std::memory_order_relaxed);
  bool found = !m.grey.empty();
  publish(std::move(m.grey));
  return found || work_available();
}

void drop_mark_work() {
  {
    std::lock_guard<SpinLock> guard(g_mark.lock);
    g_mark.batches.clear();
    g_mark.nbatches.store(0, std::memory_order_relaxed);
  }
  for (BarrierBuffer& b : g_mark.barrier) {
    std::lock_guard<SpinLock> guard(b.lock);
    b.objs.clear();
  }
  g_mark.active.store(0, std::memory_order_relaxed);
}

}  // namespace gc::detail
