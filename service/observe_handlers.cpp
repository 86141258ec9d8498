// observe_handlers.cpp — /metrics and /debug/vars (the /debug/pprof/*
// routes are in pprof_handlers.cpp, /debug/ui/* in ui_handlers.cpp).
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <string>

#include "gc/stats.h"
#include "runtime/gort.h"
#include "service/conn_tracker.h"
#include "service/handlers.h"
#include "service/json.h"
#include "service/metrics_exporter.h"

namespace gortd {

namespace {

constexpr std::string_view kJson = "application/json; charset=utf-8";

// memstats_json renders runtime.MemStats as expvar's "memstats" does
// (json.Marshal: Go's field names in declaration order, no spaces).
std::string memstats_json() {
  auto ms = std::make_unique<gc::MemStats>();  // 5 KiB: off the goroutine stack
  gc::read_mem_stats(ms.get());
  std::string o = "{";
  auto u = [&o](const char* k, uint64_t v) { o += std::string("\"") + k + "\":" + std::to_string(v) + ","; };
  u("Alloc", ms->alloc);
  u("TotalAlloc", ms->total_alloc);
  u("Sys", ms->sys);
  u("Lookups", ms->lookups);
  u("Mallocs", ms->mallocs);
  u("Frees", ms->frees);
  u("HeapAlloc", ms->heap_alloc);
  u("HeapSys", ms->heap_sys);
  u("HeapIdle", ms->heap_idle);
  u("HeapInuse", ms->heap_inuse);
  u("HeapReleased", ms->heap_released);
  u("HeapObjects", ms->heap_objects);
  u("StackInuse", ms->stack_inuse);
  u("StackSys", ms->stack_sys);
  u("MSpanInuse", ms->mspan_inuse);
  u("MSpanSys", ms->mspan_sys);
  u("MCacheInuse", ms->mcache_inuse);
  u("MCacheSys", ms->mcache_sys);
  u("BuckHashSys", ms->buck_hash_sys);
  u("GCSys", ms->gc_sys);
  u("OtherSys", ms->other_sys);
  u("NextGC", ms->next_gc);
  u("LastGC", ms->last_gc);
  u("PauseTotalNs", ms->pause_total_ns);
  for (auto [name, arr] : {std::pair{"PauseNs", ms->pause_ns}, std::pair{"PauseEnd", ms->pause_end}}) {
    o += std::string("\"") + name + "\":[";
    for (int i = 0; i < 256; i++) o += (i ? "," : "") + std::to_string(arr[i]);
    o += "],";
  }
  u("NumGC", ms->num_gc);
  u("NumForcedGC", ms->num_forced_gc);
  o += "\"GCCPUFraction\":" + json_float(ms->gc_cpu_fraction) + ",";
  o += std::string("\"EnableGC\":") + (ms->enable_gc ? "true" : "false") + ",";
  o += std::string("\"DebugGC\":") + (ms->debug_gc ? "true" : "false") + ",";
  o += "\"BySize\":[";
  for (size_t i = 0; i < std::size(ms->by_size); i++) {
    const auto& b = ms->by_size[i];
    o += (i ? ",{" : "{") + std::string("\"Size\":") + std::to_string(b.size) + ",\"Mallocs\":" +
         std::to_string(b.mallocs) + ",\"Frees\":" + std::to_string(b.frees) + "}";
  }
  return o + "]}";
}

// debug_vars renders expvar-style JSON: top-level keys sorted as expvar
// sorts them, one per line.
std::string debug_vars(const DebugInfo& info) {
  std::string cmdline = "[";
  for (size_t i = 0; i < info.cmdline.size(); i++) cmdline += (i ? ", " : "") + json_string(info.cmdline[i]);
  cmdline += "]";

  gort::SchedStats s = gort::sched_stats();
  std::string runq = "[";
  for (size_t i = 0; i < s.local_runq.size(); i++) runq += (i ? ", " : "") + std::to_string(s.local_runq[i]);
  runq += "]";
  auto field = [](const char* k, auto v) { return std::string("\"") + k + "\": " + std::to_string(v); };
  std::string sched = "{" + field("gomaxprocs", s.gomaxprocs) + ", " + field("goroutines", s.goroutines) + ", " +
                      field("threads", s.threads) + ", " + field("idle_procs", s.idle_procs) + ", " +
                      field("spinning_threads", s.spinning_threads) + ", " + field("idle_threads", s.idle_threads) +
                      ", " + field("global_runqueue", s.global_runq) + ", \"local_runqueues\": " + runq + ", " +
                      field("goroutines_created", s.goroutines_created) + ", " + field("steals", s.steals) + ", " +
                      field("stolen_goroutines", s.stolen_gs) + ", " + field("preempt_requests", s.preempt_requests) +
                      ", " + field("preemptions", s.preemptions) + ", " + field("handoffs", s.handoffs) + ", " +
                      field("context_switches", s.context_switches) + ", " + field("stw", s.stw_count) + ", " +
                      field("netpoll_polls", s.netpoll_polls) + "}";
  std::string http = "{" + field("open_connections", info.tracker ? info.tracker->open() : 0) + ", " +
                     field("refusing_connections", info.tracker ? info.tracker->refusing() : 0) + "}";
  return "{\n\"cmdline\": " + cmdline + ",\n\"gort\": " + sched + ",\n\"http\": " + http +
         ",\n\"memstats\": " + memstats_json() + "\n}\n";
}

}  // namespace

void add_metrics_route(Router& r, const MetricsExporter& exporter) {
  r.add("/metrics", {http::verb::get}, [&exporter](const Request&, Response& res) {
     res.content_type = kMetricsContentType;
     res.body = exporter.render();
   }).describe("/metrics", "Prometheus metrics (RED, go_*, go_memstats_*, process_*, gort_sched_*, gort_gc_*)");
}

void add_debug_routes(Router& r, const DebugInfo& info) {
  r.add("/debug/vars", {http::verb::get}, [&info](const Request&, Response& res) {
     res.content_type = kJson;
     res.body = debug_vars(info);
   }, true).describe("/debug/vars", "expvar-style JSON: cmdline, memstats, scheduler counters");
  add_ui_routes(r, info);
  add_pprof_routes(r, info);
}

}  // namespace gortd
