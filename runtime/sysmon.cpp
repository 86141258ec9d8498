// sysmon.cpp — the system monitor thread (Go's sysmon).
//
// sysmon runs without a P on its own thread, waking every 20 µs while it
// hands off Ps from blocking sections and backing off to 10 ms when it does
// not. Each round it:
//   - retakes Ps: a P whose G has run for kForcePreemptNs gets a preemption
//     request (honoured at the G's next safepoint); a P whose M has been in
//     a BlockingSection for a sysmon tick while other work waits is handed to
//     another M (handoffp), as Go's retake;
//   - polls the netpoller if nobody has for kNetpollForceNs;
//   - about once a second, trims the stacks of a surplus of idle Gs
//     (stack_scavenge in g.cpp);
//   - prints the schedtrace lines every GODEBUG=schedtrace=MS
//     (schedtrace.cpp).
// It registers itself in the thread registry so profilers see it.
#include <algorithm>
#include <thread>

#include "runtime/sched_internal.h"

namespace gort {

namespace {

constexpr int64_t kForcePreemptNs = 10'000'000;  // a G running this long is asked to yield
constexpr int64_t kNetpollForceNs = 10'000'000;  // poll the network if nobody has for this long
constexpr int64_t kSysmonMinDelayNs = 20'000;    // 20 µs while busy
constexpr int64_t kSysmonMaxDelayNs = 10'000'000;
constexpr int64_t kScavengeIntervalNs = 1'000'000'000;  // idle-stack scavenger period

std::thread g_sysmon;
Note g_sysmon_stop;
Note g_sysmon_registered;  // sysmon_start waits for it: the registry is complete before main runs
std::atomic<bool> g_sysmon_running{false};

// preemptone asks the G running on p to yield at its next safepoint.
void preemptone(P* p, int64_t now) {
  M* m = p->m.load(std::memory_order_acquire);
  if (m == nullptr) return;
  G* g = m->curg.load(std::memory_order_acquire);
  if (g == nullptr || g->preempt.load(std::memory_order_relaxed)) return;
  g->preempt_requested_ns.store(now, std::memory_order_relaxed);
  g->preempt.store(true, std::memory_order_relaxed);
  sched.preempt_requests.fetch_add(1, std::memory_order_relaxed);
}

// retake asks Gs that have run for a whole slice to yield and hands off Ps
// whose Ms are stuck in blocking sections. Returns the number of hand-offs
// (as Go's retake: only those keep sysmon at its shortest period).
int retake(int64_t now) {
  int n = 0;
  for (P* p : sched.allp) {
    PStatus s = p->status.load(std::memory_order_acquire);
    if (s == PStatus::Running) {
      uint64_t t = p->schedtick.load(std::memory_order_relaxed);
      if (p->sysmon_schedtick != t) {
        p->sysmon_schedtick = t;
        p->sysmon_schedwhen = now;
      } else if (p->sysmon_schedwhen + kForcePreemptNs <= now) {
        preemptone(p, now);
        p->sysmon_schedwhen = now;  // ask again only after another slice
      }
    } else if (s == PStatus::Syscall) {
      uint64_t t = p->syscalltick.load(std::memory_order_relaxed);
      if (p->sysmon_syscalltick != t) {
        p->sysmon_syscalltick = t;
        p->sysmon_syscallwhen = now;
        continue;
      }
      // Leave it alone if there is nothing else to do and it is short.
      bool work = !p->runq.empty() || sched.runqsize.load() > 0;
      if (!work && sched.nmspinning.load() + sched.npidle.load() > 0 &&
          p->sysmon_syscallwhen + kForcePreemptNs > now)
        continue;
      PStatus exp = PStatus::Syscall;
      if (p->status.compare_exchange_strong(exp, PStatus::Idle)) {
        sched.handoffs.fetch_add(1, std::memory_order_relaxed);
        syscall_p_taken(p);
        handoffp(p);
        n++;
      }
    }
  }
  return n;
}

void sysmon_loop() {
  signals_thread_init();
  thread_register(nullptr);
  switch_thread_init(nullptr);
  g_sysmon_registered.wakeup();
  int64_t delay = kSysmonMinDelayNs;
  int idle = 0;
  int64_t next_scavenge = sched.start_ns + kScavengeIntervalNs;
  int64_t next_trace = sched.schedtrace_ms > 0 ? sched.start_ns + sched.schedtrace_ms * 1'000'000 : INT64_MAX;
  for (;;) {
    if (g_sysmon_stop.timed_sleep(delay)) break;
    int64_t now = nanotime();
    sched.coarse_now_ns.store(now, std::memory_order_relaxed);
    const int handoffs = retake(now);
    int64_t lp = sched.lastpoll.load();
    if (lp != 0 && lp + kNetpollForceNs < now && sched.lastpoll.compare_exchange_strong(lp, now)) {
      GQueue q = netpoll(0);
      inject_glist(q);
    }
    if (now >= next_scavenge) {
      stack_scavenge();
      next_scavenge = now + kScavengeIntervalNs;
    }
    if (now >= next_trace) {
      schedtrace_print(sched.scheddetail);
      next_trace = now + sched.schedtrace_ms * 1'000'000;
    }
    // Go's back-off: 20 µs while Ps are being handed off, doubling after 50
    // rounds without a hand-off (1 ms) up to 10 ms. Preemption requests and
    // the forced netpoll do not reset it: under a CPU-bound load a sysmon
    // waking every 20 µs took about 3% of the CPU from the Ms.
    if (handoffs != 0) {
      idle = 0;
      delay = kSysmonMinDelayNs;
    } else if (++idle > 50) {
      delay = std::min(delay * 2, kSysmonMaxDelayNs);
    }
  }
  switch_thread_exit(nullptr);
  thread_unregister();
  signals_thread_exit();
}

}  // namespace

void sysmon_start() {
  g_sysmon_stop.clear();
  g_sysmon_registered.clear();
  g_sysmon_running = true;
  g_sysmon = std::thread(sysmon_loop);
  g_sysmon_registered.sleep();
}

void sysmon_stop() {
  if (!g_sysmon_running.exchange(false)) return;
  g_sysmon_stop.wakeup();
  g_sysmon.join();
}

}  // namespace gort
