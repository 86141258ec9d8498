// alloc_workload.cpp — /alloc's heap code (see alloc_workload.h), a
// line-for-line match of the Go peer's alloc() and newNode().
//
// Where the pointers live, as heap.h's rules ask:
//   - the list being built or walked: head and tail are locals of
//     run_alloc, on the goroutine's stack (scanned conservatively); every
//     other node is reached through Member fields;
//   - kept lists: gc::Root handles in a std::deque (malloc'd memory the
//     collector does not scan; the Roots are what it sees), guarded by a
//     gort::Mutex because handlers run on goroutines on every P;
//   - pooled nodes: the gc::Pool reports them itself (pool.h).
#include "service/alloc_workload.h"

#include <deque>
#include <mutex>

#include "gc/heap.h"
#include "gc/pool.h"
#include "runtime/sync.h"

namespace gortd {

namespace {

// Node is one list element: two pointers, like Go's
// struct { next *node; payload []byte } (the slice's length is size).
struct Node {
  gc::Member<Node> next;
  gc::Member<uint8_t> payload;  // no-scan buffer of size bytes
  int64_t size = 0;
  void trace(gc::Visitor& v) const {
    v.trace(next);
    v.trace(payload);
  }
};

// The ring of kept lists, oldest first.
gort::Mutex ring_mu;
std::deque<gc::Root<Node>>* ring = new std::deque<gc::Root<Node>>;  // guarded by ring_mu; never destroyed

// node_pool is /alloc?pool=1's sync.Pool. Built on first use (on a
// goroutine, once run_main fixed GOMAXPROCS) and never destroyed, as Go's
// package-level nodePool.
gc::Pool<Node>& node_pool() {
  static gc::Pool<Node>* pool = new gc::Pool<Node>();
  return *pool;
}

// new_node allocates a node and its size-byte payload, or with pool takes
// one from node_pool, reusing its payload when that has the same size.
Node* new_node(int64_t size, bool pool) {
  if (pool) {
    if (Node* n = node_pool().get()) {
      if (n->size != size) {
        n->payload = gc::alloc_bytes(static_cast<size_t>(size));
        n->size = size;
      }
      return n;
    }
  }
  Node* n = gc::make<Node>();
  n->payload = gc::alloc_bytes(static_cast<size_t>(size));
  n->size = size;
  return n;
}

}  // namespace

AllocResult run_alloc(int64_t kb, int64_t size, int64_t keep, bool pool) {
  const int64_t count = (kb * 1024 + size - 1) / size;
  Node *head = nullptr, *tail = nullptr;
  for (int64_t i = 0; i < count; i++) {
    Node* n = new_node(size, pool);
    n->payload[0] = static_cast<uint8_t>(i & 0xff);
    if (tail == nullptr)
      head = n;
    else
      tail->next = n;
    tail = n;
  }
  AllocResult r;
  for (Node* p = head; p != nullptr; p = p->next) {
    r.sum += p->payload[0];
    r.objects++;
  }
  r.bytes = r.objects * size;
  if (pool && keep == 0) {
    for (Node* p = head; p != nullptr;) {
      Node* next = p->next;
      p->next = nullptr;
      node_pool().put(p);
      p = next;
    }
  }
  if (keep > 0) {
    std::lock_guard l(ring_mu);
    ring->emplace_back(head);
    while (static_cast<int64_t>(ring->size()) > keep) ring->pop_front();
  }
  return r;
}

int64_t kept_lists() {
  std::lock_guard l(ring_mu);
  return static_cast<int64_t>(ring->size());
}

}  // namespace gortd
