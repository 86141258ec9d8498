// stw.cpp — stop-the-world (Go's stopTheWorldWithSema/startTheWorldWithSema).
//
// The stopper sets sched.gcwaiting and asks every running G to preempt; each
// M that reaches the scheduler sees gcwaiting, parks its P in GCStop and
// decrements sched.stopwait; Ps idle or in a BlockingSection are stopped by
// the stopper directly. The stopper sleeps on sched.stopnote, re-sending
// preemption requests every 100 µs, until stopwait reaches zero.
#include "runtime/stw.h"

#include <mutex>
#include <vector>

#include "runtime/observer.h"
#include "runtime/sched_internal.h"

namespace gort {

P* pidleget_locked();
void pidleput_locked(P* p);
bool runq_has_work(P* p);
void startm(P* p, bool spinning);

namespace {
std::mutex g_worldsema;  // one stop-the-world at a time (Go's worldsema)
constexpr int64_t kStopRetryNs = 100'000;  // re-send preemption requests this often
constexpr int64_t kStopSpinNs = 50'000;    // spin this long before sleeping

void preemptall() {
  for (P* p : sched.allp) {
    if (p->status.load() != PStatus::Running) continue;
    M* m = p->m;
    if (!m) continue;
    if (G* g = m->curg.load(std::memory_order_relaxed)) g->preempt.store(true, std::memory_order_relaxed);
  }
}
}  // namespace

bool world_stopped() { return sched.gcwaiting.load(); }

int64_t stop_the_world(const char* /*reason*/) {
  G* g = current_g();
  if (g == nullptr) GORT_THROW("stop_the_world: not on a goroutine");
  {
    // Taking worldsema may block: do it as a blocking section so our P can
    // serve others meanwhile.
    if (!g_worldsema.try_lock()) {
      BlockingSection bs;
      g_worldsema.lock();
    }
  }
  int64_t t0 = nanotime();
  M* m = g->m;
  P* mine = m->p;
  bool wait;
  {
    std::lock_guard<std::mutex> l(sched.lock);
    sched.stopnote.clear();
    sched.stopwait = sched.gomaxprocs;
    sched.gcwaiting.store(true);
    preemptall();
    mine->status.store(PStatus::GCStop);
    sched.stopwait--;
    for (P* p : sched.allp) {
      PStatus s = PStatus::Syscall;
      if (p->status.compare_exchange_strong(s, PStatus::GCStop)) sched.stopwait--;
    }
    while (P* p = pidleget_locked()) {
      p->status.store(PStatus::GCStop);
      sched.stopwait--;
    }
    wait = sched.stopwait > 0;
  }
  if (wait) {
    // Spin a little first: the other Ms usually reach a safepoint within
    // microseconds, and a futex wake-up alone costs tens of them.
    int64_t spin_until = nanotime() + kStopSpinNs;
    while (!sched.stopnote.is_set() && nanotime() < spin_until) cpu_relax();
    while (!sched.stopnote.timed_sleep(kStopRetryNs)) preemptall();
  }
  g->preempt.store(false, std::memory_order_relaxed);
  int64_t dt = nanotime() - t0;
  sched.stw_count.fetch_add(1);
  int64_t mx = sched.stw_max_ns.load();
  while (dt > mx && !sched.stw_max_ns.compare_exchange_weak(mx, dt)) {
  }
  if (auto* o = observer()) o->on_stw(true);
  return dt;
}

void start_the_world() {
  G* g = current_g();
  P* mine = g->m->p;
  std::vector<P*> with_work;
  {
    std::lock_guard<std::mutex> l(sched.lock);
    sched.gcwaiting.store(false);
    mine->status.store(PStatus::Running);
    for (P* p : sched.allp) {
      if (p == mine) continue;
      if (runq_has_work(p)) {
        p->status.store(PStatus::Idle);
        with_work.push_back(p);
      } else {
        pidleput_locked(p);
      }
    }
  }
  if (auto* o = observer()) o->on_stw(false);
  for (P* p : with_work) startm(p, false);
  wakep();
  g_worldsema.unlock();
}

}  // namespace gort
