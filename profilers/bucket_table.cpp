// bucket_table.cpp — the profiles' bucket hash (bucket_table.h has the
// design; Go's stkbucket in runtime/mprof.go is the model).
#include "profilers/bucket_table.h"

#include <cstdlib>
#include <mutex>
#include <new>

namespace profilers {

namespace {

// kHeads chain heads: 512 KiB, allocated on first use.
constexpr size_t kHeads = 65536;

std::atomic<std::atomic<Bucket*>*> g_heads{nullptr};   // atomic; set once under g_insert_lock
std::atomic<Bucket*> g_all[kBucketKinds];               // atomic; pushed under g_insert_lock
std::mutex g_insert_lock;                               // Go's profInsertLock
std::atomic<uint64_t> g_table_bytes{0};                 // atomic

// hash_stack is Go's stkbucket hash: one-at-a-time over the PCs, then the
// size, then a finalizing mix.
uint64_t hash_stack(const uintptr_t* stk, int n, uint64_t size) {
  uint64_t h = 0;
  for (int i = 0; i < n; i++) {
    h += stk[i];
    h += h << 10;
    h ^= h >> 6;
  }
  h += size;
  h += h << 10;
  h ^= h >> 6;
  h += h << 3;
  h ^= h >> 11;
  return h;
}

bool same_key(const Bucket* b, BucketKind kind, uint64_t h, const uintptr_t* stk, int n, uint64_t size) {
  if (b->kind != kind || b->hash != h || b->size != size || b->nstk != n) return false;
  for (int i = 0; i < n; i++)
    if (b->stk[i] != stk[i]) return false;
  return true;
}

Bucket* probe(std::atomic<Bucket*>& head, BucketKind kind, uint64_t h, const uintptr_t* stk, int n, uint64_t size) {
  for (Bucket* b = head.load(std::memory_order_acquire); b != nullptr; b = b->next)
    if (same_key(b, kind, h, stk, n, size)) return b;
  return nullptr;
}

std::atomic<Bucket*>* heads() {
  std::atomic<Bucket*>* hs = g_heads.load(std::memory_order_acquire);
  if (hs != nullptr) return hs;
  std::lock_guard<std::mutex> guard(g_insert_lock);
  hs = g_heads.load(std::memory_order_relaxed);
  if (hs == nullptr) {
    void* mem = std::calloc(kHeads, sizeof(std::atomic<Bucket*>));
    if (mem == nullptr) return nullptr;
    hs = static_cast<std::atomic<Bucket*>*>(mem);  // all-zero bytes: null pointers
    g_table_bytes.fetch_add(kHeads * sizeof(std::atomic<Bucket*>), std::memory_order_relaxed);
    g_heads.store(hs, std::memory_order_release);
  }
  return hs;
}

}  // namespace

Bucket* find_bucket(BucketKind kind, const uintptr_t* stk, int n, uint64_t size) {
  if (n > kMaxRawStackDepth) n = kMaxRawStackDepth;
  if (n < 0) n = 0;
  std::atomic<Bucket*>* hs = heads();
  if (hs == nullptr) return nullptr;
  uint64_t h = hash_stack(stk, n, size);
  std::atomic<Bucket*>& head = hs[h % kHeads];
  if (Bucket* b = probe(head, kind, h, stk, n, size)) return b;

  std::lock_guard<std::mutex> guard(g_insert_lock);
  if (Bucket* b = probe(head, kind, h, stk, n, size)) return b;
  void* mem = std::malloc(sizeof(Bucket));
  if (mem == nullptr) return nullptr;
  Bucket* b = new (mem) Bucket;
  b->kind = kind;
  b->hash = h;
  b->size = size;
  b->nstk = n;
  for (int i = 0; i < n; i++) b->stk[i] = stk[i];
  std::atomic<Bucket*>& all = g_all[static_cast<int>(kind)];
  b->next = head.load(std::memory_order_relaxed);
  b->allnext = all.load(std::memory_order_relaxed);
  head.store(b, std::memory_order_release);
  all.store(b, std::memory_order_release);
  g_table_bytes.fetch_add(sizeof(Bucket), std::memory_order_relaxed);
  return b;
}

void for_each_bucket(BucketKind kind, const std::function<void(Bucket&)>& fn) {
  for (Bucket* b = g_all[static_cast<int>(kind)].load(std::memory_order_acquire); b != nullptr; b = b->allnext) fn(*b);
}

int start_at_return_address(uintptr_t* pcs, int n, uintptr_t ret) {
  constexpr int kSearchDepth = 4;  // hook frames: the hook and capture_stack at most
  for (int i = 0; i < n && i < kSearchDepth; i++)
    if (pcs[i] == ret) {
      for (int j = i; j < n; j++) pcs[j - i] = pcs[j];
      return n - i;
    }
  return n;
}

uint64_t bucket_table_bytes() { return g_table_bytes.load(std::memory_order_relaxed); }

}  // namespace profilers
