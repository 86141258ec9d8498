// observe_handlers.cpp — /metrics, /debug/vars, and the /debug/pprof/*
// stand-ins (501 with a one-line reason until the profilers exist).
#include <cinttypes>
#include <cstdio>
#include <string>

#include "runtime/gort.h"
#include "service/conn_tracker.h"
#include "service/handlers.h"
#include "service/metrics_exporter.h"

namespace gortd {

namespace {

constexpr std::string_view kJson = "application/json; charset=utf-8";
constexpr const char* kNeedsProfilers = "profiling endpoints are not built yet (they come with the profilers)";

// json_string quotes s as a JSON string.
std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", u);
      out += buf;
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
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
  return "{\n\"cmdline\": " + cmdline + ",\n\"gort\": " + sched + ",\n\"http\": " + http + "\n}\n";
}

}  // namespace

void add_metrics_route(Router& r, const MetricsExporter& exporter) {
  r.add("/metrics", {http::verb::get}, [&exporter](const Request&, Response& res) {
     res.content_type = kMetricsContentType;
     res.body = exporter.render();
   }).describe("/metrics", "Prometheus metrics (RED, go_*, process_*, gort_sched_*)");
}

void add_debug_routes(Router& r, const DebugInfo& info) {
  r.add("/debug/vars", {http::verb::get}, [&info](const Request&, Response& res) {
     res.content_type = kJson;
     res.body = debug_vars(info);
   }, true).describe("/debug/vars", "expvar-style JSON: cmdline, scheduler counters");
  auto not_built = [](const Request&, Response& res) { res.error(501, kNeedsProfilers); };
  r.add("/debug/pprof/", {http::verb::get}, not_built, true)
      .describe("/debug/pprof/", "profiles and execution trace (501: profilers not built yet)");
  r.add("/debug/pprof/symbol", {http::verb::get, http::verb::post}, not_built, true);
  r.add("/debug/pprof/{profile}", {http::verb::get}, not_built, true);
}

}  // namespace gortd
