// metrics_format_test.cpp — unit tests of /metrics' Go fidelity without a
// running gortd: numbers formatted as Go's strconv 'g' -1 (the expected
// strings were printed by Go 1.19), client_golang's text layout
// (text_format.h), and client_golang 1.14's conversion of runtime/metrics
// histograms (runtime_histograms.h) — the le values of a Go 1.19 service's
// go_gc_pauses_seconds and go_gc_heap_allocs_by_size_bytes, and its
// underestimated sums, reproduced from Go's own bucket boundaries.
#define BOOST_TEST_MODULE metrics_format_test
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "gc/sizeclasses.h"
#include "runtime/time_histogram.h"
#include "service/runtime_histograms.h"
#include "service/text_format.h"

using namespace gortd;

namespace {

std::vector<std::string> formatted(const std::vector<double>& v) {
  std::vector<std::string> out;
  for (double x : v) out.push_back(format_go_float(x));
  return out;
}

// size_class_buckets is Go 1.19's sizeClassBuckets (runtime/metrics.go).
std::vector<double> size_class_buckets() {
  std::vector<double> b{1};
  for (int k = 1; k < gc::kNumSizeClasses; k++) b.push_back(gc::kClassToSize[k] + 1.0);
  b.push_back(std::numeric_limits<double>::infinity());
  return b;
}

}  // namespace

BOOST_AUTO_TEST_CASE(floats_format_as_go_strconv_g) {
  const std::pair<double, const char*> cases[] = {
      {0, "0"},
      {1, "1"},
      {-1, "-1"},
      {0.5, "0.5"},
      {2048, "2048"},
      {103122, "103122"},
      {9579080, "9.57908e+06"},
      {276179624, "2.76179624e+08"},
      {1796410097.6565745, "1.7964100976565745e+09"},
      {8.9999999999999982, "8.999999999999998"},
      {24.999999999999996, "24.999999999999996"},
      {9.9999999999999986e-10, "9.999999999999999e-10"},
      {1.0239999999999999e-06, "1.0239999999999999e-06"},
      {0.00010239999999999998, "0.00010239999999999998"},
      {0.1048576, "0.1048576"},
      {1.0000000000000001e-05, "1e-05"},
      {2.5000000000000001e-05, "2.5e-05"},
      {123456, "123456"},
      {999999, "999999"},
      {1000000, "1e+06"},
      {1e+21, "1e+21"},
      {9.9999999999999995e-08, "1e-07"},
      {0.0001, "0.0001"},
      {0.00012, "0.00012"},
      {-0.0012340000000000001, "-0.001234"},
      {4.9406564584124654e-324, "5e-324"},
      {1.7976931348623157e+308, "1.7976931348623157e+308"},
      {0.10000000000000001, "0.1"},
      {0.33333333333333331, "0.3333333333333333"},
      {100, "100"},
      {1.8446744073709552e+19, "1.8446744073709552e+19"},
      {0.002285568, "0.002285568"},
      {3.5, "3.5"},
  };
  for (auto [v, want] : cases) BOOST_TEST(format_go_float(v) == want);
  BOOST_TEST(format_go_float(std::numeric_limits<double>::infinity()) == "+Inf");
  BOOST_TEST(format_go_float(-std::numeric_limits<double>::infinity()) == "-Inf");
  BOOST_TEST(format_go_float(std::nan("")) == "NaN");
  BOOST_TEST(format_go_float(-0.0) == "0");
}

BOOST_AUTO_TEST_CASE(text_format_is_client_golangs) {
  std::vector<prometheus::MetricFamily> fams(4);
  fams[0] = {"h_seconds", "A histogram.\nTwo lines \\ here.", prometheus::MetricType::Histogram, {}};
  prometheus::ClientMetric h;
  h.label.push_back({"path", "/a\"b"});
  h.histogram.bucket = {{1, 0.5}, {3, 1}};  // no +Inf bucket: the writer adds it
  h.histogram.sample_count = 4;
  h.histogram.sample_sum = 2.25;
  fams[0].metric.push_back(h);
  fams[1] = {"s_seconds", "A summary.", prometheus::MetricType::Summary, {}};
  prometheus::ClientMetric s;
  s.summary.quantile = {{0, 1e-05}, {0.25, 2e-05}};
  s.summary.sample_count = 2;
  s.summary.sample_sum = 3e-05;
  fams[1].metric.push_back(s);
  fams[2] = {"empty_total", "No samples: left out.", prometheus::MetricType::Counter, {}};
  fams[3] = {"c_total", "A counter.", prometheus::MetricType::Counter, {}};
  prometheus::ClientMetric c;
  c.counter.value = 276179624;
  fams[3].metric.push_back(c);
  std::ostringstream out;
  write_text_format(out, fams);
  BOOST_TEST(out.str() ==
             "# HELP h_seconds A histogram.\\nTwo lines \\\\ here.\n"
             "# TYPE h_seconds histogram\n"
             "h_seconds_bucket{path=\"/a\\\"b\",le=\"0.5\"} 1\n"
             "h_seconds_bucket{path=\"/a\\\"b\",le=\"1\"} 3\n"
             "h_seconds_bucket{path=\"/a\\\"b\",le=\"+Inf\"} 4\n"
             "h_seconds_sum{path=\"/a\\\"b\"} 2.25\n"
             "h_seconds_count{path=\"/a\\\"b\"} 4\n"
             "# HELP s_seconds A summary.\n"
             "# TYPE s_seconds summary\n"
             "s_seconds{quantile=\"0\"} 1e-05\n"
             "s_seconds{quantile=\"0.25\"} 2e-05\n"
             "s_seconds_sum 3e-05\n"
             "s_seconds_count 2\n"
             "# HELP c_total A counter.\n"
             "# TYPE c_total counter\n"
             "c_total 2.76179624e+08\n");
}

BOOST_AUTO_TEST_CASE(time_histograms_rebucket_as_client_golang) {
  // Go 1.19 + client_golang 1.14: go_gc_pauses_seconds and
  // go_sched_latencies_seconds have these le values.
  std::vector<double> b = gort::time_histogram_boundaries_seconds();
  PromHistogram p = to_prom_histogram({b, std::vector<uint64_t>(b.size() - 1, 0)}, "seconds", std::nullopt);
  BOOST_TEST(formatted(p.upper_bounds) ==
                 (std::vector<std::string>{"9.999999999999999e-10", "9.999999999999999e-09", "9.999999999999998e-08",
                                           "1.0239999999999999e-06", "1.0239999999999999e-05",
                                           "0.00010239999999999998", "0.0010485759999999998",
                                           "0.010485759999999998", "0.10485759999999998"}),
             boost::test_tools::per_element());
  BOOST_TEST(p.counts.size() == 10u);
}

BOOST_AUTO_TEST_CASE(time_histogram_counts_and_sum_as_client_golang) {
  // A Go 1.19 program's pauses: 32 between 1.024 µs and 10.24 µs, 120 up to
  // 102.4 µs, 10 up to 1.048576 ms; client_golang wrote the sum
  // 0.002285568 (each count times its bucket's lower bound).
  gort::TimeHistogram h;
  for (int i = 0; i < 32; i++) h.record(5'000);
  for (int i = 0; i < 120; i++) h.record(50'000);
  for (int i = 0; i < 10; i++) h.record(500'000);
  h.record(-1);             // underflow: counted in the first bucket
  h.record(500'000'000);    // 0.5 s and 2 s: above 0.1048576 s, in +Inf
  h.record(2'000'000'000);
  PromHistogram p = to_prom_histogram({gort::time_histogram_boundaries_seconds(), h.read()}, "seconds", std::nullopt);
  BOOST_TEST(p.counts == (std::vector<uint64_t>{1, 0, 0, 0, 32, 120, 10, 0, 0, 2}), boost::test_tools::per_element());
  h.record(0);
  PromHistogram without_big = to_prom_histogram(
      {gort::time_histogram_boundaries_seconds(), [&] {
         auto c = h.read();
         c[1 + gort::time_histogram_bucket(500'000'000)] = 0;
         c[1 + gort::time_histogram_bucket(2'000'000'000)] = 0;
         return c;
       }()},
      "seconds", std::nullopt);
  BOOST_TEST(format_go_float(without_big.sum) == "0.002285568");
  BOOST_TEST(p.sum == 0.002285568 + 2 * 0.1048576);
}

BOOST_AUTO_TEST_CASE(size_class_histograms_rebucket_as_client_golang) {
  // go_gc_heap_allocs_by_size_bytes of a Go 1.19 service.
  std::vector<double> b = size_class_buckets();
  std::vector<uint64_t> counts(b.size() - 1, 0);
  counts[1] = 7;              // 16-byte class: [9, 17)
  counts[5] = 3;              // 64-byte class: [49, 65)
  counts[6] = 2;              // 80-byte class: [65, 81)
  counts[counts.size() - 1] = 4;  // large objects
  PromHistogram p = to_prom_histogram({b, counts}, "bytes", 1234.0);
  BOOST_TEST(formatted(p.upper_bounds) ==
                 (std::vector<std::string>{"8.999999999999998", "24.999999999999996", "64.99999999999999",
                                           "144.99999999999997", "320.99999999999994", "704.9999999999999",
                                           "1536.9999999999998", "3200.9999999999995", "6528.999999999999",
                                           "13568.999999999998", "27264.999999999996"}),
             boost::test_tools::per_element());
  BOOST_TEST(p.counts == (std::vector<uint64_t>{0, 7, 3, 2, 0, 0, 0, 0, 0, 0, 0, 4}), boost::test_tools::per_element());
  BOOST_TEST(p.sum == 1234.0);  // the exact sum, /gc/heap/allocs:bytes
}
