// stack.cpp — the stack arena and its free lists (design in stack.h).
#include "runtime/stack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <mutex>
#include <vector>

#include "runtime/base.h"

namespace gort {
namespace {

constexpr size_t kChunkBytes = size_t{1} << 30;  // 1 GiB of address space per mapping
constexpr size_t kPageBytes = 4096;
// Above this many idle slots on the global list, freed slots give their pages
// back to the kernel (a burst of 1M goroutines should not pin its RSS forever).
constexpr size_t kMaxWarmFreeSlots = 4096;

struct Arena {
  std::mutex mu;
  size_t slot = 0;
  std::vector<std::pair<uintptr_t, uintptr_t>> chunks;  // [begin, end)
  uintptr_t bump = 0, bump_end = 0;
  Stack* free = nullptr;
  size_t nfree = 0;
  size_t total = 0;
  size_t guarded = 0;
  size_t guard_budget = kDefaultGuardedSlots;
};

Arena& arena() {
  static Arena a;
  return a;
}

void new_chunk(Arena& a) {
  void* p = mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw_fatalf("stack arena: mmap of %zu bytes failed", kChunkBytes);
  auto b = reinterpret_cast<uintptr_t>(p);
  // The lowest page of the chunk is PROT_NONE so the lowest slot faults on overflow.
  mprotect(p, kPageBytes, PROT_NONE);
  a.chunks.emplace_back(b, b + kChunkBytes);
  a.bump = b + kPageBytes;
  a.bump_end = b + kChunkBytes;
}

}  // namespace

void StackPool::init(size_t slot_bytes, size_t guarded_slots) {
  Arena& a = arena();
  std::lock_guard<std::mutex> l(a.mu);
  a.guard_budget = guarded_slots;
  if (slot_bytes < 32 * 1024) slot_bytes = 32 * 1024;
  slot_bytes = (slot_bytes + kPageBytes - 1) & ~(kPageBytes - 1);
  if (a.slot != 0 && a.slot != slot_bytes) {
    // A different size for a new runtime run: drop the old arena entirely.
    for (auto& c : a.chunks) munmap(reinterpret_cast<void*>(c.first), c.second - c.first);
    a.chunks.clear();
    a.free = nullptr;
    a.nfree = a.total = a.guarded = 0;
    a.bump = a.bump_end = 0;
  }
  a.slot = slot_bytes;
}

size_t StackPool::slot_bytes() { return arena().slot; }

Stack* StackPool::alloc_global() {
  Arena& a = arena();
  std::lock_guard<std::mutex> l(a.mu);
  if (a.free) {
    Stack* s = a.free;
    a.free = s->next;
    a.nfree--;
    s->next = nullptr;
    return s;
  }
  if (a.bump + a.slot > a.bump_end) new_chunk(a);
  uintptr_t lo = a.bump;
  a.bump += a.slot;
  a.total++;
  if (a.guarded < a.guard_budget && mprotect(reinterpret_cast<void*>(lo), kPageBytes, PROT_NONE) == 0) a.guarded++;
  // The descriptor lives in the top bytes of the slot; the stack grows down from it.
  uintptr_t top = lo + a.slot;
  auto* s = reinterpret_cast<Stack*>((top - sizeof(Stack)) & ~uintptr_t{63});
  s->lo = lo;
  s->hi = reinterpret_cast<uintptr_t>(s);
  s->next = nullptr;
  return s;
}

void StackPool::free_global(Stack* s) {
  Arena& a = arena();
  std::lock_guard<std::mutex> l(a.mu);
  if (a.nfree >= kMaxWarmFreeSlots) {
    // Give back everything below the descriptor's page.
    uintptr_t keep = s->hi & ~(kPageBytes - 1);
    // (Skipping the guard page, which madvise would not touch anyway.)
    uintptr_t from = s->lo + kPageBytes;
    if (keep > from) madvise(reinterpret_cast<void*>(from), keep - from, MADV_DONTNEED);
  }
  s->next = a.free;
  a.free = s;
  a.nfree++;
}

void StackPool::release_all() {
  Arena& a = arena();
  std::lock_guard<std::mutex> l(a.mu);
  for (auto& c : a.chunks) munmap(reinterpret_cast<void*>(c.first), c.second - c.first);
  a.chunks.clear();
  a.free = nullptr;
  a.nfree = a.total = a.guarded = 0;
  a.bump = a.bump_end = 0;
}

size_t StackPool::slots_in_use() {
  Arena& a = arena();
  std::lock_guard<std::mutex> l(a.mu);
  return a.total - a.nfree;
}

size_t StackPool::slots_total() {
  Arena& a = arena();
  std::lock_guard<std::mutex> l(a.mu);
  return a.total;
}

bool StackPool::in_arena(uintptr_t addr) {
  Arena& a = arena();
  // Called from the SIGSEGV handler: no lock (chunks only grow while running).
  for (auto& c : a.chunks)
    if (addr >= c.first && addr < c.second) return true;
  return false;
}

Stack* StackCache::get() {
  if (n_ > 0) return items_[--n_];
  // Refill half the cache in one go to amortize the global lock.
  while (n_ < kCap / 2) items_[n_++] = StackPool::alloc_global();
  return items_[--n_];
}

void StackCache::put(Stack* s) {
  if (n_ == kCap) {
    while (n_ > kCap / 2) StackPool::free_global(items_[--n_]);
  }
  items_[n_++] = s;
}

void StackCache::flush() {
  while (n_ > 0) StackPool::free_global(items_[--n_]);
}

}  // namespace gort
