// heap.h — the collected heap's public API: allocate objects that the
// collector frees once nothing reaches them.
//
//   struct Node {
//     gc::Member<Node> next;            // traced pointer field, write barrier
//     gc::Member<uint8_t> payload;      // points at a pointer-free buffer
//     void trace(gc::Visitor& v) const { v.trace(next); v.trace(payload); }
//   };
//   Node* n = gc::make<Node>();         // zeroed, then constructed
//   n->payload = gc::alloc_bytes(64);   // no-scan: never traced
//   gc::Root<Node> keep = n;            // keeps n alive from outside the heap
//
// The model is V8's cppgc: MakeGarbageCollected<T> is make<T>, Member<T> is
// Member<T>, Persistent<T> is Root<T>, Trace(Visitor*) is trace(Visitor&).
// What is Go's instead: no destructors run (collected types must be
// trivially destructible, as every Go type is), GOGC/GOMEMLIMIT pacing, and
// the rules below, which are Go's rules for unsafe code.
//
// Rules for code using the heap:
//   - Allocate only on goroutines (gort.h). Allocation is a safepoint: it
//     may stop for a collection. Allocating on a plain thread is fatal.
//   - A pointer to a heap object may live in a goroutine's stack or
//     registers (scanned conservatively, interior pointers included), in a
//     Member<T> field of a heap object that lists it in trace(), or in a
//     Root<T>. Anywhere else — malloc'd memory, a std::vector, a global
//     T* — the collector does not see it: use a Root<T> there.
//   - trace() visits every Member field, every time, and does nothing else:
//     it runs concurrently with mutators (on mark workers and allocating
//     goroutines), so it reads only what the write barrier guards: Member
//     fields, and raw pointer fields written with traced_store.
//   - Code inside a gort::BlockingSection does not touch the heap.
//
// The design — spans, per-P caches, the mark and sweep phases, the pacer —
// is described at the top of heap_internal.h and in docs/design/gc.md.
#pragma once

#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include "gc/knobs.h"
#include "gc/stats.h"

namespace gc {

class Visitor;

namespace detail {

// TypeInfo describes one collected type: how to trace an object of it.
struct TypeInfo {
  void (*trace)(const void* obj, Visitor& v);
  size_t size;
  const char* name;  // for fatal messages
};

// register_type returns a fresh type index (≥ 1) for info. Fatal after
// 65535 types.
uint16_t register_type(const TypeInfo& info);

template <class T>
void trace_thunk(const void* obj, Visitor& v) {
  static_cast<const T*>(obj)->trace(v);
}

// type_index<T> is T's index, registered on first use.
template <class T>
uint16_t type_index() {
  static const uint16_t index = register_type({&trace_thunk<T>, sizeof(T), __PRETTY_FUNCTION__});
  return index;
}

// allocate returns `bytes` of zeroed collected memory; type 0 means no-scan
// (never traced), otherwise the object is traced with that type's trace().
// A safepoint (scan.h alloc_safepoint): may run a collection first.
void* allocate(size_t bytes, uint16_t type);

// The write barrier. While the collector marks, every store of a pointer
// into a Member runs write_barrier_slow (Go's hybrid barrier: shade the old
// and the new value); otherwise the store is a plain store after one
// relaxed load and a predictable branch.
extern std::atomic<bool> g_write_barrier_enabled;  // written only with the world stopped
void write_barrier_slow(void* const* slot, const void* new_value);

// shade is the barrier for a pointer stored outside the heap (a Root, a
// gc::Pool's storage): the new value is greyed while marking runs.
inline void shade(const void* p) {
  if (__builtin_expect(g_write_barrier_enabled.load(std::memory_order_relaxed), 0)) write_barrier_slow(nullptr, p);
}

// barrier is the write barrier for a store of new_value into *slot (a
// Member, a raw traced field, a Root slot): it reads the old value only
// inside write_barrier_slow, so no copy of it lingers in the (inlined)
// caller's frame to keep the object alive.
inline void barrier(const void* slot, const void* new_value) {
  if (__builtin_expect(g_write_barrier_enabled.load(std::memory_order_relaxed), 0))
    write_barrier_slow(static_cast<void* const*>(slot), new_value);
}

// mark_from_visitor is the Visitor's way into the marker.
void mark_from_visitor(Visitor& v, const void* p);

}  // namespace detail

// Traceable: a type the collector can trace precisely.
template <class T>
concept Traceable = requires(const T& t, Visitor& v) { t.trace(v); };

// Member is a pointer field of a heap object: listed in its owner's
// trace(), and every store runs the write barrier.
template <class T>
class Member final {
 public:
  Member() = default;
  Member(std::nullptr_t) {}
  Member(T* p) { store(p); }  // NOLINT: a Member is used like a T*
  Member(const Member& o) { store(o.get()); }
  Member& operator=(const Member& o) {
    store(o.get());
    return *this;
  }
  Member& operator=(T* p) {
    store(p);
    return *this;
  }
  Member& operator=(std::nullptr_t) {
    store(nullptr);
    return *this;
  }

  // Loads and stores are relaxed atomics (plain moves on x86-64): markers
  // read the field while its owner writes it.
  T* get() const { return __atomic_load_n(&ptr_, __ATOMIC_RELAXED); }
  T* operator->() const { return get(); }
  T& operator*() const { return *get(); }
  explicit operator bool() const { return get() != nullptr; }
  operator T*() const { return get(); }  // NOLINT

 private:
  void store(T* p) {
    detail::barrier(&ptr_, p);
    __atomic_store_n(&ptr_, p, __ATOMIC_RELAXED);
  }
  T* ptr_ = nullptr;
};

// traced_store writes p into a raw pointer field that trace() visits with
// trace_raw, running the write barrier a Member store runs.
template <class T>
void traced_store(T** field, T* p) {
  detail::barrier(field, p);
  __atomic_store_n(field, p, __ATOMIC_RELAXED);
}

// Visitor is handed to trace(): call trace() on every Member field.
class Visitor final {
 public:
  template <class T>
  void trace(const Member<T>& m) {
    if (const void* p = m.get()) detail::mark_from_visitor(*this, p);
  }
  // trace_raw visits a pointer held some other way (e.g. a T* in an array
  // the object owns); p may be null or an interior pointer. Such a field
  // must be written with traced_store.
  void trace_raw(const void* p) {
    if (p) detail::mark_from_visitor(*this, p);
  }

 private:
  friend struct VisitorAccess;
  Visitor() = default;
  void* marker_ = nullptr;  // the collector's marking state
};

// make allocates a T from the collected heap, zeroes it, constructs it with
// args and returns it. Types with trace() are traced precisely; types
// without must hold no pointers to the heap (they are no-scan: a byte
// buffer, numbers). Types larger than 32 KiB get a span of their own.
template <class T, class... Args>
T* make(Args&&... args) {
  static_assert(std::is_trivially_destructible_v<T>,
                "collected objects are never destroyed: T must be trivially destructible");
  uint16_t type = 0;
  if constexpr (Traceable<T>) type = detail::type_index<T>();
  void* mem = detail::allocate(sizeof(T), type);
  return ::new (mem) T(std::forward<Args>(args)...);
}

// alloc_bytes returns n zeroed bytes of no-scan collected memory (Go's
// make([]byte, n)): never traced, so it must not hold heap pointers.
inline uint8_t* alloc_bytes(size_t n) { return static_cast<uint8_t*>(detail::allocate(n == 0 ? 1 : n, 0)); }

namespace detail {
// Root slots live in a registry the collector scans; a Root owns one.
struct RootSlot {
  std::atomic<const void*> ptr{nullptr};
  RootSlot* next_free = nullptr;  // registry free list (registry lock)
};
// The barrier reads a slot through a plain pointer to its word.
static_assert(sizeof(std::atomic<const void*>) == sizeof(void*) && std::atomic<const void*>::is_always_lock_free);
RootSlot* root_acquire();
void root_release(RootSlot* s);
}  // namespace detail

// Root keeps a heap object alive from outside the heap — a global, a
// field of a malloc'd object, an element of a std::vector (cppgc's
// Persistent). Creating and destroying one takes a lock; reading and
// assigning it does not. May be created on any thread; assign heap
// pointers to it on goroutines.
template <class T>
class Root final {
 public:
  Root() : slot_(detail::root_acquire()) {}
  Root(T* p) : slot_(detail::root_acquire()) { set(p); }  // NOLINT
  Root(const Root& o) : slot_(detail::root_acquire()) { set(o.get()); }
  Root(Root&& o) noexcept : slot_(o.slot_) { o.slot_ = nullptr; }
  Root& operator=(const Root& o) {
    set(o.get());
    return *this;
  }
  Root& operator=(Root&& o) noexcept {
    std::swap(slot_, o.slot_);
    return *this;
  }
  Root& operator=(T* p) {
    set(p);
    return *this;
  }
  ~Root() {
    if (slot_) detail::root_release(slot_);
  }

  T* get() const { return slot_ ? static_cast<T*>(const_cast<void*>(slot_->ptr.load(std::memory_order_relaxed))) : nullptr; }
  T* operator->() const { return get(); }
  T& operator*() const { return *get(); }
  explicit operator bool() const { return get() != nullptr; }

 private:
  void set(T* p) {
    if (!slot_) slot_ = detail::root_acquire();
    detail::barrier(&slot_->ptr, p);  // the hybrid barrier, old and new value, as a Member store
    slot_->ptr.store(p, std::memory_order_relaxed);
  }
  detail::RootSlot* slot_;
};

// add_root_range registers [p, p+bytes) — static data outside the heap —
// to be scanned conservatively at every collection (Go scans its data and
// bss segments; gort scans only what is registered). Counted as "globals"
// by the pacer and gctrace. remove_root_range unregisters it.
void add_root_range(const void* p, size_t bytes);
void remove_root_range(const void* p);

// collect runs a full collection now and returns its summary when it is
// done (Go's runtime.GC): forced, counted in NumForcedGC, gctrace says
// `(forced)`. Waits for a cycle in progress first. Call on a goroutine.
CycleSummary collect();

// set_gogc sets GOGC (percent; kGcOff = -1 = off) and returns the previous value.
int set_gogc(int percent);
int gogc();
// set_memory_limit sets the soft memory limit in bytes (INT64_MAX = off,
// Go's default) and returns the previous one.
int64_t set_memory_limit(int64_t bytes);
int64_t memory_limit();

namespace detail {
// RootScanner is a source of roots the collector asks at every collection,
// with the world stopped: first on_gc_start() (gc::Pool drops its victim
// cache here, as Go's poolCleanup), then scan(v), which visits every heap
// pointer the source holds. Register once; unregister before destruction.
class RootScanner {
 public:
  virtual ~RootScanner() = default;
  virtual void on_gc_start() {}
  virtual void scan(Visitor& v) = 0;
};
void add_root_scanner(RootScanner* s);
void remove_root_scanner(RootScanner* s);
}  // namespace detail

namespace detail {
// sweep_all_for_testing finishes the current cycle's sweeping and returns
// when no span is left unswept or mid-sweep, so freed sampled objects have
// been reported (hooks.h). Tests use it; call on a goroutine.
void sweep_all_for_testing();
// hold_mark_for_testing(true) keeps a mark from ending (its termination
// waits) until hold_mark_for_testing(false), so a test can act while it
// runs; marking_for_testing reports whether a mark is running now.
void hold_mark_for_testing(bool hold);
bool marking_for_testing();
}  // namespace detail

// is_heap_pointer reports whether p points into a live-or-free object slot
// of the collected heap (tests, assertions).
bool is_heap_pointer(const void* p);

}  // namespace gc
