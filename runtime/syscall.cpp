// syscall.cpp — BlockingSection: Go's entersyscall/exitsyscall.
//
// Entering, the M keeps its P but marks it Syscall and remembers it in
// m->oldp; sysmon (retake) may CAS the P from Syscall to Idle and hand it to
// another M so runnable goroutines keep running while this thread blocks.
// Entry also records the goroutine's stack pointer, callee-saved registers
// and calling frame (scan.cpp), so the collector can scan a goroutine that
// sits in a system call and a goroutine dump can show where it is.
// Leaving, the fast path CASes the P back to Running; if it was taken, the M
// waits until the taker has reported it (syscall_p_taken) and tries any
// idle P; failing that, the goroutine is queued on the global run
// queue (via g0, so its context is saved first) and the M goes idle.
//
// Inside a stop-the-world function a section changes nothing: the P already
// belongs to the stopper and must not be counted as stopped twice.
#include <sched.h>

#include "runtime/scan.h"
#include "runtime/sched_internal.h"

namespace gort {

// Never inlined: record_syscall_entry reads this constructor's frame to
// find the frame that entered the section (where goroutine_stack starts);
// inlined into that frame (as LTO does), the walk would begin one frame
// higher and leave the caller out of goroutine dumps.
__attribute__((noinline)) BlockingSection::BlockingSection() {
  G* g = detail::curg();
  if (g == nullptr) return;
  M* m = g->m;
  if (m->in_stw) return;
  entered_ = true;
  P* p = m->p;
  record_syscall_entry(g);
  // The tick this section runs under; whoever takes p advances it
  // (syscall_p_taken), and the exit below waits for that. Recorded before
  // p is published as Syscall, after which it may be taken at once.
  m->syscalltick = p->syscalltick.load(std::memory_order_relaxed) + 1;
  p->syscalltick.store(m->syscalltick, std::memory_order_relaxed);
  GORT_EVENT(on_go_syscall_enter, g);
  g->status.store(GStatus::Syscall, std::memory_order_release);
  m->oldp = p;
  m->p = nullptr;
  p->m.store(nullptr, std::memory_order_relaxed);
  p->status.store(PStatus::Syscall, std::memory_order_release);
  if (sched.gcwaiting.load()) {
    // A stop-the-world is waiting for this P: it is stopped now.
    PStatus s = PStatus::Syscall;
    if (p->status.compare_exchange_strong(s, PStatus::GCStop)) {
      syscall_p_taken(p);
      std::lock_guard<std::mutex> l(sched.lock);
      if (--sched.stopwait == 0) sched.stopnote.wakeup();
    }
  }
}

void syscall_p_taken(P* p) {
  GORT_EVENT(on_go_syscall_block, p->id);
  GORT_EVENT(on_proc_stop, p->id);
  // Last: the goroutine leaving the section waits for this (below).
  p->syscalltick.fetch_add(1, std::memory_order_release);
}

BlockingSection::~BlockingSection() {
  if (!entered_) return;
  G* g = detail::curg();
  M* m = g->m;
  P* oldp = m->oldp;
  m->oldp = nullptr;
  PStatus s = PStatus::Syscall;
  if (oldp != nullptr && oldp->status.compare_exchange_strong(s, PStatus::Running)) {
    m->p = oldp;
    oldp->m.store(m, std::memory_order_release);
    if (oldp->syscalltick.load(std::memory_order_relaxed) != m->syscalltick) {
      // Not our section's P any more: sysmon retook it from us, another M
      // got it, and its goroutine is now in a section of its own — which we
      // just took it from (Go's exitsyscallfast_reacquired). Report that
      // section's loss, as its taker, and our start on the P.
      syscall_p_taken(oldp);
      GORT_EVENT(on_proc_start, oldp->id, m->id);
    }
    g->status.store(GStatus::Running, std::memory_order_relaxed);
    scan_own_stack_once();  // waits out a concurrent scan of the frozen stack
    GORT_EVENT(on_go_syscall_exit, g, false);
    return;
  }
  // The P was retaken (or stopped). Whoever took it reports that the
  // section blocked (GoSysBlock, ProcStop) in the P's event stream; wait
  // until it has, so no event of ours — the exit, a start on another P —
  // can precede that report (Go's exitsyscallfast waits the same way).
  if (oldp != nullptr)
    while (oldp->syscalltick.load(std::memory_order_acquire) == m->syscalltick) sched_yield();
  // Any idle P will do, unless the world is stopping.
  P* p = nullptr;
  if (!sched.gcwaiting.load()) {
    std::lock_guard<std::mutex> l(sched.lock);
    if (!sched.gcwaiting.load()) p = pidleget();
  }
  if (p != nullptr) {
    acquirep(m, p);
    g->status.store(GStatus::Running, std::memory_order_relaxed);
    scan_own_stack_once();
    GORT_EVENT(on_go_syscall_exit, g, false);
    return;
  }
  // No P: queue the goroutine (g0 emits on_go_syscall_exit when it is on
  // the run queue) and let this M go idle.
  syscall_park_without_p(g);
}

}  // namespace gort
