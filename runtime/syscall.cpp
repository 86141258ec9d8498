// syscall.cpp — BlockingSection: Go's entersyscall/exitsyscall.
//
// Entering, the M keeps its P but marks it Syscall and remembers it in
// m->oldp; sysmon (retake) may CAS the P from Syscall to Idle and hand it to
// another M so runnable goroutines keep running while this thread blocks.
// Leaving, the fast path CASes the P back to Running; if it was taken, the M
// tries any idle P; failing that, the goroutine is queued on the global run
// queue (via g0, so its context is saved first) and the M goes idle.
#include "runtime/observer.h"
#include "runtime/sched_internal.h"

namespace gort {

void syscall_park_without_p(G* g);
void acquirep_public(M* m, P* p);

BlockingSection::BlockingSection() {
  G* g = detail::tls_curg;
  if (g == nullptr) return;
  M* m = g->m;
  P* p = m->p;
  p->syscalltick++;
  p->syscalltick_pub.store(p->syscalltick, std::memory_order_relaxed);
  if (auto* o = observer()) o->on_go_syscall(g, true);
  g->status.store(GStatus::Syscall, std::memory_order_relaxed);
  m->oldp = p;
  m->p = nullptr;
  p->m = nullptr;
  p->status.store(PStatus::Syscall, std::memory_order_release);
  if (sched.gcwaiting.load()) {
    PStatus s = PStatus::Syscall;
    if (p->status.compare_exchange_strong(s, PStatus::GCStop)) {
      std::lock_guard<std::mutex> l(sched.lock);
      if (--sched.stopwait == 0) sched.stopnote.wakeup();
    }
  }
}

BlockingSection::~BlockingSection() {
  G* g = detail::tls_curg;
  if (g == nullptr) return;
  M* m = g->m;
  P* oldp = m->oldp;
  m->oldp = nullptr;
  PStatus s = PStatus::Syscall;
  if (oldp && oldp->status.compare_exchange_strong(s, PStatus::Running)) {
    m->p = oldp;
    oldp->m = m;
    g->status.store(GStatus::Running, std::memory_order_relaxed);
    if (auto* o = observer()) o->on_go_syscall(g, false);
    return;
  }
  P* p = nullptr;
  if (!sched.gcwaiting.load()) {
    std::lock_guard<std::mutex> l(sched.lock);
    if (!sched.gcwaiting.load()) {
      p = sched.pidle;
      if (p) {
        sched.pidle = p->link;
        p->link = nullptr;
        sched.npidle.fetch_sub(1);
      }
    }
  }
  if (p) {
    acquirep_public(m, p);
    g->status.store(GStatus::Running, std::memory_order_relaxed);
    if (auto* o = observer()) o->on_go_syscall(g, false);
    return;
  }
  if (auto* o = observer()) o->on_go_syscall(g, false);
  syscall_park_without_p(g);
}

}  // namespace gort
