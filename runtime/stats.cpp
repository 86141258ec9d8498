// stats.cpp — scheduler statistics: the counters of SchedStats, the
// scheduling-latency histograms (sampled like Go's gTrackingPeriod and
// stamped with the TSC, which costs ~10 ns against ~20 ns for the clock;
// kept twice, in gort's coarse buckets and in Go's timeHistogram), and
// preemption latency.
#include <mutex>

#include "runtime/sched_internal.h"

namespace gort {

const double kLatencyBoundsSeconds[kLatencyBuckets] = {1e-6,   5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4,
                                                       2.5e-4, 5e-4, 1e-3, 1e-2,   1e-1, 1.0};

namespace {

// TSC ticks → ns, calibrated against CLOCK_MONOTONIC once per process.
double g_ns_per_tick = 0;
std::once_flag g_tsc_once;

void calibrate_tsc() {
  int64_t t0 = nanotime();
  uint64_t c0 = cputicks();
  while (nanotime() - t0 < 2'000'000) cpu_relax();
  int64_t t1 = nanotime();
  uint64_t c1 = cputicks();
  g_ns_per_tick = c1 > c0 ? double(t1 - t0) / double(c1 - c0) : 1.0;
}

void max_into(std::atomic<int64_t>& mx, int64_t v) {
  int64_t cur = mx.load(std::memory_order_relaxed);
  while (v > cur && !mx.compare_exchange_weak(cur, v, std::memory_order_relaxed)) {
  }
}

}  // namespace

void stats_init() { std::call_once(g_tsc_once, calibrate_tsc); }

// record_latency closes a sampled runnable -> running interval of g.
void record_latency(G* g) {
  g->tracking = false;
  uint64_t since = g->runnable_since_ticks;
  if (since == 0) return;
  g->runnable_since_ticks = 0;
  uint64_t now = cputicks();
  double ns = now > since ? double(now - since) * g_ns_per_tick : 0;
  double s = ns * 1e-9;
  int b = 0;
  while (b < kLatencyBuckets && s > kLatencyBoundsSeconds[b]) b++;
  sched.latency_counts[b].fetch_add(1, std::memory_order_relaxed);
  sched.latency_sum_ns.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
  sched.time_to_run.record(static_cast<int64_t>(ns));
}

// note_preemption records an honoured preemption request made at requested_ns.
void note_preemption(int64_t requested_ns) {
  int64_t lat = nanotime() - requested_ns;
  sched.preemptions.fetch_add(1, std::memory_order_relaxed);
  sched.preempt_latency_sum_ns.fetch_add(static_cast<uint64_t>(lat), std::memory_order_relaxed);
  max_into(sched.preempt_latency_max_ns, lat);
}

void note_stw(int64_t time_to_stop_ns) {
  sched.stw_count.fetch_add(1, std::memory_order_relaxed);
  max_into(sched.stw_max_ns, time_to_stop_ns);
}

SchedStats sched_stats() {
  SchedStats s;
  s.gomaxprocs = sched.gomaxprocs;
  s.goroutines = sched.nlive.load();
  s.threads = sched.mcount.load();
  s.idle_procs = sched.npidle.load();
  s.spinning_threads = sched.nmspinning.load();
  {
    std::lock_guard<std::mutex> l(sched.lock);
    s.idle_threads = sched.nmidle;
  }
  s.global_runq = sched.runqsize.load();
  for (P* p : sched.allp) {
    s.local_runq.push_back(p->runq.size() + (p->runnext.load(std::memory_order_relaxed) ? 1 : 0));
    s.context_switches += p->nswitch.load(std::memory_order_relaxed);
  }
  s.goroutines_created = sched.goroutines_created.load();
  s.steals = sched.steals.load();
  s.stolen_gs = sched.stolen_gs.load();
  s.preempt_requests = sched.preempt_requests.load();
  s.preemptions = sched.preemptions.load();
  s.preempt_latency_max_ns = sched.preempt_latency_max_ns.load();
  s.preempt_latency_sum_ns = sched.preempt_latency_sum_ns.load();
  s.handoffs = sched.handoffs.load();
  s.stw_count = sched.stw_count.load();
  s.stw_max_ns = sched.stw_max_ns.load();
  s.netpoll_polls = sched.netpoll_polls.load();
  s.stack_slots = static_cast<int64_t>(StackPool::slots_total());
  s.stack_slot_bytes = static_cast<int64_t>(StackPool::slot_bytes());
  return s;
}

LatencyHistogram sched_latency() {
  LatencyHistogram h;
  for (int i = 0; i <= kLatencyBuckets; i++) {
    h.counts[i] = sched.latency_counts[i].load(std::memory_order_relaxed);
    h.total += h.counts[i];
  }
  h.sum_seconds = double(sched.latency_sum_ns.load()) * 1e-9;
  return h;
}

TimeHistogramCounts sched_latency_distribution() { return sched.time_to_run.read(); }

}  // namespace gort
