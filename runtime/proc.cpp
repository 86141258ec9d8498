// proc.cpp — Ms and Ps: the idle lists, attaching and detaching a P,
// starting, parking and waking Ms, handing a P to another M (Go's proc.go:
// mput/mget, pidleput/pidleget, acquirep/releasep, startm, wakep, stopm,
// handoffp, newm, mstart).
//
// An M runs goroutines only while it holds a P. An M with nothing to do
// releases its P to the idle list and parks on its Note (stopm); whoever
// makes work available and sees an idle P and no spinning M starts one
// (wakep → startm), handing it a P through m->nextp before the wake-up.
// The spinning protocol that keeps this race-free is explained at the top
// of sched.cpp.
#include <sched.h>

#include <algorithm>
#include <thread>

#include "runtime/sched_internal.h"

namespace gort {

namespace {

// Spin rounds a goroutine waiting for a sync.Mutex may make before parking
// (Go's active_spin).
constexpr int kLockSpinRounds = 4;

void mput(M* m) {  // (L)
  m->link = sched.midle;
  sched.midle = m;
  sched.nmidle++;
}

M* mget() {  // (L)
  M* m = sched.midle;
  if (m != nullptr) {
    sched.midle = m->link;
    sched.nmidle--;
  }
  return m;
}

void mstart(M* m);

// newm_lock serializes M creation with shutdown: run_main's shutdown sets
// sched.exiting, then takes this lock once (newm_barrier) before it lists
// the Ms to join, so no M is half-created (on allm, thread not yet started)
// when it looks, and none is created after.
std::mutex newm_lock;

// newm creates an M that will start with P p (spinning if asked), unless
// the runtime is exiting. The creating stack is recorded for the
// threadcreate profile. Takes newm_lock, then sched.lock (allocm).
void newm(P* p, bool spinning) {
  std::lock_guard<std::mutex> creating(newm_lock);
  if (sched.exiting.load()) {
    // main has returned: the goroutine that wanted this M is discarded.
    if (spinning) sched.nmspinning.fetch_sub(1);
    return;
  }
  M* m = allocm();
  m->nextp = p;
  m->spinning = spinning;
  m->ncreator_pcs = capture_stack(m->creator_pcs, ThreadInfo::kMaxCreatorPcs);
  m->thread = std::thread([m] { mstart(m); });
}

// mstart is the body of every M's thread but M0's.
void mstart(M* m) {
  m_start_current(m);
  if (m->nextp != nullptr) {
    acquirep(m, m->nextp);
    m->nextp = nullptr;
  }
  m_loop(m);
  m_exit_current(m);
}

}  // namespace

void pidleput(P* p) {  // (L)
  p->status.store(PStatus::Idle, std::memory_order_release);
  p->link = sched.pidle;
  sched.pidle = p;
  sched.npidle.fetch_add(1);
}

P* pidleget() {  // (L)
  P* p = sched.pidle;
  if (p != nullptr) {
    sched.pidle = p->link;
    p->link = nullptr;
    sched.npidle.fetch_sub(1);
  }
  return p;
}

// acquirep attaches p to m. Never called with a runtime lock held (it
// emits on_proc_start).
void acquirep(M* m, P* p) {
  m->p = p;
  p->m.store(m, std::memory_order_release);
  p->status.store(PStatus::Running, std::memory_order_release);
  GORT_EVENT(on_proc_start, p->id, m->id);
}

// releasep detaches m's P and returns it. The caller emits on_proc_stop
// once it holds no lock (release usually happens under sched.lock).
P* releasep(M* m) {
  P* p = m->p;
  m->p = nullptr;
  p->m.store(nullptr, std::memory_order_relaxed);
  return p;
}

M* allocm() {
  M* m = new M();
  m->id = sched.mcount.fetch_add(1);
  std::lock_guard<std::mutex> l(sched.lock);
  m->alllink = sched.allm;
  sched.allm = m;
  return m;
}

void m_start_current(M* m) {
  tls_m = m;
  signals_thread_init();
  thread_register(m);
  switch_thread_init(m);
}

void m_exit_current(M* m) {
  switch_thread_exit(m);
  thread_unregister();
  m->thread_info = nullptr;
  signals_thread_exit();
  tls_m = nullptr;
}

void startm(P* p, bool spinning) {
  std::unique_lock<std::mutex> l(sched.lock);
  if (p == nullptr) {
    p = pidleget();
    if (p == nullptr) {
      l.unlock();
      if (spinning) sched.nmspinning.fetch_sub(1);
      return;
    }
  }
  M* m = mget();
  l.unlock();
  if (m == nullptr) {
    newm(p, spinning);
    return;
  }
  m->spinning = spinning;
  m->nextp = p;
  m->park.wakeup();
}

void wakep(bool published_with_rmw) {
  // StoreLoad between publishing the G and reading nmspinning (see the
  // essay in sched.cpp). A seq_cst RMW (the runnext exchange) already is one.
  // (With one P, runnext is written without one, but then the caller holds
  // the only P and there is no idle P to wake.)
  if (!published_with_rmw) std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sched.npidle.load() == 0) return;
  if (sched.nmspinning.load() != 0) return;
  int32_t zero = 0;
  if (!sched.nmspinning.compare_exchange_strong(zero, 1)) return;
  startm(nullptr, true);
}

void handoffp(P* p) {
  // Work to do: start an M right away.
  if (!runq_empty(p) || sched.runqsize.load() != 0) {
    startm(p, false);
    return;
  }
  // No spinning or idle M: this one spins, so new work is noticed.
  if (sched.nmspinning.load() + sched.npidle.load() == 0) {
    int32_t zero = 0;
    if (sched.nmspinning.compare_exchange_strong(zero, 1)) {
      startm(p, true);
      return;
    }
  }
  std::unique_lock<std::mutex> l(sched.lock);
  if (sched.gcwaiting.load()) {
    p->status.store(PStatus::GCStop);
    if (--sched.stopwait == 0) sched.stopnote.wakeup();
    return;
  }
  if (sched.runqsize.load() != 0) {
    l.unlock();
    startm(p, false);
    return;
  }
  pidleput(p);
  l.unlock();
  // Its timers still need someone: make the M blocked in netpoll (if any)
  // recompute its deadline.
  if (p->timers.next() != INT64_MAX) netpoll_break();
}

bool stopm(M* m) {
  if (m->p != nullptr) GORT_THROW("stopm holding p");
  if (m->spinning) GORT_THROW("stopm spinning");
  {
    std::lock_guard<std::mutex> l(sched.lock);
    if (sched.exiting.load()) return false;
    mput(m);
  }
  m->park.sleep();
  m->park.clear();
  if (sched.exiting.load() && m->nextp == nullptr) return false;
  acquirep(m, m->nextp);
  m->nextp = nullptr;
  return true;
}

void newm_barrier() { std::lock_guard<std::mutex> creating(newm_lock); }

void wake_all_for_exit() {
  std::vector<M*> ms;
  {
    std::lock_guard<std::mutex> l(sched.lock);
    sched.exiting.store(true);
    while (M* m = mget()) ms.push_back(m);
  }
  for (M* m : ms) m->park.wakeup();
  netpoll_break();
}

GORT_TLS_READER bool can_spin_on_lock(int iter) {
  static const unsigned ncpu = std::thread::hardware_concurrency();
  if (iter >= kLockSpinRounds || ncpu <= 1) return false;
  M* m = tls_m;
  if (m == nullptr || m->p == nullptr || detail::tls_curg == nullptr) return false;
  // Spin only if another P is running — the holder may be on it.
  if (sched.gomaxprocs <= sched.npidle.load(std::memory_order_relaxed) +
                              sched.nmspinning.load(std::memory_order_relaxed) + 1)
    return false;
  return runq_empty(m->p);
}

}  // namespace gort
