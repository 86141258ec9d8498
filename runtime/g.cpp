// g.cpp — names for goroutine states and wait reasons (Go's strings), the
// observer registry and goroutine enumeration.
#include "runtime/g.h"

#include "runtime/observer.h"
#include "runtime/sched_internal.h"

namespace gort {

const char* gstatus_string(GStatus s) {
  switch (s) {
    case GStatus::Idle: return "idle";
    case GStatus::Runnable: return "runnable";
    case GStatus::Running: return "running";
    case GStatus::Syscall: return "syscall";
    case GStatus::Waiting: return "waiting";
    case GStatus::Dead: return "dead";
  }
  return "???";
}

const char* wait_reason_string(WaitReason r) {
  // Go 1.19 runtime2.go waitReasonStrings.
  switch (r) {
    case WaitReason::Zero: return "";
    case WaitReason::ChanReceiveNilChan: return "chan receive (nil chan)";
    case WaitReason::ChanSendNilChan: return "chan send (nil chan)";
    case WaitReason::Select: return "select";
    case WaitReason::SelectNoCases: return "select (no cases)";
    case WaitReason::ChanReceive: return "chan receive";
    case WaitReason::ChanSend: return "chan send";
    case WaitReason::Sleep: return "sleep";
    case WaitReason::IOWait: return "IO wait";
    case WaitReason::SyncMutexLock: return "sync.Mutex.Lock";
    case WaitReason::SyncRWMutexRLock: return "sync.RWMutex.RLock";
    case WaitReason::SyncRWMutexLock: return "sync.RWMutex.Lock";
    case WaitReason::SyncWaitGroupWait: return "sync.WaitGroup.Wait";
    case WaitReason::SyncCondWait: return "sync.Cond.Wait";
    case WaitReason::Semacquire: return "semacquire";
    case WaitReason::GCAssistWait: return "GC assist wait";
    case WaitReason::GarbageCollection: return "garbage collection";
    case WaitReason::Preempted: return "preempted";
    case WaitReason::DebugCall: return "debug call";
    case WaitReason::Count: break;
  }
  return "???";
}

namespace detail {
std::atomic<SchedObserver*> g_observer{nullptr};
}

SavedFrame saved_frame(const G* g) {
  SavedFrame f;
  GStatus s = g->status.load(std::memory_order_acquire);
  if (g->ctx == nullptr || (s != GStatus::Waiting && s != GStatus::Runnable)) return f;
  auto ctx = reinterpret_cast<uintptr_t>(g->ctx);
  if (ctx < g->stack.lo || ctx + 0x48 > g->stack.hi) return f;
  f.fp = *reinterpret_cast<const uintptr_t*>(ctx + 0x38);
  f.pc = *reinterpret_cast<const uintptr_t*>(ctx + 0x40);
  f.sp = ctx + 0x48;
  return f;
}

SchedObserver* set_observer(SchedObserver* o) { return detail::g_observer.exchange(o); }

void for_each_goroutine(const std::function<void(G*)>& fn) {
  std::lock_guard<std::mutex> l(sched.allglock);
  for (G* g : sched.allgs) fn(g);
}

}  // namespace gort
