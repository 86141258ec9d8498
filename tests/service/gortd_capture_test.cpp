// gortd_capture_test.cpp — what gortd saves and logs by itself, on the real
// binary: the flight recorder (/debug/pprof/flightrecorder, traces cut from
// it while it runs, slow-request snapshots into --profile-dir, rate-limited),
// scheduled cpu/heap/goroutine profiles rotated to --profile-keep, the
// access log in logfmt and JSON and its reopening on SIGHUP, and the flag
// combinations gortd refuses. Traces are judged by check_go_trace.sh (Go's
// parser and every cmd/trace view), profiles by `go tool pprof`.
#define BOOST_TEST_MODULE gortd_capture_test
#include <boost/test/unit_test.hpp>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/service/gortd_harness.h"
#include "tests/trace_check.h"

using namespace gortd_test;

namespace {

std::string temp_dir() {
  char tmpl[] = "/tmp/gortd_capture_test_XXXXXX";
  return mkdtemp(tmpl);
}

std::vector<std::string> files_in(const std::string& dir, const std::string& prefix) {
  std::vector<std::string> out;
  if (DIR* d = opendir(dir.c_str())) {
    while (dirent* e = readdir(d)) {
      std::string n = e->d_name;
      if (n.rfind(prefix, 0) == 0) out.push_back(n);
    }
    closedir(d);
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// metric returns the value of an unlabelled sample on /metrics, or -1.
double metric(int port, const std::string& name) {
  Reply r = get(port, "/metrics");
  std::smatch m;
  if (std::regex_search(r.body, m, std::regex("\n" + name + " ([0-9.e+]+)\n"))) return std::stod(m[1]);
  return -1;
}

std::string judge(const std::string& path) {
  bool ok = false;
  std::string verdict = trace_check::check_go_trace(path, &ok);
  BOOST_TEST_MESSAGE(verdict);
  return ok ? "PASS" : verdict;
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_flight_recorder_serves_its_window_and_traces_cut_from_it) {
  std::string dir = temp_dir();
  Gortd g({"--flight-recorder", "1s"});
  for (int i = 0; i < 20; i++) BOOST_TEST(get(g.port(), "/work?n=100000").status == 200);
  BOOST_TEST(get(g.port(), "/fanout?g=4").status == 200);
  Reply index = get(g.port(), "/debug/pprof/");
  BOOST_TEST(index.body.find("flightrecorder") != std::string::npos);
  Reply fr = get(g.port(), "/debug/pprof/flightrecorder");
  BOOST_TEST(fr.status == 200);
  BOOST_TEST(fr.body.rfind("go 1.19 trace", 0) == 0u);
  write_file(dir + "/fr.out", fr.body);
  BOOST_TEST(judge(dir + "/fr.out") == "PASS");
  // While the recorder runs, /debug/pprof/trace is cut from its stream.
  Reply tr = get(g.port(), "/debug/pprof/trace?seconds=0.5");
  BOOST_TEST(tr.status == 200);
  write_file(dir + "/tr.out", tr.body);
  BOOST_TEST(judge(dir + "/tr.out") == "PASS");
  BOOST_TEST(metric(g.port(), "gort_flight_recorder_snapshots_total") >= 2);

  Gortd off;
  Reply none = get(off.port(), "/debug/pprof/flightrecorder");
  BOOST_TEST(none.status == 404);
  BOOST_TEST(none.body == "the flight recorder is off: start gortd with --flight-recorder D\n");
}

BOOST_AUTO_TEST_CASE(a_slow_request_saves_the_flight_recorder_once_per_window) {
  std::string dir = temp_dir();
  std::string log = dir + "/access.log";
  Gortd g({"--flight-recorder", "1m", "--slow-request", "500ms", "--profile-dir", dir + "/prof", "--access-log", log});
  BOOST_TEST(get(g.port(), "/sleep?ms=800").status == 200);
  BOOST_REQUIRE(eventually([&] { return !files_in(dir + "/prof", "flight-").empty(); }));
  BOOST_TEST(eventually([&] { return g.log().find("gortd: slow request GET /sleep?ms=800 took ") != std::string::npos; }),
             g.log());
  std::string file = dir + "/prof/" + files_in(dir + "/prof", "flight-")[0];
  BOOST_TEST(std::regex_match(files_in(dir + "/prof", "flight-")[0], std::regex(R"(flight-\d{8}-\d{6}\.out)")));
  BOOST_TEST(judge(file) == "PASS");
  // A second slow request within the window (a minute) is counted but not saved.
  BOOST_TEST(get(g.port(), "/sleep?ms=700").status == 200);
  // The access log's line comes after the slow-request check.
  BOOST_REQUIRE(eventually([&] { return read_file(log).find("target=\"/sleep?ms=700\"") != std::string::npos; }));
  double slow = metric(g.port(), "gort_slow_requests_total");
  BOOST_TEST(slow >= 2);
  BOOST_TEST(metric(g.port(), "gort_slow_request_snapshots_total") == 1);
  BOOST_TEST(metric(g.port(), "gort_slow_request_snapshots_saved_total") == 1);
  BOOST_TEST(files_in(dir + "/prof", "flight-").size() == 1u);
  // Debug endpoints are long by design and never count.
  BOOST_TEST(get(g.port(), "/debug/pprof/heap?seconds=1").status == 200);
  BOOST_REQUIRE(eventually([&] { return read_file(log).find("target=\"/debug/pprof/heap?seconds=1\"") != std::string::npos; }));
  BOOST_TEST(metric(g.port(), "gort_slow_requests_total") == slow);
}

BOOST_AUTO_TEST_CASE(scheduled_profiles_are_written_and_rotated) {
  std::string dir = temp_dir();
  Gortd g({"--profile-dir", dir, "--profile-every", "1s", "--profile-keep", "2"});
  // Until a third round has written: a cpu file none of the first two names.
  std::set<std::string> first;
  BOOST_REQUIRE(eventually([&] {
    for (auto& n : files_in(dir, "cpu-")) first.insert(n);
    return first.size() >= 2;
  }));
  BOOST_REQUIRE(eventually([&] {
    for (auto& n : files_in(dir, "heap-"))
      if (first.count("cpu-" + n.substr(5)) == 0 && files_in(dir, "goroutine-").size() >= 2) return true;
    return false;
  }));
  for (const char* kind : {"cpu-", "heap-", "goroutine-"}) {
    std::vector<std::string> names = files_in(dir, kind);
    BOOST_TEST(names.size() <= 2u, kind);
    for (const std::string& n : names) {
      BOOST_TEST(std::regex_match(n, std::regex(std::string(kind) + R"(\d{8}-\d{6}(-\d+)?\.pb\.gz)")), n);
      std::string out;
      BOOST_TEST(trace_check::run(trace_check::go_tool("pprof") + " -raw " + dir + "/" + n, &out) == 0, out);
      BOOST_TEST(out.find("Samples:") != std::string::npos, out);
    }
  }
  BOOST_TEST(files_in(dir, ".").size() <= 2u);  // ".", ".." — no temporary file left behind
}

BOOST_AUTO_TEST_CASE(the_access_log_writes_logfmt_and_json_and_reopens_on_sighup) {
  std::string dir = temp_dir();
  std::string log = dir + "/access.log";
  {
    Gortd g({"--access-log", log});
    BOOST_TEST(get(g.port(), "/work?n=1000").status == 200);
    BOOST_TEST(get(g.port(), "/nope").status == 404);
    BOOST_REQUIRE(eventually([&] { return read_file(log).find("target=/nope") != std::string::npos; }));
    std::string text = read_file(log);
    BOOST_TEST(std::regex_search(
                   text, std::regex(R"(time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z method=GET route=/work target="/work\?n=1000" )"
                                    R"(status=200 duration=\d+\.\d{6} bytes=\d+ goroutine=\d+\n)")),
               text);
    BOOST_TEST(text.find("route=unmatched target=/nope status=404") != std::string::npos, text);
    // logrotate: rename, then SIGHUP; new lines go to a new file.
    BOOST_REQUIRE(std::rename(log.c_str(), (log + ".1").c_str()) == 0);
    g.signal(SIGHUP);
    BOOST_REQUIRE(eventually([&] { return g.log().find("gortd: SIGHUP: access log reopened") != std::string::npos; }));
    BOOST_TEST(get(g.port(), "/sleep?ms=1").status == 200);
    BOOST_REQUIRE(eventually([&] { return read_file(log).find("route=/sleep") != std::string::npos; }));
    BOOST_TEST(read_file(log + ".1").find("route=/sleep") == std::string::npos);
  }
  {
    std::string jlog = dir + "/access.json";
    Gortd g({"--access-log", jlog, "--access-log-format", "json"});
    BOOST_TEST(get(g.port(), "/work?n=1000&x=%22q%22").status == 200);
    BOOST_REQUIRE(eventually([&] { return !read_file(jlog).empty(); }));
    std::string text = read_file(jlog);
    BOOST_TEST(std::regex_search(text, std::regex(R"(^\{"time":"[^"]+Z","method":"GET","route":"/work",)"
                                                  R"("target":"/work\?n=1000&x=%22q%22","status":200,"duration":[0-9.]+,)"
                                                  R"("bytes":\d+,"goroutine":\d+\}\n$)")),
               text);
  }
}

BOOST_AUTO_TEST_CASE(flag_combinations_that_cannot_work_are_refused) {
  const std::string gortd = GORTD_PATH;
  struct Case {
    std::string args, reason;
  } cases[] = {
      {"--slow-request 1s", "--slow-request needs --flight-recorder"},
      {"--slow-request 1s --flight-recorder 10s", "--slow-request needs --profile-dir"},
      {"--profile-every 1m", "--profile-every needs --profile-dir"},
      {"--flight-recorder 10ms", "--flight-recorder must be between 100ms and 1h"},
      {"--flight-recorder 10s --flight-recorder-bytes 1000", "--flight-recorder-bytes must be at least 1048576"},
      {"--access-log-format xml", "--access-log-format wants logfmt or json"},
      {"--profile-dir /proc/gortd-no-such-dir", "--profile-dir: cannot create /proc/gortd-no-such-dir"},
      {"--access-log /proc/gortd-no-such-dir/x.log", "--access-log: access log /proc/gortd-no-such-dir/x.log"},
  };
  for (const Case& c : cases) {
    std::string out;
    int rc = trace_check::run(gortd + " --addr 127.0.0.1:0 " + c.args + " </dev/null", &out);
    BOOST_TEST(rc == 2, c.args << ": " << out);
    BOOST_TEST(out.find("gortd: " + c.reason) != std::string::npos, c.args << ": " << out);
  }
}
