// bucket_table.h — the store behind the heap, block and mutex profiles
// (Go's buckhash, mbuckets, bbuckets and xbuckets in runtime/mprof.go): one
// bucket per (kind, call stack, object size), holding that site's counters.
//
// Hooks fire on many threads at once, inside allocations and wake-ups, so
// finding a bucket must be cheap and must not touch the collected heap:
//   - the stack is hashed (Go's one-at-a-time mix over the PCs and size)
//     into a fixed array of chain heads; a bucket, once published, never
//     changes its key or its links, so lookups walk the chain with acquire
//     loads and no lock;
//   - a miss takes the one insertion lock (Go's profInsertLock), looks
//     again, and pushes a malloc'ed bucket at the head of its chain and of
//     its kind's list. Buckets are never freed (Go's persistentalloc), so a
//     Bucket* handed to the heap as an allocation's handle stays valid for
//     the process's life;
//   - counters are relaxed atomics, added to without a lock.
// The table does not grow: chains do, as in Go (kHeads is about a third of
// Go's 179,999 heads — a service has thousands of sites, not millions).
// Memory the table holds is reported as BuckHashSys in the heap text.
//
// The counters' meaning belongs to the profiles: heap_profile.cpp keeps
// Go's per-cycle memRecord (active + future[3]) in MemCounters;
// contention_profile.cpp keeps Go's blockRecord (count, cycles) in
// BlockCounters.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>

namespace profilers {

enum class BucketKind : uint8_t { Memory = 0, Block = 1, Mutex = 2 };
inline constexpr int kBucketKinds = 3;

// kMaxStackDepth is Go's maxStack: the frames a profile record shows.
inline constexpr int kMaxStackDepth = 32;
// kMaxRawStackDepth leaves room above kMaxStackDepth for the allocator's
// own frames, which the heap profile drops when it is read.
inline constexpr int kMaxRawStackDepth = kMaxStackDepth + 8;

// MemCycle is one cycle's allocations and frees of a site (Go's
// memRecordCycle). Atomic: hooks add to it concurrently.
struct MemCycle {
  std::atomic<uint64_t> allocs{0}, frees{0}, alloc_bytes{0}, free_bytes{0};
};

// MemCounters is Go's memRecord: `active` is the published profile
// (guarded by heap_profile.cpp's active lock); future[c % 3] collects the
// events of heap-profile cycle c until it is published.
struct MemCounters {
  MemCycle active;
  MemCycle future[3];
};

// BlockCounters is Go's blockRecord: sampled events (a float: short sampled
// block events count rate/delay each) and their total delay in ns.
struct BlockCounters {
  std::atomic<double> count{0};
  std::atomic<int64_t> delay_ns{0};
};

struct Bucket {
  Bucket* next = nullptr;     // hash chain; immutable once published
  Bucket* allnext = nullptr;  // all buckets of this kind; immutable once published
  BucketKind kind = BucketKind::Memory;
  uint64_t hash = 0;
  uint64_t size = 0;          // object size (memory buckets), else 0
  int nstk = 0;
  uintptr_t stk[kMaxRawStackDepth] = {};  // return addresses, innermost first
  MemCounters mem;            // kind Memory
  BlockCounters block;        // kinds Block and Mutex
};

// find_bucket returns the bucket of (kind, stk[0..n), size), creating it if
// need be (n is cut to kMaxRawStackDepth). Lock-free when the bucket
// exists; takes the insertion lock and calls malloc when it does not.
// Returns nullptr only if malloc fails. Any thread; never the collected heap.
Bucket* find_bucket(BucketKind kind, const uintptr_t* stk, int n, uint64_t size);

// for_each_bucket calls fn for every bucket of kind, newest first. Buckets
// created during the walk may be missed. No lock.
void for_each_bucket(BucketKind kind, const std::function<void(Bucket&)>& fn);

// start_at_return_address makes pcs[0..n) begin at ret — a hook's own
// return address (__builtin_return_address(0)), i.e. the first frame of
// the code that called the hook — by dropping the entries before it (the
// hook's frames); returns the new depth. A stack without ret among its
// first entries is left as it is.
int start_at_return_address(uintptr_t* pcs, int n, uintptr_t ret);

// bucket_table_bytes returns the memory the table holds (heads and
// buckets): Go's BuckHashSys.
uint64_t bucket_table_bytes();

}  // namespace profilers
