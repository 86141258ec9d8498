// schedtrace.cpp — GODEBUG=schedtrace=MS and scheddetail=1 output, in Go
// 1.19's format (proc.go schedtrace), printed by sysmon.
#include <cinttypes>
#include <cstdio>
#include <mutex>
#include <string>

#include "runtime/sched_internal.h"

namespace gort {

namespace {

// append_g_line adds scheddetail's line for g, unless it is dead or unused.
GORT_RACY_SNAPSHOT void append_g_line(std::string* out, const G* g) {
  GStatus s = g->status.load();
  int64_t id = g->id.load(std::memory_order_relaxed);
  if (s == GStatus::Dead || id == 0) return;
  M* m = g->m;
  char buf[256];
  snprintf(buf, sizeof buf, "  G%" PRId64 ": status=%u(%s) m=%" PRId64 " lockedm=-1\n", id, static_cast<unsigned>(s),
           s == GStatus::Waiting ? wait_reason_string(g->wait_reason.load(std::memory_order_relaxed)) : "",
           (s == GStatus::Running && m != nullptr) ? m->id : int64_t{-1});
  *out += buf;
}

}  // namespace

// schedtrace_print writes Go 1.19's schedtrace line (proc.go schedtrace):
//   SCHED 1004ms: gomaxprocs=2 idleprocs=0 threads=5 spinningthreads=0 idlethreads=1 runqueue=0 [0 0]
// and with detail, per-P, per-M and per-G lines.
// Like Go's, it reads Ps, Ms and Gs that are running meanwhile: a snapshot.
GORT_RACY_SNAPSHOT void schedtrace_print(bool detail) {
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
      M* m = p->m.load(std::memory_order_acquire);
      snprintf(buf, sizeof buf,
               "  P%zu: status=%u schedtick=%u syscalltick=%u m=%" PRId64 " runqsize=%u gfreecnt=%d timerslen=%zu\n", i,
               static_cast<unsigned>(p->status.load()), static_cast<unsigned>(p->schedtick.load()),
               static_cast<unsigned>(p->syscalltick.load()),
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
      G* g = m->curg.load(std::memory_order_acquire);
      snprintf(buf, sizeof buf,
               "  M%" PRId64 ": p=%d curg=%" PRId64 " mallocing=0 throwing=0 preemptoff= locks=0 dying=0 spinning=%s blocked=%s lockedg=-1\n",
               m->id, p ? p->id : -1, g ? g->id.load(std::memory_order_relaxed) : int64_t{-1}, m->spinning ? "true" : "false",
               m->blocked_in_netpoll.load(std::memory_order_relaxed) ? "true" : "false");
      out += buf;
    }
    for_each_goroutine([&](G* g) { append_g_line(&out, g); });
  }
  fputs(out.c_str(), stderr);
  fflush(stderr);
}

}  // namespace gort
