// pool.h — gc::Pool<T>, Go's sync.Pool for collected objects: a cache of
// free objects that the collector is allowed to empty.
//
//   gc::Pool<Node> pool([] { return gc::make<Node>(); });
//   Node* n = pool.get();   // a cached Node, or a new one from New
//   ...
//   pool.put(n);            // back into the cache
//
// Semantics are Go 1.13+'s (sync/pool.go):
//   - get() returns some object previously put (no ordering promised), or
//     what the New function returns, or nullptr when there is neither.
//   - An object put survives exactly one collection: at every collection
//     the pool's contents become its *victim cache* and the previous victim
//     is dropped (Go's poolCleanup). So a steady workload keeps reusing its
//     objects across a collection, while an idle pool empties after two.
//
// Layout. Per P (runtime processor, gort::current_p_index): a private slot
// and a shared list; then the same again for the victim cache.
//   - private: only the goroutine running on that P touches it, and the P
//     index stays true until the goroutine's next safepoint; get/put do not
//     reach a safepoint between reading the index and touching the slot, so
//     the slot needs no lock or atomic. The collector reads it with the
//     world stopped.
//   - shared: any P may pop from it (stealing), so each list has a small
//     spinlock, held only for one push or pop — never across a safepoint,
//     so a stop-the-world never finds it held by a stopped goroutine.
// get looks in order: own private, own shared (newest first), other Ps'
// shared (oldest first, as Go's popTail), own victim private, victim
// shared lists, then New — Go's Get and getSlow.
//
// Why the pool is a root scanner. Its storage is malloc'd (a heap object
// cannot hold a spinlock or a std::deque), and the collector does not see
// malloc'd memory: the pool registers itself as a detail::RootScanner whose
// scan() visits every object held, primary and victim, and whose
// on_gc_start() (world stopped) performs the victim rotation. Stores into
// the pool shade the object while the write barrier is on, as a Root does.
//
// Storage is sized for gort::gomaxprocs() at construction; a pool built
// before run_main (a global) has kMaxProcs slots. A P whose index is beyond
// the storage (a later run with more Ps) uses shared list index % size,
// without a private slot.
//
// Alternatives rejected: one global locked list (every get/put on every P
// would contend on one line, which is what sync.Pool exists to avoid);
// lock-free shared lists as Go's poolChain (Go needs them because its
// lists live in the GC'd heap with a single-producer discipline; a spinlock
// held for one deque push is simpler and uncontended in the common case).
#pragma once

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <utility>
#include <deque>

#include "gc/heap.h"
#include "gc/spin_lock.h"
#include "runtime/gort.h"
#include "runtime/scan.h"

namespace gc {

template <class T>
class Pool final : private detail::RootScanner {
 public:
  // kMaxProcs: slots of a pool built before run_main fixes GOMAXPROCS.
  static constexpr int kMaxProcs = 256;

  // Pool registers the pool with the collector. new_fn (Go's Pool.New) is
  // called by get() when the pool is empty; it may allocate.
  explicit Pool(std::function<T*()> new_fn = nullptr) : new_(std::move(new_fn)) {
    int procs = gort::gomaxprocs();
    nlocals_ = procs > 0 && procs <= kMaxProcs ? procs : kMaxProcs;
    primary_ = std::make_unique<Local[]>(nlocals_);
    victim_ = std::make_unique<Local[]>(nlocals_);
    detail::add_root_scanner(this);
  }
  // ~Pool unregisters the pool; what it held becomes garbage.
  ~Pool() override { detail::remove_root_scanner(this); }
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // get removes and returns an object from the pool, or returns new_fn()
  // (nullptr without one) when the pool is empty. Call on a goroutine.
  // Takes the shared lists' spinlocks one at a time.
  T* get() {
    int pid = gort::current_p_index();
    T* x = nullptr;
    if (Local* own = private_local(pid)) x = std::exchange(own->priv, nullptr);
    if (!x) x = pop_own(primary_.get(), pid);
    if (!x) x = steal(primary_.get(), pid);
    if (!x) {
      if (Local* v = private_local_of(victim_.get(), pid)) x = std::exchange(v->priv, nullptr);
      if (!x) x = pop_own(victim_.get(), pid);
      if (!x) x = steal(victim_.get(), pid);
    }
    if (x) {
      detail::shade(x);  // entering or leaving the pool while marking
      return x;
    }
    return new_ ? new_() : nullptr;
  }

  // put adds x to the pool (nullptr is ignored). The caller must not use x
  // afterwards: another goroutine may get it. Call on a goroutine.
  void put(T* x) {
    if (!x) return;
    detail::shade(x);  // entering or leaving the pool while marking
    int pid = gort::current_p_index();
    if (Local* own = private_local(pid); own && own->priv == nullptr) {
      own->priv = x;
      return;
    }
    Local& l = primary_[index(pid)];
    l.lock.lock();
    l.shared.push_back(x);
    l.lock.unlock();
  }

 private:
  // Local is one P's part of the pool; padded to a cache line of its own.
  struct alignas(64) Local {
    T* priv = nullptr;              // only the goroutine on this P (or the world stopped)
    detail::SpinLock lock;
    std::deque<T*> shared;          // guarded by lock; newest at the back
  };

  size_t index(int pid) const { return pid < 0 ? 0 : static_cast<size_t>(pid) % nlocals_; }
  Local* private_local(int pid) { return private_local_of(primary_.get(), pid); }
  Local* private_local_of(Local* locals, int pid) {
    return pid >= 0 && static_cast<size_t>(pid) < nlocals_ ? &locals[pid] : nullptr;
  }

  // pop_own takes the newest object of this P's shared list (Go's popHead).
  T* pop_own(Local* locals, int pid) {
    Local& l = locals[index(pid)];
    T* x = nullptr;
    l.lock.lock();
    if (!l.shared.empty()) {
      x = l.shared.back();
      l.shared.pop_back();
    }
    l.lock.unlock();
    return x;
  }

  // steal takes the oldest object of another P's shared list (popTail).
  T* steal(Local* locals, int pid) {
    size_t own = index(pid);
    for (size_t i = 1; i < nlocals_; i++) {
      Local& l = locals[(own + i) % nlocals_];
      T* x = nullptr;
      l.lock.lock();
      if (!l.shared.empty()) {
        x = l.shared.front();
        l.shared.pop_front();
      }
      l.lock.unlock();
      if (x) return x;
    }
    return nullptr;
  }

  // on_gc_start (world stopped) drops the victim and makes the primary
  // cache the new victim (Go's poolCleanup).
  void on_gc_start() override {
    for (size_t i = 0; i < nlocals_; i++) {
      Local &p = primary_[i], &v = victim_[i];
      v.priv = std::exchange(p.priv, nullptr);
      v.shared.swap(p.shared);
      p.shared.clear();
    }
  }

  // scan (world stopped) visits every object held.
  void scan(Visitor& vis) override {
    for (Local* locals : {primary_.get(), victim_.get()})
      for (size_t i = 0; i < nlocals_; i++) {
        vis.trace_raw(locals[i].priv);
        for (T* x : locals[i].shared) vis.trace_raw(x);
      }
  }

  std::function<T*()> new_;  // fixed at construction
  size_t nlocals_ = 0;       // fixed at construction
  std::unique_ptr<Local[]> primary_, victim_;
};

}  // namespace gc
