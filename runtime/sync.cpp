// sync.cpp — Go's sync primitives on goroutines: the semaphore (Go's
// runtime/sema.go), Mutex with starvation mode (sync/mutex.go), RWMutex
// (sync/rwmutex.go), WaitGroup (sync/waitgroup.go) and the notify list under
// Cond (runtime/sema.go notifyList). Once is a template in sync.h.
//
// ---- Parking: the one protocol every primitive uses ----
//
// A goroutine that must wait builds a SyncWaiter on its own stack (Go's
// sudog), links it into the object's queue while holding the queue's
// RuntimeLock, and calls park_g with an unlockf that releases that
// RuntimeLock. unlockf runs on the scheduler stack (g0) *after* the goroutine
// has switched out. Consequences:
//   - a waker must take the RuntimeLock to find a waiter, so it can only find
//     one whose goroutine is completely switched out: nobody ever readies a
//     goroutine that is still running on another M;
//   - the waiter was queued before the lock was dropped, so no wakeup that
//     happens "between deciding to sleep and sleeping" can be lost;
//   - once a waker has unlinked a waiter under the lock it owns the wakeup:
//     it may fill in the node (ticket, release time) after dropping the lock,
//     then ready()s the goroutine, and must not touch the node afterwards —
//     the goroutine may already be running and have popped the frame.
// The RuntimeLock is held for a handful of loads and stores; no RuntimeLock is
// ever held across a park or a ready.
//
// Off a goroutine (a plain OS thread: g == nullptr) the same node carries a
// futex Note instead: the thread drops the RuntimeLock and sleeps on the Note,
// and the waker calls Note::wakeup instead of ready. So every primitive is
// usable from plain threads; they block the thread, which is the right thing
// for a thread. (Rejected: spinning with sched_yield — burns a core for as
// long as a goroutine holds the lock; throw_fatal — makes handing work
// between a foreign thread and goroutines needlessly hard.)
//
// ---- Sema ----
//
// count_ is the number of available units. Waiters queue in one of
// kSemTableSize roots of a global table, chosen by hashing the Sema's
// address (Go's semtable); a root keeps a list of the distinct addresses
// waiting in it, each with its own FIFO of waiters, and nwait, the number of
// waiters in the root. acquire: try to decrement count_; otherwise, under
// the root lock, increment nwait, retry the decrement (a release may have
// come in between), and only then queue and park. release: increment
// count_, then look at the root's nwait; if zero, nobody can be sleeping on
// this Sema — the acquirer's increment of nwait and its re-check of count_
// are ordered against our increment of count_ and read of nwait (all
// seq_cst), so either we see its nwait or it sees our unit (the Dekker
// pattern, as Go's semrelease1). Otherwise take the root lock, unlink this
// address's front waiter and ready it. The woken waiter competes for the
// unit again with try_acquire — a barging acquirer may beat it, and then it
// queues again. With handoff (starvation mode) the releaser takes the unit
// itself and gives it to the waiter as a ticket, so it cannot be stolen, and
// yields its P so the waiter (now in runnext) runs at once and inherits the
// rest of the time slice (Go issue 33747).
//
// Why the queue is not inside the Sema: once release has incremented
// count_, an acquirer on its fast path can take the unit and return, and
// its owner may free the object at once — `wg.done()` is routinely a
// goroutine's last act, after which the waiter returns and pops the
// WaitGroup off its stack. A release that then read a waiter count or took
// a lock inside the object would touch freed memory (this crashed
// gort_micro's spawn benchmark before the table existed). The global roots
// outlive every object; release touches the Sema again only when it found a
// parked waiter, which keeps the object alive.
//
// Rejected: Go's treap per root. A list of distinct addresses per root is
// scanned linearly; with 251 roots it stays short unless thousands of
// different objects are contended at once.
//
// ---- Mutex ----
//
// The state word is Go's: kLocked, kWoken (a woken waiter is running and
// will try to take the lock, so unlock need not wake another), kStarving,
// and the number of goroutines parked on sema_ in the bits above. The fast
// paths are a CAS 0 -> kLocked and an atomic decrement of kLocked whose
// result is zero when nobody waits. (Unlock cannot be a plain store: a
// waiter registers itself by CAS on the same word, and a store would erase
// it; a separate "locked" byte would need a StoreLoad fence on unlock, which
// costs what the RMW costs.)
//
// Normal mode: waiters queue FIFO, but a woken waiter does not own the lock;
// it competes with goroutines arriving right now, which are already on a CPU
// and usually win. A loser goes back to the *front* of the queue (LIFO
// requeue), keeping its place. Barging gives the best throughput since the
// lock changes hands without a context switch. Before parking, an arriving
// goroutine may spin briefly (4 rounds of 30 pauses) when the lock is held,
// other Ps are running and its own run queue is empty — the holder is
// probably on a CPU and about to unlock (Go's sync_runtime_canSpin).
//
// Starvation mode: a waiter that got the lock only after waiting more than
// kStarvationThresholdNs (1 ms) sets kStarving on its next attempt. Then
// unlock hands the lock directly to the front waiter (Sema handoff), new
// arrivals do not try to take it and do not spin but queue at the tail, and
// the woken waiter finds the lock already "passed" and sets kLocked itself.
// A waiter leaves starvation mode when it was the last waiter or waited less
// than 1 ms. Starvation mode bounds tail latency; normal mode is faster, so
// the lock returns to it as soon as nobody starves.
//
// ---- RWMutex ----
//
// Go's writer-preferring scheme. reader_count_ counts readers inside or
// waiting; a writer first takes w_ (excluding other writers) and then
// subtracts kMaxReaders, which makes reader_count_ negative so arriving
// readers park on reader_sem_. The writer adds the number of readers that
// were inside to reader_wait_ and parks on writer_sem_ unless they have all
// left; each departing reader that sees a negative count decrements
// reader_wait_, and the one that reaches zero releases the writer. unlock
// adds kMaxReaders back and releases one unit of reader_sem_ per reader that
// queued meanwhile, then unlocks w_. Readers arriving during a pending write
// wait behind it, so a stream of readers cannot starve a writer.
//
// ---- WaitGroup ----
//
// One 64-bit word: counter in the high half, parked waiters in the low half,
// so "counter reached zero" and "how many to wake" are read atomically.
// wait() adds itself to the low half by CAS (only while the counter is
// non-zero) and acquires sema_; the add() that brings the counter to zero
// resets the word to 0 and releases one unit per waiter.
//
// ---- Cond (NotifyList) ----
//
// Go's ticket scheme: wait() takes a ticket (atomic increment of wait_)
// while still holding the Mutex, unlocks it, then queues under the list's
// RuntimeLock — unless notify_ has already passed its ticket, in which case a
// signal came in between and it returns at once. signal advances notify_ by
// one and wakes the waiter with exactly that ticket (it is nearly always at
// the front), broadcast moves notify_ to wait_ and wakes the whole list. So
// wakeups go in ticket (= wait) order, and no signal is lost between the
// unlock and the park.
//
// ---- Profiling hooks ----
//
// The block and mutex hooks (observer.h) cost one relaxed load and a
// predictable branch when unset; nanotime() is read only when one is set at
// the moment a goroutine queues. The block delay is measured by the
// scheduler's BlockTimer, from queueing to the last waker's ready (Go's
// releasetime), once per acquire even when a woken waiter lost the race and
// queued again; waits of plain threads are not reported. The mutex delay is
// charged to the releaser when it dequeues a waiter (Go's mutexevent), from
// the later of the waiter's enqueueing and the previous dequeue, so
// consecutive unlocks do not charge the same wait twice.
#include "runtime/sync.h"

#include "runtime/sched_internal.h"

namespace gort {

namespace detail {

// SyncWaiter is one waiting goroutine or thread (Go's sudog). Lives on the
// waiter's stack; linked into exactly one Sema or NotifyList queue while the
// waiter sleeps. `next` is guarded by that queue's RuntimeLock; the other
// fields are written by the waiter before it queues, or by the waker after
// it has unlinked the node and before it wakes the waiter.
struct SyncWaiter {
  G* g = nullptr;                // the parked goroutine; nullptr: an OS thread sleeping on note
  SyncWaiter* next = nullptr;    // guarded by the queue's lock
  // Sema only (guarded by the semtable root lock): the Sema waited on, and
  // for the front waiter of an address, the next address in the root and
  // the tail of this address's queue.
  const void* addr = nullptr;
  SyncWaiter* anext = nullptr;
  SyncWaiter* qtail = nullptr;
  WaitReason reason = WaitReason::Zero;
  bool ticket = false;           // Sema: the releaser handed its unit over (starvation mode)
  uint32_t notify_ticket = 0;    // NotifyList: the Cond ticket this waiter waits for
  int64_t acquire_ns = 0;        // mutex profiling: start of the delay charged to the next releaser
  Note note;                     // wakeup for a thread waiter (g == nullptr)
};
}  // namespace detail

using detail::SyncWaiter;

// The sizes the essay promises: a Sema is its count (the queue is in the
// semtable), a Mutex is a state word plus one Sema — 8 bytes, as Go's.
static_assert(sizeof(Sema) == 4, "Sema: count only");
static_assert(sizeof(Mutex) == 8, "Mutex: state word + Sema");

namespace {

// A waiter that got a Mutex only after waiting this long switches it to
// starvation mode (Go's starvationThresholdNs).
constexpr int64_t kStarvationThresholdNs = 1'000'000;
// Pause instructions per spin round while waiting for a Mutex holder (Go's
// active_spin_cnt); how many rounds is the scheduler's call (can_spin_on_lock).
constexpr int kActiveSpinPauses = 30;

std::atomic<uint64_t> g_starvation_entries{0};  // atomic, relaxed: stats only
std::atomic<uint64_t> g_sema_handoffs{0};       // atomic, relaxed: stats only

void do_spin() {
  for (int i = 0; i < kActiveSpinPauses; i++) cpu_relax();
}

bool unlock_lock(G*, void* lk) {
  static_cast<RuntimeLock*>(lk)->unlock();
  return true;
}

// sleep_on puts the caller to sleep; w is queued and lk is held on entry.
// lk is released only once the goroutine is switched out (or, for a thread,
// just before it sleeps on its Note). Returns after a waker has woken w.
void sleep_on(SyncWaiter* w, RuntimeLock& lk, WaitReason reason) {
  if (w->g != nullptr) {
    park_g(w->g, &unlock_lock, &lk, reason);
  } else {
    lk.unlock();
    w->note.sleep();
    w->note.clear();
  }
}

// wake makes w's owner runnable. w has been unlinked by the caller and must
// not be touched after this call: its owner may resume and pop the frame.
void wake(SyncWaiter* w) {
  if (G* g = w->g) {
    detail::ready(g);
  } else {
    w->note.wakeup();
  }
}

// less compares wrapping 32-bit tickets (Go's notifyList less).
inline bool ticket_less(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

}  // namespace

SyncStats sync_stats() {
  SyncStats s;
  s.mutex_starvation_entries = g_starvation_entries.load(std::memory_order_relaxed);
  s.sema_handoffs = g_sema_handoffs.load(std::memory_order_relaxed);
  return s;
}

// ---- Sema ----

namespace {

constexpr size_t kSemTableSize = 251;  // prime, as Go's

struct alignas(64) SemaRoot {
  RuntimeLock lock;
  std::atomic<uint32_t> nwait{0};  // waiters in this root; changed under lock, read without it
  SyncWaiter* addrs = nullptr;     // guarded by lock: front waiters, one per distinct address
};

SemaRoot g_semtable[kSemTableSize];

SemaRoot& semroot(const void* addr) {
  return g_semtable[(reinterpret_cast<uintptr_t>(addr) >> 3) % kSemTableSize];
}

// find_front returns the front waiter for addr and the one before it in the
// root's address list (root lock held).
SyncWaiter* find_front(SemaRoot& r, const void* addr, SyncWaiter** prev) {
  *prev = nullptr;
  for (SyncWaiter* h = r.addrs; h != nullptr; *prev = h, h = h->anext)
    if (h->addr == addr) return h;
  return nullptr;
}

// replace_front puts n where front h was in the root's address list.
void replace_front(SemaRoot& r, SyncWaiter* prev, SyncWaiter* h, SyncWaiter* n) {
  n->anext = h->anext;
  if (prev != nullptr) prev->anext = n; else r.addrs = n;
}

// enqueue adds w (w->addr set) to its address's queue (root lock held).
void enqueue(SemaRoot& r, SyncWaiter* w, bool lifo) {
  SyncWaiter* prev;
  SyncWaiter* h = find_front(r, w->addr, &prev);
  w->next = nullptr;
  if (h == nullptr) {
    w->qtail = w;
    w->anext = r.addrs;
    r.addrs = w;
  } else if (lifo) {
    w->next = h;
    w->qtail = h->qtail;
    replace_front(r, prev, h, w);
  } else {
    h->qtail->next = w;
    h->qtail = w;
  }
}

// dequeue unlinks and returns addr's front waiter, or nullptr (root lock held).
SyncWaiter* dequeue(SemaRoot& r, const void* addr) {
  SyncWaiter* prev;
  SyncWaiter* h = find_front(r, addr, &prev);
  if (h == nullptr) return nullptr;
  if (SyncWaiter* n = h->next) {
    n->qtail = h->qtail;
    replace_front(r, prev, h, n);
  } else if (prev != nullptr) {
    prev->anext = h->anext;
  } else {
    r.addrs = h->anext;
  }
  h->next = h->anext = h->qtail = nullptr;
  return h;
}

}  // namespace

void Sema::acquire_slow(WaitReason reason, bool lifo, unsigned profile) {
  SemaRoot& root = semroot(this);
  SyncWaiter w;
  w.g = current_g();
  w.reason = reason;
  w.addr = this;
  BlockTimer block_timer((profile & kProfileBlock) ? w.g : nullptr);
  if ((profile & kProfileMutex) &&
      GORT_UNLIKELY(detail::g_mutex_hook.load(std::memory_order_relaxed) != nullptr))
    w.acquire_ns = nanotime();
  for (;;) {
    root.lock.lock();
    // Announce ourselves before the last look at count_, so that a release
    // after that look sees nwait != 0 and comes for us (see essay).
    root.nwait.fetch_add(1, std::memory_order_seq_cst);
    if (try_acquire()) {
      root.nwait.fetch_sub(1, std::memory_order_relaxed);
      root.lock.unlock();
      break;
    }
    w.ticket = false;
    enqueue(root, &w, lifo);
    sleep_on(&w, root.lock, reason);
    if (w.ticket || try_acquire()) break;
  }
  block_timer.report(reason);
}

void Sema::release(bool handoff) {
  // After this increment *this may be freed by a fast-path acquirer; only
  // the address is used below, unless a parked waiter is found.
  const void* addr = this;
  count_.fetch_add(1, std::memory_order_seq_cst);
  SemaRoot& root = semroot(addr);
  if (root.nwait.load(std::memory_order_seq_cst) == 0) return;  // nobody sleeps; see essay

  root.lock.lock();
  SyncWaiter* w = dequeue(root, addr);
  if (w == nullptr) {  // another release took the last waiter, or waiters are other Semas'
    root.lock.unlock();
    return;
  }
  root.nwait.fetch_sub(1, std::memory_order_relaxed);
  int64_t delay_ns = -1;
  if (w->acquire_ns != 0) {
    int64_t now = nanotime();
    delay_ns = now - w->acquire_ns;
    // The next waiter's delay until now has been charged to us.
    SyncWaiter* prev;
    SyncWaiter* next = find_front(root, addr, &prev);
    if (next != nullptr && next->acquire_ns != 0) next->acquire_ns = now;
  }
  WaitReason reason = w->reason;
  root.lock.unlock();

  if (delay_ns >= 0) {
    if (auto hook = detail::g_mutex_hook.load(std::memory_order_relaxed)) hook(delay_ns, reason);
  }
  // w is still parked, so the object is alive: try_acquire may touch it.
  const bool handed = handoff && try_acquire();
  if (handed) w->ticket = true;
  wake(w);  // w (and possibly *this) is dead to us from here on
  if (handed) {
    g_sema_handoffs.fetch_add(1, std::memory_order_relaxed);
    // Give the waiter (now in our P's runnext) the rest of our time slice.
    G* g = current_g();
    if (g != nullptr && g->status.load(std::memory_order_relaxed) == GStatus::Running) yield();
  }
}

uint32_t Sema::waiters() const {
  SemaRoot& root = semroot(this);
  root.lock.lock();
  uint32_t n = 0;
  SyncWaiter* prev;
  for (SyncWaiter* w = find_front(root, this, &prev); w != nullptr; w = w->next) n++;
  root.lock.unlock();
  return n;
}

// ---- Mutex ----

void Mutex::lock_slow(WaitReason reason) {
  int64_t wait_start_ns = 0;
  bool starving = false;
  bool awoke = false;
  int iter = 0;
  int32_t old = state_.load(std::memory_order_relaxed);
  for (;;) {
    // Spin while the lock is held in normal mode (in starvation mode the
    // lock goes to a waiter, so spinning is pointless). Setting kWoken tells
    // unlock not to wake a parked waiter while we are about to take it.
    if ((old & (kLocked | kStarving)) == kLocked && can_spin_on_lock(iter)) {
      int32_t expected = old;
      if (!awoke && (old & kWoken) == 0 && (old >> kWaiterShift) != 0 &&
          state_.compare_exchange_strong(expected, old | kWoken, std::memory_order_relaxed))
        awoke = true;
      do_spin();
      iter++;
      old = state_.load(std::memory_order_relaxed);
      continue;
    }
    int32_t next = old;
    if ((old & kStarving) == 0) next |= kLocked;  // don't grab a starving mutex: it is handed off
    if (old & (kLocked | kStarving)) next += 1 << kWaiterShift;
    // Switch to starvation mode, but only if the lock is held: unlock
    // expects waiters in starvation mode.
    if (starving && (old & kLocked)) next |= kStarving;
    if (awoke) {
      // We were woken (or claimed kWoken while spinning): clear it, since
      // we either take the lock or go back to sleep.
      if ((next & kWoken) == 0) throw_fatalf("sync: inconsistent mutex state (state %#x)", old);
      next &= ~kWoken;
    }
    if (!state_.compare_exchange_strong(old, next, std::memory_order_acq_rel, std::memory_order_relaxed))
      continue;  // old was reloaded
    if ((old & (kLocked | kStarving)) == 0) break;  // locked it with the CAS
    if ((next & kStarving) && (old & kStarving) == 0)
      g_starvation_entries.fetch_add(1, std::memory_order_relaxed);
    // Queue: at the front if we have been woken before (keep our place).
    const bool lifo = wait_start_ns != 0;
    if (wait_start_ns == 0) wait_start_ns = nanotime();
    sema_.acquire(reason, lifo, Sema::kProfileBlock | Sema::kProfileMutex);
    starving = starving || nanotime() - wait_start_ns > kStarvationThresholdNs;
    old = state_.load(std::memory_order_relaxed);
    if (old & kStarving) {
      // Starvation mode: the unlocker handed the lock to us. The state is
      // "unlocked, not woken, still counting us as a waiter"; fix it up.
      if ((old & (kLocked | kWoken)) || (old >> kWaiterShift) == 0)
        throw_fatalf("sync: inconsistent mutex state (state %#x)", old);
      int32_t delta = kLocked - (1 << kWaiterShift);
      // Leave starvation mode if we did not starve or are the last waiter:
      // staying in it with nobody to hand to would stall the lock.
      if (!starving || (old >> kWaiterShift) == 1) delta -= kStarving;
      state_.fetch_add(delta, std::memory_order_acq_rel);
      break;
    }
    awoke = true;
    iter = 0;
  }
}

void Mutex::unlock_slow(int32_t now) {
  if (((now + kLocked) & kLocked) == 0) throw_fatal("sync: unlock of unlocked mutex");
  if (now & kStarving) {
    // Hand the lock to the front waiter and yield our P to it. kLocked stays
    // clear; the waiter sets it. A newcomer meanwhile sees kStarving and
    // queues instead of taking the lock.
    sema_.release(/*handoff=*/true);
    return;
  }
  int32_t old = now;
  for (;;) {
    // Nothing to do if nobody waits, or someone has already locked it, or a
    // waiter is already awake, or it switched to starvation mode (then the
    // lock belongs to the front waiter and its unlocker will hand it over).
    if ((old >> kWaiterShift) == 0 || (old & (kLocked | kWoken | kStarving))) return;
    int32_t next = (old - (1 << kWaiterShift)) | kWoken;
    if (state_.compare_exchange_strong(old, next, std::memory_order_acq_rel, std::memory_order_relaxed)) {
      sema_.release(/*handoff=*/false);
      return;
    }
  }
}

// ---- RWMutex ----

void RWMutex::rlock_slow() {
  // A writer is pending or active; it releases us in unlock().
  reader_sem_.acquire(WaitReason::SyncRWMutexRLock, false, Sema::kProfileBlock | Sema::kProfileMutex);
}

void RWMutex::runlock_slow(int32_t r) {
  if (r + 1 == 0 || r + 1 == -kMaxReaders) throw_fatal("sync: RUnlock of unlocked RWMutex");
  // A writer is pending: the last reader it waits for lets it in.
  if (reader_wait_.fetch_sub(1, std::memory_order_acq_rel) - 1 == 0) writer_sem_.release(false);
}

void RWMutex::lock() {
  preempt_check();
  // First exclude other writers.
  int32_t unlocked = 0;
  if (!w_.state_.compare_exchange_strong(unlocked, Mutex::kLocked, std::memory_order_acquire,
                                         std::memory_order_relaxed))
    w_.lock_slow(WaitReason::SyncRWMutexLock);
  // Then announce the pending writer to readers and count those inside.
  int32_t r = reader_count_.fetch_sub(kMaxReaders, std::memory_order_acq_rel);
  if (r != 0 && reader_wait_.fetch_add(r, std::memory_order_acq_rel) + r != 0)
    writer_sem_.acquire(WaitReason::SyncRWMutexLock, false, Sema::kProfileBlock | Sema::kProfileMutex);
}

void RWMutex::unlock() {
  // Announce to readers there is no active writer.
  int32_t r = reader_count_.fetch_add(kMaxReaders, std::memory_order_release) + kMaxReaders;
  if (r >= kMaxReaders) throw_fatal("sync: Unlock of unlocked RWMutex");
  // Admit the readers that queued while we held it.
  for (int32_t i = 0; i < r; i++) reader_sem_.release(false);
  w_.unlock();
}

bool RWMutex::try_lock() {
  if (!w_.try_lock()) return false;
  int32_t zero = 0;
  if (!reader_count_.compare_exchange_strong(zero, -kMaxReaders, std::memory_order_acquire,
                                             std::memory_order_relaxed)) {
    w_.unlock();
    return false;
  }
  return true;
}

bool RWMutex::try_rlock() {
  int32_t c = reader_count_.load(std::memory_order_relaxed);
  while (c >= 0) {
    if (reader_count_.compare_exchange_weak(c, c + 1, std::memory_order_acquire, std::memory_order_relaxed))
      return true;
  }
  return false;
}

// ---- WaitGroup ----

void WaitGroup::add(int64_t delta) {
  const uint64_t d = static_cast<uint64_t>(delta) << 32;
  const uint64_t state = state_.fetch_add(d, std::memory_order_acq_rel) + d;
  const int32_t v = static_cast<int32_t>(state >> 32);
  uint32_t waiters = static_cast<uint32_t>(state);
  if (v < 0) throw_fatal("sync: negative WaitGroup counter");
  if (waiters != 0 && delta > 0 && v == static_cast<int32_t>(delta))
    throw_fatal("sync: WaitGroup misuse: Add called concurrently with Wait");
  if (v > 0 || waiters == 0) return;
  // The counter reached zero with waiters parked. Nobody may change the
  // state now: adds must not race with waits, and wait only CASes while the
  // counter is non-zero. Still, check for misuse cheaply.
  if (state_.load(std::memory_order_relaxed) != state)
    throw_fatal("sync: WaitGroup misuse: Add called concurrently with Wait");
  // release: a later wait() that sees 0 must see everything before our add.
  state_.store(0, std::memory_order_release);
  for (; waiters != 0; waiters--) sema_.release(false);
}

void WaitGroup::wait() {
  preempt_check();
  uint64_t state = state_.load(std::memory_order_acquire);
  for (;;) {
    if (static_cast<int32_t>(state >> 32) == 0) return;
    if (state_.compare_exchange_weak(state, state + 1, std::memory_order_acq_rel, std::memory_order_acquire)) {
      sema_.acquire(WaitReason::SyncWaitGroupWait, false, Sema::kProfileBlock);
      if (state_.load(std::memory_order_relaxed) != 0)
        throw_fatal("sync: WaitGroup is reused before previous Wait has returned");
      return;
    }
  }
}

// ---- NotifyList / Cond ----

namespace detail {

void NotifyList::wait(uint32_t t) {
  SyncWaiter w;
  w.g = current_g();
  w.reason = WaitReason::SyncCondWait;
  w.notify_ticket = t;
  BlockTimer block_timer(w.g);
  lock_.lock();
  if (ticket_less(t, notify_.load(std::memory_order_relaxed))) {  // notified before we got here
    lock_.unlock();
    return;
  }
  if (tail_ != nullptr) tail_->next = &w; else head_ = &w;
  tail_ = &w;
  sleep_on(&w, lock_, WaitReason::SyncCondWait);
  block_timer.report(WaitReason::SyncCondWait);
}

void NotifyList::notify_one() {
  // Fast path: no ticket handed out since the last notification.
  if (wait_.load(std::memory_order_acquire) == notify_.load(std::memory_order_acquire)) return;
  lock_.lock();
  const uint32_t t = notify_.load(std::memory_order_relaxed);
  if (t == wait_.load(std::memory_order_acquire)) {
    lock_.unlock();
    return;
  }
  notify_.store(t + 1, std::memory_order_release);
  // Find the holder of ticket t. It is nearly always at the front: waiters
  // queue in ticket order except for small races between add and wait. If
  // it has not queued yet, it will see notify_ > t and not sleep.
  for (SyncWaiter *prev = nullptr, *s = head_; s != nullptr; prev = s, s = s->next) {
    if (s->notify_ticket != t) continue;
    SyncWaiter* n = s->next;
    if (prev != nullptr) prev->next = n; else head_ = n;
    if (n == nullptr) tail_ = prev;
    lock_.unlock();
    s->next = nullptr;
    wake(s);
    return;
  }
  lock_.unlock();
}

void NotifyList::notify_all() {
  if (wait_.load(std::memory_order_acquire) == notify_.load(std::memory_order_acquire)) return;
  lock_.lock();
  SyncWaiter* s = head_;
  head_ = tail_ = nullptr;
  // Every ticket handed out so far is notified: those not yet queued will
  // see it and not sleep.
  notify_.store(wait_.load(std::memory_order_acquire), std::memory_order_release);
  lock_.unlock();
  while (s != nullptr) {
    SyncWaiter* next = s->next;  // read before waking: s dies at wake
    s->next = nullptr;
    wake(s);
    s = next;
  }
}

}  // namespace detail

void Cond::wait() {
  preempt_check();
  const uint32_t t = list_.add();  // take the ticket while still holding m_
  m_.unlock();
  list_.wait(t);
  m_.lock();
}

}  // namespace gort
