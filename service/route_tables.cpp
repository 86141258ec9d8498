// route_tables.cpp — gortd's route tables, assembled from the handler groups
// (see handlers.h): what Server serves and the http_request fuzz target
// routes through.
#include <string>

#include "service/handlers.h"
#include "service/request_metrics.h"

namespace gortd {

void build_route_tables(const RouteSources& src, bool separate_debug, const std::string& debug_addr, bool debug_auth,
                        Router& main, Router& debug) {
  Router& dbg = separate_debug ? debug : main;
  add_workload_routes(main);
  add_demo_routes(main, *src.demos);
  add_metrics_route(main, *src.exporter);
  add_gc_route(dbg);
  add_debug_routes(dbg, *src.debug_info);
  std::string note;
  if (separate_debug) note = "/gc and /debug/* are served on the debug listener (" + debug_addr + ")";
  if (debug_auth) note += std::string(note.empty() ? "" : "; ") + "/gc and /debug/* require basic auth";
  add_index_route(main, note);
  if (separate_debug) add_index_route(debug, "");
  for (Router* r : {&main, &debug})
    for (Route& rt : r->routes()) rt.metric_path = src.metrics->path_id(rt.pattern);
}

}  // namespace gortd
