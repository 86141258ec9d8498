// gortd_metrics_test.cpp — gortd's runtime/metrics families on a real
// /metrics: the 33 families client_golang 1.14 exports for Go 1.19
// (collectors.MetricsAll) with its names, HELP, TYPE, histogram le values
// and 81 series (compared with data/go119_runtime_metrics.txt, written by a
// real Go program); histograms cumulative up to +Inf with _count equal to
// it; scheduling latency and allocation histograms that count more under
// load; forced cycles and pauses that follow /gc?run=1; and values that
// agree with MemStats (/debug/vars) and with each other.
#define BOOST_TEST_MODULE gortd_metrics_test
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tests/service/gortd_harness.h"

using namespace gortd_test;

namespace {

// Family is one metric family of a text exposition: its HELP and TYPE and
// its sample lines in order, as (series text, value).
struct Family {
  std::string help, type;
  std::vector<std::pair<std::string, double>> samples;
};
using Exposition = std::map<std::string, Family>;

// parse_exposition reads the text format: samples belong to the family of
// the last TYPE line.
Exposition parse_exposition(const std::string& text) {
  Exposition out;
  std::istringstream in(text);
  std::string current;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("# HELP ", 0) == 0) {
      size_t sp = line.find(' ', 7);
      out[line.substr(7, sp - 7)].help = line.substr(sp + 1);
    } else if (line.rfind("# TYPE ", 0) == 0) {
      size_t sp = line.find(' ', 7);
      current = line.substr(7, sp - 7);
      out[current].type = line.substr(sp + 1);
    } else if (!line.empty() && line[0] != '#') {
      size_t sp = line.rfind(' ');
      out[current].samples.emplace_back(line.substr(0, sp), std::strtod(line.c_str() + sp + 1, nullptr));
    }
  }
  return out;
}

// value returns the value of a series (name plus exact label text) of a
// family, -1 when absent.
double value(const Exposition& e, const std::string& family, const std::string& series) {
  auto f = e.find(family);
  if (f == e.end()) return -1;
  for (const auto& [s, v] : f->second.samples)
    if (s == series) return v;
  return -1;
}
// value returns the value of a series in whichever family has it (-1 when
// none does): histograms' _bucket, _sum and _count lines included.
double value(const Exposition& e, const std::string& series) {
  for (const auto& [name, f] : e)
    for (const auto& [s, v] : f.samples)
      if (s == series) return v;
  return -1;
}

// bucket_les returns a histogram's le label values in order.
std::vector<std::string> bucket_les(const Family& f) {
  std::vector<std::string> les;
  for (const auto& [s, v] : f.samples) {
    size_t at = s.find("le=\"");
    if (at != std::string::npos) les.push_back(s.substr(at + 4, s.find('"', at + 4) - at - 4));
  }
  return les;
}

// bucket returns the cumulative count of a histogram's bucket le.
double bucket(const Exposition& e, const std::string& name, const std::string& le) {
  return value(e, name, name + "_bucket{le=\"" + le + "\"}");
}

Exposition scrape(const Gortd& g) {
  Reply r = get(g.port(), "/metrics");
  BOOST_REQUIRE_EQUAL(r.status, 200);
  return parse_exposition(r.body);
}

double memstat(const Gortd& g, const std::string& name) {
  std::string body = get(g.port(), "/debug/vars").body;
  size_t at = body.find("\"" + name + "\":", body.find("\"memstats\": "));
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + name.size() + 3));
}

// check_histogram checks a histogram's shape: cumulative buckets that
// never go down, the last one +Inf, _count equal to it.
void check_histogram(const Exposition& e, const std::string& name) {
  auto f = e.find(name);
  BOOST_REQUIRE_MESSAGE(f != e.end(), name << " missing");
  BOOST_TEST(f->second.type == "histogram", name);
  double last = 0;
  std::string last_le;
  for (const auto& [s, v] : f->second.samples) {
    if (s.rfind(name + "_bucket{", 0) != 0) continue;
    BOOST_TEST(v >= last, name << ": bucket " << s << " below the one before");
    last = v;
    last_le = s;
  }
  BOOST_TEST(last_le == name + "_bucket{le=\"+Inf\"}", name);
  BOOST_TEST(value(e, name, name + "_count") == last, name);
  BOOST_TEST(value(e, name, name + "_sum") >= 0, name);
}

const char* const kHistograms[] = {"go_gc_heap_allocs_by_size_bytes", "go_gc_heap_frees_by_size_bytes",
                                   "go_gc_pauses_seconds", "go_sched_latencies_seconds"};

// The le values of the allocation sizes /alloc makes: 16-byte nodes in
// [9, 25), payloads of 64 bytes in [25, 65).
const std::string kNodeLe = "24.999999999999996";
const std::string kPayloadLe = "64.99999999999999";
const std::string kBelowNodeLe = "8.999999999999998";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

BOOST_AUTO_TEST_CASE(families_are_client_golangs_for_go_1_19) {
  Exposition want = parse_exposition(read_file(GO119_RUNTIME_METRICS));
  BOOST_REQUIRE_EQUAL(want.size(), 33u);
  Gortd g;
  get(g.port(), "/alloc?kb=256");
  get(g.port(), "/work?n=100000");
  get(g.port(), "/gc?run=1");
  Exposition got = scrape(g);
  size_t want_series = 0, got_series = 0;
  for (const auto& [name, w] : want) {
    auto it = got.find(name);
    BOOST_TEST_CONTEXT(name) {
      BOOST_REQUIRE(it != got.end());
      const Family& f = it->second;
      BOOST_TEST(f.type == w.type);
      BOOST_TEST(f.help == w.help);
      BOOST_TEST(f.samples.size() == w.samples.size());
      if (w.type == "histogram") BOOST_TEST(bucket_les(f) == bucket_les(w), boost::test_tools::per_element());
      want_series += w.samples.size();
      got_series += f.samples.size();
    }
  }
  BOOST_TEST(want_series == 81u);  // client_golang's expectedRuntimeMetricsCardinality for Go 1.19
  BOOST_TEST(got_series == 81u);
  for (const char* h : kHistograms) check_histogram(got, h);
}

BOOST_AUTO_TEST_CASE(metrics_with_runtime_families_pass_promtool) {
  std::string promtool = PROMTOOL_PATH;
  BOOST_REQUIRE_MESSAGE(!promtool.empty(), "promtool not found at configure time (install prometheus)");
  Gortd g;
  get(g.port(), "/alloc?kb=64");
  get(g.port(), "/gc?run=1");
  std::string body = get(g.port(), "/metrics").body;
  std::string out;
  int status = promtool_check_metrics(promtool, body, &out);
  BOOST_TEST(status == 0, "promtool check metrics: " << out);
}

BOOST_AUTO_TEST_CASE(load_counts_in_latency_and_allocation_histograms) {
  // GOGC=off: only /gc?run=1 collects, so the frees come from that cycle.
  Gortd g({}, {"GOGC=off"});
  Exposition before = scrape(g);
  double latencies = value(before, "go_sched_latencies_seconds_count");
  double allocs = value(before, "go_gc_heap_allocs_by_size_bytes_count");
  double frees = value(before, "go_gc_heap_frees_by_size_bytes_count");
  double nodes = bucket(before, "go_gc_heap_allocs_by_size_bytes", kNodeLe);
  double payloads = bucket(before, "go_gc_heap_allocs_by_size_bytes", kPayloadLe);
  BOOST_REQUIRE(latencies >= 0 && allocs >= 0 && frees >= 0);

  // One in eight goroutine switches is timed (Go's sampling): keep the
  // scheduler busy until some land in the histogram.
  BOOST_TEST(eventually([&] {
    get(g.port(), "/fanout?g=16&n=100000");
    return value(scrape(g), "go_sched_latencies_seconds_count") > latencies;
  }));

  // /alloc?kb=1024 (size 64): 16384 nodes of 16 bytes and 16384 64-byte
  // payloads. A P counts a span's free slots when it caches the span, so
  // slots counted before may serve some of them: allow for that.
  BOOST_REQUIRE_EQUAL(get(g.port(), "/alloc?kb=1024").body, "alloc objects=16384 bytes=1048576 sum=2088960\n");
  Exposition after = scrape(g);
  double below_nodes = bucket(after, "go_gc_heap_allocs_by_size_bytes", kBelowNodeLe);
  double node_delta = bucket(after, "go_gc_heap_allocs_by_size_bytes", kNodeLe) - below_nodes -
                      (nodes - bucket(before, "go_gc_heap_allocs_by_size_bytes", kBelowNodeLe));
  double payload_delta = (bucket(after, "go_gc_heap_allocs_by_size_bytes", kPayloadLe) -
                          bucket(after, "go_gc_heap_allocs_by_size_bytes", kNodeLe)) -
                         (payloads - nodes);
  BOOST_TEST(node_delta >= 16384 / 2);
  BOOST_TEST(payload_delta >= 16384 / 2);
  BOOST_TEST(value(after, "go_gc_heap_allocs_by_size_bytes_count") >= allocs + 16384);
  BOOST_TEST(value(after, "go_gc_heap_allocs_objects_total") >= value(after, "go_gc_heap_allocs_by_size_bytes_count"));
  check_histogram(after, "go_gc_heap_allocs_by_size_bytes");

  // The list was not kept: the forced cycle frees it, and the sweep
  // (lazy, in the background) counts the frees.
  BOOST_REQUIRE_EQUAL(get(g.port(), "/gc?run=1").status, 200);
  BOOST_TEST(eventually([&] {
    return value(scrape(g), "go_gc_heap_frees_by_size_bytes_count") >= frees + 16384;
  }));
  Exposition freed = scrape(g);
  check_histogram(freed, "go_gc_heap_frees_by_size_bytes");
  BOOST_TEST(value(freed, "go_gc_heap_frees_by_size_bytes_count") <=
             value(freed, "go_gc_heap_allocs_by_size_bytes_count"));
}

BOOST_AUTO_TEST_CASE(forced_cycles_and_their_pauses_follow_gc_run) {
  Gortd g({}, {"GOGC=off"});
  get(g.port(), "/alloc?kb=1024");
  Exposition before = scrape(g);
  double forced = value(before, "go_gc_cycles_forced_gc_cycles_total");
  BOOST_REQUIRE(forced >= 0);
  for (int i = 1; i <= 3; i++) {
    BOOST_REQUIRE_EQUAL(get(g.port(), "/gc?run=1").status, 200);
    Exposition e = scrape(g);
    BOOST_TEST(value(e, "go_gc_cycles_forced_gc_cycles_total") == forced + i);
    BOOST_TEST(value(e, "go_gc_cycles_automatic_gc_cycles_total") == 0);  // GOGC=off
    double total = value(e, "go_gc_cycles_total_gc_cycles_total");
    BOOST_TEST(total == value(e, "go_gc_cycles_forced_gc_cycles_total") +
                            value(e, "go_gc_cycles_automatic_gc_cycles_total"));
    BOOST_TEST(total == value(e, "go_gc_duration_seconds_count"));
    // Two stop-the-world pauses per cycle (sweep and mark termination),
    // more if a mark termination found work and let the world go again.
    BOOST_TEST(value(e, "go_gc_pauses_seconds_count") >= 2 * total);
    check_histogram(e, "go_gc_pauses_seconds");
    BOOST_TEST(value(e, "go_gc_limiter_last_enabled_gc_cycle") == 0);  // never limited here
  }
}

BOOST_AUTO_TEST_CASE(values_agree_with_memstats) {
  Gortd g({}, {"GOMAXPROCS=3", "GORT_STACK_KB=128"});
  get(g.port(), "/alloc?kb=2048&keep=2");
  get(g.port(), "/gc?run=1");
  Exposition e = scrape(g);
  BOOST_TEST(value(e, "go_sched_gomaxprocs_threads") == 3);
  BOOST_TEST(value(e, "go_gc_stack_starting_size_bytes") == 128 * 1024);
  BOOST_TEST(value(e, "go_sched_goroutines_goroutines") > 0);
  BOOST_TEST(value(e, "go_cgo_go_to_c_calls_calls_total") == 0);      // no cgo in gort
  BOOST_TEST(value(e, "go_gc_heap_tiny_allocs_objects_total") == 0);  // no tiny allocator
  BOOST_TEST(value(e, "go_gc_heap_goal_bytes") == value(e, "go_memstats_next_gc_bytes"));
  // From one read of the heap's counters: objects are allocs − frees, in
  // count and in bytes (the histograms' exact sums).
  BOOST_TEST(value(e, "go_gc_heap_objects_objects") ==
             value(e, "go_gc_heap_allocs_by_size_bytes_count") - value(e, "go_gc_heap_frees_by_size_bytes_count"));
  BOOST_TEST(value(e, "go_memory_classes_heap_objects_bytes") ==
             value(e, "go_gc_heap_allocs_by_size_bytes_sum") - value(e, "go_gc_heap_frees_by_size_bytes_sum"));
  BOOST_TEST(value(e, "go_memory_classes_heap_objects_bytes") >= 2 * 1024 * 1024);  // the kept lists
  // Sum of all metrics in /memory/classes.
  double classes = 0;
  for (const auto& [name, f] : e)
    if (name.rfind("go_memory_classes_", 0) == 0 && name != "go_memory_classes_total_bytes")
      classes += f.samples.at(0).second;
  BOOST_TEST(value(e, "go_memory_classes_total_bytes") == classes);

  // Against MemStats, read apart (each scrape and /debug/vars reads it
  // afresh): an idle gortd's figures settle, and then they agree.
  BOOST_TEST(eventually([&] {
    Exposition m = scrape(g);
    return value(m, "go_gc_heap_goal_bytes") == memstat(g, "NextGC") &&
           value(m, "go_memory_classes_total_bytes") == value(m, "go_memstats_sys_bytes") &&
           value(m, "go_gc_cycles_total_gc_cycles_total") == memstat(g, "NumGC") &&
           value(m, "go_gc_cycles_forced_gc_cycles_total") == memstat(g, "NumForcedGC") &&
           value(m, "go_memory_classes_heap_released_bytes") == value(m, "go_memstats_heap_released_bytes") &&
           value(m, "go_memory_classes_heap_stacks_bytes") == value(m, "go_memstats_stack_inuse_bytes") &&
           value(m, "go_sched_goroutines_goroutines") == value(m, "go_goroutines");
  }));
}
