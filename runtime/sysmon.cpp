// sysmon.cpp — the system monitor thread (Go's sysmon) and schedtrace.
//
// sysmon runs without a P on its own thread, waking every 20 µs while the
// scheduler is busy and backing off to 10 ms when nothing changes. Each
// round it:
//   - retakes Ps: a P whose G has run for kForcePreemptNs gets a preemption
//     request (honoured at the G's next safepoint); a P whose M has been in
//     a BlockingSection for a sysmon tick while other work waits is handed to
//     another M (handoffp), as Go's retake;
//   - polls the netpoller if nobody has for kNetpollForceNs;
//   - about once a second, trims the stacks of a surplus of idle Gs
//     (stack_scavenge in sched.cpp);
//   - prints the schedtrace line every GODEBUG=schedtrace=MS.
#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <thread>

#include "runtime/observer.h"
#include "runtime/sched_internal.h"

namespace gort {

void handoffp(P* p);

namespace {

constexpr int64_t kForcePreemptNs = 10'000'000;  // a G running this long is asked to yield
constexpr int64_t kNetpollForceNs = 10'000'000;  // poll the network if nobody has for this long
constexpr int64_t kSysmonMinDelayNs = 20'000;    // 20 µs while busy
constexpr int64_t kSysmonMaxDelayNs = 10'000'000;
constexpr int64_t kScavengeIntervalNs = 1'000'000'000;  // idle-stack scavenger period

std::thread g_sysmon;
Note g_sysmon_stop;
std::atomic<bool> g_sysmon_running{false};

void preemptone(P* p, int64_t now) {
  M* m = p->m;
  if (!m) return;
  G* g = m->curg.load(std::memory_order_relaxed);
  if (!g) return;
  if (!g->preempt.load(std::memory_order_relaxed)) {
    g->preempt_requested_ns = now;
    g->preempt.store(true, std::memory_order_relaxed);
    sched.preempt_requests.fetch_add(1, std::memory_order_relaxed);
  }
}

// retake returns the number of Ps it acted on.
int retake(int64_t now) {
  int n = 0;
  for (P* p : sched.allp) {
    PStatus s = p->status.load(std::memory_order_acquire);
    if (s == PStatus::Running) {
      uint32_t t = p->schedtick_pub.load(std::memory_order_relaxed);
      if (p->sysmon_schedtick != t) {
        p->sysmon_schedtick = t;
        p->sysmon_schedwhen = now;
      } else if (p->sysmon_schedwhen + kForcePreemptNs <= now) {
        preemptone(p, now);
        p->sysmon_schedwhen = now;  // ask again only after another slice
        n++;
      }
    } else if (s == PStatus::Syscall) {
      uint32_t t = p->syscalltick_pub.load(std::memory_order_relaxed);
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
        if (auto* o = observer()) o->on_proc_stop(p->id);
        handoffp(p);
        n++;
      }
    }
  }
  return n;
}

void sysmon_loop() {
  int64_t delay = kSysmonMinDelayNs;
  int idle = 0;
  int64_t next_scavenge = sched.start_ns + kScavengeIntervalNs;
  int64_t next_trace = sched.schedtrace_ms > 0 ? sched.start_ns + sched.schedtrace_ms * 1'000'000 : INT64_MAX;
  for (;;) {
    if (g_sysmon_stop.timed_sleep(delay)) return;
    int64_t now = nanotime();
    sched.coarse_now_ns.store(now, std::memory_order_relaxed);
    int acted = retake(now);
    int64_t lp = sched.lastpoll.load();
    if (lp != 0 && lp + kNetpollForceNs < now && sched.lastpoll.compare_exchange_strong(lp, now)) {
      GQueue q = netpoll(0);
      if (!q.empty()) {
        inject_glist(q);
        acted++;
      }
    }
    if (now >= next_scavenge) {
      stack_scavenge();
      next_scavenge = now + kScavengeIntervalNs;
    }
    if (now >= next_trace) {
      schedtrace_print(sched.scheddetail);
      next_trace = now + sched.schedtrace_ms * 1'000'000;
    }
    // Go's back-off: 20 µs while sysmon has work, doubling after 50 quiet
    // rounds (1 ms) up to 10 ms.
    if (acted) {
      idle = 0;
      delay = kSysmonMinDelayNs;
    } else if (++idle > 50) {
      delay = std::min(delay * 2, kSysmonMaxDelayNs);
    }
  }
}

}  // namespace

void sysmon_start() {
  g_sysmon_stop.clear();
  g_sysmon_running = true;
  g_sysmon = std::thread(sysmon_loop);
}

void sysmon_stop() {
  if (!g_sysmon_running.exchange(false)) return;
  g_sysmon_stop.wakeup();
  g_sysmon.join();
}

// schedtrace_print writes Go 1.19's schedtrace line (proc.go schedtrace):
//   SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=5 spinningthreads=0 idlethreads=1 runqueue=0 [0 0]
// and with detail, per-P, per-M and per-G lines.
void schedtrace_print(bool detail) {
  int64_t now = nanotime();
  std::string out;
  char buf[512];
  std::lock_guard<std::mutex> l(sched.lock);
  snprintf(buf, sizeof buf,
           "SCHED %" PRId64 "ms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d idlethreads=%d runqueue=%d",
           (now - sched.start_ns) / 1'000'000, sched.gomaxprocs, sched.npidle.load(), sched.mcount.load(),
           sched.nmspinning.load(), sched.nmidle, sched.runqsize.load());
  out += buf;
  if (detail) {
    snprintf(buf, sizeof buf, " gcwaiting=%d nmidlelocked=0 stopwait=%d sysmonwait=0\n",
             sched.gcwaiting.load() ? 1 : 0, sched.stopwait);
    out += buf;
  }
  for (size_t i = 0; i < sched.allp.size(); i++) {
    P* p = sched.allp[i];
    uint32_t q = p->runq.size();
    if (detail) {
      M* m = p->m;
      snprintf(buf, sizeof buf,
               "  P%zu: status=%u schedtick=%u syscalltick=%u m=%" PRId64 " runqsize=%u gfreecnt=%d timerslen=%zu\n", i,
               static_cast<unsigned>(p->status.load()), p->schedtick_pub.load(), p->syscalltick_pub.load(),
               m ? m->id : int64_t{-1}, q, p->ngfree, p->timers.size());
      out += buf;
    } else {
      out += i == 0 ? " [" : " ";
      out += std::to_string(q);
      if (i + 1 == sched.allp.size()) out += "]\n";
    }
  }
  if (detail) {
    for (M* m = sched.allm; m; m = m->alllink) {
      P* p = m->p;
      G* g = m->curg.load(std::memory_order_relaxed);
      snprintf(buf, sizeof buf,
               "  M%" PRId64 ": p=%d curg=%" PRId64 " mallocing=0 throwing=0 preemptoff= locks=0 dying=0 spinning=%s blocked=%s lockedg=-1\n",
               m->id, p ? p->id : -1, g ? g->id : int64_t{-1}, m->spinning ? "true" : "false",
               m->blocked_in_netpoll ? "true" : "false");
      out += buf;
    }
    std::lock_guard<std::mutex> gl(sched.allglock);
    for (G* g : sched.allgs) {
      GStatus s = g->status.load();
      if (s == GStatus::Dead) continue;
      M* m = g->m;
      snprintf(buf, sizeof buf, "  G%" PRId64 ": status=%u(%s) m=%" PRId64 " lockedm=-1\n", g->id,
               static_cast<unsigned>(s), s == GStatus::Waiting ? wait_reason_string(g->wait_reason) : "",
               (s == GStatus::Running && m) ? m->id : int64_t{-1});
      out += buf;
    }
  }
  fputs(out.c_str(), stderr);
  fflush(stderr);
}

}  // namespace gort
