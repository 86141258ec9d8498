// stw.cpp — stop-the-world (Go's stopTheWorldWithSema / startTheWorldWithSema).
//
// One stop at a time: the stopper first takes worldsema, a runtime Sema (a
// goroutine waiting for it parks; the holder may resume on another thread,
// which rules out an OS mutex). It then sets sched.gcwaiting and asks every
// running G to preempt; each M that reaches the scheduler sees gcwaiting,
// parks its P in GCStop and decrements sched.stopwait; Ps that are idle or
// in a BlockingSection are stopped by the stopper directly. The stopper
// spins briefly, then sleeps on sched.stopnote re-sending preemption
// requests every 100 µs, until stopwait reaches zero. A P that has not
// stopped after a second gets a diagnostic naming the goroutine that keeps
// it (Go throws "stopTheWorld: not stopped"; we keep waiting — a goroutine
// in a long loop without safepoints is a bug to find, not a reason to die).
//
// While the world is stopped only the stopper's goroutine runs, on its M,
// with m->in_stw set. It must not park: it would wait for goroutines that
// cannot run (park_g and yield throw), and preemption requests are ignored.
#include "runtime/stw.h"

#include <sched.h>

#include <cinttypes>
#include <cstdio>
#include <vector>

#include "runtime/sched_internal.h"
#include "runtime/sync.h"

namespace gort {

namespace {

Sema g_worldsema{1};                         // one stop-the-world at a time (Go's worldsema)
constexpr int64_t kStopRetryNs = 100'000;    // re-send preemption requests this often
constexpr int64_t kStopSpinNs = 50'000;      // spin this long before sleeping
constexpr int64_t kStopDiagnoseNs = 1'000'000'000;  // report Ps not stopped after this long

void preemptall() {
  for (P* p : sched.allp) {
    if (p->status.load() != PStatus::Running) continue;
    M* m = p->m.load(std::memory_order_acquire);
    if (m == nullptr) continue;
    if (G* g = m->curg.load(std::memory_order_acquire)) g->preempt.store(true, std::memory_order_relaxed);
  }
}

// report_not_stopped names what keeps each P from stopping: a snapshot of
// goroutines still running.
GORT_RACY_SNAPSHOT void report_not_stopped(const char* reason, int64_t waited_ns) {
  std::lock_guard<std::mutex> l(sched.lock);
  for (P* p : sched.allp) {
    if (p->status.load() == PStatus::GCStop) continue;
    M* m = p->m.load(std::memory_order_acquire);
    G* g = m != nullptr ? m->curg.load(std::memory_order_acquire) : nullptr;
    if (g != nullptr) {
      GStatus s = g->status.load();
      fprintf(stderr,
              "gort: stop_the_world(\"%s\"): P%d not stopped after %.1fs: goroutine %" PRId64
              " [%s] has not reached a safepoint\n",
              reason, p->id, double(waited_ns) * 1e-9, g->id.load(std::memory_order_relaxed),
              s == GStatus::Waiting ? wait_reason_string(g->wait_reason.load(std::memory_order_relaxed)) : gstatus_string(s));
    } else {
      fprintf(stderr, "gort: stop_the_world(\"%s\"): P%d not stopped after %.1fs: status %u, M%" PRId64 " in the scheduler\n",
              reason, p->id, double(waited_ns) * 1e-9, static_cast<unsigned>(p->status.load()),
              m != nullptr ? m->id : int64_t{-1});
    }
  }
  fflush(stderr);
}

// abandon_stop: main returned while this stop waited, and the Ms it waits
// for have left; the stopping goroutine is discarded like every other one.
[[noreturn]] void abandon_stop() {
  {
    std::lock_guard<std::mutex> l(sched.lock);
    sched.gcwaiting.store(false);
  }
  g_worldsema.release();
  exit_discarded(current_g());
}

// wait_for_stop sleeps until every P has stopped, re-sending preemption
// requests and reporting stragglers once.
void wait_for_stop(const char* reason, int64_t t0) {
  // Spin a little first: the other Ms usually reach a safepoint within
  // microseconds, and a futex wake-up alone costs tens of them. Spin by
  // yielding the CPU: on a machine with more busy threads than CPUs (wrk
  // beside gortd on two) the M we wait for may be the one waiting for a
  // CPU, and burning ours only delays it (time-to-stop maximum 4.1 ms with
  // a busy spin, 1.9 ms yielding, /alloc under wrk).
  int64_t spin_until = nanotime() + kStopSpinNs;
  while (!sched.stopnote.is_set() && nanotime() < spin_until) sched_yield();
  bool reported = false;
  while (!sched.stopnote.timed_sleep(kStopRetryNs)) {
    if (sched.exiting.load()) abandon_stop();
    preemptall();
    int64_t waited = nanotime() - t0;
    if (!reported && waited >= kStopDiagnoseNs) {
      report_not_stopped(reason, waited);
      reported = true;
    }
  }
}

}  // namespace

bool world_stopped() { return sched.gcwaiting.load(); }

int64_t stop_the_world(const char* reason) {
  G* g = current_g();
  if (g == nullptr) GORT_THROW("stop_the_world: not on a goroutine");
  g_worldsema.acquire();
  GORT_EVENT(on_stw_start, reason);
  M* m = g->m;  // after the acquire: it may have parked and moved
  int64_t t0 = nanotime();
  P* mine = m->p;
  bool wait;
  std::vector<P*> from_syscall;  // Ps taken from goroutines in BlockingSections
  {
    std::lock_guard<std::mutex> l(sched.lock);
    sched.stw_reason = reason;
    sched.stopnote.clear();
    sched.stopwait = sched.gomaxprocs;
    sched.gcwaiting.store(true);
    preemptall();
    mine->status.store(PStatus::GCStop);
    sched.stopwait--;
    for (P* p : sched.allp) {
      PStatus s = PStatus::Syscall;
      if (p->status.compare_exchange_strong(s, PStatus::GCStop)) {
        sched.stopwait--;
        from_syscall.push_back(p);
      }
    }
    while (P* p = pidleget()) {
      p->status.store(PStatus::GCStop);
      sched.stopwait--;
    }
    wait = sched.stopwait > 0;
  }
  // As sysmon's retake: the goroutine in the section lost its P.
  for (P* p : from_syscall) syscall_p_taken(p);
  if (wait) wait_for_stop(reason, t0);
  m->in_stw = true;
  g->preempt.store(false, std::memory_order_relaxed);
  int64_t dt = nanotime() - t0;
  note_stw(dt);
  return dt;
}

void start_the_world() {
  G* g = current_g();
  M* m = g != nullptr ? g->m : nullptr;
  if (m == nullptr || !m->in_stw) GORT_THROW("start_the_world: the world is not stopped by this goroutine");
  m->in_stw = false;
  P* mine = m->p;
  std::vector<P*> with_work;
  {
    std::lock_guard<std::mutex> l(sched.lock);
    sched.gcwaiting.store(false);
    sched.stw_reason = nullptr;
    mine->status.store(PStatus::Running);
    for (P* p : sched.allp) {
      if (p == mine) continue;
      if (!runq_empty(p)) {
        p->status.store(PStatus::Idle);
        with_work.push_back(p);
      } else {
        pidleput(p);
      }
    }
  }
  for (P* p : with_work) startm(p, false);
  wakep();
  GORT_EVENT(on_stw_done);
  g_worldsema.release();
}

// gcstopm stops m's P for the stop-the-world in progress and leaves m
// without a P (find_runnable then parks it in stopm).
void gcstopm(M* m) {
  if (m->spinning) {
    m->spinning = false;
    sched.nmspinning.fetch_sub(1);
  }
  P* p = releasep(m);
  // Before the stopper can see p stopped: from then on p's events belong
  // to the stopper (an observer keeps per-P state that only p's holder
  // may touch).
  GORT_EVENT(on_proc_stop, p->id);
  {
    std::lock_guard<std::mutex> l(sched.lock);
    p->status.store(PStatus::GCStop);
    if (--sched.stopwait == 0) sched.stopnote.wakeup();
  }
}

}  // namespace gort
