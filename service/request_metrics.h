// request_metrics.h — the RED metrics of gortd, with client_golang's names:
//   http_requests_total{code,method,path}            counter
//   http_request_duration_seconds{method,path}       histogram (DefBuckets)
//   http_requests_in_flight                          gauge
//
// They live in a prometheus-cpp Registry. Looking a labelled child up in a
// prometheus::Family hashes the label map under the family's mutex, which
// is too much for every request, so RequestMetrics keeps a lock-free cache
// of child pointers indexed by (path id, method, status code); a child is
// created through the Family only the first time a combination occurs.
//
// Label values come from fixed sets only: `path` is a route pattern or
// "unmatched" (path ids are registered at start-up from the route table),
// `method` one of the standard verbs or "OTHER", `code` a 3-digit status.
#pragma once

#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "service/http_types.h"
#include "service/router.h"

namespace gortd {

// MethodLabel indexes the `method` label's fixed value set.
enum class MethodLabel : uint8_t { Get, Head, Post, Put, Delete, Patch, Options, Connect, Trace, Other, Count };

MethodLabel method_label(http::verb v);
std::string_view method_label_name(MethodLabel m);

// RequestSnapshot is a cumulative reading of the RED metrics for the
// dashboard (/debug/ui), methods merged: differences of two readings give
// request rates and latency quantiles.
struct RequestSnapshot {
  struct Count {
    std::string path;   // route pattern or "unmatched"
    unsigned code = 0;  // status code
    uint64_t requests = 0;
  };
  std::vector<Count> counts;          // one per (path, code) seen, by path id then code
  std::vector<double> bucket_bounds;  // duration buckets' upper bounds, seconds (DefBuckets)
  std::vector<uint64_t> buckets;      // requests per duration bucket (not cumulative), +Inf last; all routes
  int64_t in_flight = 0;
};

class RequestMetrics final {
 public:
  explicit RequestMetrics(prometheus::Registry& registry);
  ~RequestMetrics();
  RequestMetrics(const RequestMetrics&) = delete;
  RequestMetrics& operator=(const RequestMetrics&) = delete;

  // path_id returns the id of a path label, registering it on first use.
  // Call during start-up, before serving (not thread-safe with observe).
  int path_id(std::string_view label);
  int unmatched_id() const { return 0; }

  // in_flight_add moves http_requests_in_flight by delta (+1 / -1).
  void in_flight_add(int delta);
  // observe counts one finished request (or refusal) and its duration.
  void observe(int path, MethodLabel method, unsigned code, double seconds);
  // snapshot reads every series (no lock but each histogram's own; about
  // 500 atomic loads per (path, method) seen). Safe while serving.
  RequestSnapshot snapshot() const;

 private:
  static constexpr unsigned kMinCode = 100, kMaxCode = 599;
  struct Child {  // one (path, method) combination
    prometheus::Histogram* duration = nullptr;
    std::array<std::atomic<prometheus::Counter*>, kMaxCode - kMinCode + 1> requests{};
  };
  Child* child(int path, MethodLabel method);

  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Gauge& in_flight_;
  std::vector<std::string> paths_;                 // fixed once serving starts
  std::unique_ptr<std::atomic<Child*>[]> children_;  // [path * Count + method]; set once, freed with this
  std::mutex create_mu_;                            // serializes child/counter creation
};

}  // namespace gortd
