// sync.h — Go's sync package for goroutines: Mutex (with starvation mode),
// RWMutex, WaitGroup, Cond, Once, and the counting semaphore (Sema) they are
// built on. Every blocking operation parks the goroutine, never the OS thread.
// The algorithms, invariants and rejected designs are explained at the top of
// sync.cpp.
//
// Example:
//   gort::Mutex mu;
//   gort::WaitGroup wg;
//   int64_t n = 0;
//   for (int i = 0; i < 8; i++) {
//     wg.add(1);
//     gort::go([&] { std::lock_guard l(mu); n++; wg.done(); });
//   }
//   wg.wait();
//
// Off-goroutine use (plain OS threads, e.g. a thread that is not an M): every
// primitive works there too; a thread that must wait sleeps on a futex (base.h
// Note) instead of parking. The fast paths are identical.
//
// Misuse is fatal, with Go's messages: "sync: unlock of unlocked mutex",
// "sync: RUnlock of unlocked RWMutex", "sync: Unlock of unlocked RWMutex",
// "sync: negative WaitGroup counter", and the WaitGroup misuse messages.
//
// All types are final, neither copyable nor movable: waiters hold pointers
// into them while parked.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/base.h"
#include "runtime/goroutine.h"
#include "runtime/gort.h"

namespace gort {

namespace detail {
struct SyncWaiter;  // a parked waiter (sync.cpp); lives on the waiter's stack
}  // namespace detail

// SyncStats are monotonically increasing counters of the slow paths.
struct SyncStats {
  uint64_t mutex_starvation_entries = 0;  // times a Mutex switched to starvation mode
  uint64_t sema_handoffs = 0;             // direct hand-offs (starvation-mode unlocks)
};
SyncStats sync_stats();

// Sema is a counting semaphore whose parked waiters queue in a global table
// of hashed roots keyed by the Sema's address (Go's runtime/sema.go
// semtable). It is the sleep/wakeup primitive underneath the other types:
// every acquire that sleeps is paired with exactly one release, even when
// the release comes first. The queue lives outside the object because a
// waiter may return — and free the object, as after the last WaitGroup.done
// — the moment a release has published its unit; release must not touch the
// object after that (see sync.cpp).
class Sema final {
 public:
  // Profile flags for acquire (Go's semaProfileFlags).
  static constexpr unsigned kProfileBlock = 1;  // report to the block hook (observer.h)
  static constexpr unsigned kProfileMutex = 2;  // report to the mutex hook, from the releaser

  explicit Sema(uint32_t initial = 0) : count_(initial) {}
  Sema(const Sema&) = delete;
  Sema& operator=(const Sema&) = delete;

  // acquire takes one unit, parking the goroutine (wait reason `reason`)
  // until one is available. lifo queues the caller at the front instead of
  // the back (a Mutex waiter that was woken but lost the race). Takes the
  // queue's RuntimeLock on the slow path.
  void acquire(WaitReason reason = WaitReason::Semacquire, bool lifo = false,
               unsigned profile = kProfileBlock) {
    if (GORT_LIKELY(try_acquire())) return;
    acquire_slow(reason, lifo, profile);
  }

  // try_acquire takes one unit if one is available; never blocks. seq_cst
  // because the slow path's re-check pairs with release's read of the
  // root's nwait (free on x86: plain load, lock cmpxchg).
  bool try_acquire() {
    uint32_t v = count_.load(std::memory_order_seq_cst);
    while (v != 0) {
      if (count_.compare_exchange_weak(v, v - 1, std::memory_order_seq_cst, std::memory_order_seq_cst))
        return true;
    }
    return false;
  }

  // release adds one unit and wakes the first waiter, if any. With handoff
  // the unit is transferred to that waiter directly (no barging acquirer can
  // take it) and, on a goroutine, the caller yields its P so the waiter runs
  // at once (Go's starvation-mode Semrelease). Takes the root's RuntimeLock
  // only when someone in that root waits. After the count increment it
  // touches the Sema again only if it found a waiter (which keeps it alive).
  void release(bool handoff = false);

  // waiters counts queued waiters (takes the root lock), for tests and dumps.
  uint32_t waiters() const;

 private:
  void acquire_slow(WaitReason reason, bool lifo, unsigned profile);

  std::atomic<uint32_t> count_;  // atomic: available units
};

// Mutex is Go's sync.Mutex: a mutual-exclusion lock that parks contended
// goroutines. Normal mode lets arriving goroutines barge in; a waiter that
// has waited more than 1 ms switches the lock to starvation mode, where
// unlock hands it directly to the front waiter (see sync.cpp). Not
// recursive; may be unlocked by a goroutine other than the one that locked
// it. Satisfies Lockable (std::lock_guard, std::unique_lock).
class Mutex final {
 public:
  // State word layout (Go's): bit 0 locked, bit 1 a woken waiter is
  // competing, bit 2 starvation mode, bits 3.. the number of parked waiters.
  static constexpr int32_t kLocked = 1;
  static constexpr int32_t kWoken = 2;
  static constexpr int32_t kStarving = 4;
  static constexpr int kWaiterShift = 3;

  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  // lock acquires the mutex, parking the goroutine ("sync.Mutex.Lock") while
  // it is held elsewhere. A safepoint. Fast path: one CAS.
  void lock() {
    preempt_check();
    int32_t unlocked = 0;
    if (GORT_LIKELY(state_.compare_exchange_strong(unlocked, kLocked, std::memory_order_acquire,
                                                   std::memory_order_relaxed)))
      return;
    lock_slow(WaitReason::SyncMutexLock);
  }

  // try_lock acquires the mutex if it is free and not in starvation mode
  // (there a waiter owns the next turn); never blocks.
  bool try_lock() {
    int32_t old = state_.load(std::memory_order_relaxed);
    if (old & (kLocked | kStarving)) return false;
    return state_.compare_exchange_strong(old, old | kLocked, std::memory_order_acquire,
                                          std::memory_order_relaxed);
  }

  // unlock releases the mutex and wakes (normal mode) or hands the lock to
  // (starvation mode) a waiter. Fatal if the mutex is not locked. Fast path:
  // one atomic decrement.
  void unlock() {
    int32_t now = state_.fetch_sub(kLocked, std::memory_order_release) - kLocked;
    if (GORT_UNLIKELY(now != 0)) unlock_slow(now);
  }

  // debug_state is a racy snapshot of the state word, for tests and dumps.
  int32_t debug_state() const { return state_.load(std::memory_order_relaxed); }

 private:
  friend class RWMutex;
  void lock_slow(WaitReason reason);
  void unlock_slow(int32_t now);

  std::atomic<int32_t> state_{0};  // atomic: kLocked | kWoken | kStarving | waiters << kWaiterShift
  Sema sema_;                      // parked waiters; units are wakeups, not the lock itself
};

// RWMutex is Go's sync.RWMutex: any number of readers or one writer. A
// writer that calls lock() stops new readers from entering (writer
// preference), so a stream of readers cannot starve it; readers that arrive
// while a writer is pending are admitted together when it unlocks.
class RWMutex final {
 public:
  // Readers beyond this many at once are unsupported (Go's rwmutexMaxReaders).
  static constexpr int32_t kMaxReaders = 1 << 30;

  RWMutex() = default;
  RWMutex(const RWMutex&) = delete;
  RWMutex& operator=(const RWMutex&) = delete;

  // lock acquires exclusive access, parking ("sync.RWMutex.Lock") until
  // other writers and the readers already inside have left. A safepoint.
  void lock();
  // unlock releases exclusive access and admits the readers that queued
  // meanwhile. Fatal if not write-locked.
  void unlock();
  // rlock acquires shared access, parking ("sync.RWMutex.RLock") while a
  // writer holds or waits for the lock. A safepoint. Fast path: one atomic add.
  void rlock() {
    preempt_check();
    if (GORT_UNLIKELY(reader_count_.fetch_add(1, std::memory_order_acquire) < 0)) rlock_slow();
  }
  // runlock releases shared access. Fatal if not read-locked.
  void runlock() {
    int32_t r = reader_count_.fetch_sub(1, std::memory_order_release) - 1;
    if (GORT_UNLIKELY(r < 0)) runlock_slow(r);
  }
  // try_lock / try_rlock acquire without blocking, or return false.
  bool try_lock();
  bool try_rlock();

  // lock_shared/unlock_shared make RWMutex SharedLockable (std::shared_lock).
  void lock_shared() { rlock(); }
  void unlock_shared() { runlock(); }
  bool try_lock_shared() { return try_rlock(); }

 private:
  void rlock_slow();
  void runlock_slow(int32_t r);

  Mutex w_;                               // held by the writer (or the pending writer)
  Sema writer_sem_;                       // the writer waits here for departing readers
  Sema reader_sem_;                       // readers wait here for the writer to finish
  std::atomic<int32_t> reader_count_{0};  // atomic: readers inside or waiting; -kMaxReaders offset while a writer is pending
  std::atomic<int32_t> reader_wait_{0};   // atomic: readers the pending writer still waits for
};

// WaitGroup is Go's sync.WaitGroup: wait() parks until the counter that
// add()/done() maintain drops to zero. May be reused once every wait() of
// the previous round has returned.
class WaitGroup final {
 public:
  WaitGroup() = default;
  WaitGroup(const WaitGroup&) = delete;
  WaitGroup& operator=(const WaitGroup&) = delete;

  // add adds delta (may be negative) to the counter; reaching zero wakes
  // every waiter. Fatal when the counter goes negative, or when an add from
  // zero races with wait (Go's misuse checks).
  void add(int64_t delta);
  // done decrements the counter by one.
  void done() { add(-1); }
  // wait parks ("sync.WaitGroup.Wait") until the counter is zero. A safepoint.
  void wait();

 private:
  std::atomic<uint64_t> state_{0};  // atomic: counter << 32 | number of waiters
  Sema sema_;                       // waiters park here; add releases one unit per waiter
};

namespace detail {
// NotifyList is Go's notifyList, the queue under Cond: waiters take a ticket
// (add) before releasing their lock and then wait for it; notify_one wakes
// the holder of the oldest unnotified ticket, so wakeups are FIFO and a
// notification between add and wait is never lost.
class NotifyList final {
 public:
  NotifyList() = default;
  NotifyList(const NotifyList&) = delete;
  NotifyList& operator=(const NotifyList&) = delete;

  // add returns the caller's ticket. Lock-free.
  uint32_t add() { return wait_.fetch_add(1, std::memory_order_acq_rel); }
  // wait parks ("sync.Cond.Wait") until ticket t has been notified; returns
  // at once if it already was. Takes lock_.
  void wait(uint32_t t);
  // notify_one wakes the oldest unnotified ticket; notify_all every ticket
  // handed out so far. Both return at once, lock-free, when nobody waits.
  void notify_one();
  void notify_all();

 private:
  std::atomic<uint32_t> wait_{0};    // atomic: next ticket to hand out
  std::atomic<uint32_t> notify_{0};  // atomic, written under lock_: next ticket to notify
  RuntimeLock lock_;                    // protects head_, tail_
  SyncWaiter* head_ = nullptr;       // guarded by lock_
  SyncWaiter* tail_ = nullptr;       // guarded by lock_
};
}  // namespace detail

// Cond is Go's sync.Cond bound to a Mutex: wait() atomically unlocks the
// mutex and parks, and relocks it before returning. Wakeups are FIFO.
class Cond final {
 public:
  explicit Cond(Mutex& m) : m_(m) {}
  Cond(const Cond&) = delete;
  Cond& operator=(const Cond&) = delete;

  // wait unlocks the mutex (which the caller must hold), parks
  // ("sync.Cond.Wait") until signal/broadcast, and relocks it. A safepoint.
  // As in Go, callers re-check their condition in a loop.
  void wait();
  // signal wakes the longest-waiting goroutine, if any. broadcast wakes all.
  // Holding the mutex is allowed but not required.
  void signal() { list_.notify_one(); }
  void broadcast() { list_.notify_all(); }

  Mutex& mutex() const { return m_; }

 private:
  Mutex& m_;
  detail::NotifyList list_;
};

// Once is Go's sync.Once: call(f) runs f exactly once across all callers;
// every call returns only after that one run has finished. If f throws, the
// Once still counts as done (as Go's Do after a panic) and the exception
// propagates to the caller that ran it.
class Once final {
 public:
  Once() = default;
  Once(const Once&) = delete;
  Once& operator=(const Once&) = delete;

  // call runs f if no call has run it yet, parking while another caller's f
  // is running. Fast path (already done): one acquire load.
  template <class F>
  void call(F&& f) {
    if (GORT_LIKELY(done_.load(std::memory_order_acquire) != 0)) return;
    call_slow(f);
  }
  // done reports whether f has run (and finished).
  bool done() const { return done_.load(std::memory_order_acquire) != 0; }

 private:
  template <class F>
  void call_slow(F& f) {
    struct Finish {
      Once* o;
      bool ran = false;
      ~Finish() {
        if (ran) o->done_.store(1, std::memory_order_release);
        o->m_.unlock();
      }
    } finish{this};
    m_.lock();
    if (done_.load(std::memory_order_relaxed) == 0) {
      finish.ran = true;
      f();
    }
  }

  std::atomic<uint32_t> done_{0};  // atomic: 1 once f has returned; written under m_
  Mutex m_;                        // serializes the callers that find done_ == 0
};

}  // namespace gort
