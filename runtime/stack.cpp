// stack.cpp — the stack arena (design in stack.h): 1 GiB chunks mapped
// MAP_NORESERVE, carved into fixed-size slots by a bump pointer.
#include "runtime/stack.h"

#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <mutex>

#include "runtime/base.h"

namespace gort {
namespace {

constexpr size_t kChunkBytes = size_t{1} << 30;  // 1 GiB of address space per mapping
constexpr size_t kPageBytes = 4096;
constexpr int kMaxChunks = 1024;                 // 1 TiB of stacks

struct Chunk {
  uintptr_t begin = 0, end = 0;
};

struct Arena {
  std::mutex mu;                     // guards everything but the chunk table's readers
  size_t slot = 0;
  // Chunks are appended under mu and published through nchunks (release),
  // so in_arena — called from the SIGSEGV handler — reads them lock-free.
  Chunk chunks[kMaxChunks];
  std::atomic<int> nchunks{0};
  uintptr_t bump = 0, bump_end = 0;
  size_t total = 0;
  size_t guarded = 0;
  size_t guard_budget = kDefaultGuardedSlots;
};

Arena& arena() {
  static Arena a;
  return a;
}

void new_chunk(Arena& a) {
  int n = a.nchunks.load(std::memory_order_relaxed);
  if (n == kMaxChunks) throw_fatalf("stack arena: out of address space (%d chunks of %zu bytes)", n, kChunkBytes);
  void* p = mmap(nullptr, kChunkBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw_fatalf("stack arena: mmap of %zu bytes failed", kChunkBytes);
  auto b = reinterpret_cast<uintptr_t>(p);
  // The lowest page of the chunk is PROT_NONE so the lowest slot faults on overflow.
  mprotect(p, kPageBytes, PROT_NONE);
  a.chunks[n] = Chunk{b, b + kChunkBytes};
  a.nchunks.store(n + 1, std::memory_order_release);
  a.bump = b + kPageBytes;
  a.bump_end = b + kChunkBytes;
}

// unmap_all drops every chunk (mu held).
void unmap_all(Arena& a) {
  int n = a.nchunks.load(std::memory_order_relaxed);
  a.nchunks.store(0, std::memory_order_release);
  for (int i = 0; i < n; i++) munmap(reinterpret_cast<void*>(a.chunks[i].begin), kChunkBytes);
  a.total = a.guarded = 0;
  a.bump = a.bump_end = 0;
}

}  // namespace

void StackPool::init(size_t slot_bytes, size_t guarded_slots) {
  Arena& a = arena();
  std::lock_guard<std::mutex> l(a.mu);
  a.guard_budget = guarded_slots;
  if (slot_bytes < 32 * 1024) slot_bytes = 32 * 1024;
  slot_bytes = (slot_bytes + kPageBytes - 1) & ~(kPageBytes - 1);
  // A different size for a new runtime run: drop the old arena entirely.
  if (a.slot != 0 && a.slot != slot_bytes) unmap_all(a);
  a.slot = slot_bytes;
}

size_t StackPool::slot_bytes() { return arena().slot; }

Stack StackPool::alloc_global() {
  Arena& a = arena();
  std::lock_guard<std::mutex> l(a.mu);
  if (a.bump + a.slot > a.bump_end) new_chunk(a);
  uintptr_t lo = a.bump;
  a.bump += a.slot;
  a.total++;
  if (a.guarded < a.guard_budget && mprotect(reinterpret_cast<void*>(lo), kPageBytes, PROT_NONE) == 0) a.guarded++;
  Stack s;
  s.lo = lo;
  s.hi = lo + a.slot;
  return s;
}

void StackPool::release_all() {
  Arena& a = arena();
  std::lock_guard<std::mutex> l(a.mu);
  unmap_all(a);
}

size_t StackPool::slots_total() {
  Arena& a = arena();
  std::lock_guard<std::mutex> l(a.mu);
  return a.total;
}

bool StackPool::in_arena(uintptr_t addr) {
  Arena& a = arena();
  int n = a.nchunks.load(std::memory_order_acquire);
  for (int i = 0; i < n; i++)
    if (addr >= a.chunks[i].begin && addr < a.chunks[i].end) return true;
  return false;
}

Stack StackCache::get() {
  if (n_ > 0) return items_[--n_];
  // Refill half the cache in one go to amortize the arena lock.
  while (n_ < kCap / 2) items_[n_++] = StackPool::alloc_global();
  return items_[--n_];
}

}  // namespace gort
