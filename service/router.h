// router.h — gortd's route table: (method set, path template) -> handler.
//
// A route matches one exact path ("/work") or, when its pattern ends in
// "{name}", every path under the prefix ("/debug/pprof/{profile}" matches
// "/debug/pprof/heap"). The pattern is also the `path` label of the route's
// metrics, so label values come from this fixed table and never from the
// request URL; anything unmatched is labelled "unmatched".
//
// Matching is a linear scan: the table has about twenty entries, and a scan
// of short strings beats hashing the path. Exact routes win over prefixes;
// the longest prefix wins among prefixes. GET implies HEAD.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/gort.h"
#include "service/http_types.h"

namespace gortd {

inline constexpr std::string_view kUnmatchedLabel = "unmatched";

struct Route {
  std::string pattern;   // "/work", or "/debug/pprof/{profile}"
  std::string prefix;    // for templates: "/debug/pprof/"; empty for exact routes
  uint64_t methods = 0;  // bit (1 << verb) per allowed method
  std::string allow;     // value of the Allow header on 405: "GET, HEAD"
  Handler handler;
  bool protected_ = false;  // behind --debug-auth
  int metric_path = 0;      // RequestMetrics path id for `pattern`
  std::string usage;        // for the index page: "/work?n=N"
  std::string summary;      // for the index page: one line of what it does
  // labels: the profiler labels its handler runs under ({endpoint: pattern});
  // set by Router::add.
  std::shared_ptr<const gort::SharedLabelSet> labels;

  // describe sets the index page's usage and summary lines.
  Route& describe(std::string u, std::string s) {
    usage = std::move(u);
    summary = std::move(s);
    return *this;
  }
};

struct RouteMatch {
  enum Kind { Found, NotFound, MethodNotAllowed } kind = NotFound;
  const Route* route = nullptr;  // set for Found and MethodNotAllowed
};

class Router final {
 public:
  // add registers handler for pattern and methods (GET implies HEAD).
  Route& add(std::string pattern, std::vector<http::verb> methods, Handler handler, bool protected_ = false);
  // match finds the route for path and method.
  RouteMatch match(std::string_view path, http::verb method) const;
  std::vector<Route>& routes() { return routes_; }
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace gortd
