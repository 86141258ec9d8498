// sched.cpp — the scheduler loop: what an M does between goroutines (Go's
// schedule and findRunnable, in proc.go).
//
// Vocabulary (defined once; see also sched_internal.h):
//   G  a goroutine: an fcontext on a pooled stack.
//   M  an OS thread. Each M runs this loop on its own thread stack ("g0")
//      and switches into Gs (switch.cpp).
//   P  a processor: the right to run goroutines, with a local run queue
//      (runq.h), a runnext slot, a timer heap, and caches of free Gs and
//      stacks. GOMAXPROCS Ps exist; an M must hold a P to run Gs.
//
// find_runnable looks for work in Go's order, one named step each:
//   0. find_gc_worker    while the collector marks, its mark worker for
//                        this P if its plan wants one (scan.h WorkerSource,
//                        Go's findRunnableGCWorker)
//   1. check_own_timers  fire the P's own due timers (only its own: other
//                        Ps' timers are run by whoever steals from them)
//      poll_if_due       a non-blocking netpoll if nobody has polled for
//                        100 µs (not in Go: see the function)
//   2. take_local_work   every 61st tick the global queue first (fairness),
//                        then runnext and the local queue, then the global
//                        queue
//   3. poll_network      a non-blocking netpoll, unless an M blocks in it
//   4. steal_work        up to four rounds over the other Ps in random
//                        order, taking half a victim's queue; the last round
//                        also fires victims' due timers and takes runnext
//   4b. find_gc_worker   (idle) an idle-priority mark worker, before the
//                        P is given up
//   5. release_p         nothing found: give the P back (re-checking the
//                        global queue under sched.lock), then, if we were
//                        spinning, re-check every queue (see below)
//   6. block_in_netpoll  if no other M does, sleep in the netpoller until
//                        the earliest timer of any P or an I/O completion
//   7. stopm             park the M until someone hands it a P
//
// Spinning Ms (Go's protocol, proc.go "Worker thread parking/unparking"):
// an M looking for work to steal is "spinning" and counted in
// sched.nmspinning; at most (GOMAXPROCS - idle Ps)/2 spin. ready_g and spawn
// only wake an idle P (wakep) if no M is spinning, since a spinning M will
// find the new work. A spinning M that finds work stops spinning and calls
// wakep so another M takes over the search. An M that gives up first
// decrements nmspinning and *then* re-checks every run queue — the two
// sides order their accesses with full fences (the RMW here, the fence in
// wakep), so a G made runnable concurrently is never lost: either the
// readier sees nmspinning == 0 and wakes an M, or the spinner sees the G.
//
// Rejected alternatives: a single global queue with a lock (the hand-off
// pattern of channels would bounce every G across cores), work sharing by
// pushing to the least-loaded P (needs global knowledge on every ready),
// one M per P without idle parking (burns CPU when idle), every
// scheduling pass checking every P's timers (a cache miss per P per pass).
#include <algorithm>

#include "runtime/sched_internal.h"

namespace gort {

namespace {

// Steal rounds over all Ps before giving up (Go's stealTries).
constexpr int kStealRounds = 4;
// A busy P polls the network when nobody has for this long (poll_if_due).
constexpr int64_t kBusyNetpollPeriodNs = 100'000;

// run_timers_into fires victim's timers due at now and queues the Gs they
// wake on p. Returns whether any G was woken.
bool run_timers_into(P* p, P* victim, int64_t now) {
  GQueue woken;
  victim->timers.run(now, &woken);
  if (woken.empty()) return false;
  while (G* g = woken.pop()) {
    make_ready(g, nullptr);
    runqput(p, g, false);
  }
  wakep();  // idle Ps may take some of them
  return true;
}

// 1. check_own_timers fires p's due timers; reads the clock only if p has a
// timer at all. Returns the time it read (0 if none).
int64_t check_own_timers(P* p) {
  int64_t when = p->timers.next();
  if (when == INT64_MAX) return 0;
  int64_t now = nanotime();
  if (when <= now) run_timers_into(p, p, now);
  return now;
}

// claim_poll: true if the caller may poll the network now — nobody has for
// period_ns and no M blocks in the netpoller — recording the poll in
// sched.lastpoll (one poller at a time wins the CAS).
bool claim_poll(int64_t* now, int64_t period_ns) {
  if (!netpoll_has_waiters()) return false;
  int64_t last = sched.lastpoll.load(std::memory_order_relaxed);
  if (last == 0) return false;  // an M blocks in the netpoller: it sees readiness itself
  if (*now == 0) *now = nanotime();
  if (*now - last < period_ns) return false;
  return sched.lastpoll.compare_exchange_strong(last, *now);
}

// 1b. poll_if_due: while every P is busy, Go notices network readiness only
// when a P runs out of work or sysmon polls (every 10 ms), so under a
// CPU-bound load the readiness of every connection piles up and is found in
// one large batch, in epoll's order rather than the order it happened: with
// 16 connections of /work?n=200000 on 2 Ps, batches of ~12 and a p99
// latency 2.1x the median. Polling when nobody has for kBusyNetpollPeriodNs
// keeps batches small; what it finds queues behind the work already
// runnable (global queue), so arrival order is kept. The cost is one
// non-blocking epoll_wait per 100 µs of busy time. A P without queued work
// leaves it to poll_network, which polls anyway.
void poll_if_due(P* p, int64_t* now) {
  if (runq_empty(p) && sched.runqsize.load(std::memory_order_relaxed) == 0) return;
  if (!claim_poll(now, kBusyNetpollPeriodNs)) return;
  GQueue q = netpoll(0);
  inject_glist(q);
}

// 2. take_local_work: runnext and the local queue, with the global queue
// first every kGlobalQueueFairnessTicks and last otherwise.
G* take_local_work(P* p, bool* inherit) {
  *inherit = false;
  if (p->schedtick.load(std::memory_order_relaxed) % kGlobalQueueFairnessTicks == 0 &&
      sched.runqsize.load(std::memory_order_relaxed) > 0) {
    std::lock_guard<std::mutex> l(sched.lock);
    if (G* g = globrunqget(p, 1)) return g;
  }
  if (G* g = runqget(p, inherit)) return g;
  if (sched.runqsize.load(std::memory_order_relaxed) > 0) {
    std::lock_guard<std::mutex> l(sched.lock);
    if (G* g = globrunqget(p, 0)) return g;
  }
  return nullptr;
}

// first_of makes the Gs of q runnable: returns the first to run now and
// injects the rest onto the global queue.
G* first_of(GQueue& q) {
  G* g = q.pop();
  if (g == nullptr) return nullptr;
  inject_glist(q);
  make_ready(g, nullptr);
  return g;
}

// 3. poll_network: a non-blocking netpoll, unless an M is blocked in it or
// another M is polling.
G* poll_network(int64_t* now) {
  if (!claim_poll(now, 0)) return nullptr;
  GQueue q = netpoll(0);
  return first_of(q);
}

// 4. steal_work: take half of another P's queue. Returns nullptr with
// *retry set when a stop-the-world needs the M first.
G* steal_work(M* m, P* p, int64_t now, bool* retry) {
  int32_t procs = sched.gomaxprocs;
  // Limit spinning Ms to half the busy Ps to bound the CPU they burn.
  if (!m->spinning && 2 * sched.nmspinning.load() >= procs - sched.npidle.load()) return nullptr;
  if (!m->spinning) {
    m->spinning = true;
    sched.nmspinning.fetch_add(1);
  }
  for (int round = 0; round < kStealRounds; round++) {
    const bool last = round == kStealRounds - 1;
    uint32_t start = fastrandn(static_cast<uint32_t>(procs));
    for (int32_t i = 0; i < procs; i++) {
      P* victim = sched.allp[(start + static_cast<uint32_t>(i)) % static_cast<uint32_t>(procs)];
      if (victim == p) continue;
      if (sched.gcwaiting.load(std::memory_order_relaxed)) {
        *retry = true;
        return nullptr;
      }
      // Another P's timers are ours to run when its owner is busy or idle.
      if (last && victim->timers.next() != INT64_MAX) {
        if (now == 0) now = nanotime();
        if (victim->timers.next() <= now && run_timers_into(p, victim, now)) {
          bool inherit;
          if (G* g = runqget(p, &inherit)) return g;
        }
      }
      if (G* g = runqsteal(p, victim, last)) return g;
    }
  }
  return nullptr;
}

// 5. release_p gives p back to the idle list unless the global queue has
// work (returned) or a stop-the-world or exit needs the loop (*retry).
G* release_p(M* m, P* p, bool* retry) {
  {
    std::unique_lock<std::mutex> l(sched.lock);
    if (sched.gcwaiting.load() || sched.exiting.load()) {
      *retry = true;
      return nullptr;
    }
    if (sched.runqsize.load() != 0) return globrunqget(p, 0);
    releasep(m);
    // The one event fired under sched.lock (observer.h): once p is on the
    // idle list another M may take it and emit its on_proc_start, which
    // must not overtake this stop.
    GORT_EVENT(on_proc_stop, p->id);
    pidleput(p);
  }
  return nullptr;
}

// acquire_idle_p takes an idle P for m; false if there is none.
bool acquire_idle_p(M* m) {
  P* p;
  {
    std::lock_guard<std::mutex> l(sched.lock);
    p = pidleget();
  }
  if (p == nullptr) return false;
  acquirep(m, p);
  return true;
}

// recheck_after_spinning: an M that stopped spinning looks once more at
// every run queue (the other half of the spinning protocol). Returns true
// if it took a P back because there is work.
bool recheck_after_spinning(M* m, bool was_spinning) {
  if (was_spinning) {
    m->spinning = false;
    if (sched.nmspinning.fetch_sub(1) - 1 < 0) GORT_THROW("find_runnable: negative nmspinning");
    for (P* p2 : sched.allp) {
      if (runq_empty(p2)) continue;
      if (!acquire_idle_p(m)) break;
      m->spinning = true;
      sched.nmspinning.fetch_add(1);
      return true;
    }
  }
  return sched.runqsize.load() != 0 && acquire_idle_p(m);
}

// 6. block_in_netpoll sleeps in the netpoller until the earliest timer or
// an I/O completion, if there is anything to wait for and no other M does.
// If another M already blocks there, it makes sure that M wakes in time for
// the earliest timer — the P this M just gave up may hold it, and an idle P
// runs its timers only when somebody takes or steals from it (Go's
// findRunnable does the same netpollBreak). Returns a G to run (with a P
// acquired), or nullptr — then *retry says whether m got a P and should
// look again.
G* block_in_netpoll(M* m, bool* retry) {
  int64_t until = earliest_timer();
  if (!netpoll_has_waiters() && until == INT64_MAX) return nullptr;
  if (sched.lastpoll.exchange(0) == 0) {  // another M blocks there
    int64_t theirs = sched.poll_until.load();
    if (until != INT64_MAX && (theirs == 0 || theirs > until)) netpoll_break();
    return nullptr;
  }
  sched.poll_until.store(until);
  m->blocked_in_netpoll.store(true, std::memory_order_relaxed);
  GQueue q = netpoll(until == INT64_MAX ? -1 : until);
  m->blocked_in_netpoll.store(false, std::memory_order_relaxed);
  sched.poll_until.store(0);
  sched.lastpoll.store(nanotime());
  if (!acquire_idle_p(m)) {
    inject_glist(q);
    return nullptr;
  }
  *retry = true;
  return first_of(q);
}

// find_runnable returns the next G for m to run, parking the M until there
// is one; *inherit: the G keeps the P's time slice. Returns nullptr only
// when the runtime exits.
G* find_runnable(M* m, bool* inherit) {
  for (;;) {
    *inherit = false;
    if (sched.exiting.load(std::memory_order_relaxed)) return nullptr;
    if (m->p == nullptr) {
      if (!stopm(m)) return nullptr;
      continue;
    }
    P* p = m->p;
    if (sched.gcwaiting.load(std::memory_order_relaxed)) {
      gcstopm(m);
      continue;
    }
    if (G* g = find_gc_worker(p, /*idle=*/false)) return g;
    int64_t now = check_own_timers(p);
    poll_if_due(p, &now);
    if (G* g = take_local_work(p, inherit)) return g;
    if (G* g = poll_network(&now)) return g;
    bool retry = false;
    if (G* g = steal_work(m, p, now, &retry)) return g;
    if (retry) continue;
    if (G* g = find_gc_worker(p, /*idle=*/true)) return g;
    if (G* g = release_p(m, p, &retry)) return g;
    if (retry) continue;
    if (recheck_after_spinning(m, m->spinning)) continue;
    if (G* g = block_in_netpoll(m, &retry)) return g;
    if (retry) continue;
    if (!stopm(m)) return nullptr;
  }
}

// reset_spinning: a spinning M found work; it stops spinning and, if it was
// the last spinner, wakes another to keep looking (Go's resetspinning).
void reset_spinning(M* m) {
  m->spinning = false;
  int32_t n = sched.nmspinning.fetch_sub(1) - 1;
  if (n < 0) GORT_THROW("find_runnable: negative nmspinning");
  if (n == 0) wakep();
}

}  // namespace

int64_t earliest_timer() {
  int64_t w = INT64_MAX;
  for (P* p : sched.allp) w = std::min(w, p->timers.next());
  return w;
}

// m_loop is the scheduler: run goroutines until the runtime exits, then
// release the P and wake the other Ms so they leave too.
void m_loop(M* m) {
  for (;;) {
    bool inherit;
    G* g = find_runnable(m, &inherit);
    if (g == nullptr) break;
    if (m->spinning) reset_spinning(m);
    execute(m, g, inherit);
    if (sched.exiting.load(std::memory_order_relaxed)) break;
  }
  if (m->spinning) {
    m->spinning = false;
    sched.nmspinning.fetch_sub(1);
  }
  if (m->p != nullptr) releasep(m);
  wake_all_for_exit();
}

}  // namespace gort
