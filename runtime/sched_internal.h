// sched_internal.h — scheduler internals shared by the runtime's .cpp files:
// P (processor), M (OS thread), the global sched record, and the park/ready
// primitives every blocking operation is built from. Not part of the public
// API; other layers use gort.h, chan.h, sync.h, netpoll.h, observer.h.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/base.h"
#include "runtime/g.h"
#include "runtime/gort.h"
#include "runtime/runq.h"
#include "runtime/stack.h"
#include "runtime/timer.h"

namespace gort {

enum class PStatus : uint32_t {
  Idle = 0,     // on the idle list, no M
  Running = 1,  // owned by an M running Go code or the scheduler
  Syscall = 2,  // owner M is in a BlockingSection; sysmon may retake it
  GCStop = 3,   // stopped for stop-the-world
};

struct P {
  int32_t id = 0;
  std::atomic<PStatus> status{PStatus::Idle};
  P* link = nullptr;               // idle list (guarded by sched.lock)
  M* m = nullptr;                  // owning M (nullptr when idle); read racily only for dumps
  uint32_t schedtick = 0;          // incremented on every scheduler pick (owner only)
  uint32_t syscalltick = 0;        // incremented on every BlockingSection (owner only)
  std::atomic<uint32_t> schedtick_pub{0};    // schedtick published for sysmon
  std::atomic<uint32_t> syscalltick_pub{0};
  std::atomic<uint64_t> switches_pub{0};     // Gs started on this P (owner writes, stats read)
  // sysmon's view (sysmon only)
  uint32_t sysmon_schedtick = 0;
  int64_t sysmon_schedwhen = 0;
  uint32_t sysmon_syscalltick = 0;
  int64_t sysmon_syscallwhen = 0;

  LocalRunQueue runq;
  std::atomic<G*> runnext{nullptr};  // owner sets; thieves CAS to steal
  TimerHeap timers;                  // guarded by its own lock
  StackCache stacks;                 // owner only
  G* gfree = nullptr;                // free Gs (owner only)
  int32_t ngfree = 0;
  std::atomic<uint64_t> steals{0};
};

struct M {
  int64_t id = 0;
  std::thread thread;              // empty for M0
  void* g0ctx = nullptr;           // the scheduler context of this thread
  std::atomic<G*> curg{nullptr};   // running goroutine (written by owner, read by sysmon)
  P* p = nullptr;                  // attached P (owner)
  P* nextp = nullptr;              // P handed over by startm (guarded by note protocol)
  P* oldp = nullptr;               // P held before a BlockingSection
  bool spinning = false;           // looking for work (counted in sched.nmspinning)
  bool blocked_in_netpoll = false;
  M* link = nullptr;               // idle list (guarded by sched.lock)
  M* alllink = nullptr;
  Note park;                       // stopm sleeps here
  uint64_t fastrand = 0;
  bool exiting = false;
};

// Sched is the global scheduler record (Go's schedt).
struct Sched {
  std::mutex lock;                 // protects the fields marked (L)
  GQueue runq;                     // (L) global run queue
  std::atomic<int32_t> runqsize{0};// written under (L), read racily
  P* pidle = nullptr;              // (L)
  std::atomic<int32_t> npidle{0};
  M* midle = nullptr;              // (L)
  int32_t nmidle = 0;              // (L)
  std::atomic<int32_t> nmspinning{0};
  M* allm = nullptr;               // (L) every M ever created (prepend)
  std::atomic<int32_t> mcount{0};
  std::vector<P*> allp;            // fixed after start
  int32_t gomaxprocs = 1;

  // Stop-the-world (L)
  std::atomic<bool> gcwaiting{false};
  int32_t stopwait = 0;
  Note stopnote;

  // Netpoll: 0 when an M is blocked in netpoll, else nanotime of last poll.
  std::atomic<int64_t> lastpoll{0};
  std::atomic<int64_t> poll_until{0};

  std::atomic<bool> exiting{false};
  G* main_g = nullptr;

  // G registry (allglock): every G ever created, for dumps and observers.
  std::mutex allglock;
  std::vector<G*> allgs;
  std::atomic<int64_t> goidgen{0};
  std::atomic<int64_t> ngsys{0};
  std::atomic<int64_t> nlive{0};
  G* gfree = nullptr;              // (gfree_lock) global free Gs, stacks resident
  int32_t ngfree = 0;              // (gfree_lock)
  G* gfree_cold = nullptr;         // (gfree_lock) free Gs whose stack pages were given back
  int32_t ngfree_cold = 0;         // (gfree_lock)
  uint64_t gfree_gets = 0;         // (gfree_lock) refills from the global lists, for the scavenger
  SpinLock gfree_lock;

  // Stats
  std::atomic<uint64_t> goroutines_created{0};
  std::atomic<uint64_t> steals{0}, stolen_gs{0};
  std::atomic<uint64_t> preempt_requests{0}, preemptions{0};
  std::atomic<int64_t> preempt_latency_max_ns{0};
  std::atomic<uint64_t> preempt_latency_sum_ns{0};
  std::atomic<uint64_t> handoffs{0};
  std::atomic<uint64_t> stw_count{0};
  std::atomic<int64_t> stw_max_ns{0};
  std::atomic<uint64_t> netpoll_polls{0};
  std::atomic<uint64_t> latency_counts[kLatencyBuckets + 1]{};
  std::atomic<uint64_t> latency_sum_ns{0};

  // Coarse clock (≤ 10 ms stale), refreshed by sysmon every round: stamps
  // G::wait_since_ns on every park without a clock read (which costs
  // ~30 ns here — a third of a channel round trip).
  std::atomic<int64_t> coarse_now_ns{0};

  int64_t start_ns = 0;
  int64_t schedtrace_ms = 0;
  bool scheddetail = false;
};

extern Sched sched;
extern thread_local M* tls_m;
namespace detail {
extern thread_local G* tls_curg;
}

// park_g parks the calling goroutine with the given reason. After the switch
// to the scheduler, unlockf(g, arg) runs on g0; if it returns false the G is
// resumed at once. Other threads may ready g as soon as unlockf runs.
using UnlockFn = bool (*)(G* g, void* arg);
void park_g(UnlockFn unlockf, void* arg, WaitReason reason);

// ready_g makes a parked G runnable: into the current P's runnext when called
// from a goroutine or g0 holding a P (next=true), else to the global queue.
// Wakes an idle P if there is one.
void ready_g(G* g, bool next = true);

// inject_glist makes a batch runnable (netpoll, timers without a P).
void inject_glist(GQueue& q);

// wakep tries to start an M for an idle P if nobody is spinning.
void wakep(bool published_with_rmw = false);

// netpoll hooks (netpoll.cpp)
bool netpoll_inited();
bool netpoll_has_waiters();
// netpoll polls Asio: block_until_ns 0 = non-blocking, <0 = forever;
// returns Gs made runnable.
GQueue netpoll(int64_t block_until_ns);
void netpoll_break();
void netpoll_shutdown();

// Called from timers on expiry of a sleep.
void timers_check_all(int64_t now, GQueue* ready);

// Stack check invoked at safepoints.
inline void check_stack(G* g) {
  uintptr_t sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (GORT_UNLIKELY(sp < g->stack.guard())) detail::check_stack_slow(g);
}

void signals_install();
void signals_thread_init();
void signals_thread_exit();

void stack_scavenge();

void sysmon_start();
void sysmon_stop();
void schedtrace_print(bool detail);

// Stop-the-world internals used by stw.cpp.
void gcstopm();

}  // namespace gort
