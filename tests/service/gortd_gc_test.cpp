// gortd_gc_test.cpp — integration tests of gortd's collected-heap side:
// /alloc (plain, keep, pool) and /mixed reply texts, /gc's set, memlimit
// and run replies and its 400s, GOGC/GOMEMLIMIT/GODEBUG=gctrace from the
// environment (a malformed GOMEMLIMIT stops gortd at start), gctrace lines
// parsed with Go 1.19's grammar, go_gc_duration_seconds counting exactly
// the forced cycles under GOGC=off, memstats in /debug/vars, the
// --stats-interval line, and `promtool check metrics` with the go_memstats_*
// and gort_gc_* families present.
//
// Like gortd_test, every wait is for a condition (eventually()), never for
// a fixed time.
#define BOOST_TEST_MODULE gortd_gc_test
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "gortd_harness.h"

using namespace gortd_test;

namespace {

double metric_value(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

double metric_of(const Gortd& g, const std::string& series) {
  return metric_value(get(g.port(), "/metrics").body, series);
}

// GcLine is one gctrace line, parsed with Go 1.19's grammar (the format
// printed by gcMarkTermination in runtime/mgc.go).
struct GcLine {
  int num = 0;
  bool forced = false;
  int heap_start_mb = 0, heap_end_mb = 0, heap_live_mb = 0, goal_mb = 0, procs = 0;
};

const std::regex kGcTrace(
    R"(gc (\d+) @([\d.]+)s (\d+)%: ([\d.]+)\+([\d.]+)\+([\d.]+) ms clock, ([\d.]+)\+([\d.]+)/([\d.]+)/([\d.]+)\+([\d.]+) ms cpu, (\d+)->(\d+)->(\d+) MB, (\d+) MB goal, (\d+) MB stacks, (\d+) MB globals, (\d+) P( \(forced\))?)");

// gc_lines returns the parsed gctrace lines of log; a line starting "gc "
// that does not match the grammar fails the test.
std::vector<GcLine> gc_lines(const std::string& log) {
  std::vector<GcLine> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("gc ", 0) != 0) continue;
    std::smatch m;
    BOOST_TEST(std::regex_match(line, m, kGcTrace), "not a Go 1.19 gctrace line: " << line);
    if (m.empty()) continue;
    GcLine l;
    l.num = std::stoi(m[1]);
    l.heap_start_mb = std::stoi(m[12]);
    l.heap_end_mb = std::stoi(m[13]);
    l.heap_live_mb = std::stoi(m[14]);
    l.goal_mb = std::stoi(m[15]);
    l.procs = std::stoi(m[18]);
    l.forced = m[19].matched;
    out.push_back(l);
  }
  return out;
}

// run_gortd_expecting_exit runs gortd with env prefix and args and returns
// (exit status, combined output); for start-up failures.
std::pair<int, std::string> run_gortd_expecting_exit(const std::string& env, const std::string& args) {
  std::string cmd = env + " " GORTD_PATH " --addr 127.0.0.1:0 " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

// memstat returns the numeric field name of /debug/vars' memstats (-1 if absent).
double memstat(const Gortd& g, const std::string& name) {
  std::string body = get(g.port(), "/debug/vars").body;
  size_t at = body.find("\"" + name + "\":", body.find("\"memstats\": "));
  if (at == std::string::npos) return -1;
  return std::stod(body.substr(at + name.size() + 3));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(alloc)

BOOST_AUTO_TEST_CASE(alloc_reply_texts) {
  Gortd g;
  BOOST_TEST(get(g.port(), "/alloc?kb=1&size=64").body == "alloc objects=16 bytes=1024 sum=120\n");
  // ceil(4096/100) = 41 nodes, bytes i&0xff for i < 41.
  BOOST_TEST(get(g.port(), "/alloc?kb=4&size=100").body == "alloc objects=41 bytes=4100 sum=820\n");
  BOOST_TEST(get(g.port(), "/alloc?kb=0").body == "alloc objects=0 bytes=0 sum=0\n");
  // 512 nodes: two full rounds of 0..255.
  BOOST_TEST(get(g.port(), "/alloc?kb=4&size=8").body == "alloc objects=512 bytes=4096 sum=65280\n");
  // Defaults: 1024 KiB in 64-byte nodes = 16384 nodes, 64 rounds of 0..255.
  BOOST_TEST(get(g.port(), "/alloc").body == "alloc objects=16384 bytes=1048576 sum=2088960\n");
  BOOST_TEST(get(g.port(), "/alloc?kb=1&size=1048576").body == "alloc objects=1 bytes=1048576 sum=0\n");
}

BOOST_AUTO_TEST_CASE(alloc_keep_and_pool_reply_the_same) {
  Gortd g;
  for (int i = 0; i < 3; i++)
    BOOST_TEST(get(g.port(), "/alloc?kb=1024&size=64&keep=2").body == "alloc objects=16384 bytes=1048576 sum=2088960\n");
  // The ring keeps the last two 1 MiB lists (payloads alone are 1 MiB
  // each) alive through a forced collection.
  BOOST_TEST(get(g.port(), "/gc?run=1").status == 200);
  double heap = memstat(g, "HeapAlloc");
  BOOST_TEST(heap >= 2.0 * 1048576, "HeapAlloc " << heap);
  for (const char* t : {"/alloc?kb=64&size=64&pool=1", "/alloc?kb=64&size=64&pool=1", "/alloc?kb=64&size=128&pool=1",
                        "/alloc?kb=64&size=64&pool=1&keep=1", "/alloc?kb=64&size=64&pool=1"}) {
    Reply r = get(g.port(), t);
    BOOST_TEST(r.status == 200, t);
    BOOST_TEST(std::regex_match(r.body, std::regex(R"(alloc objects=(512|1024) bytes=65536 sum=(65280|130560)\n)")),
               t << ": " << r.body);
  }
  BOOST_TEST(get(g.port(), "/alloc?kb=1&size=64&pool=1").body == "alloc objects=16 bytes=1024 sum=120\n");
}

BOOST_AUTO_TEST_CASE(mixed_replies_three_lines) {
  Gortd g;
  BOOST_TEST(get(g.port(), "/mixed?n=200000&kb=1&size=64&ms=1").body ==
             "work n=200000 result=14173078858223602343\nalloc objects=16 bytes=1024 sum=120\nslept ms=1\n");
  BOOST_TEST(get(g.port(), "/mixed?n=0&kb=0&ms=0").body ==
             "work n=0 result=88172645463325252\nalloc objects=0 bytes=0 sum=0\nslept ms=0\n");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(gc_endpoint)

BOOST_AUTO_TEST_CASE(gc_set_memlimit_run_replies) {
  Gortd g;
  BOOST_TEST(get(g.port(), "/gc").body == "GOGC=100 GOMEMLIMIT=off\n");
  BOOST_TEST(get(g.port(), "/gc?set=200").body == "GOGC set to 200 (previous 100)\n");
  BOOST_TEST(get(g.port(), "/gc?set=off").body == "GOGC set to off (previous 200)\n");
  BOOST_TEST(get(g.port(), "/gc?memlimit=100MiB").body == "GOMEMLIMIT set to 104857600 (previous off)\n");
  BOOST_TEST(get(g.port(), "/gc").body == "GOGC=off GOMEMLIMIT=104857600\n");
  BOOST_TEST(get(g.port(), "/gc?memlimit=1GiB").body == "GOMEMLIMIT set to 1073741824 (previous 104857600)\n");
  BOOST_TEST(get(g.port(), "/gc?memlimit=4096").body == "GOMEMLIMIT set to 4096 (previous 1073741824)\n");
  BOOST_TEST(get(g.port(), "/gc?memlimit=off").body == "GOMEMLIMIT set to off (previous 4096)\n");
  BOOST_TEST(get(g.port(), "/gc?set=0").body == "GOGC set to 0 (previous off)\n");
  // strconv.ParseInt's syntax, as the Go peer: a sign and leading zeros are fine.
  BOOST_TEST(get(g.port(), "/gc?set=%2B0100").body == "GOGC set to 100 (previous 0)\n");
  const std::regex run(R"(gc (\d+) forced: [0-9.]+(ns|µs|ms|s) wall, pause [0-9.]+(ns|µs|ms|s), heap \d+->\d+ KB, goal \d+ KB\n)");
  std::smatch m;
  std::string body = get(g.port(), "/gc?run=1").body;
  BOOST_TEST(std::regex_match(body, m, run), body);
  int first = m.empty() ? 0 : std::stoi(m[1]);
  body = get(g.port(), "/gc?run=1").body;
  BOOST_TEST(std::regex_match(body, m, run), body);
  BOOST_TEST((m.empty() ? 0 : std::stoi(m[1])) == first + 1);
  // Several parameters: all applied, in the order set, memlimit, run.
  body = get(g.port(), "/gc?run=1&memlimit=2MiB&set=50").body;
  BOOST_TEST(body.rfind("GOGC set to 50 (previous 100)\nGOMEMLIMIT set to 2097152 (previous off)\ngc ", 0) == 0, body);
  BOOST_TEST(get(g.port(), "/gc").body == "GOGC=50 GOMEMLIMIT=2097152\n");
  // A bad parameter changes nothing.
  BOOST_TEST(get(g.port(), "/gc?set=70&memlimit=9XB").status == 400);
  BOOST_TEST(get(g.port(), "/gc").body == "GOGC=50 GOMEMLIMIT=2097152\n");
}

BOOST_AUTO_TEST_CASE(gc_bad_parameters_are_400_and_counted) {
  Gortd g;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/gc?set=abc", "bad parameter set=\"abc\": must be an integer >= 0 or off"},
      {"/gc?set=-1", "bad parameter set=\"-1\": must be an integer >= 0 or off"},
      {"/gc?set=2147483648", "bad parameter set=\"2147483648\": must be an integer >= 0 or off"},
      {"/gc?memlimit=12XB", "bad parameter memlimit=\"12XB\": must be bytes with optional B/KiB/MiB/GiB/TiB suffix, or off"},
      {"/gc?memlimit=MiB", "bad parameter memlimit=\"MiB\": must be bytes with optional B/KiB/MiB/GiB/TiB suffix, or off"},
      {"/gc?memlimit=99999999TiB", "bad parameter memlimit=\"99999999TiB\": must be bytes with optional B/KiB/MiB/GiB/TiB suffix, or off"},
      {"/gc?run=yes", "bad parameter run=\"yes\": must be 1"},
      {"/gc?run=0", "bad parameter run=\"0\": must be 1"},
  };
  for (const auto& [target, reason] : cases) {
    Reply r = get(g.port(), target);
    BOOST_TEST(r.status == 400, target);
    BOOST_TEST(r.body == reason + "\n", target);
  }
  const std::vector<std::string> alloc_cases = {"/alloc?kb=-1", "/alloc?size=1048577", "/alloc?keep=x", "/alloc?pool=-1",
                                                "/alloc?pool=1.0"};
  for (const auto& t : alloc_cases) BOOST_TEST(get(g.port(), t).status == 400, t);
  std::string m = get(g.port(), "/metrics").body;
  BOOST_TEST(metric_value(m, R"(http_requests_total{code="400",method="GET",path="/gc"})") == cases.size());
  BOOST_TEST(metric_value(m, R"(http_requests_total{code="400",method="GET",path="/alloc"})") == alloc_cases.size());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(environment)

BOOST_AUTO_TEST_CASE(gogc_and_gomemlimit_from_the_environment) {
  {
    Gortd g({}, {"GOGC=off", "GOMEMLIMIT=1GiB"});
    BOOST_TEST(get(g.port(), "/gc").body == "GOGC=off GOMEMLIMIT=1073741824\n");
    std::string m = get(g.port(), "/metrics").body;
    BOOST_TEST(metric_value(m, "go_gc_gogc_percent") == -1);
    BOOST_TEST(metric_value(m, "go_gc_gomemlimit_bytes") == 1073741824);
  }
  {
    Gortd g({}, {"GOGC=50", "GOMEMLIMIT=off"});
    BOOST_TEST(get(g.port(), "/gc").body == "GOGC=50 GOMEMLIMIT=off\n");
  }
  {
    // Go: a negative GOGC is off, a malformed one means the default.
    Gortd neg({}, {"GOGC=-5"}), junk({}, {"GOGC=lots", "GOMEMLIMIT=123B"});
    BOOST_TEST(get(neg.port(), "/gc").body == "GOGC=off GOMEMLIMIT=off\n");
    BOOST_TEST(get(junk.port(), "/gc").body == "GOGC=100 GOMEMLIMIT=123\n");
  }
}

BOOST_AUTO_TEST_CASE(malformed_gomemlimit_stops_gortd_at_start) {
  for (const char* bad : {"12XB", "-1", "1.5GiB", "KiB"}) {
    auto [status, out] = run_gortd_expecting_exit(std::string("GOMEMLIMIT=") + bad, "");
    BOOST_TEST(status == 2, bad);
    BOOST_TEST(out.find("GOMEMLIMIT") != std::string::npos, out);
    BOOST_TEST(std::count(out.begin(), out.end(), '\n') == 1, out);
    BOOST_TEST(out.find("listening") == std::string::npos, out);
  }
}

BOOST_AUTO_TEST_CASE(gctrace_lines_have_go_grammar) {
  Gortd g({}, {"GODEBUG=gctrace=1"});
  // Allocation load until the pacer has started at least one cycle of its
  // own (the heap goal starts at 4 MB; each request allocates 8 MiB of
  // payload plus its nodes).
  auto unforced = [&] {
    for (const GcLine& l : gc_lines(g.log()))
      if (!l.forced) return true;
    return false;
  };
  BOOST_TEST(eventually([&] {
    get(g.port(), "/alloc?kb=8192&size=256");
    return unforced();
  }),
             "no gctrace line from allocation load: " << g.log());
  // A forced cycle: its line ends (forced) and carries the reply's number.
  std::string body = get(g.port(), "/gc?run=1").body;
  std::smatch m;
  BOOST_REQUIRE(std::regex_search(body, m, std::regex(R"(^gc (\d+) forced:)")));
  int forced_num = std::stoi(m[1]);
  BOOST_TEST(eventually([&] {
    for (const GcLine& l : gc_lines(g.log()))
      if (l.num == forced_num) return true;
    return false;
  }),
             g.log());
  std::vector<GcLine> lines = gc_lines(g.log());
  BOOST_REQUIRE(!lines.empty());
  for (size_t i = 0; i < lines.size(); i++) {
    BOOST_TEST(lines[i].num == static_cast<int>(i) + 1, "cycle numbers are consecutive from 1");
    BOOST_TEST(lines[i].forced == (lines[i].num == forced_num), "cycle " << lines[i].num);
    BOOST_TEST(lines[i].heap_live_mb <= lines[i].heap_end_mb + 1);
    BOOST_TEST(lines[i].goal_mb >= 4);
    BOOST_TEST(lines[i].procs >= 1);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(observability)

BOOST_AUTO_TEST_CASE(gc_duration_count_rises_by_one_per_forced_cycle) {
  // GOGC=off: nothing but /gc?run=1 collects.
  Gortd g({}, {"GOGC=off"});
  get(g.port(), "/alloc?kb=4096");
  double before = metric_of(g, "go_gc_duration_seconds_count");
  BOOST_TEST(before >= 0);
  for (int i = 1; i <= 3; i++) {
    BOOST_TEST(get(g.port(), "/gc?run=1").status == 200);
    std::string m = get(g.port(), "/metrics").body;
    BOOST_TEST(metric_value(m, "go_gc_duration_seconds_count") == before + i);
    BOOST_TEST(metric_value(m, R"(gort_gc_cycles_total{forced="true"})") == before + i);
    BOOST_TEST(metric_value(m, R"(gort_gc_cycles_total{forced="false"})") == 0);
    BOOST_TEST(metric_value(m, "gort_gc_pause_seconds_count") == before + i);
    double q0 = metric_value(m, R"(go_gc_duration_seconds{quantile="0"})");
    double q1 = metric_value(m, R"(go_gc_duration_seconds{quantile="1"})");
    BOOST_TEST(q0 > 0);
    BOOST_TEST(q0 <= q1);
    BOOST_TEST(metric_value(m, "go_gc_duration_seconds_sum") >= q1);
  }
  BOOST_TEST(memstat(g, "NumGC") == before + 3);
  BOOST_TEST(memstat(g, "NumForcedGC") == before + 3);
}

BOOST_AUTO_TEST_CASE(debug_vars_memstats_has_go_field_names) {
  Gortd g;
  get(g.port(), "/alloc?kb=64");
  get(g.port(), "/gc?run=1");
  std::string body = get(g.port(), "/debug/vars").body;
  size_t at = body.find("\n\"memstats\": {");
  BOOST_REQUIRE(at != std::string::npos);
  std::string ms = body.substr(at);
  size_t pos = 0;
  for (const char* f : {"Alloc", "TotalAlloc", "Sys", "Lookups", "Mallocs", "Frees", "HeapAlloc", "HeapSys",
                        "HeapIdle", "HeapInuse", "HeapReleased", "HeapObjects", "StackInuse", "StackSys",
                        "MSpanInuse", "MSpanSys", "MCacheInuse", "MCacheSys", "BuckHashSys", "GCSys", "OtherSys",
                        "NextGC", "LastGC", "PauseTotalNs", "PauseNs", "PauseEnd", "NumGC", "NumForcedGC",
                        "GCCPUFraction", "EnableGC", "DebugGC", "BySize"}) {
    size_t p = ms.find(std::string("\"") + f + "\":", pos);
    BOOST_TEST(p != std::string::npos, f << " in order");
    if (p != std::string::npos) pos = p;
  }
  std::smatch m;
  BOOST_REQUIRE(std::regex_search(ms, m, std::regex(R"re("PauseNs":\[([0-9,]*)\])re")));
  std::string pauses = m[1];
  BOOST_TEST(std::count(pauses.begin(), pauses.end(), ',') == 255);
  BOOST_TEST(std::regex_search(ms, std::regex(R"re("EnableGC":true,"DebugGC":false,"BySize":\[\{"Size":0,"Mallocs":\d+,"Frees":\d+\},\{"Size":8,)re")));
  size_t sizes = 0;
  for (size_t p = 0; (p = ms.find("{\"Size\":", p)) != std::string::npos; p++) sizes++;
  BOOST_TEST(sizes == 61u);
  BOOST_TEST(memstat(g, "NumGC") >= 1);
  BOOST_TEST(memstat(g, "Mallocs") > 0);
}

BOOST_AUTO_TEST_CASE(stats_interval_shows_heap_and_num_gc) {
  Gortd g({"--stats-interval", "20ms"}, {"GOGC=off"});
  get(g.port(), "/alloc?kb=2048&keep=1");
  get(g.port(), "/gc?run=1");
  // After the forced cycle: num_gc=1 and a heap that holds the kept list.
  const std::regex line(R"(heap=(\d+) KB, sys=(\d+) KB, num_gc=1, goroutines=\d+\n)");
  std::smatch m;
  BOOST_TEST(eventually([&] {
    std::string log = g.log();
    return std::regex_search(log, m, line) && std::stoll(m[1]) >= 2048 && std::stoll(m[2]) >= std::stoll(m[1]);
  }),
             g.log());
}

BOOST_AUTO_TEST_CASE(heap_metrics_pass_promtool) {
  std::string promtool = PROMTOOL_PATH;
  BOOST_REQUIRE_MESSAGE(!promtool.empty(), "promtool not found at configure time (install prometheus)");
  Gortd g;
  get(g.port(), "/alloc?kb=256");
  get(g.port(), "/gc?run=1");
  std::string body = get(g.port(), "/metrics").body;
  std::string out;
  int status = promtool_check_metrics(promtool, body, &out);
  BOOST_TEST(status == 0, "promtool check metrics: " << out);
  for (const char* family :
       {"go_memstats_alloc_bytes gauge", "go_memstats_alloc_bytes_total counter", "go_memstats_sys_bytes gauge",
        "go_memstats_lookups_total counter", "go_memstats_mallocs_total counter", "go_memstats_frees_total counter",
        "go_memstats_heap_alloc_bytes gauge", "go_memstats_heap_sys_bytes gauge", "go_memstats_heap_idle_bytes gauge",
        "go_memstats_heap_inuse_bytes gauge", "go_memstats_heap_released_bytes gauge", "go_memstats_heap_objects gauge",
        "go_memstats_stack_inuse_bytes gauge", "go_memstats_stack_sys_bytes gauge",
        "go_memstats_mspan_inuse_bytes gauge", "go_memstats_mspan_sys_bytes gauge",
        "go_memstats_mcache_inuse_bytes gauge", "go_memstats_mcache_sys_bytes gauge",
        "go_memstats_buck_hash_sys_bytes gauge", "go_memstats_gc_sys_bytes gauge", "go_memstats_other_sys_bytes gauge",
        "go_memstats_next_gc_bytes gauge", "go_memstats_last_gc_time_seconds gauge", "go_gc_duration_seconds summary",
        "go_gc_gogc_percent gauge", "go_gc_gomemlimit_bytes gauge", "gort_gc_pause_seconds histogram",
        "gort_gc_assist_seconds_total counter", "gort_gc_cycles_total counter"})
    BOOST_TEST(body.find(std::string("# TYPE ") + family + "\n") != std::string::npos, family);
  BOOST_TEST(body.find("# HELP go_gc_duration_seconds A summary of the pause duration of garbage collection cycles.\n") !=
             std::string::npos);
  BOOST_TEST(body.find("# HELP go_memstats_heap_objects Number of allocated objects.\n") != std::string::npos);
  BOOST_TEST(metric_value(body, "go_gc_gogc_percent") == 100);
  BOOST_TEST(metric_value(body, "go_gc_gomemlimit_bytes") == 9223372036854775807.0);
  BOOST_TEST(metric_value(body, "go_memstats_mallocs_total") > 0);
}

BOOST_AUTO_TEST_SUITE_END()
