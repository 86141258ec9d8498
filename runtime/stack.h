// stack.h — goroutine stacks: a pooled, lazily committed arena.
//
// Why not one mmap per stack with a guard page: creating a guard page costs
// ~6.8 µs (mmap + mprotect + the VMA split) and every guard page adds two
// VMAs; the kernel's default vm.max_map_count is 65530, so guard-paged stacks
// cap the process at ~32k goroutines. We want 1,000,000 parked goroutines.
//
// Design: stacks are fixed-size slots carved out of 1 GiB arena chunks mapped
// MAP_NORESERVE; the kernel commits a page only when the goroutine touches it,
// so a parked goroutine costs the pages its frames actually use (typically one
// or two). A slot belongs to one G record for life and is recycled with it
// through the G free lists (g.cpp); sysmon's scavenger gives the pages of a
// long-idle surplus of free Gs back with MADV_DONTNEED. Chunks are unmapped
// only when the runtime shuts down.
//
// Overflow, in three layers:
//   1. The first kDefaultGuardedSlots slots (by default) get a PROT_NONE guard page
//      at their low end (mprotect within the chunk, 3-6 µs once per slot;
//      slots are recycled, so a service with fewer live goroutines than
//      that is fully guarded). Every guard page splits the chunk's VMA, so
//      the budget keeps the process far below vm.max_map_count (65530).
//      The build uses -fstack-clash-protection so large frames probe page
//      by page and hit the guard instead of jumping over it.
//   2. The bottom kStackRedZoneBytes of every slot are a red zone that a
//      correct goroutine never reaches. Every safepoint (preempt_check,
//      parking, channel and lock operations, allocation) compares the stack
//      pointer with the red-zone boundary and throws "stack overflow"
//      naming the goroutine before it can run into its neighbour — the only
//      protection for slots beyond the guard budget.
//   3. The SIGSEGV handler (signals.cpp) turns a guard-page fault into the
//      same "stack overflow in goroutine N" report.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gort {

inline constexpr size_t kStackRedZoneBytes = 16 * 1024;  // never touched by a healthy G
// Slots that get a guard page by default ($GORT_GUARDED_STACKS overrides):
// 2 VMAs each, far below vm.max_map_count (65530), and the mprotect costs
// 3-6 µs on the cold spawn path of each of them (measured by gort_micro's
// BM_Park100k); a service with fewer goroutines alive at once than this is
// fully guarded.
inline constexpr size_t kDefaultGuardedSlots = 4096;

struct Stack {
  uintptr_t lo = 0;  // lowest address of the slot (red zone starts here)
  uintptr_t hi = 0;  // one past the highest address; the stack grows down from here
  size_t size() const { return hi - lo; }
  uintptr_t guard() const { return lo + kStackRedZoneBytes; }
};

// StackPool hands out stack slots of one size. Thread-safe; per-P caches
// (StackCache) make the common path lock-free.
class StackPool final {
 public:
  // init sets the slot size (rounded up to pages, at least 32 KiB); call once
  // before any allocation.
  static void init(size_t slot_bytes, size_t guarded_slots = kDefaultGuardedSlots);
  static size_t slot_bytes();
  // alloc_global returns a slot; never fails (fatal when out of address
  // space). Slots are never freed: a G keeps its slot for life, and G
  // records are reused (g.cpp), so the G free lists are the stack free lists.
  static Stack alloc_global();
  // release_all unmaps every chunk (runtime shutdown).
  static void release_all();
  // slots_total returns how many slots have been carved (each owned by a G record).
  static size_t slots_total();
  // in_arena reports whether addr lies in any stack chunk. No lock;
  // async-signal-safe.
  static bool in_arena(uintptr_t addr);
};

// StackCache is a P's private batch of fresh slots, so that a burst of
// spawns takes the arena lock once per kCap/2 slots (owner only, no lock).
class StackCache final {
 public:
  // get returns a fresh slot, refilling from the arena when empty.
  Stack get();

 private:
  static constexpr int kCap = 32;
  Stack items_[kCap];
  int n_ = 0;
};

}  // namespace gort
