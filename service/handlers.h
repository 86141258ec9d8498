// handlers.h — gortd's endpoints, registered into a Router by group.
//
//   workloads.cpp        /  /work  /alloc  /sleep  /mixed  /fanout  /error
//   gc_control.cpp       /gc (GOGC, GOMEMLIMIT, forced collection)
//   demos.cpp            /leak (goroutine leak)  /contend (Mutex contention)
//   observe_handlers.cpp /metrics  /debug/vars
//   pprof_handlers.cpp   /debug/pprof/* (Go's net/http/pprof)
//   ui_handlers.cpp      /debug/ui (live dashboard) and its data
//
// Each handler is ordinary sequential code on the connection's goroutine
// (see http_types.h); reply texts match SPEC.md and the Go peer exactly.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "service/router.h"

namespace gortd {

class MetricsExporter;
class ConnTracker;
class Demos;
class RequestMetrics;

// add_workload_routes adds /work, /alloc, /sleep, /mixed, /fanout, /error.
void add_workload_routes(Router& r);
// add_gc_route adds /gc (a debug route: behind --debug-auth, and on the
// debug listener when there is one).
void add_gc_route(Router& r);
// add_demo_routes adds /leak and /contend, whose state lives in demos.
void add_demo_routes(Router& r, Demos& demos);
// add_metrics_route adds /metrics.
void add_metrics_route(Router& r, const MetricsExporter& exporter);

struct DebugInfo {
  std::vector<std::string> cmdline;
  const ConnTracker* tracker = nullptr;
  const RequestMetrics* metrics = nullptr;  // for /debug/ui
  int64_t max_profile_ns = 300'000'000'000;  // --max-profile-duration: longest ?seconds= a profile or trace may ask for
};
// add_debug_routes adds /debug/vars and /debug/pprof/* (debug routes).
void add_debug_routes(Router& r, const DebugInfo& info);
// add_pprof_routes adds /debug/pprof/* (debug routes; info must outlive r).
void add_pprof_routes(Router& r, const DebugInfo& info);
// add_ui_routes adds /debug/ui and /debug/ui/* (debug routes; info must
// outlive r).
void add_ui_routes(Router& r, const DebugInfo& info);
// add_index_route adds "/", listing every route of r registered before it
// and the note line (e.g. where the debug endpoints went).
void add_index_route(Router& r, std::string note);

// RouteSources is the state gortd's handlers read: every pointee must
// outlive the routers built from it.
struct RouteSources {
  Demos* demos = nullptr;
  const MetricsExporter* exporter = nullptr;
  const DebugInfo* debug_info = nullptr;
  RequestMetrics* metrics = nullptr;  // gives each route its metric_path
};

// build_route_tables fills gortd's route tables (route_tables.cpp): every
// route on main, or with separate_debug the debug routes (/gc, /debug/*) on
// debug, whose address debug_addr the index page names; debug_auth says
// whether --debug-auth is set (the index page says so). Used by Server and
// by the http_request fuzz target, so both serve the same table.
void build_route_tables(const RouteSources& src, bool separate_debug, const std::string& debug_addr, bool debug_auth,
                        Router& main, Router& debug);

}  // namespace gortd
