// sched_internal.h — the one header the runtime's .cpp files share: the
// goroutine record (G), processors (P), OS threads (M), the global scheduler
// record (Sched), the lock order, and every function one runtime file calls
// in another. Not part of the public API: other layers use gort.h, chan.h,
// select.h, sync.h, netpoll.h, stw.h, goroutine.h, observer.h, threads.h
// and scan.h. No runtime .cpp file declares another file's function itself.
//
// Vocabulary (as Go's proc.go; the design essay is at the top of sched.cpp):
//   G  a goroutine: a Boost.Context fcontext on a pooled stack.
//   M  an OS thread. Runs the scheduler on its own thread stack ("g0") and
//      switches into Gs.
//   P  a processor: the right to run goroutines, with a local run queue, a
//      timer heap and caches of free Gs and stacks. GOMAXPROCS of them.
//
// Files, by concept:
//   sched.cpp      the scheduler loop: find_runnable and its steps, m_loop
//   switch.cpp     context switches: execute, park, ready, yield, preempt,
//                  the direct G-to-G hand-off, sanitizer fiber annotations
//   proc.cpp       Ms and Ps: idle lists, start/stop/wake Ms, hand-off of Ps
//   runq.cpp       local, global and stolen run-queue operations
//   g.cpp          G lifecycle: the G registry, spawn, exit, free lists
//   stack.cpp      the stack arena (stack.h)
//   config.cpp     run_main: start-up configuration, GODEBUG, shutdown
//   stats.cpp      counters, scheduling-latency sampling, sched_stats
//   schedtrace.cpp GODEBUG=schedtrace/scheddetail output
//   sysmon.cpp, stw.cpp, syscall.cpp, time.cpp, timer.cpp, netpoll.cpp,
//   signals.cpp, observer.cpp, labels.cpp, threads.cpp, scan.cpp
//
// ---- Lock order ----
// A lock may be taken while holding only locks listed above it:
//   1. worldsema (a Sema in stw.cpp): held by a goroutine across a whole
//      stop-the-world; acquiring it may park, so it comes first.
//   1b. newm_lock (proc.cpp): held across the creation of an M, which takes
//      sched.lock to put it on allm; never held by a caller of newm.
//   2. sched.lock (std::mutex): idle P and M lists, the global run queue,
//      stop-the-world accounting, allm.
//   3. sched.allglock (std::mutex): appends to the G registry only; walking
//      the registry takes no lock (for_each_goroutine).
//   Leaves — never held while taking another runtime lock, and never across
//   a ready or a switch (a parking goroutine's wait-queue lock is released
//   by park's unlock function, after the switch): a P's timer-heap lock, channel
//   locks (select holds several, always in address order), semtable root
//   locks, NotifyList locks, sched.gfree_lock, the thread registry lock, the
//   label hazard lock.
// Observer callbacks never run with sched.lock held; on_go_block runs
// under the parking goroutine's leaf wait-queue lock (observer.h). The
// observer writer lock (observer.cpp) is taken only by add/remove_observer
// on a goroutine that holds nothing else.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "runtime/base.h"
#include "runtime/g.h"
#include "runtime/goroutine.h"
#include "runtime/gort.h"
#include "runtime/observer.h"
#include "runtime/runq.h"
#include "runtime/stack.h"
#include "runtime/stackwalk.h"
#include "runtime/threads.h"
#include "runtime/timer.h"

namespace gort {

struct M;
struct P;

// ---- P: a processor ----

enum class PStatus : uint32_t {
  Idle = 0,     // on the idle list, no M
  Running = 1,  // owned by an M running goroutines or the scheduler
  Syscall = 2,  // owner M is in a BlockingSection; sysmon may retake it
  GCStop = 3,   // stopped for stop-the-world
};

struct P {
  int32_t id = 0;
  std::atomic<PStatus> status{PStatus::Idle};
  P* link = nullptr;                 // idle list (sched.lock)
  std::atomic<M*> m{nullptr};        // owning M (nullptr when idle); owner writes (release), sysmon and dumps read (acquire)
  // Ticks: written by the owner only (relaxed load + store), read by sysmon
  // and statistics. schedtick counts scheduling rounds that started a fresh
  // time slice (a G taken from runnext inherits the slice, as in Go, so a
  // ping-pong pair is preempted like one long-running G); syscalltick counts
  // BlockingSections; nswitch counts every switch into a G.
  std::atomic<uint64_t> schedtick{0};
  std::atomic<uint64_t> syscalltick{0};
  std::atomic<uint64_t> nswitch{0};
  // sysmon's view of the ticks (sysmon only)
  uint64_t sysmon_schedtick = 0;
  int64_t sysmon_schedwhen = 0;
  uint64_t sysmon_syscalltick = 0;
  int64_t sysmon_syscallwhen = 0;

  LocalRunQueue runq;
  std::atomic<G*> runnext{nullptr};  // owner sets; thieves CAS to steal
  TimerHeap timers;                  // its own lock
  StackCache stacks;                 // owner only
  G* gfree = nullptr;                // free Gs (owner only)
  int32_t ngfree = 0;                // (owner only)
};

// ---- M: an OS thread ----

struct M {
  int64_t id = 0;
  std::thread thread;                // empty for M0
  void* g0ctx = nullptr;             // g0's saved context; written by the G that g0 switched to
  std::atomic<G*> curg{nullptr};     // G running on this M: owner writes (release); sysmon, STW read (acquire)
  P* p = nullptr;                    // attached P (owner)
  P* nextp = nullptr;                // P handed over by startm (published by the park note)
  P* oldp = nullptr;                 // P held before a BlockingSection (owner)
  uint64_t syscalltick = 0;          // oldp->syscalltick at section entry (owner)
  bool spinning = false;             // looking for work (counted in sched.nmspinning); owner
  std::atomic<bool> blocked_in_netpoll{false};  // for scheddetail
  bool in_stw = false;               // its goroutine stopped the world and runs the STW function (owner)
  M* link = nullptr;                 // idle list (sched.lock)
  M* alllink = nullptr;              // allm (sched.lock)
  Note park;                         // stopm sleeps here
  ThreadInfo* thread_info = nullptr; // registry record (threads.cpp), owned by the thread
  // Creating thread's stack for the threadcreate profile (set by newm).
  int ncreator_pcs = 0;
  uintptr_t creator_pcs[ThreadInfo::kMaxCreatorPcs] = {};
#if GORT_ASAN
  bool asan_switch_pending = false;  // a fiber switch was started; the landing side finishes it
#endif
#if GORT_TSAN
  void* tsan_g0_fiber = nullptr;     // the thread's own fiber
#endif
};

// ---- Sched: the global scheduler record (Go's schedt) ----
// Constructed afresh by run_main (config.cpp) for every runtime run.

struct Sched {
  std::mutex lock;                   // sched.lock: fields marked (L)
  GQueue runq;                       // (L) global run queue
  std::atomic<int32_t> runqsize{0};  // written under (L), read racily
  P* pidle = nullptr;                // (L)
  std::atomic<int32_t> npidle{0};    // written under (L), read racily
  M* midle = nullptr;                // (L)
  int32_t nmidle = 0;                // (L)
  std::atomic<int32_t> nmspinning{0};
  M* allm = nullptr;                 // (L) every M ever created (prepend)
  std::atomic<int32_t> mcount{0};
  std::vector<P*> allp;              // fixed after start-up
  int32_t gomaxprocs = 1;            // fixed after start-up

  // Stop-the-world (stw.cpp). gcwaiting: atomic, written under (L).
  std::atomic<bool> gcwaiting{false};
  int32_t stopwait = 0;              // (L) Ps still to stop
  Note stopnote;                     // the stopper sleeps here until stopwait == 0
  const char* stw_reason = nullptr;  // (L) reason of the stop in progress

  // Netpoll: 0 while an M is blocked in netpoll, else nanotime of the last
  // poll. poll_until: the deadline that M sleeps to (0: none). atomic.
  std::atomic<int64_t> lastpoll{0};
  std::atomic<int64_t> poll_until{0};

  std::atomic<bool> exiting{false};
  G* main_g = nullptr;               // set before the main goroutine is runnable

  // The G registry: every G record ever created, in chunks that never move,
  // so walking it needs no lock (g.cpp).
  static constexpr int64_t kAllgChunk = 4096;
  static constexpr int64_t kAllgMaxChunks = 4096;  // 16.7M G records
  std::mutex allglock;               // serializes appends
  std::atomic<G**> allg_chunks[kAllgMaxChunks] = {};
  std::atomic<int64_t> allglen{0};   // published after the slot is written (release)
  std::atomic<int64_t> goidgen{0};
  std::atomic<int64_t> nlive{0};

  // Free Gs beyond the Ps' caches (g.cpp), guarded by gfree_lock; the
  // counts are atomic so that spawn may check them without the lock.
  RuntimeLock gfree_lock;
  G* gfree = nullptr;                // stacks resident
  std::atomic<int32_t> ngfree{0};
  G* gfree_cold = nullptr;           // stack pages given back to the kernel
  std::atomic<int32_t> ngfree_cold{0};
  uint64_t gfree_gets = 0;           // refills from the global lists, for the scavenger

  // Statistics (stats.cpp); atomic, relaxed.
  std::atomic<uint64_t> goroutines_created{0};
  std::atomic<uint64_t> steals{0}, stolen_gs{0};
  std::atomic<uint64_t> preempt_requests{0}, preemptions{0};
  std::atomic<int64_t> preempt_latency_max_ns{0};
  std::atomic<uint64_t> preempt_latency_sum_ns{0};
  std::atomic<uint64_t> handoffs{0};
  std::atomic<uint64_t> stw_count{0};
  std::atomic<int64_t> stw_max_ns{0};
  std::atomic<uint64_t> netpoll_polls{0};
  std::atomic<uint64_t> latency_counts[kLatencyBuckets + 1] = {};
  std::atomic<uint64_t> latency_sum_ns{0};
  TimeHistogram time_to_run;         // the same sampled latencies in Go's buckets (sched.timeToRun)

  // Coarse clock (≤ 10 ms stale), refreshed by sysmon every round: stamps
  // G::wait_since_ns on every park without a clock read (~20 ns).
  std::atomic<int64_t> coarse_now_ns{0};

  int64_t start_ns = 0;              // fixed after start-up
  int64_t schedtrace_ms = 0;
  bool scheddetail = false;
};

extern Sched sched;

// GORT_TLS_READER marks a function that reads a thread-local and may be
// called from goroutine code. It must stay out of line, even under
// link-time optimization: a goroutine may resume on another thread after
// any park, and a thread-local access inlined into a function that parks may
// reuse the thread pointer of the thread it ran on before.
#define GORT_TLS_READER __attribute__((noinline))

// The calling thread's M (nullptr off the runtime's threads). Read it only
// in GORT_TLS_READER functions that do not switch goroutines between two
// reads; code that may have migrated reads g->m instead.
extern thread_local M* tls_m;
namespace detail {
// tls_curg is the G whose stack the thread is on: set by the G itself right
// after it lands on its stack and cleared right before it leaves, so a
// signal handler that sees it non-null interrupted that G's stack.
extern thread_local G* tls_curg;
// set_curg writes tls_curg out of line (see curg() in gort.h).
void set_curg(G* g) noexcept;
}  // namespace detail

// ---- Observer dispatch (observer.cpp) ----

namespace detail {
struct ObserverList {
  static constexpr int kMax = 8;
  int n = 0;
  SchedObserver* obs[kMax] = {};
};
extern std::atomic<ObserverList*> g_observers;  // null when none is attached
// observers_enter marks the calling thread as inside a dispatch (so
// remove_observer waits for it) and returns the current list; exit unmarks.
ObserverList* observers_enter();
void observers_exit();
}  // namespace detail

// observing reports whether any observer is attached: one relaxed load.
inline bool observing() { return detail::g_observers.load(std::memory_order_relaxed) != nullptr; }

// emit_event calls f(observer, ts) for every attached observer.
template <class F>
void emit_event(F&& f) {
  detail::ObserverList* l = detail::observers_enter();
  if (l != nullptr) {
    int64_t ts = event_clock_ns();
    for (int i = 0; i < l->n; i++) f(l->obs[i], ts);
  }
  detail::observers_exit();
}

// GORT_EVENT(on_go_start, g, p) → every observer's on_go_start(ts, g, p).
// Never under sched.lock (see the lock order).
#define GORT_EVENT(method, ...)                                                               \
  do {                                                                                        \
    if (GORT_UNLIKELY(::gort::observing()))                                                   \
      ::gort::emit_event([&](::gort::SchedObserver* o_, int64_t ts_) { o_->method(ts_ __VA_OPT__(, ) __VA_ARGS__); }); \
  } while (0)

// ---- switch.cpp: context switches ----

// How often the scheduler takes from the global queue before the local one,
// so that a busy P cannot starve goroutines there (Go uses 61).
inline constexpr uint64_t kGlobalQueueFairnessTicks = 61;

// execute runs g on m (from g0) until some G switches back to g0, and
// handles that G's switch message. `inherit` keeps the P's time slice
// (runnext hand-off).
void execute(M* m, G* g, bool inherit);
// park_g parks the calling goroutine g with the given reason. After it is
// switched out, unlockf(g, arg) runs (on g0 or on the next G's stack); if it
// returns false the G is made runnable again at once. Fatal inside a
// stop-the-world function.
using UnlockFn = bool (*)(G* g, void* arg);
void park_g(G* g, UnlockFn unlockf, void* arg, WaitReason reason);
// ready_g makes a parked G runnable: into the current P's runnext when
// called from a thread holding a P (next=true) or its local queue, else to
// the global queue; wakes an idle P if nobody is spinning.
void ready_g(G* g, bool next = true);
// concurrent_scan.cpp (scan.h): the scan of a goroutine's stack the M
// resuming it owes the collector; a new goroutine's stack during a mark;
// the collector's mark worker for p, readied, if it wants one there.
extern std::atomic<bool> g_scans_active;
void scan_before_resume_slow(G* g);
inline void scan_before_resume(G* g) {
  if (GORT_UNLIKELY(g_scans_active.load(std::memory_order_relaxed))) scan_before_resume_slow(g);
}
void note_new_stack(G* g);
G* find_gc_worker(P* p, bool idle);
void run_exit_hook();  // end of run_main

// mark_runnable sets g Runnable (and stamps it if its latency is sampled).
void mark_runnable(G* g);
// make_ready is what every wake-up of a parked G does before queueing it:
// stamp the block-profile release time, mark it runnable, emit
// on_go_unblock(g, by).
void make_ready(G* g, G* by);
// syscall_p_taken reports that the goroutine in a BlockingSection on p lost
// p — sysmon retook it or a stop-the-world stopped it; the caller has just
// CASed p out of Syscall and owns it. Emits on_go_syscall_block and
// on_proc_stop, then advances p->syscalltick, which the goroutine leaving
// the section waits for. No lock held.
void syscall_p_taken(P* p);
// syscall_park_without_p switches a G leaving a BlockingSection with no P
// to g0, which queues it runnable on the global queue.
void syscall_park_without_p(G* g);
// preempt_park yields the calling G to the global queue (a preemption).
void preempt_park(G* g);
// switch_thread_init / exit set up and tear down the calling thread's
// context-switch state (sanitizer fibers); m may be null for sysmon.
void switch_thread_init(M* m);
void switch_thread_exit(M* m);
// switch_g_start / switch_g_exit create and release a goroutine's switch
// state (its TSan fiber): at spawn, on the spawner, and after it exited (or
// at shutdown), on g0.
void switch_g_start(G* g);
void switch_g_exit(G* g);
// prepare_g_context builds a fresh context for g whose first frame starts
// below top (the closure sits above it).
void prepare_g_context(G* g, uintptr_t top);

// BlockTimer measures one blocking wait for the block profile (Go's
// blockevent): constructed before the goroutine queues, report() after it
// resumes, passing the block hook the time from queueing to the moment a
// waker readied it (ready_g stamps it), so scheduling latency after the
// wake-up is not counted. Costs one relaxed load when no hook is set. A
// wait that parks more than once (a Mutex waiter that lost the race and
// queued again) is one event, up to the last wake-up.
class BlockTimer final {
 public:
  explicit BlockTimer(G* g) {
    if (GORT_UNLIKELY(detail::g_block_hook.load(std::memory_order_relaxed) != nullptr) && g != nullptr) {
      g_ = g;
      t0_ = nanotime();
      g->block_release_ns = 0;
      g->block_stamped = true;
    }
  }
  ~BlockTimer() {
    if (g_ != nullptr) g_->block_stamped = false;
  }
  BlockTimer(const BlockTimer&) = delete;
  BlockTimer& operator=(const BlockTimer&) = delete;
  void report(WaitReason reason) {
    if (GORT_LIKELY(g_ == nullptr)) return;
    g_->block_stamped = false;
    int64_t released = g_->block_release_ns;
    g_ = nullptr;
    BlockHook hook = detail::g_block_hook.load(std::memory_order_relaxed);
    if (hook != nullptr && released != 0) hook(released - t0_, reason);
  }

 private:
  G* g_ = nullptr;
  int64_t t0_ = 0;
};

// check_stack is the red-zone check at every safepoint.
void check_stack_slow(G* g);
inline void check_stack(G* g) {
  uintptr_t sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  if (GORT_UNLIKELY(sp < g->stack.guard())) check_stack_slow(g);
}

// ---- proc.cpp: Ms and Ps ----

void pidleput(P* p);                 // (L)
P* pidleget();                       // (L)
void acquirep(M* m, P* p);
P* releasep(M* m);
// startm hands P p (or an idle P) to an idle or new M; spinning=true means
// the caller already counted the new M in nmspinning.
void startm(P* p, bool spinning);
// wakep starts a spinning M for an idle P if nobody spins. published_with_rmw:
// the caller published its new work with a seq_cst RMW (no extra fence).
void wakep(bool published_with_rmw = false);
// handoffp gives away a P whose M cannot use it (retaken from a blocking section).
void handoffp(P* p);
// stopm parks m until startm hands it a P; false when the runtime exits.
bool stopm(M* m);
// mstart is the body of every M's thread; m_start_current registers the
// calling thread (M0) as m.
void m_start_current(M* m);
void m_exit_current(M* m);
M* allocm();
void wake_all_for_exit();
// newm_barrier waits for an M being created to be fully started; after
// wake_all_for_exit set sched.exiting, no further M is created.
void newm_barrier();
// can_spin_on_lock answers sync.Mutex's question (Go's sync_runtime_canSpin):
// may the calling goroutine spin round `iter` waiting for a lock holder
// that probably runs on another P?
bool can_spin_on_lock(int iter);

// ---- runq.cpp: run queues ----

// runnext_take removes g from p's runnext if it is still there (owner
// only). With one P nobody steals, so a plain store does (a locked
// instruction is a tenth of a channel round trip).
inline bool runnext_take(P* p, G* g) {
  if (sched.gomaxprocs == 1) {
    p->runnext.store(nullptr, std::memory_order_relaxed);
    return true;
  }
  return p->runnext.compare_exchange_strong(g, nullptr, std::memory_order_acq_rel);
}

void runqput(P* p, G* g, bool next);
// runqget takes runnext (inherit = true: it keeps the time slice) or the
// local queue's head.
G* runqget(P* p, bool* inherit);
bool runq_empty(P* p);
void globrunqput(G* g);                          // (L)
void globrunqput_batch(GQueue& q, int32_t n);    // (L)
G* globrunqget(P* p, int32_t max);               // (L)
G* runqsteal(P* p, P* victim, bool steal_runnext);
// inject_glist makes a batch runnable on the global queue and starts Ms
// for idle Ps (netpoll, timers without a P).
void inject_glist(GQueue& q);

// ---- sched.cpp: the scheduler loop ----

void m_loop(M* m);
// earliest_timer returns the earliest timer deadline over all Ps.
int64_t earliest_timer();

// ---- g.cpp: G lifecycle ----

// goexit0 retires an exited G (on g0): dead, labels dropped, onto p's
// free list with its stack; the main goroutine's exit ends the runtime.
void goexit0(P* p, G* g);
// exit_discarded ends the calling goroutine g at once, without unwinding:
// the runtime is exiting and g waits for something that will never come.
[[noreturn]] void exit_discarded(G* g);
// allg_free_all deletes every G record (shutdown).
void allg_free_all();
// stack_scavenge gives back stack pages of a long-idle surplus of free Gs.
void stack_scavenge();

// ---- labels.cpp ----

void labels_inherit(G* child, const G* parent);
void labels_release(G* g);

// ---- stats.cpp ----

void stats_init();
void record_latency(G* g);
inline constexpr uint8_t kTrackingPeriod = 8;
// left_running is called on every transition out of running.
inline void left_running(G* g) {
  if (g->tracking_seq++ % kTrackingPeriod == 0) g->tracking = true;
}
void note_preemption(int64_t requested_ns);
void note_stw(int64_t time_to_stop_ns);

// ---- stw.cpp ----

// gcstopm stops the calling M's P for a stop-the-world in progress.
void gcstopm(M* m);

// ---- threads.cpp ----

// thread_register records the calling thread (an M, or sysmon when m is
// null) and runs observers' on_thread_start on it; thread_unregister runs
// on_thread_exit and removes it.
void thread_register(M* m);
void thread_unregister();
void threads_reset();

// ---- scan.cpp ----

// saved_frame is where a walk of a stopped G's stack starts (zeros while it runs).
SavedFrame saved_frame(const G* g);
// record_syscall_entry stores the BlockingSection entry state in g.
void record_syscall_entry(G* g);

// ---- netpoll.cpp ----

void netpoll_init();
bool netpoll_has_waiters();
// netpoll polls Asio: block_until_ns 0 = non-blocking, <0 = forever;
// returns the Gs made runnable.
GQueue netpoll(int64_t block_until_ns);
void netpoll_break();
void netpoll_shutdown();

// ---- signals.cpp ----

void signals_install();
void signals_thread_init();
void signals_thread_exit();
// signals_altstack reports the calling thread's alternate signal stack.
void signals_altstack(uintptr_t* lo, uintptr_t* hi);

// ---- sysmon.cpp, schedtrace.cpp ----

void sysmon_start();
void sysmon_stop();
void schedtrace_print(bool detail);

}  // namespace gort
