// sched.cpp — the goroutine scheduler: G lifecycle, context switches, run
// queues, and the M loop that finds work (Go's proc.go, condensed).
//
// Vocabulary (as Go's proc.go):
//   G  a goroutine: an fcontext on a pooled stack (g.h).
//   M  an OS thread. Each M runs the scheduler on its own thread stack ("g0")
//      and switches into Gs; a G always switches back to its M's g0, which
//      decides what runs next (Go's mcall). Two fcontext jumps per switch.
//   P  a processor: the right to run Go code, with a local run queue
//      (runq.h), a runnext slot, a timer heap, and caches of free Gs and
//      stacks. GOMAXPROCS Ps exist; an M must hold a P to run Gs.
//
// Finding work (find_runnable): own P's timers, every 61st tick the global
// queue (fairness), runnext + local queue, the global queue, a non-blocking
// netpoll, then stealing half of a random victim's queue. An M that finds
// nothing releases its P and parks; the last one blocks in the netpoller
// until the earliest timer.
//
// Spinning Ms (Go's protocol, proc.go "Worker thread parking/unparking"):
// an M looking for work to steal is "spinning" and counted in
// sched.nmspinning; at most (GOMAXPROCS - idle Ps)/2 spin. ready_g()
// and spawn only wake an idle P (wakep) if no M is spinning, since a
// spinning M will find the new work. A spinning M that finds work stops
// spinning and calls wakep so another M takes over the search. An M that
// gives up first decrements nmspinning and *then* re-checks every run queue
// — the two sides order their accesses with full fences (the RMW here, the
// fence in wakep), so a G made runnable concurrently is never lost: either
// the readier sees nmspinning == 0 and wakes an M, or the spinner sees the G.
//
// Rejected alternatives: a single global queue with a lock (the hand-off
// pattern of channels would bounce every G across cores), work sharing by
// pushing to the least-loaded P (needs global knowledge on every ready),
// one M per P without idle parking (burns CPU when idle).
#include <boost/context/detail/fcontext.hpp>

#include <pthread.h>
#include <sys/mman.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <string>

#include "runtime/observer.h"
#include "runtime/sched_internal.h"

#if GORT_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace ctx = boost::context::detail;

namespace gort {

Sched sched;
thread_local M* tls_m = nullptr;
namespace detail {
// Runtime code reads tls_curg/tls_m only in functions that do not switch
// goroutines between two reads (a switch may migrate the G to another
// thread); code in headers goes through the out-of-line curg().
thread_local G* tls_curg = nullptr;
__attribute__((noinline)) G* curg() noexcept { return tls_curg; }
}  // namespace detail
using detail::tls_curg;

const double kLatencyBoundsSeconds[kLatencyBuckets] = {1e-6,   5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4,
                                                       2.5e-4, 5e-4, 1e-3, 1e-2,   1e-1, 1.0};

namespace {

// How often the scheduler takes from the global queue before the local one,
// so that a busy P cannot starve Gs on the global queue (Go uses 61).
constexpr uint32_t kGlobalQueueFairnessTicks = 61;
// Gs kept on a P's free list before half move to the global list.
constexpr int32_t kMaxLocalFreeGs = 64;
// Idle Gs on the global free lists that keep their stack pages resident.
constexpr int32_t kMaxWarmFreeGs = 4096;

// release_stack_pages returns a dead G's whole stack slot to the kernel
// (MADV_DONTNEED: it reads back as zeros). The slot's in-slot descriptor is
// lost with it, which is fine: a G keeps its own copy (G::stack) and keeps
// the slot for life.
void release_stack_pages(G* g) {
  uintptr_t from = g->stack.lo + 4096;  // above the (possible) guard page
  uintptr_t to = g->stack.lo + StackPool::slot_bytes();
  madvise(reinterpret_cast<void*>(from), to - from, MADV_DONTNEED);
}

// SwitchMsg tells g0 why a G switched away. Lives on the G's stack, which
// stays untouched until g0 has finished with it.
struct SwitchMsg {
  enum Kind { Park, Yield, Preempt, Exit, SyscallNoP } kind;
  UnlockFn unlockf = nullptr;
  void* arg = nullptr;
};

// ---- TSC clock for cheap latency stamps ----
double g_ns_per_tick = 0;
std::once_flag g_tsc_once;
void calibrate_tsc() {
  int64_t t0 = nanotime();
  uint64_t c0 = cputicks();
  while (nanotime() - t0 < 2'000'000) cpu_relax();
  int64_t t1 = nanotime();
  uint64_t c1 = cputicks();
  g_ns_per_tick = c1 > c0 ? double(t1 - t0) / double(c1 - c0) : 1.0;
}

// Scheduling latency is sampled like Go's (gTrackingPeriod = 8): one in
// eight transitions out of running is timed until the G runs again.
constexpr uint8_t kTrackingPeriod = 8;

void record_latency(G* g) {
  g->tracking = false;
  uint64_t since = static_cast<uint64_t>(g->runnable_since_ns);
  if (since == 0) return;
  g->runnable_since_ns = 0;
  uint64_t now = cputicks();
  double ns = now > since ? double(now - since) * g_ns_per_tick : 0;
  double s = ns * 1e-9;
  int b = 0;
  while (b < kLatencyBuckets && s > kLatencyBoundsSeconds[b]) b++;
  sched.latency_counts[b].fetch_add(1, std::memory_order_relaxed);
  sched.latency_sum_ns.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

// left_running is called on every transition out of running.
inline void left_running(G* g) {
  if (g->tracking_seq++ % kTrackingPeriod == 0) g->tracking = true;
}

inline void mark_runnable(G* g) {
  if (g->tracking) g->runnable_since_ns = static_cast<int64_t>(cputicks());
  g->status.store(GStatus::Runnable, std::memory_order_release);
}

// ---- ASan fiber annotations ----
#if GORT_ASAN
thread_local const void* tls_g0_bottom = nullptr;
thread_local size_t tls_g0_size = 0;
thread_local void* tls_g0_fake = nullptr;
inline void asan_enter_g(G* g) {
  __sanitizer_start_switch_fiber(&tls_g0_fake, reinterpret_cast<void*>(g->stack.lo), g->stack.size());
}
inline void asan_back_on_g0() { __sanitizer_finish_switch_fiber(tls_g0_fake, nullptr, nullptr); }
inline void asan_leave_g(G* g, bool exiting) {
  __sanitizer_start_switch_fiber(exiting ? nullptr : &g->asan_fake_stack, tls_g0_bottom, tls_g0_size);
}
inline void asan_on_g(G* g) {
  __sanitizer_finish_switch_fiber(g->asan_fake_stack, &tls_g0_bottom, &tls_g0_size);
}
#else
inline void asan_enter_g(G*) {}
inline void asan_back_on_g0() {}
inline void asan_leave_g(G*, bool) {}
inline void asan_on_g(G*) {}
#endif

// ---- P idle list, M idle list (sched.lock held) ----
void pidleput(P* p) {
  p->status.store(PStatus::Idle, std::memory_order_release);
  p->link = sched.pidle;
  sched.pidle = p;
  sched.npidle.fetch_add(1);
}

P* pidleget() {
  P* p = sched.pidle;
  if (p) {
    sched.pidle = p->link;
    p->link = nullptr;
    sched.npidle.fetch_sub(1);
  }
  return p;
}

void mput(M* m) {
  m->link = sched.midle;
  sched.midle = m;
  sched.nmidle++;
}

M* mget() {
  M* m = sched.midle;
  if (m) {
    sched.midle = m->link;
    sched.nmidle--;
  }
  return m;
}

void acquirep(M* m, P* p) {
  m->p = p;
  p->m = m;
  p->status.store(PStatus::Running, std::memory_order_release);
  if (auto* o = observer()) o->on_proc_start(p->id, m->id);
}

P* releasep(M* m) {
  P* p = m->p;
  if (auto* o = observer()) o->on_proc_stop(p->id);
  m->p = nullptr;
  p->m = nullptr;
  return p;
}

// ---- run queues ----
void globrunqput(G* g) {  // sched.lock held
  sched.runq.push_back(g);
  sched.runqsize.fetch_add(1, std::memory_order_relaxed);
}

void globrunqput_batch(GQueue& q, int32_t n) {  // sched.lock held
  sched.runq.push_back_all(q);
  sched.runqsize.fetch_add(n, std::memory_order_relaxed);
}

// globrunqget takes a batch from the global queue into p's local queue and
// returns one G to run. sched.lock held. max 0 = no cap.
G* globrunqget(P* p, int32_t max) {
  int32_t size = sched.runqsize.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  int32_t n = std::min<int32_t>(size, size / sched.gomaxprocs + 1);
  if (max > 0 && n > max) n = max;
  if (n > static_cast<int32_t>(LocalRunQueue::kSize / 2)) n = LocalRunQueue::kSize / 2;
  sched.runqsize.fetch_sub(n, std::memory_order_relaxed);
  G* g = sched.runq.pop();
  for (int32_t i = 1; i < n; i++) {
    G* g2 = sched.runq.pop();
    if (!p->runq.try_put(g2)) GORT_THROW("globrunqget: local queue full");
  }
  return g;
}

// runqput_slow moves half of p's full local queue plus g to the global queue.
bool runqput_slow(P* p, G* g) {
  G* batch[LocalRunQueue::kSize / 2 + 1];
  uint32_t n = p->runq.grab_half_for_spill(batch);
  if (n == 0) return false;
  batch[n] = g;
  GQueue q;
  for (uint32_t i = 0; i <= n; i++) q.push_back(batch[i]);
  std::lock_guard<std::mutex> l(sched.lock);
  globrunqput_batch(q, static_cast<int32_t>(n + 1));
  return true;
}

// runqput puts g on p's local queue; next=true puts it in runnext, kicking
// the previous runnext to the tail (Go's hand-off optimization: the woken G
// inherits the waker's time slice).
void runqput(P* p, G* g, bool next) {
  if (next) {
    G* old = p->runnext.exchange(g);  // seq_cst: also wakep's StoreLoad fence
    if (old == nullptr) return;
    g = old;
  }
  for (;;) {
    if (p->runq.try_put(g)) return;
    if (runqput_slow(p, g)) return;
  }
}

G* runqget(P* p) {
  G* next = p->runnext.load(std::memory_order_relaxed);
  if (next && p->runnext.compare_exchange_strong(next, nullptr, std::memory_order_acq_rel)) return next;
  return p->runq.pop();
}

bool runq_empty(P* p) {
  return p->runq.empty() && p->runnext.load(std::memory_order_acquire) == nullptr;
}

// runqsteal steals half of victim's queue into p; steal_runnext also takes
// victim's runnext (only on the last round, to give a G just readied by a
// running G the chance to run on the readier's P).
G* runqsteal(P* p, P* victim, bool steal_runnext) {
  G* g = p->runq.steal_half(victim->runq);
  if (!g && steal_runnext) {
    G* next = victim->runnext.load(std::memory_order_acquire);
    if (next) {
      // The victim may be about to schedule it; give it a moment as Go does.
      if (victim->status.load(std::memory_order_relaxed) == PStatus::Running) usleep(3);
      if (victim->runnext.compare_exchange_strong(next, nullptr)) g = next;
    }
  }
  if (g) {
    p->steals.fetch_add(1, std::memory_order_relaxed);
    sched.steals.fetch_add(1, std::memory_order_relaxed);
    sched.stolen_gs.fetch_add(1 + p->runq.size(), std::memory_order_relaxed);
  }
  return g;
}

// ---- Ms ----
void mstart(M* m);
void m_loop(M* m);

M* allocm() {
  M* m = new M();
  m->id = sched.mcount.fetch_add(1);
  std::lock_guard<std::mutex> l(sched.lock);
  m->alllink = sched.allm;
  sched.allm = m;
  return m;
}

// newm creates an M that will start with P p (spinning if asked).
void newm(P* p, bool spinning) {
  M* m = allocm();
  m->nextp = p;
  m->spinning = spinning;
  if (auto* o = observer()) o->on_thread_create(m->id);
  m->thread = std::thread([m] { mstart(m); });
}

}  // namespace

// startm hands P p (or an idle P) to an idle or new M. spinning=true means
// the caller already incremented nmspinning for the new M.
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
  // essay). A seq_cst RMW (the runnext exchange) already is one.
  if (!published_with_rmw) std::atomic_thread_fence(std::memory_order_seq_cst);
  if (sched.npidle.load() == 0) return;
  if (sched.nmspinning.load() != 0) return;
  int32_t zero = 0;
  if (!sched.nmspinning.compare_exchange_strong(zero, 1)) return;
  startm(nullptr, true);
}

// handoffp gives away P p released from an M that cannot use it (blocking
// section retaken by sysmon). Starts an M if there is work for it.
void handoffp(P* p) {
  if (!runq_empty(p) || sched.runqsize.load() != 0) {
    startm(p, false);
    return;
  }
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
  if (p->timers.next() != INT64_MAX) netpoll_break();
}

namespace {

// stopm parks the calling M until startm hands it a P. Returns false if the
// runtime is exiting.
bool stopm(M* m) {
  if (m->p) GORT_THROW("stopm holding p");
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

void resetspinning(M* m) {
  m->spinning = false;
  int32_t n = sched.nmspinning.fetch_sub(1) - 1;
  if (n < 0) GORT_THROW("findrunnable: negative nmspinning");
  if (n == 0) wakep();
}

int64_t earliest_timer() {
  int64_t w = INT64_MAX;
  for (P* p : sched.allp) w = std::min(w, p->timers.next());
  return w;
}

}  // namespace

void timers_check_all(int64_t now, GQueue* ready) {
  for (P* p : sched.allp)
    if (p->timers.next() <= now) p->timers.run(now, ready);
}

void inject_glist(GQueue& q) {
  if (q.empty()) return;
  int32_t n = 0;
  for (G* g = q.head; g; g = g->schedlink) {
    mark_runnable(g);
    if (auto* o = observer()) o->on_go_unblock(g, tls_curg);
    n++;
  }
  {
    std::lock_guard<std::mutex> l(sched.lock);
    globrunqput_batch(q, n);
  }
  for (int32_t i = 0; i < n && sched.npidle.load() > 0; i++) startm(nullptr, false);
}

namespace {

// run_timers fires due timers of every P (cheap: one atomic load per P when
// nothing is due) and queues the Gs they woke on m's P.
void run_timers(M* m, int64_t now) {
  GQueue ready;
  timers_check_all(now, &ready);
  bool any = false;
  while (G* g = ready.pop()) {
    mark_runnable(g);
    if (auto* o = observer()) o->on_go_unblock(g, nullptr);
    runqput(m->p, g, false);
    any = true;
  }
  if (any) wakep();  // idle Ps may take some of them
}

// find_runnable returns the next G for m to run, blocking (parking the M)
// until there is one. Returns nullptr only when the runtime exits.
G* find_runnable(M* m) {
top:
  if (sched.exiting.load(std::memory_order_relaxed)) return nullptr;
  if (m->p == nullptr) {
    if (!stopm(m)) return nullptr;
    goto top;
  }
  P* p = m->p;
  if (sched.gcwaiting.load(std::memory_order_relaxed)) {
    gcstopm();
    goto top;
  }
  int64_t now = 0;
  if (earliest_timer() != INT64_MAX) {
    now = nanotime();
    run_timers(m, now);
  }

  // Fairness: every 61st pick, and whenever local work is gone, the global queue.
  if (p->schedtick % kGlobalQueueFairnessTicks == 0 && sched.runqsize.load(std::memory_order_relaxed) > 0) {
    std::lock_guard<std::mutex> l(sched.lock);
    if (G* g = globrunqget(p, 1)) return g;
  }
  if (G* g = runqget(p)) return g;
  if (sched.runqsize.load(std::memory_order_relaxed) > 0) {
    std::lock_guard<std::mutex> l(sched.lock);
    if (G* g = globrunqget(p, 0)) return g;
  }

  // Non-blocking netpoll, unless some M is already blocked in it.
  if (netpoll_has_waiters() && sched.lastpoll.load(std::memory_order_relaxed) != 0) {
    GQueue q = netpoll(0);
    if (G* g = q.pop()) {
      inject_glist(q);
      mark_runnable(g);
      if (auto* o = observer()) o->on_go_unblock(g, nullptr);
      return g;
    }
  }

  // Steal. Limit spinning Ms to half the busy Ps to bound CPU burn.
  {
    int32_t procs = sched.gomaxprocs;
    if (m->spinning || 2 * sched.nmspinning.load() < procs - sched.npidle.load()) {
      if (!m->spinning) {
        m->spinning = true;
        sched.nmspinning.fetch_add(1);
      }
      for (int round = 0; round < 4; round++) {
        uint32_t start = fastrandn(static_cast<uint32_t>(procs));
        for (int32_t i = 0; i < procs; i++) {
          P* victim = sched.allp[(start + static_cast<uint32_t>(i)) % static_cast<uint32_t>(procs)];
          if (victim == p) continue;
          if (sched.gcwaiting.load(std::memory_order_relaxed)) goto top;
          if (G* g = runqsteal(p, victim, round == 3)) return g;
        }
      }
    }
  }

  // Nothing found: give up the P.
  {
    std::unique_lock<std::mutex> l(sched.lock);
    if (sched.gcwaiting.load() || sched.exiting.load()) {
      l.unlock();
      goto top;
    }
    if (sched.runqsize.load() != 0) {
      G* g = globrunqget(p, 0);
      return g;
    }
    releasep(m);
    pidleput(p);
  }
  bool was_spinning = m->spinning;
  if (m->spinning) {
    m->spinning = false;
    if (sched.nmspinning.fetch_sub(1) - 1 < 0) GORT_THROW("findrunnable: negative nmspinning");
  }
  // Re-check every queue after leaving the spinning state (see the essay).
  for (P* p2 : sched.allp) {
    if (!runq_empty(p2)) {
      P* pp;
      {
        std::lock_guard<std::mutex> l(sched.lock);
        pp = pidleget();
      }
      if (pp) {
        acquirep(m, pp);
        if (was_spinning) {
          m->spinning = true;
          sched.nmspinning.fetch_add(1);
        }
        goto top;
      }
      break;
    }
  }
  if (sched.runqsize.load() != 0) {
    std::lock_guard<std::mutex> l(sched.lock);
    if (P* pp = pidleget()) {
      acquirep(m, pp);
      goto top;
    }
  }

  // Block in the netpoller until the earliest timer, if nobody else is.
  int64_t until = earliest_timer();
  if ((netpoll_has_waiters() || until != INT64_MAX) && sched.lastpoll.exchange(0) != 0) {
    sched.poll_until.store(until);
    m->blocked_in_netpoll = true;
    GQueue q = netpoll(until == INT64_MAX ? -1 : until);
    m->blocked_in_netpoll = false;
    sched.poll_until.store(0);
    sched.lastpoll.store(nanotime());
    P* pp;
    {
      std::lock_guard<std::mutex> l(sched.lock);
      pp = pidleget();
    }
    if (pp) {
      acquirep(m, pp);
      if (G* g = q.pop()) {
        inject_glist(q);
        mark_runnable(g);
        if (auto* o = observer()) o->on_go_unblock(g, nullptr);
        return g;
      }
      goto top;
    }
    inject_glist(q);
  }
  if (!stopm(m)) return nullptr;
  goto top;
}

// execute switches m from g0 into g and handles g's switch message when it
// comes back. Runs on g0.
void execute(M* m, G* g) {
  P* p = m->p;
  p->schedtick++;
  p->schedtick_pub.store(p->schedtick, std::memory_order_relaxed);
  p->switches_pub.store(p->switches_pub.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  g->m = m;
  m->curg.store(g, std::memory_order_relaxed);
  g->status.store(GStatus::Running, std::memory_order_relaxed);
  // A fresh time slice: a request aimed at the previous one is void.
  if (GORT_UNLIKELY(g->preempt.load(std::memory_order_relaxed))) {
    g->preempt.store(false, std::memory_order_relaxed);
    g->preempt_requested_ns = 0;
  }
  if (g->tracking) record_latency(g);
  if (auto* o = observer()) o->on_go_start(g, p->id);
  tls_curg = g;
  asan_enter_g(g);
  ctx::transfer_t t = ctx::jump_fcontext(g->ctx, g);
  asan_back_on_g0();
  tls_curg = nullptr;
  m->curg.store(nullptr, std::memory_order_relaxed);
  g->ctx = t.fctx;
  auto* msg = static_cast<SwitchMsg*>(t.data);
  p = m->p;  // a BlockingSection may have changed it
  left_running(g);
  switch (msg->kind) {
    case SwitchMsg::Park:
      g->wait_since_ns = sched.coarse_now_ns.load(std::memory_order_relaxed);
      g->status.store(GStatus::Waiting, std::memory_order_release);
      if (auto* o = observer()) o->on_go_block(g, g->wait_reason);
      if (msg->unlockf && !msg->unlockf(g, msg->arg)) {
        mark_runnable(g);
        if (auto* o = observer()) o->on_go_unblock(g, nullptr);
        runqput(p, g, true);
      }
      break;
    case SwitchMsg::Yield:
      mark_runnable(g);
      if (auto* o = observer()) o->on_go_sched(g);
      runqput(p, g, false);
      break;
    case SwitchMsg::Preempt: {
      mark_runnable(g);
      if (auto* o = observer()) o->on_go_preempt(g);
      std::lock_guard<std::mutex> l(sched.lock);
      globrunqput(g);
      break;
    }
    case SwitchMsg::SyscallNoP: {
      mark_runnable(g);
      std::lock_guard<std::mutex> l(sched.lock);
      globrunqput(g);
      break;
    }
    case SwitchMsg::Exit: {
      g->status.store(GStatus::Dead, std::memory_order_release);
      if (auto* o = observer()) o->on_go_end(g);
      g->labels.reset();
      g->entry = nullptr;
      g->wait_reason = WaitReason::Zero;
      sched.nlive.fetch_sub(1, std::memory_order_relaxed);
      // Keep the stack with the G: the next spawn reuses both.
      g->schedlink = p->gfree;
      p->gfree = g;
      if (++p->ngfree > kMaxLocalFreeGs) {
        // Move half to the global list (sysmon's scavenger gives stack
        // pages of a long-idle surplus back to the kernel, stack_scavenge).
        SpinLock& lk = sched.gfree_lock;
        lk.lock();
        while (p->ngfree > kMaxLocalFreeGs / 2) {
          G* x = p->gfree;
          p->gfree = x->schedlink;
          p->ngfree--;
          x->schedlink = sched.gfree;
          sched.gfree = x;
          sched.ngfree++;
        }
        lk.unlock();
      }
      if (g == sched.main_g) {
        sched.exiting.store(true);
      }
      break;
    }
  }
}

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

void m_loop(M* m) {
  for (;;) {
    G* g = find_runnable(m);
    if (g == nullptr) break;
    if (m->spinning) resetspinning(m);
    execute(m, g);
    if (sched.exiting.load(std::memory_order_relaxed)) break;
  }
  // Release the P (if any) so shutdown can account for it.
  if (m->spinning) {
    m->spinning = false;
    sched.nmspinning.fetch_sub(1);
  }
  if (m->p) releasep(m);
  wake_all_for_exit();
}

#if GORT_ASAN
void asan_init_g0_bounds() {
  pthread_attr_t a;
  pthread_getattr_np(pthread_self(), &a);
  void* addr;
  size_t size;
  pthread_attr_getstack(&a, &addr, &size);
  pthread_attr_destroy(&a);
  tls_g0_bottom = addr;
  tls_g0_size = size;
}
#else
void asan_init_g0_bounds() {}
#endif

void mstart(M* m) {
  tls_m = m;
  signals_thread_init();
  asan_init_g0_bounds();
  if (m->nextp) {
    acquirep(m, m->nextp);
    m->nextp = nullptr;
  }
  m_loop(m);
  signals_thread_exit();
}

// g_entry is the first frame of every goroutine.
void g_entry(ctx::transfer_t t) {
  G* g = static_cast<G*>(t.data);
  asan_on_g(g);
  g->m->g0ctx = t.fctx;
  g->entry(g->arg);
  SwitchMsg msg{SwitchMsg::Exit};
  asan_leave_g(g, true);
  ctx::jump_fcontext(g->m->g0ctx, &msg);
  GORT_THROW("dead goroutine resumed");
}

// switch_to_g0 leaves the running G for its M's scheduler context; returns
// when some M resumes the G.
void switch_to_g0(G* g, SwitchMsg* msg) {
  asan_leave_g(g, false);
  ctx::transfer_t t = ctx::jump_fcontext(g->m->g0ctx, msg);
  asan_on_g(g);
  g->m->g0ctx = t.fctx;  // g->m is the M that resumed us
}

G* gfget(P* p) {
  G* g = p->gfree;
  if (g == nullptr && (sched.gfree != nullptr || sched.gfree_cold != nullptr)) {
    SpinLock& lk = sched.gfree_lock;
    lk.lock();
    sched.gfree_gets++;
    while (p->ngfree < kMaxLocalFreeGs / 2 && (sched.gfree || sched.gfree_cold)) {
      G*& list = sched.gfree ? sched.gfree : sched.gfree_cold;
      G* x = list;
      list = x->schedlink;
      if (&list == &sched.gfree) sched.ngfree--; else sched.ngfree_cold--;
      x->schedlink = p->gfree;
      p->gfree = x;
      p->ngfree++;
    }
    lk.unlock();
    g = p->gfree;
  }
  if (g) {
    p->gfree = g->schedlink;
    p->ngfree--;
    g->schedlink = nullptr;
  }
  return g;
}

}  // namespace

// stack_scavenge (sysmon, about once a second) gives back the stack pages of
// the surplus of idle Gs beyond kMaxWarmFreeGs — but only once spawning has
// stopped drawing on the global free list for a whole interval, so a busy
// spawner keeps its warm stacks and only a finished burst is trimmed (as
// Go's scavenger returns memory lazily rather than on every free). The
// released Gs move to the cold list, which spawns use after the warm one.
void stack_scavenge() {
  static uint64_t last_gets = 0;
  SpinLock& lk = sched.gfree_lock;
  lk.lock();
  bool idle = sched.gfree_gets == last_gets;
  last_gets = sched.gfree_gets;
  if (!idle || sched.ngfree <= kMaxWarmFreeGs) {
    lk.unlock();
    return;
  }
  // Detach the surplus: the Gs below the first kMaxWarmFreeGs of the list.
  G* keep_tail = sched.gfree;
  for (int32_t i = 1; i < kMaxWarmFreeGs; i++) keep_tail = keep_tail->schedlink;
  G* surplus = keep_tail->schedlink;
  keep_tail->schedlink = nullptr;
  int32_t n = sched.ngfree - kMaxWarmFreeGs;
  sched.ngfree = kMaxWarmFreeGs;
  lk.unlock();
  G* last = nullptr;
  for (G* g = surplus; g; g = g->schedlink) {
    release_stack_pages(g);
    last = g;
  }
  lk.lock();
  last->schedlink = sched.gfree_cold;
  sched.gfree_cold = surplus;
  sched.ngfree_cold += n;
  lk.unlock();
}

// ---- spawn ----

G* detail::alloc_g_for_spawn(size_t closure_bytes, size_t closure_align, void** closure_mem) {
  M* m = tls_m;
  P* p = m ? m->p : nullptr;
  if (p == nullptr) GORT_THROW("go: called outside the runtime (use run_main)");
  G* g = gfget(p);
  if (g == nullptr) {
    g = new G();
    g->stack = *p->stacks.get();
    std::lock_guard<std::mutex> l(sched.allglock);
    sched.allgs.push_back(g);
  }
#if GORT_ASAN
  // Frames of the slot's previous goroutine (which exited from inside
  // g_entry, or was discarded at shutdown) leave poisoned redzones behind.
  ASAN_UNPOISON_MEMORY_REGION(reinterpret_cast<void*>(g->stack.lo), g->stack.hi - g->stack.lo);
#endif
  uintptr_t top = g->stack.hi - closure_bytes;
  top &= ~(uintptr_t{closure_align} - 1);
  top &= ~uintptr_t{15};
  if (top - g->stack.guard() < 4096) GORT_THROW("go: closure too large for a goroutine stack");
  *closure_mem = reinterpret_cast<void*>(top);
  g->arg = *closure_mem;
  // The fcontext's frame goes below the closure.
  g->ctx = ctx::make_fcontext(reinterpret_cast<void*>(top), top - g->stack.lo, &g_entry);
  return g;
}

void detail::start_g(G* g, void (*entry)(void*), uintptr_t startpc, uintptr_t gopc) {
  M* m = tls_m;
  P* p = m->p;
  G* parent = tls_curg;
  g->entry = entry;
  g->startpc = startpc;
  g->gopc = gopc;
  g->id = sched.goidgen.fetch_add(1, std::memory_order_relaxed) + 1;
  g->parent_id = parent ? parent->id : 0;
  if (parent && parent->labels) g->labels = parent->labels;
  g->preempt.store(false, std::memory_order_relaxed);
  g->wait_reason = WaitReason::Zero;
  g->tracking_seq = static_cast<uint8_t>(fastrand());
  g->tracking = g->tracking_seq % kTrackingPeriod == 0;
  sched.nlive.fetch_add(1, std::memory_order_relaxed);
  sched.goroutines_created.fetch_add(1, std::memory_order_relaxed);
  mark_runnable(g);
  if (auto* o = observer()) o->on_go_create(g, parent);
  runqput(p, g, true);
  wakep(/*published_with_rmw=*/true);
}

// ---- park / ready / yield ----

void park_g(UnlockFn unlockf, void* arg, WaitReason reason) {
  G* g = tls_curg;
  if (g == nullptr) GORT_THROW("park: not on a goroutine");
  check_stack(g);
  g->wait_reason = reason;
  SwitchMsg msg{SwitchMsg::Park, unlockf, arg};
  switch_to_g0(g, &msg);
}

void detail::park_current(bool (*unlockf)(G*, void*), void* arg, WaitReason reason) {
  park_g(unlockf, arg, reason);
}

void ready_g(G* g, bool next) {
  mark_runnable(g);
  if (auto* o = observer()) o->on_go_unblock(g, tls_curg);
  M* m = tls_m;
  if (m && m->p) {
    runqput(m->p, g, next);
  } else {
    std::lock_guard<std::mutex> l(sched.lock);
    globrunqput(g);
  }
  wakep(/*published_with_rmw=*/next && m && m->p);
}

void detail::ready(G* g) { ready_g(g, true); }

void yield() {
  G* g = tls_curg;
  if (g == nullptr) {
    sched_yield();
    return;
  }
  check_stack(g);
  g->preempt.store(false, std::memory_order_relaxed);
  g->preempt_requested_ns = 0;
  SwitchMsg msg{SwitchMsg::Yield};
  switch_to_g0(g, &msg);
}

void detail::preempt_park() {
  G* g = tls_curg;
  check_stack(g);
  g->preempt.store(false, std::memory_order_relaxed);
  if (g->preempt_requested_ns) {
    int64_t lat = nanotime() - g->preempt_requested_ns;
    g->preempt_requested_ns = 0;
    sched.preemptions.fetch_add(1, std::memory_order_relaxed);
    sched.preempt_latency_sum_ns.fetch_add(static_cast<uint64_t>(lat), std::memory_order_relaxed);
    int64_t mx = sched.preempt_latency_max_ns.load(std::memory_order_relaxed);
    while (lat > mx && !sched.preempt_latency_max_ns.compare_exchange_weak(mx, lat)) {
    }
  }
  SwitchMsg msg{SwitchMsg::Preempt};
  switch_to_g0(g, &msg);
}

void detail::check_stack_slow(G* g) {
  throw_fatalf("stack overflow in goroutine %" PRId64 " (stack [%#" PRIxPTR ", %#" PRIxPTR "), sp %p)",
               g->id, g->stack.lo, g->stack.hi, __builtin_frame_address(0));
}

// exitsyscall's slow path: no P could be had; queue g and stop the M.
void syscall_park_without_p(G* g) {
  SwitchMsg msg{SwitchMsg::SyscallNoP};
  switch_to_g0(g, &msg);
}

// ---- queries ----

G* current_g() { return tls_curg; }
bool on_goroutine() { return tls_curg != nullptr; }
int64_t goid() { return tls_curg ? tls_curg->id : 0; }
int gomaxprocs() { return sched.gomaxprocs; }
int64_t num_goroutine() { return sched.nlive.load(std::memory_order_relaxed); }

void set_labels(Labels labels) {
  if (G* g = tls_curg) g->labels = std::move(labels);
}
Labels get_labels() { return tls_curg ? tls_curg->labels : nullptr; }

SchedStats sched_stats() {
  SchedStats s;
  s.gomaxprocs = sched.gomaxprocs;
  s.goroutines = sched.nlive.load();
  s.threads = sched.mcount.load();
  s.idle_procs = sched.npidle.load();
  s.spinning_threads = sched.nmspinning.load();
  {
    std::lock_guard<std::mutex> l(sched.lock);
    s.idle_threads = sched.nmidle;
  }
  s.global_runq = sched.runqsize.load();
  for (P* p : sched.allp)
    s.local_runq.push_back(p->runq.size() + (p->runnext.load(std::memory_order_relaxed) ? 1 : 0));
  s.goroutines_created = sched.goroutines_created.load();
  s.steals = sched.steals.load();
  s.stolen_gs = sched.stolen_gs.load();
  s.preempt_requests = sched.preempt_requests.load();
  s.preemptions = sched.preemptions.load();
  s.preempt_latency_max_ns = sched.preempt_latency_max_ns.load();
  s.preempt_latency_sum_ns = sched.preempt_latency_sum_ns.load();
  s.handoffs = sched.handoffs.load();
  for (P* p : sched.allp) s.context_switches += p->switches_pub.load(std::memory_order_relaxed);
  s.stw_count = sched.stw_count.load();
  s.stw_max_ns = sched.stw_max_ns.load();
  s.netpoll_polls = sched.netpoll_polls.load();
  return s;
}

LatencyHistogram sched_latency() {
  LatencyHistogram h;
  for (int i = 0; i <= kLatencyBuckets; i++) {
    h.counts[i] = sched.latency_counts[i].load(std::memory_order_relaxed);
    h.total += h.counts[i];
  }
  h.sum_seconds = double(sched.latency_sum_ns.load()) * 1e-9;
  return h;
}

// ---- run_main ----

namespace {

int default_procs() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1L, sysconf(_SC_NPROCESSORS_ONLN));
}

int64_t env_int(const char* name, int64_t dflt) {
  const char* v = getenv(name);
  if (!v || !*v) return dflt;
  char* end;
  long long x = strtoll(v, &end, 10);
  return (*end == 0 && x > 0) ? x : dflt;
}

// godebug_int parses key=N from $GODEBUG.
int64_t godebug_int(const char* key, int64_t dflt) {
  const char* v = getenv("GODEBUG");
  if (!v) return dflt;
  std::string s(v), k = std::string(key) + "=";
  size_t pos = 0;
  while (pos <= s.size()) {
    size_t comma = s.find(',', pos);
    if (comma == std::string::npos) comma = s.size();
    std::string item = s.substr(pos, comma - pos);
    if (item.rfind(k, 0) == 0) return strtoll(item.c_str() + k.size(), nullptr, 10);
    pos = comma + 1;
  }
  return dflt;
}

void reset_sched_state() {
  sched.runq = GQueue{};
  sched.runqsize = 0;
  sched.pidle = nullptr;
  sched.npidle = 0;
  sched.midle = nullptr;
  sched.nmidle = 0;
  sched.nmspinning = 0;
  sched.allm = nullptr;
  sched.mcount = 0;
  sched.allp.clear();
  sched.gcwaiting = false;
  sched.stopwait = 0;
  sched.stopnote.clear();
  sched.lastpoll = nanotime();
  sched.poll_until = 0;
  sched.exiting = false;
  sched.main_g = nullptr;
  sched.allgs.clear();
  sched.goidgen = 0;
  sched.nlive = 0;
  sched.gfree = nullptr;
  sched.ngfree = 0;
  sched.gfree_cold = nullptr;
  sched.ngfree_cold = 0;
  sched.gfree_gets = 0;
  sched.goroutines_created = 0;
  sched.steals = 0;
  sched.stolen_gs = 0;
  sched.preempt_requests = 0;
  sched.preemptions = 0;
  sched.preempt_latency_max_ns = 0;
  sched.preempt_latency_sum_ns = 0;
  sched.handoffs = 0;
  sched.stw_count = 0;
  sched.stw_max_ns = 0;
  sched.netpoll_polls = 0;
  for (auto& c : sched.latency_counts) c = 0;
  sched.latency_sum_ns = 0;
}

}  // namespace

void netpoll_init();

int run_main(std::function<void()> main_fn, Config cfg) {
  if (tls_m != nullptr) GORT_THROW("run_main: runtime already running on this thread");
  std::call_once(g_tsc_once, calibrate_tsc);
  reset_sched_state();
  sched.start_ns = nanotime();
  sched.coarse_now_ns = sched.start_ns;
  int procs = cfg.gomaxprocs > 0 ? cfg.gomaxprocs : static_cast<int>(env_int("GOMAXPROCS", default_procs()));
  sched.gomaxprocs = procs;
  size_t stack_bytes = cfg.stack_bytes ? cfg.stack_bytes : static_cast<size_t>(env_int("GORT_STACK_KB", 256)) * 1024;
  const char* guards = getenv("GORT_GUARDED_STACKS");
  StackPool::init(stack_bytes, guards && *guards ? strtoull(guards, nullptr, 10) : kDefaultGuardedSlots);
  sched.schedtrace_ms = cfg.schedtrace_ms >= 0 ? cfg.schedtrace_ms : godebug_int("schedtrace", 0);
  sched.scheddetail = cfg.scheddetail >= 0 ? cfg.scheddetail != 0 : godebug_int("scheddetail", 0) != 0;
  for (int i = 0; i < procs; i++) {
    P* p = new P();
    p->id = i;
    sched.allp.push_back(p);
  }
  netpoll_init();
#if !GORT_ASAN  // ASan reports faults itself, with better detail
  signals_install();
#endif
  M* m0 = allocm();
  tls_m = m0;
  signals_thread_init();
  asan_init_g0_bounds();
  {
    std::lock_guard<std::mutex> l(sched.lock);
    for (int i = procs - 1; i >= 1; i--) pidleput(sched.allp[i]);
  }
  acquirep(m0, sched.allp[0]);
  if (auto* o = observer()) o->on_thread_create(m0->id);

  std::function<void()> fn = std::move(main_fn);
  {
    // main_g must be known before the main goroutine is runnable: another M
    // may start it (and it may exit) the moment start_g publishes it.
    auto main_entry = [&fn] { fn(); };
    using Fn = decltype(main_entry);
    void* mem;
    G* g = detail::alloc_g_for_spawn(sizeof(Fn), alignof(Fn), &mem);
    new (mem) Fn(std::move(main_entry));
    sched.main_g = g;
    detail::start_g(g, &detail::invoke_and_destroy<Fn>, reinterpret_cast<uintptr_t>(&detail::invoke_and_destroy<Fn>),
                    reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
  }
  sysmon_start();
  m_loop(m0);

  // Shutdown: every M leaves its loop once sched.exiting is set.
  sysmon_stop();
  wake_all_for_exit();
  std::vector<M*> ms;
  {
    std::lock_guard<std::mutex> l(sched.lock);
    for (M* m = sched.allm; m; m = m->alllink) ms.push_back(m);
  }
  for (M* m : ms) {
    if (m->thread.joinable()) {
      // An M stuck in a BlockingSection cannot be joined; leave it running.
      m->thread.join();
    }
  }
  netpoll_shutdown();
  tls_m = nullptr;
  for (P* p : sched.allp) delete p;
  sched.allp.clear();
  for (M* m : ms) delete m;
  for (G* g : sched.allgs) delete g;
  sched.allgs.clear();
  StackPool::release_all();
  return 0;
}

}  // namespace gort

namespace gort {
// acquirep_public lets syscall.cpp and stw.cpp attach a P to an M.
void acquirep_public(M* m, P* p) { acquirep(m, p); }
P* pidleget_locked() { return pidleget(); }
void pidleput_locked(P* p) { pidleput(p); }
bool runq_has_work(P* p) { return !runq_empty(p); }
void gcstopm() {
  M* m = tls_m;
  if (m->spinning) {
    m->spinning = false;
    sched.nmspinning.fetch_sub(1);
  }
  P* p = releasep(m);
  std::lock_guard<std::mutex> l(sched.lock);
  p->status.store(PStatus::GCStop);
  if (--sched.stopwait == 0) sched.stopnote.wakeup();
}
}  // namespace gort
