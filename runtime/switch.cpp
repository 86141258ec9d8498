// switch.cpp — context switches: how a goroutine leaves the CPU and how the
// next one gets it (Go's gogo, mcall, park_m, goready, Gosched, gopreempt_m).
//
// Every M has a scheduler context, g0: the thread's own stack, on which
// m_loop and find_runnable run. Two kinds of switch exist:
//
//   via g0      G --jump--> g0 --jump--> G'   A G that parks, yields, is
//               preempted or exits jumps to its M's g0 with a SwitchMsg on
//               its own stack saying why; g0 saves the G's context, acts on
//               the message (queue it, run park's unlock function, free it)
//               and picks the next G. Two Boost.Context jumps.
//
//   direct      G --ontop--> G'               A G that parks while its own
//               P's runnext holds a goroutine that has run before — the
//               channel hand-off pattern: `c.send(v)` readies the receiver
//               into runnext, then the sender blocks on its next receive —
//               switches straight to that G with ontop_fcontext, which runs
//               park_on_top on G''s stack before G' resumes. park_on_top does
//               what g0 would have done for the parked G. One jump, and no
//               pass through find_runnable. Taken only when the scheduler
//               would have picked that same G next anyway: no stop-the-world
//               pending, no due timer on the P, not the global queue's
//               fairness turn, runtime not exiting. A never-run G is always
//               started from g0: Boost's entry trampoline for a fresh context
//               does not pass an on-top function's result on.
//
// g0's saved context. g0 suspends itself in execute's jump_fcontext and the
// G it jumped to receives g0's context, which it stores in m->g0ctx. While a
// chain of direct switches runs on the M, g0 stays suspended at that same
// point, so park_on_top hands the next G the same m->g0ctx. Whichever G
// finally jumps back to g0 names itself in its SwitchMsg, so execute acts
// on that G, not necessarily the one it started.
//
// Who is running. detail::tls_curg names the G whose stack the thread is on:
// the G sets it right after it lands on its stack and clears it right before
// it jumps away, so a signal handler that sees it non-null knows it
// interrupted that G (the profiler contract, observer.h). m->curg, read by
// sysmon and stop-the-world, names the G that owns the M's time slice and is
// set before the jump into it.
//
// Sanitizers. ASan and TSan must be told about every switch between stacks
// (fiber annotations); the fiber_* helpers below keep that in one place.
#include <boost/context/detail/fcontext.hpp>

#include <pthread.h>
#include <sched.h>

#include <cinttypes>

#include "runtime/sched_internal.h"

#if GORT_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if GORT_TSAN
#include <sanitizer/tsan_interface.h>
// TSan's dynamic-annotation entry points (no header declares them).
extern "C" void AnnotateIgnoreWritesBegin(const char* file, int line);
extern "C" void AnnotateIgnoreWritesEnd(const char* file, int line);
#endif

namespace ctx = boost::context::detail;

namespace gort {

thread_local M* tls_m = nullptr;
namespace detail {
thread_local G* tls_curg = nullptr;
__attribute__((noinline)) G* curg() noexcept { return tls_curg; }
__attribute__((noinline)) void set_curg(G* g) noexcept { tls_curg = g; }
}  // namespace detail
using detail::set_curg;

namespace {

// curm returns the calling thread's M, out of line for the reason curg() is.
__attribute__((noinline)) M* curm() noexcept { return tls_m; }

// SwitchMsg tells g0 (or park_on_top) which G switched away and why. Lives
// on that G's stack, which nobody touches until the message is handled.
struct SwitchMsg {
  enum Kind { Park, Yield, Preempt, Exit, SyscallNoP } kind;
  G* g;
  UnlockFn unlockf = nullptr;
  void* arg = nullptr;
};

// ---- Sanitizer fiber annotations ----
//
// These helpers are always inlined into the function that makes the jump:
// TSan instruments every function with entry/exit hooks that push and pop
// the *current fiber's* shadow call stack, so a separate function that
// switches TSan's fiber would be entered on one fiber and left on the other
// (one shadow stack overflows, the other underflows, and TSan crashes).
#define GORT_SWITCH_INLINE __attribute__((always_inline)) inline
//
// ASan: __sanitizer_start_switch_fiber before a jump names the stack we go
// to; the landing side calls __sanitizer_finish_switch_fiber. A direct
// switch lands first in park_on_top and later in the resumed G's own code;
// m->asan_switch_pending makes sure only the first landing finishes it.
// TSan: __tsan_switch_to_fiber right before every jump, with flag 0 so the
// switch itself orders what the two sides did (the run-queue hand-off ran
// on g0, which TSan cannot see through otherwise). Each goroutine lifetime
// gets its own fiber, created by the spawner (so the child inherits the
// `go` edge) and destroyed on g0 after the goroutine exited — one fiber per
// G record for life would keep every exited goroutine's frames on the
// fiber's call stack and hide races between goroutines that reused the
// record. g0 is the thread's own fiber. (Recipe measured with standalone
// programs: TSan v3 — clang's — in prototype work for this issue.)
#if GORT_ASAN
thread_local void* tls_g0_fake_stack = nullptr;

void asan_start(M* m, void** save_fake, uintptr_t lo, uintptr_t hi) {
  m->asan_switch_pending = true;
  __sanitizer_start_switch_fiber(save_fake, reinterpret_cast<const void*>(lo), hi - lo);
}
void asan_finish(M* m, void* fake) {
  if (!m->asan_switch_pending) return;
  m->asan_switch_pending = false;
  __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
}
#endif

// fiber_g0_to_g: before g0 jumps into g.
GORT_SWITCH_INLINE void fiber_g0_to_g(M* m, G* g) {
#if GORT_ASAN
  asan_start(m, &tls_g0_fake_stack, g->stack.lo, g->stack.hi);
#endif
#if GORT_TSAN
  __tsan_switch_to_fiber(g->tsan_fiber, 0);
#endif
  (void)m, (void)g;
}

// fiber_landed_on_g: first thing g does on its stack after any jump.
GORT_SWITCH_INLINE void fiber_landed_on_g(M* m, G* g) {
#if GORT_ASAN
  asan_finish(m, g->asan_fake_stack);
#endif
  (void)m, (void)g;
}

// fiber_g_to_g0: before g jumps back to g0; exiting: g never resumes.
GORT_SWITCH_INLINE void fiber_g_to_g0(M* m, G* g, bool exiting) {
#if GORT_ASAN
  const ThreadInfo* t = m->thread_info;
  asan_start(m, exiting ? nullptr : &g->asan_fake_stack, t->stack_lo, t->stack_hi);
#endif
#if GORT_TSAN
  __tsan_switch_to_fiber(m->tsan_g0_fiber, 0);
#endif
  (void)m, (void)g, (void)exiting;
}

// fiber_landed_on_g0: g0 resumed after a jump.
GORT_SWITCH_INLINE void fiber_landed_on_g0(M* m) {
#if GORT_ASAN
  asan_finish(m, tls_g0_fake_stack);
#endif
  (void)m;
}

// fiber_g_to_g: before a direct switch from g to next.
GORT_SWITCH_INLINE void fiber_g_to_g(M* m, G* g, G* next) {
#if GORT_ASAN
  asan_start(m, &g->asan_fake_stack, next->stack.lo, next->stack.hi);
#endif
#if GORT_TSAN
  __tsan_switch_to_fiber(next->tsan_fiber, 0);
#endif
  (void)m, (void)g, (void)next;
}

// ---- Bookkeeping shared by both kinds of switch ----

// start_running makes g the running G of m and p; the caller emits
// on_go_start once the previous G's events are out.
void start_running(M* m, P* p, G* g, bool inherit) {
  if (!inherit) p->schedtick.store(p->schedtick.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  p->nswitch.store(p->nswitch.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  g->m = m;
  m->curg.store(g, std::memory_order_release);  // sysmon and STW read the G through it
  g->status.store(GStatus::Running, std::memory_order_relaxed);
  scan_before_resume(g);  // a concurrent mark's stack scan, if it is owed
  // A preemption request aimed at an earlier time slice is void.
  if (GORT_UNLIKELY(g->preempt.load(std::memory_order_relaxed))) {
    g->preempt.store(false, std::memory_order_relaxed);
    g->preempt_requested_ns.store(0, std::memory_order_relaxed);
  }
  if (g->tracking) record_latency(g);
}

// finish_park completes a park once g is switched out (its ctx saved):
// publish it as waiting, then run the unlock function, after which other
// threads may ready it.
void finish_park(P* p, G* g, const SwitchMsg* msg) {
  g->wait_since_ns = sched.coarse_now_ns.load(std::memory_order_relaxed);
  g->status.store(GStatus::Waiting, std::memory_order_release);
  GORT_EVENT(on_go_block, g, g->wait_reason.load(std::memory_order_relaxed));
  if (msg->unlockf != nullptr && !msg->unlockf(g, msg->arg)) {
    make_ready(g, nullptr);
    runqput(p, g, true);
  }
}

// handle_switch acts on the message of a G that jumped to g0.
void handle_switch(M* m, G* g, const SwitchMsg* msg) {
  P* p = m->p;  // a BlockingSection may have taken it (SyscallNoP)
  left_running(g);
  switch (msg->kind) {
    case SwitchMsg::Park:
      finish_park(p, g, msg);
      break;
    case SwitchMsg::Yield:
      mark_runnable(g);
      GORT_EVENT(on_go_sched, g);
      runqput(p, g, false);
      break;
    case SwitchMsg::Preempt: {
      mark_runnable(g);
      GORT_EVENT(on_go_preempt, g);
      std::lock_guard<std::mutex> l(sched.lock);
      globrunqput(g);
      break;
    }
    case SwitchMsg::SyscallNoP: {
      mark_runnable(g);
      GORT_EVENT(on_go_syscall_exit, g, true);
      // Go's exitsyscall0: look for an idle P again and, finding none,
      // queue the goroutine globally, in one sched.lock section. The
      // goroutine looked before switching here (syscall.cpp); a P that went
      // idle since — its M asleep, having seen an empty global queue —
      // would otherwise leave the goroutine queued with no M to run it.
      P* idle = nullptr;
      {
        std::lock_guard<std::mutex> l(sched.lock);
        if (!sched.gcwaiting.load()) idle = pidleget();
        if (idle == nullptr) globrunqput(g);
      }
      if (idle != nullptr) {
        acquirep(m, idle);
        runqput(idle, g, true);
      }
      break;
    }
    case SwitchMsg::Exit:
      goexit0(p, g);
      break;
  }
}

// ---- The G side ----

// resumed runs on g's stack right after some M switched back into it.
inline void resumed(G* g, ctx::transfer_t t) {
  M* m = g->m;  // the M that resumed us, set by start_running
  fiber_landed_on_g(m, g);
  m->g0ctx = t.fctx;
  set_curg(g);
}

// switch_to_g0 leaves g for its M's scheduler; returns when an M resumes g.
void switch_to_g0(G* g, SwitchMsg* msg) {
  M* m = g->m;
  set_curg(nullptr);
  fiber_g_to_g0(m, g, false);
  ctx::transfer_t t = ctx::jump_fcontext(m->g0ctx, msg);
  resumed(g, t);
}

// park_on_top runs on the next G's stack during a direct switch, before that
// G resumes: it does for the parked G what g0 would have done. Returns the
// value the resumed G receives from its own switch: g0's context.
ctx::transfer_t park_on_top(ctx::transfer_t t) {
  auto* msg = static_cast<SwitchMsg*>(t.data);
  G* g = msg->g;
  M* m = g->m;  // read before unlockf: from then on g may be readied elsewhere
  P* p = m->p;
  G* next = m->curg.load(std::memory_order_relaxed);
  fiber_landed_on_g(m, next);
  g->ctx = t.fctx;
  left_running(g);
  finish_park(p, g, msg);
  GORT_EVENT(on_go_start, next, p->id);
  return ctx::transfer_t{m->g0ctx, nullptr};
}

// take_direct_successor returns the G that a direct switch from a parking G
// may run — p's runnext, taken — or nullptr when the scheduler proper must
// decide (see the essay).
G* take_direct_successor(P* p) {
  G* next = p->runnext.load(std::memory_order_relaxed);
  // A never-run G starts from g0 (see the essay); checked first as a hint so
  // a spawn-and-wait does not take and requeue it.
  if (next == nullptr || !next->started.load(std::memory_order_relaxed)) return nullptr;
  if (sched.gcwaiting.load(std::memory_order_relaxed) || sched.exiting.load(std::memory_order_relaxed)) return nullptr;
  if (p->schedtick.load(std::memory_order_relaxed) % kGlobalQueueFairnessTicks == 0 &&
      sched.runqsize.load(std::memory_order_relaxed) > 0)
    return nullptr;
  int64_t when = p->timers.next();
  if (when != INT64_MAX && when <= nanotime()) return nullptr;
  if (!runnext_take(p, next)) return nullptr;
  // Only now is next ours (a thief may have run it, and its record may even
  // hold a new goroutine by now): a never-run G goes back and starts from g0.
  if (!next->started.load(std::memory_order_relaxed)) {
    runqput(p, next, true);
    return nullptr;
  }
  return next;
}

// switch_direct parks g (msg) and runs next on the same M and P; returns
// when an M resumes g.
void switch_direct(G* g, G* next, SwitchMsg* msg) {
  M* m = g->m;
  start_running(m, m->p, next, /*inherit=*/true);
  set_curg(nullptr);
  fiber_g_to_g(m, g, next);
  ctx::transfer_t t = ctx::ontop_fcontext(next->ctx, msg, &park_on_top);
  resumed(g, t);
}

// goexit leaves an exited goroutine for good.
[[noreturn]] void goexit(G* g) {
  M* m = g->m;
  set_curg(nullptr);
  SwitchMsg msg{SwitchMsg::Exit, g};
  fiber_g_to_g0(m, g, true);
  ctx::jump_fcontext(m->g0ctx, &msg);
  GORT_THROW("dead goroutine resumed");
}

// g_entry is the first frame of every goroutine.
void g_entry(ctx::transfer_t t) {
  G* g = static_cast<G*>(t.data);
  M* m = g->m;
  fiber_landed_on_g(m, g);
  m->g0ctx = t.fctx;
  g->started.store(true, std::memory_order_relaxed);
  set_curg(g);
  g->entry(g->arg);
  goexit(g);  // g->m: the goroutine may have migrated
}

}  // namespace

void exit_discarded(G* g) { goexit(g); }

// ---- The g0 side ----

void execute(M* m, G* g, bool inherit) {
  P* p = m->p;
  start_running(m, p, g, inherit);
  GORT_EVENT(on_go_start, g, p->id);
  fiber_g0_to_g(m, g);
  ctx::transfer_t t = ctx::jump_fcontext(g->ctx, g);
  fiber_landed_on_g0(m);
  m->curg.store(nullptr, std::memory_order_relaxed);
  auto* msg = static_cast<SwitchMsg*>(t.data);
  msg->g->ctx = t.fctx;
  handle_switch(m, msg->g, msg);
}

void prepare_g_context(G* g, uintptr_t top) {
  g->ctx = ctx::make_fcontext(reinterpret_cast<void*>(top), top - g->stack.lo, &g_entry);
  g->started.store(false, std::memory_order_relaxed);
}

// ---- park / ready / yield / preempt ----

void park_g(G* g, UnlockFn unlockf, void* arg, WaitReason reason) {
  M* m = g->m;
  if (GORT_UNLIKELY(m->in_stw))
    throw_fatalf("goroutine %" PRId64 " blocks (%s) inside the stop-the-world function of \"%s\": "
                 "code run with the world stopped must not park",
                 g->id.load(std::memory_order_relaxed), wait_reason_string(reason), sched.stw_reason ? sched.stw_reason : "?");
  check_stack(g);
  g->wait_reason.store(reason, std::memory_order_relaxed);
  SwitchMsg msg{SwitchMsg::Park, g, unlockf, arg};
  if (G* next = take_direct_successor(m->p)) {
    switch_direct(g, next, &msg);
  } else {
    switch_to_g0(g, &msg);
  }
}

void detail::park_current(bool (*unlockf)(G*, void*), void* arg, WaitReason reason) {
  G* g = detail::curg();
  if (g == nullptr) GORT_THROW("park: not on a goroutine");
  BlockTimer timer(g);
  park_g(g, unlockf, arg, reason);
  timer.report(reason);
}

void mark_runnable(G* g) {
  if (g->tracking) g->runnable_since_ticks = cputicks();
  g->status.store(GStatus::Runnable, std::memory_order_release);
}

void make_ready(G* g, G* by) {
  if (g->block_stamped) g->block_release_ns = nanotime();
  mark_runnable(g);
  GORT_EVENT(on_go_unblock, g, by);
}

void ready_g(G* g, bool next) {
  // make_ready, with the readier looked up only when someone observes.
  if (g->block_stamped) g->block_release_ns = nanotime();
  mark_runnable(g);
  GORT_EVENT(on_go_unblock, g, detail::curg());
  M* m = curm();
  P* p = m != nullptr ? m->p : nullptr;
  if (p != nullptr) {
    runqput(p, g, next);
  } else {
    std::lock_guard<std::mutex> l(sched.lock);
    globrunqput(g);
  }
  wakep(/*published_with_rmw=*/next && p != nullptr);
}

void detail::ready(G* g) { ready_g(g, true); }

void yield() {
  G* g = detail::curg();
  if (g == nullptr) {
    sched_yield();
    return;
  }
  if (GORT_UNLIKELY(g->m->in_stw)) GORT_THROW("yield inside a stop-the-world function: the world is stopped");
  check_stack(g);
  g->preempt.store(false, std::memory_order_relaxed);
  g->preempt_requested_ns.store(0, std::memory_order_relaxed);
  SwitchMsg msg{SwitchMsg::Yield, g};
  switch_to_g0(g, &msg);
}

GORT_TLS_READER void detail::preempt_check() {
  G* g = tls_curg;
  if (g == nullptr) return;
  check_stack(g);
  if (GORT_UNLIKELY(g->preempt.load(std::memory_order_relaxed))) preempt_park(g);
}

void preempt_park(G* g) {
  g->preempt.store(false, std::memory_order_relaxed);
  // The goroutine running the stop-the-world function is the one that may run.
  if (g->m->in_stw) return;
  if (int64_t requested = g->preempt_requested_ns.exchange(0, std::memory_order_relaxed)) note_preemption(requested);
  SwitchMsg msg{SwitchMsg::Preempt, g};
  switch_to_g0(g, &msg);
}

void syscall_park_without_p(G* g) {
  SwitchMsg msg{SwitchMsg::SyscallNoP, g};
  switch_to_g0(g, &msg);
}

void check_stack_slow(G* g) {
  throw_fatalf("stack overflow in goroutine %" PRId64 " (stack [%#" PRIxPTR ", %#" PRIxPTR "), sp %p)", g->id.load(std::memory_order_relaxed),
               g->stack.lo, g->stack.hi, __builtin_frame_address(0));
}

// ---- Per-thread and per-G switch state ----

void switch_thread_init(M* m) {
#if GORT_TSAN
  if (m != nullptr) m->tsan_g0_fiber = __tsan_get_current_fiber();
#endif
  (void)m;
}

void switch_thread_exit(M* m) { (void)m; }

void switch_g_start(G* g) {
#if GORT_TSAN
  g->tsan_fiber = __tsan_create_fiber(0);
  // A new fiber often reuses a destroyed one's address, and TSan keeps the
  // synchronization history of the old one there, which would hide races
  // with the dead goroutine. Reset it; the reset itself imitates a write,
  // so TSan is told to ignore it.
  AnnotateIgnoreWritesBegin(__FILE__, __LINE__);
  __tsan_mutex_destroy(g->tsan_fiber, 0);
  AnnotateIgnoreWritesEnd(__FILE__, __LINE__);
#endif
  (void)g;
}

void switch_g_exit(G* g) {
#if GORT_TSAN
  if (g->tsan_fiber != nullptr) __tsan_destroy_fiber(g->tsan_fiber);
  g->tsan_fiber = nullptr;
#endif
  (void)g;
}

// ---- Queries ----

G* current_g() { return detail::curg(); }
bool on_goroutine() { return detail::curg() != nullptr; }
int64_t goid() {
  G* g = detail::curg();
  return g != nullptr ? g->id.load(std::memory_order_relaxed) : 0;
}

}  // namespace gort
