// dashboard.cpp — readings and events of the live dashboard (see
// dashboard.h).
#include "service/dashboard.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>
#include <memory>

#include "gc/stats.h"
#include "service/json.h"

namespace gortd {

namespace {

// Durations become seconds by division, not by multiplying with 1e-9 (not
// exact in binary): 2'000'000'000 ns is 2 s exactly.
constexpr double kNsPerSecond = 1e9;

// kPauseRing is the length of MemStats' PauseNs/PauseEnd rings.
constexpr uint32_t kPauseRing = 256;

// since returns cur - prev for cumulative counters, 0 if it went backwards.
uint64_t since(uint64_t prev, uint64_t cur) { return cur > prev ? cur - prev : 0; }

// JsonObject writes one JSON object's members in order.
class JsonObject final {
 public:
  JsonObject& raw(std::string_view key, std::string_view json) {
    out_ += out_.size() > 1 ? "," : "";
    out_ += json_string(key);
    out_ += ':';
    out_ += json;
    return *this;
  }
  JsonObject& num(std::string_view key, double v) { return raw(key, json_float(v)); }
  JsonObject& integer(std::string_view key, int64_t v) { return raw(key, std::to_string(v)); }
  std::string done() { return std::move(out_) + "}"; }

 private:
  std::string out_ = "{";
};

std::string heap_json(const DashboardSample& s) {
  return JsonObject()
      .integer("alloc_bytes", static_cast<int64_t>(s.heap_alloc))
      .integer("inuse_bytes", static_cast<int64_t>(s.heap_inuse))
      .integer("goal_bytes", static_cast<int64_t>(s.next_gc))
      .integer("objects", static_cast<int64_t>(s.heap_objects))
      .integer("stack_bytes", static_cast<int64_t>(s.stack_inuse))
      .integer("sys_bytes", static_cast<int64_t>(s.sys))
      .done();
}

// gc_json: the window's GC CPU share is GC CPU time over the CPU time the
// Ps had (wall time x GOMAXPROCS), as Go's GCCPUFraction is over the run.
std::string gc_json(const DashboardSample& prev, const DashboardSample& cur, double window_s) {
  std::string pauses = "[";
  size_t fresh = 0;  // pauses of cycles that ended in the window
  while (fresh < cur.pauses.size() && cur.pauses[cur.pauses.size() - 1 - fresh].gc > prev.num_gc) fresh++;
  const size_t first = cur.pauses.size() - std::min(fresh, kMaxPausesPerEvent);
  for (size_t i = first; i < cur.pauses.size(); i++) {
    const DashboardSample::Pause& p = cur.pauses[i];
    pauses += (i > first ? "," : "") + JsonObject()
                                           .integer("gc", p.gc)
                                           .num("pause_seconds", double(p.pause_ns) / kNsPerSecond)
                                           .integer("end_unix_ms", static_cast<int64_t>(p.end_unix_ns / 1'000'000))
                                           .done();
  }
  pauses += "]";
  double cpu_capacity_ns = window_s * kNsPerSecond * std::max(cur.gomaxprocs, 1);
  double gc_cpu = double(since(prev.gc_cpu_ns, cur.gc_cpu_ns)) / cpu_capacity_ns;
  return JsonObject()
      .integer("cycles", cur.num_gc)
      .integer("cycles_in_window", static_cast<int64_t>(since(prev.num_gc, cur.num_gc)))
      .num("cpu_fraction", std::min(gc_cpu, 1.0))
      .num("cpu_fraction_since_start", cur.gc_cpu_fraction)
      .num("pause_total_seconds", double(cur.pause_total_ns) / kNsPerSecond)
      .raw("pauses", pauses)
      .done();
}

std::string goroutines_json(const gort::GoroutineCounts& g) {
  JsonObject states;
  states.integer("running", g.running).integer("runnable", g.runnable).integer("syscall", g.syscall);
  for (size_t r = 0; r < std::size(g.waiting); r++)
    if (g.waiting[r] > 0) states.integer(gort::wait_reason_string(static_cast<gort::WaitReason>(r)), g.waiting[r]);
  return JsonObject().integer("total", g.total()).raw("by_state", states.done()).done();
}

std::string sched_json(const DashboardSample& prev, const DashboardSample& cur) {
  std::string local = "[";
  for (size_t i = 0; i < cur.local_runq.size(); i++) local += (i ? "," : "") + std::to_string(cur.local_runq[i]);
  local += "]";
  uint64_t counts[gort::kLatencyBuckets + 1];
  uint64_t samples = 0;
  for (int i = 0; i <= gort::kLatencyBuckets; i++) {
    counts[i] = since(prev.sched_latency.counts[i], cur.sched_latency.counts[i]);
    samples += counts[i];
  }
  std::span<const double> bounds(gort::kLatencyBoundsSeconds, gort::kLatencyBuckets);
  return JsonObject()
      .integer("gomaxprocs", cur.gomaxprocs)
      .integer("runqueue_global", cur.global_runq)
      .raw("runqueue_local", local)
      .num("latency_p50_seconds", histogram_quantile(0.5, bounds, counts))
      .num("latency_p99_seconds", histogram_quantile(0.99, bounds, counts))
      .integer("latency_samples", static_cast<int64_t>(samples))
      .done();
}

// http_json: rates by route and by code from the differences of the
// (path, code) counters; series absent from prev started in the window.
std::string http_json(const RequestSnapshot& prev, const RequestSnapshot& cur, double window_s) {
  std::map<std::pair<std::string_view, unsigned>, uint64_t> before;
  for (const RequestSnapshot::Count& c : prev.counts) before[{c.path, c.code}] = c.requests;
  std::map<std::string_view, uint64_t> by_route;
  std::map<unsigned, uint64_t> by_code;
  uint64_t total = 0;
  for (const RequestSnapshot::Count& c : cur.counts) {
    auto it = before.find({c.path, c.code});
    uint64_t n = since(it == before.end() ? 0 : it->second, c.requests);
    if (n == 0) continue;
    by_route[c.path] += n;
    by_code[c.code] += n;
    total += n;
  }
  JsonObject routes, codes;
  for (auto [path, n] : by_route) routes.num(path, double(n) / window_s);
  for (auto [code, n] : by_code) codes.num(std::to_string(code), double(n) / window_s);
  std::vector<uint64_t> buckets(cur.buckets.size());
  for (size_t i = 0; i < buckets.size(); i++)
    buckets[i] = since(i < prev.buckets.size() ? prev.buckets[i] : 0, cur.buckets[i]);
  return JsonObject()
      .integer("in_flight", cur.in_flight)
      .num("requests_per_second", double(total) / window_s)
      .raw("by_route", routes.done())
      .raw("by_code", codes.done())
      .num("latency_p50_seconds", histogram_quantile(0.5, cur.bucket_bounds, buckets))
      .num("latency_p99_seconds", histogram_quantile(0.99, cur.bucket_bounds, buckets))
      .done();
}

}  // namespace

double histogram_quantile(double q, std::span<const double> bounds, std::span<const uint64_t> counts) {
  uint64_t total = 0;
  for (uint64_t c : counts) total += c;
  if (total == 0 || counts.size() != bounds.size() + 1) return NAN;
  double rank = q * double(total);
  uint64_t below = 0;
  for (size_t b = 0; b < bounds.size(); b++) {
    if (counts[b] > 0 && double(below + counts[b]) >= rank) {
      double lower = b == 0 ? 0 : bounds[b - 1];
      return lower + (bounds[b] - lower) * (rank - double(below)) / double(counts[b]);
    }
    below += counts[b];
  }
  return bounds.empty() ? NAN : bounds.back();  // the rank is in the +Inf bucket
}

DashboardSample take_dashboard_sample(const RequestMetrics& metrics) {
  DashboardSample s;
  s.mono_ns = gort::nanotime();
  s.unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::system_clock::now().time_since_epoch())
                  .count();
  auto ms = std::make_unique<gc::MemStats>();  // 5 KiB of rings: off the goroutine stack
  gc::read_mem_stats(ms.get());
  s.heap_alloc = ms->heap_alloc;
  s.heap_inuse = ms->heap_inuse;
  s.next_gc = ms->next_gc;
  s.heap_objects = ms->heap_objects;
  s.stack_inuse = ms->stack_inuse;
  s.sys = ms->sys;
  s.num_gc = ms->num_gc;
  s.pause_total_ns = ms->pause_total_ns;
  s.gc_cpu_fraction = ms->gc_cpu_fraction;
  // Cycle n's pause is at PauseNs[(n+255)%256] (Go's layout).
  uint32_t kept = std::min(ms->num_gc, kPauseRing);
  for (uint32_t n = ms->num_gc - kept + 1; n <= ms->num_gc; n++)
    s.pauses.push_back({n, ms->pause_ns[(n + kPauseRing - 1) % kPauseRing], ms->pause_end[(n + kPauseRing - 1) % kPauseRing]});
  s.gc_cpu_ns = gc::read_gc_counters().gc_cpu_ns;

  gort::SchedStats st = gort::sched_stats();
  s.gomaxprocs = st.gomaxprocs;
  s.global_runq = st.global_runq;
  s.local_runq = std::move(st.local_runq);
  s.goroutines = gort::count_goroutines();
  s.sched_latency = gort::sched_latency();
  s.requests = metrics.snapshot();
  return s;
}

std::string dashboard_json(const DashboardSample& prev, const DashboardSample& cur) {
  double window_s = std::max(double(cur.mono_ns - prev.mono_ns) / kNsPerSecond, 1e-3);
  return JsonObject()
      .integer("time_unix_ms", cur.unix_ms)
      .num("window_seconds", window_s)
      .raw("heap", heap_json(cur))
      .raw("gc", gc_json(prev, cur, window_s))
      .raw("goroutines", goroutines_json(cur.goroutines))
      .raw("sched", sched_json(prev, cur))
      .raw("http", http_json(prev.requests, cur.requests, window_s))
      .done();
}

}  // namespace gortd
