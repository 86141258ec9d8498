// observer.h — the scheduler's observability hook.
//
// Later layers (the execution tracer, profilers, metrics) receive scheduler
// events through one SchedObserver installed with set_observer. Every hook
// site is `if (auto* o = observer()) o->...`: one relaxed load and a
// predictable branch when nothing observes. Hooks run on the thread where
// the event happens, sometimes on the scheduler stack (g0) or with no P, so
// they must not block, park, or allocate from the collected heap.
//
// for_each_goroutine enumerates every G record (including dead ones on free
// lists; check status) under the G registry lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "runtime/g.h"

namespace gort {

class SchedObserver {
 public:
  virtual ~SchedObserver() = default;
  virtual void on_go_create(G* /*g*/, G* /*parent*/) {}
  virtual void on_go_start(G* /*g*/, int32_t /*p*/) {}       // g begins running on P p
  virtual void on_go_block(G* /*g*/, WaitReason /*r*/) {}    // g parked
  virtual void on_go_unblock(G* /*g*/, G* /*by*/) {}         // g made runnable (by may be null)
  virtual void on_go_sched(G* /*g*/) {}                      // g yielded
  virtual void on_go_preempt(G* /*g*/) {}                    // g preempted at a safepoint
  virtual void on_go_end(G* /*g*/) {}
  virtual void on_go_syscall(G* /*g*/, bool /*enter*/) {}    // BlockingSection enter/exit
  virtual void on_proc_start(int32_t /*p*/, int64_t /*m*/) {}
  virtual void on_proc_stop(int32_t /*p*/) {}
  virtual void on_thread_create(int64_t /*m*/) {}
  virtual void on_stw(bool /*start*/) {}
};

namespace detail {
extern std::atomic<SchedObserver*> g_observer;
}

inline SchedObserver* observer() { return detail::g_observer.load(std::memory_order_relaxed); }

// set_observer installs o (nullptr removes); returns the previous one.
SchedObserver* set_observer(SchedObserver* o);

// for_each_goroutine calls fn for every G record while holding the G registry
// lock; fn must not spawn goroutines.
void for_each_goroutine(const std::function<void(G*)>& fn);

}  // namespace gort
