// gortd_dashboard_test.cpp — the figures behind /debug/ui (service/dashboard.h):
// histogram quantiles, the event JSON built from two readings (well-formed,
// every field present, rates over the window), a live reading of the
// runtime, and RequestMetrics::snapshot. The page itself is tested in
// Chromium by dashboard_ui_test.py.
#define BOOST_TEST_MODULE gortd_dashboard_test
#include <boost/json/src.hpp>  // Boost.JSON, header-only: parses what gortd writes
#include <boost/test/unit_test.hpp>

#include <prometheus/registry.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "runtime/chan.h"
#include "runtime/gort.h"
#include "service/dashboard.h"
#include "service/request_metrics.h"
#include "tests/runtime/test_util.h"

namespace json = boost::json;
using namespace gortd;

namespace {

// parse parses s as JSON, failing the test if it is not.
json::value parse(const std::string& s) {
  boost::system::error_code ec;
  json::value v = json::parse(s, ec);
  BOOST_TEST_REQUIRE(!ec, "not JSON (" << ec.message() << "): " << s);
  return v;
}

// require_keys checks that object o has every key.
void require_keys(const json::object& o, std::initializer_list<const char*> keys, const char* where) {
  for (const char* k : keys) BOOST_TEST(o.contains(k), where << " has no " << k);
}

// near reports whether a and b agree to within rounding.
bool near(double a, double b) { return std::abs(a - b) <= 1e-12 * std::max(1.0, std::abs(b)); }

void require_event_shape(const json::object& ev) {
  require_keys(ev, {"time_unix_ms", "window_seconds", "heap", "gc", "goroutines", "sched", "http"}, "event");
  require_keys(ev.at("heap").as_object(),
               {"alloc_bytes", "inuse_bytes", "goal_bytes", "objects", "stack_bytes", "sys_bytes"}, "heap");
  require_keys(ev.at("gc").as_object(),
               {"cycles", "cycles_in_window", "cpu_fraction", "cpu_fraction_since_start", "pause_total_seconds",
                "pauses"},
               "gc");
  require_keys(ev.at("goroutines").as_object(), {"total", "by_state"}, "goroutines");
  require_keys(ev.at("goroutines").at("by_state").as_object(), {"running", "runnable", "syscall"}, "by_state");
  require_keys(ev.at("sched").as_object(),
               {"gomaxprocs", "runqueue_global", "runqueue_local", "latency_p50_seconds", "latency_p99_seconds",
                "latency_samples"},
               "sched");
  require_keys(ev.at("http").as_object(),
               {"in_flight", "requests_per_second", "by_route", "by_code", "latency_p50_seconds",
                "latency_p99_seconds"},
               "http");
}

}  // namespace

BOOST_AUTO_TEST_CASE(histogram_quantile_interpolates_like_prometheus) {
  const std::vector<double> bounds = {1, 2, 4};
  // All ten in (1, 2]: the median is halfway through that bucket.
  BOOST_TEST(histogram_quantile(0.5, bounds, std::vector<uint64_t>{0, 10, 0, 0}) == 1.5);
  // The first bucket starts at 0.
  BOOST_TEST(histogram_quantile(0.5, bounds, std::vector<uint64_t>{4, 0, 0, 0}) == 0.5);
  // Rank 9.9 of 10 falls in the +Inf bucket: the highest finite bound.
  BOOST_TEST(histogram_quantile(0.99, bounds, std::vector<uint64_t>{5, 4, 0, 1}) == 4.0);
  // Rank 5 of 10: the end of the first bucket.
  BOOST_TEST(histogram_quantile(0.5, bounds, std::vector<uint64_t>{5, 0, 5, 0}) == 1.0);
  BOOST_TEST(std::isnan(histogram_quantile(0.5, bounds, std::vector<uint64_t>{0, 0, 0, 0})));
}

BOOST_AUTO_TEST_CASE(event_has_every_field_and_rates_over_the_window) {
  DashboardSample prev, cur;
  prev.mono_ns = 1'000'000'000;
  cur.mono_ns = 3'000'000'000;  // a 2 s window
  cur.unix_ms = 1'700'000'000'000;
  cur.heap_alloc = 5 << 20;
  cur.next_gc = 8 << 20;
  cur.gomaxprocs = 2;
  prev.num_gc = 3;
  cur.num_gc = 5;
  for (uint32_t n = 1; n <= 5; n++) cur.pauses.push_back({n, n * 1000, uint64_t(n) * 1'000'000'000});
  prev.gc_cpu_ns = 0;
  cur.gc_cpu_ns = 400'000'000;  // 0.4 s of 4 CPU-seconds
  cur.goroutines.running = 1;
  cur.goroutines.waiting[static_cast<size_t>(gort::WaitReason::ChanReceive)] = 7;
  cur.local_runq = {3, 0};
  cur.sched_latency.counts[0] = 10;  // ten samples <= 1 us
  const std::vector<double> bounds = {0.005, 0.01};
  prev.requests.bucket_bounds = cur.requests.bucket_bounds = bounds;
  prev.requests.buckets = {0, 0, 0};
  cur.requests.buckets = {25, 0, 0};
  prev.requests.counts = {{"/work", 200, 10}};
  cur.requests.counts = {{"/work", 200, 30}, {"/error", 503, 5}};
  cur.requests.in_flight = 2;

  json::object ev = parse(dashboard_json(prev, cur)).as_object();
  require_event_shape(ev);
  BOOST_TEST(ev.at("window_seconds").to_number<double>() == 2.0);
  BOOST_TEST(ev.at("time_unix_ms").to_number<int64_t>() == 1'700'000'000'000);
  BOOST_TEST(ev.at("heap").at("goal_bytes").to_number<int64_t>() == 8 << 20);

  const json::object& gc = ev.at("gc").as_object();
  BOOST_TEST(gc.at("cycles_in_window").to_number<int64_t>() == 2);
  BOOST_TEST(gc.at("cpu_fraction").to_number<double>() == 0.1);
  const json::array& pauses = gc.at("pauses").as_array();
  BOOST_TEST_REQUIRE(pauses.size() == 2u);  // cycles 4 and 5 ended in the window
  BOOST_TEST(pauses[0].at("gc").to_number<int64_t>() == 4);
  BOOST_TEST(pauses[1].at("pause_seconds").to_number<double>() == 5e-6);

  const json::object& states = ev.at("goroutines").at("by_state").as_object();
  BOOST_TEST(states.at("chan receive").to_number<int64_t>() == 7);
  BOOST_TEST(!states.contains("select"));  // no goroutine in it
  BOOST_TEST(ev.at("goroutines").at("total").to_number<int64_t>() == 8);

  const json::object& sched = ev.at("sched").as_object();
  BOOST_TEST(sched.at("runqueue_local").as_array().size() == 2u);
  BOOST_TEST(sched.at("latency_samples").to_number<int64_t>() == 10);
  BOOST_TEST(near(sched.at("latency_p50_seconds").to_number<double>(), 0.5e-6));

  const json::object& http = ev.at("http").as_object();
  BOOST_TEST(http.at("requests_per_second").to_number<double>() == 12.5);
  BOOST_TEST(http.at("by_route").at("/work").to_number<double>() == 10.0);
  BOOST_TEST(http.at("by_route").at("/error").to_number<double>() == 2.5);
  BOOST_TEST(http.at("by_code").at("503").to_number<double>() == 2.5);
  BOOST_TEST(near(http.at("latency_p50_seconds").to_number<double>(), 0.0025));
  BOOST_TEST(http.at("in_flight").to_number<int64_t>() == 2);
}

BOOST_AUTO_TEST_CASE(quantiles_of_an_empty_window_are_null) {
  DashboardSample s;
  s.mono_ns = 1;
  json::object ev = parse(dashboard_json(s, s)).as_object();
  require_event_shape(ev);
  BOOST_TEST(ev.at("http").at("latency_p99_seconds").is_null());
  BOOST_TEST(ev.at("sched").at("latency_p50_seconds").is_null());
  BOOST_TEST(ev.at("http").at("by_route").as_object().empty());
}

BOOST_AUTO_TEST_CASE(request_snapshot_merges_methods_and_counts_buckets) {
  prometheus::Registry registry;
  RequestMetrics m(registry);
  int work = m.path_id("/work");
  m.observe(work, MethodLabel::Get, 200, 0.001);
  m.observe(work, MethodLabel::Head, 200, 0.002);
  m.observe(work, MethodLabel::Get, 503, 0.2);
  m.observe(m.unmatched_id(), MethodLabel::Get, 404, 20);
  RequestSnapshot s = m.snapshot();
  BOOST_TEST_REQUIRE(s.counts.size() == 3u);
  auto count = [&](std::string_view path, unsigned code) -> uint64_t {
    for (const auto& c : s.counts)
      if (c.path == path && c.code == code) return c.requests;
    return 0;
  };
  BOOST_TEST(count("/work", 200) == 2u);
  BOOST_TEST(count("/work", 503) == 1u);
  BOOST_TEST(count("unmatched", 404) == 1u);
  BOOST_TEST_REQUIRE(s.buckets.size() == s.bucket_bounds.size() + 1);
  BOOST_TEST(s.buckets[0] == 2u);       // <= 5 ms
  BOOST_TEST(s.buckets.back() == 1u);   // 20 s: +Inf
  uint64_t total = 0;
  for (uint64_t b : s.buckets) total += b;
  BOOST_TEST(total == 4u);
}

BOOST_AUTO_TEST_CASE(live_reading_sees_the_runtime) {
  // A reading on a running runtime: parked goroutines show under their wait
  // reason, run queues are listed per P, and the event is well-formed.
  prometheus::Registry registry;
  RequestMetrics metrics(registry);
  std::string event;
  int procs = 0;
  gort::run_main([&] {
    gort::Chan<int> c;
    constexpr int kParked = 6;
    for (int i = 0; i < kParked; i++) gort::go([&] { c.recv(); });
    DashboardSample prev = take_dashboard_sample(metrics);
    gort_test::wait_until(
        [&] {
          return take_dashboard_sample(metrics).goroutines.waiting[static_cast<size_t>(gort::WaitReason::ChanReceive)] >=
                 kParked;
        },
        "the receivers are counted as parked");
    event = dashboard_json(prev, take_dashboard_sample(metrics));
    procs = gort::gomaxprocs();
    for (int i = 0; i < kParked; i++) c.send(i);
  }, gort::Config{.gomaxprocs = 2});
  json::object ev = parse(event).as_object();
  require_event_shape(ev);
  BOOST_TEST(ev.at("sched").at("gomaxprocs").to_number<int64_t>() == procs);
  BOOST_TEST(ev.at("sched").at("runqueue_local").as_array().size() == size_t(procs));
  BOOST_TEST(ev.at("goroutines").at("by_state").at("chan receive").to_number<int64_t>() >= 6);
  BOOST_TEST(ev.at("goroutines").at("by_state").at("running").to_number<int64_t>() >= 1);
  BOOST_TEST(ev.at("heap").at("goal_bytes").to_number<int64_t>() > 0);
}
