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
// In this issue the whole mark runs on the collecting goroutine with the
// world stopped, so the mark stack is a plain vector; mark bits are still
// set with an atomic or (Span::try_mark), which the concurrent mark of a
// later issue needs.
#include <cstring>

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

// scan_words is the conservative scan of one range.
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
    uintptr_t v = r.regs[i];
    if (v - g_arena.base < g_arena.used.load(std::memory_order_relaxed) - g_arena.base) grey_object(m, v, true);
  }
  m.result.stack_bytes += r.hi - r.lo;
}

void drain(Marker& m, Visitor& v) {
  while (!m.grey.empty()) {
    uintptr_t obj = m.grey.back();
    m.grey.pop_back();
    Span* s = span_of(obj);
    uint32_t slot = s->slot_of(obj);
    uint16_t type = s->type_of(slot);
    if (type == 0 || type == Span::kMixedTypes)
      GC_THROW("gc: object %#lx in scan span %#lx (class %d) has no type", obj, s->base, s->spanclass >> 1);
    type_info(type).trace(reinterpret_cast<const void*>(obj), v);
    m.result.scan_work += s->elemsize;
  }
}

}  // namespace

static std::atomic<Marker*> g_barrier_marker{nullptr};

void mark_from_visitor(Visitor& v, const void* p) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  if (a - g_arena.base >= g_arena.used.load(std::memory_order_relaxed) - g_arena.base) return;
  grey_object(*marker_of(v), a, false);
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
  drain(m, v);
  scan_roots(v, &m.result.globals_bytes);
  drain(m, v);
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
  uintptr_t base = g_arena.base, size = g_arena.used.load(std::memory_order_relaxed) - base;
  if (slot) {
    uintptr_t old = reinterpret_cast<uintptr_t>(*slot);
    if (old - base < size) grey_object(*m, old, false);
  }
  uintptr_t nv = reinterpret_cast<uintptr_t>(new_value);
  if (nv - base < size) grey_object(*m, nv, false);
}

}  // namespace gc::detail
