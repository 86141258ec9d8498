// request_metrics.cpp — RED metrics with a child-pointer cache (see
// request_metrics.h).
#include "service/request_metrics.h"

#include <algorithm>

namespace gortd {

namespace {

// client_golang's prometheus.DefBuckets.
const prometheus::Histogram::BucketBoundaries kDefBuckets = {.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10};
// Upper bound on distinct path labels (the route table has about twenty).
constexpr int kMaxPaths = 64;

}  // namespace

MethodLabel method_label(http::verb v) {
  switch (v) {
    case http::verb::get: return MethodLabel::Get;
    case http::verb::head: return MethodLabel::Head;
    case http::verb::post: return MethodLabel::Post;
    case http::verb::put: return MethodLabel::Put;
    case http::verb::delete_: return MethodLabel::Delete;
    case http::verb::patch: return MethodLabel::Patch;
    case http::verb::options: return MethodLabel::Options;
    case http::verb::connect: return MethodLabel::Connect;
    case http::verb::trace: return MethodLabel::Trace;
    default: return MethodLabel::Other;
  }
}

std::string_view method_label_name(MethodLabel m) {
  static constexpr std::string_view kNames[] = {"GET",     "HEAD",    "POST",  "PUT",  "DELETE",
                                                "PATCH",   "OPTIONS", "CONNECT", "TRACE", "OTHER"};
  return kNames[static_cast<int>(m)];
}

RequestMetrics::RequestMetrics(prometheus::Registry& registry)
    : requests_(prometheus::BuildCounter()
                    .Name("http_requests_total")
                    .Help("Total number of HTTP requests by method, route and status code.")
                    .Register(registry)),
      duration_(prometheus::BuildHistogram()
                    .Name("http_request_duration_seconds")
                    .Help("HTTP request latency by method and route.")
                    .Register(registry)),
      in_flight_(prometheus::BuildGauge()
                     .Name("http_requests_in_flight")
                     .Help("Number of HTTP requests currently being served.")
                     .Register(registry)
                     .Add({})),
      children_(new std::atomic<Child*>[kMaxPaths * static_cast<int>(MethodLabel::Count)]) {
  for (int i = 0; i < kMaxPaths * static_cast<int>(MethodLabel::Count); i++) children_[i] = nullptr;
  path_id(kUnmatchedLabel);
}

RequestMetrics::~RequestMetrics() {
  for (int i = 0; i < kMaxPaths * static_cast<int>(MethodLabel::Count); i++) delete children_[i].load();
}

int RequestMetrics::path_id(std::string_view label) {
  for (size_t i = 0; i < paths_.size(); i++)
    if (paths_[i] == label) return static_cast<int>(i);
  if (paths_.size() >= kMaxPaths) return unmatched_id();
  paths_.emplace_back(label);
  return static_cast<int>(paths_.size() - 1);
}

void RequestMetrics::in_flight_add(int delta) { in_flight_.Increment(delta); }

RequestMetrics::Child* RequestMetrics::child(int path, MethodLabel method) {
  std::atomic<Child*>& slot = children_[path * static_cast<int>(MethodLabel::Count) + static_cast<int>(method)];
  Child* c = slot.load(std::memory_order_acquire);
  if (c) return c;
  std::lock_guard<std::mutex> l(create_mu_);
  c = slot.load(std::memory_order_relaxed);
  if (c) return c;
  c = new Child();  // lives as long as this, like the family's children
  c->duration = &duration_.Add({{"method", std::string(method_label_name(method))}, {"path", paths_[path]}},
                               kDefBuckets);
  slot.store(c, std::memory_order_release);
  return c;
}

void RequestMetrics::observe(int path, MethodLabel method, unsigned code, double seconds) {
  if (path < 0 || path >= static_cast<int>(paths_.size())) path = unmatched_id();
  if (code < kMinCode || code > kMaxCode) code = 500;
  Child* c = child(path, method);
  std::atomic<prometheus::Counter*>& slot = c->requests[code - kMinCode];
  prometheus::Counter* counter = slot.load(std::memory_order_acquire);
  if (!counter) {
    std::lock_guard<std::mutex> l(create_mu_);
    counter = slot.load(std::memory_order_relaxed);
    if (!counter) {
      counter = &requests_.Add({{"code", std::to_string(code)},
                                {"method", std::string(method_label_name(method))},
                                {"path", paths_[path]}});
      slot.store(counter, std::memory_order_release);
    }
  }
  counter->Increment();
  c->duration->Observe(seconds);
}

RequestSnapshot RequestMetrics::snapshot() const {
  RequestSnapshot s;
  s.bucket_bounds = kDefBuckets;
  s.buckets.assign(kDefBuckets.size() + 1, 0);
  constexpr int kMethods = static_cast<int>(MethodLabel::Count);
  std::array<uint64_t, kMaxCode - kMinCode + 1> by_code;
  for (size_t path = 0; path < paths_.size(); path++) {
    by_code.fill(0);
    bool any = false;
    for (int method = 0; method < kMethods; method++) {
      const Child* c = children_[path * kMethods + method].load(std::memory_order_acquire);
      if (!c) continue;
      for (size_t i = 0; i < c->requests.size(); i++) {
        const prometheus::Counter* counter = c->requests[i].load(std::memory_order_acquire);
        if (!counter) continue;
        by_code[i] += static_cast<uint64_t>(counter->Value());
        any = true;
      }
      // Collect gives cumulative bucket counts, +Inf last.
      prometheus::ClientMetric m = c->duration->Collect();
      uint64_t below = 0;
      for (size_t b = 0; b < m.histogram.bucket.size() && b < s.buckets.size(); b++) {
        uint64_t cumulative = m.histogram.bucket[b].cumulative_count;
        s.buckets[b] += cumulative - std::min(below, cumulative);
        below = cumulative;
      }
    }
    if (!any) continue;
    for (size_t i = 0; i < by_code.size(); i++)
      if (by_code[i] > 0) s.counts.push_back({paths_[path], static_cast<unsigned>(kMinCode + i), by_code[i]});
  }
  s.in_flight = static_cast<int64_t>(in_flight_.Value());
  return s;
}

}  // namespace gortd
