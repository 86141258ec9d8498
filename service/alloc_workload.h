// alloc_workload.h — the /alloc workload of SPEC.md on the collected heap:
// a singly linked list of GC-heap nodes, each pointing at its own S-byte
// pointer-free payload (two allocations per node, as a Go program does it),
// walked and summed; optionally kept in a global ring (so the live heap
// grows) and optionally built from a gc::Pool (Go's sync.Pool).
#pragma once

#include <cstdint>

namespace gortd {

struct AllocResult {
  int64_t objects = 0;  // nodes walked
  int64_t bytes = 0;    // objects * size
  uint64_t sum = 0;     // sum of every payload's first byte
};

// run_alloc builds ceil(kb*1024/size) nodes whose payload's first byte is
// (i & 0xff), walks them summing those bytes, and, when keep > 0, stores
// the list in the global ring of at most keep lists (oldest dropped). With
// pool, nodes (with their payloads) come from the node pool and go back to
// it after the walk, unless the list is kept. Call on a goroutine:
// allocation is a safepoint, so a long list stays preemptible. Takes the
// ring's gort::Mutex when keeping.
AllocResult run_alloc(int64_t kb, int64_t size, int64_t keep, bool pool);

// kept_lists returns how many lists the ring holds (tests, /debug/vars).
int64_t kept_lists();

}  // namespace gortd
