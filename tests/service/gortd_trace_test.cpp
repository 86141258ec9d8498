// gortd_trace_test.cpp — /debug/pprof/trace on the real gortd, read by Go's
// own tools: traces taken under mixed load pass shared/tools/
// check_go_trace.sh (Go 1.19's parser and every cmd/trace view); the
// goroutine analysis lists the connection goroutines with their time split;
// the user-task view lists the routes; GC cycles show both stop-the-world
// phases; traces started while collections run back to back are valid; a
// second trace gets 409 and a client hang-up stops the trace; 10 s at 1,000
// connections stays valid with gortd's memory bounded; format=json is
// Chrome trace-event JSON with the expected tracks.
#define BOOST_TEST_MODULE gortd_trace_test
#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "runtime/base.h"
#include "tests/service/gortd_harness.h"
#include "tests/trace_check.h"

using namespace gortd_test;

namespace {

using trace_check::go_tool;
using trace_check::run;

std::string save(const std::string& bytes, const std::string& tag) {
  std::string path = "/tmp/gortd_trace_test_" + tag + "_" + std::to_string(getpid()) + ".trace";
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  return path;
}

// check judges the trace at path with Go's tools; returns the verdict line.
std::string check(const std::string& path, bool* ok) { return trace_check::check_go_trace(path, ok); }

// TraceViewer runs cmd/trace's HTTP server on a trace file, as a user does.
class TraceViewer final {
 public:
  explicit TraceViewer(const std::string& path) {
    log_ = path + ".viewer.log";
    std::string bin = go_tool("trace");
    pid_ = fork();
    if (pid_ == 0) {
      FILE* l = std::fopen(log_.c_str(), "w");
      if (l != nullptr) dup2(fileno(l), 2);
      setenv("BROWSER", "true", 1);
      execl(bin.c_str(), bin.c_str(), "-http=127.0.0.1:0", path.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + kPatience * 2;
    std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    while (std::chrono::steady_clock::now() < deadline) {
      std::ifstream in(log_);
      std::stringstream ss;
      ss << in.rdbuf();
      std::smatch m;
      std::string text = ss.str();
      if (std::regex_search(text, m, listening)) {
        port_ = std::stoi(m[1]);
        return;
      }
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) break;
      usleep(100'000);
    }
  }
  ~TraceViewer() {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    std::remove(log_.c_str());
  }
  int port() const { return port_; }
  std::string page(const std::string& target) const { return get(port_, target).body; }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string log_;
};

// Load keeps client threads sending requests until stopped.
class Load final {
 public:
  Load(int port, std::vector<std::string> targets, int threads_per_target) {
    for (const std::string& t : targets)
      for (int i = 0; i < threads_per_target; i++)
        threads_.emplace_back([this, port, t] {
          while (!stop_.load()) {
            Reply r = get(port, t);
            if (r.status == 200) ok_.fetch_add(1);
          }
        });
  }
  ~Load() { stop(); }
  void stop() {
    stop_.store(true);
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }
  int64_t ok() const { return ok_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> ok_{0};
  std::vector<std::thread> threads_;
};

// get_trace asks for a trace and waits for all of it (the harness's get
// gives up after 10 s).
Reply get_trace(int port, const std::string& query) {
  return parse_reply(exchange(port, "GET /debug/pprof/trace" + query + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n",
                              kPatience));
}

// html_text drops tags, for finding a row's numbers in cmd/trace's pages.
std::string html_text(const std::string& html) { return std::regex_replace(html, std::regex("<[^>]*>"), " "); }

}  // namespace

BOOST_AUTO_TEST_CASE(a_trace_under_mixed_load_opens_in_every_view) {
  Gortd g({"--stats-interval", "0"});
  Load load(g.port(), {"/work?n=200000", "/alloc?kb=256", "/sleep?ms=3", "/contend?g=4&n=200", "/fanout?g=8&n=400000"}, 2);
  BOOST_REQUIRE(get(g.port(), "/leak?n=50").status == 200);
  BOOST_REQUIRE(eventually([&] { return load.ok() > 20; }, kPatience));
  Reply r = get_trace(g.port(), "?seconds=2");
  BOOST_REQUIRE_EQUAL(r.status, 200);
  BOOST_TEST(r.complete);
  BOOST_TEST(r.header("content-type") == "application/octet-stream");
  BOOST_TEST(r.header("content-disposition") == "attachment; filename=\"trace\"");
  BOOST_TEST(get(g.port(), "/leak?release=1").status == 200);
  load.stop();
  std::string path = save(r.body, "mixed");
  bool ok = false;
  std::string verdict = check(path, &ok);
  BOOST_TEST_MESSAGE(verdict);
  BOOST_REQUIRE_MESSAGE(ok, verdict);

  // Both stop-the-world phases of GC cycles.
  std::string events;
  run(go_tool("trace") + " -d " + path + " | grep -E 'GCStart|GCSTWStart' | head -400", &events);
  BOOST_TEST(events.find(" GCStart ") != std::string::npos);
  BOOST_TEST(events.find("kind=sweep termination") != std::string::npos);
  BOOST_TEST(events.find("kind=mark termination") != std::string::npos);

  TraceViewer viewer(path);
  BOOST_REQUIRE(viewer.port() > 0);
  // Goroutine analysis: the connection goroutines (the closure the
  // listener starts per connection) with their time split.
  std::string groups = viewer.page("/goroutines");
  std::smatch m;
  BOOST_REQUIRE_MESSAGE(std::regex_search(groups, m, std::regex("href=\"(/goroutine\\?id=[0-9]+)\">gortd::Listener::accept_loop")),
                        html_text(groups));
  std::string group = viewer.page(m[1]);
  for (const char* column : {"Execution", "Network wait", "Sync block", "Scheduler wait"})
    BOOST_TEST(group.find(column) != std::string::npos, column);
  // Each row: id, total, execution, network wait, sync block, syscall,
  // scheduler wait, … as durations; some connection must show time in
  // execution, in network wait and in scheduler wait.
  std::string rows = html_text(group);
  BOOST_TEST(std::regex_search(rows, std::regex("[1-9][0-9.]*(ns|µs|ms|s)")));
  // User tasks: one task type per route.
  std::string tasks = html_text(viewer.page("/usertasks"));
  for (const char* route : {"/work", "/alloc", "/sleep", "/contend", "/fanout"})
    BOOST_TEST(tasks.find(std::string(" ") + route + " ") != std::string::npos, route);
  std::remove(path.c_str());
}

BOOST_AUTO_TEST_CASE(traces_taken_while_collections_run_are_valid) {
  Gortd g({"--stats-interval", "0"}, {"GOGC=10"});
  Load load(g.port(), {"/alloc?kb=512&keep=4", "/gc?run=1"}, 2);
  BOOST_REQUIRE(eventually([&] { return load.ok() > 10; }, kPatience));
  for (int i = 0; i < 4; i++) {
    Reply r = get_trace(g.port(), "?seconds=0.3");
    BOOST_REQUIRE_EQUAL(r.status, 200);
    std::string path = save(r.body, "gc" + std::to_string(i));
    bool ok = false;
    std::string verdict = check(path, &ok);
    BOOST_TEST(ok, "trace " << i << ": " << verdict);
    BOOST_TEST(verdict.find(" 0 GCs") == std::string::npos, verdict);
    if (ok) std::remove(path.c_str());
  }
}

BOOST_AUTO_TEST_CASE(a_second_trace_gets_409_and_a_hangup_stops_the_trace) {
  Gortd g({"--stats-interval", "0"});
  int fd = connect_to(g.port());
  BOOST_REQUIRE(fd >= 0);
  std::string req = "GET /debug/pprof/trace?seconds=60 HTTP/1.1\r\nHost: x\r\n\r\n";
  BOOST_REQUIRE(send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  // The header goes out when the trace has started.
  std::string got;
  const auto deadline = std::chrono::steady_clock::now() + kPatience;
  while (got.find("\r\n\r\n") == std::string::npos && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  BOOST_REQUIRE_MESSAGE(got.rfind("HTTP/1.1 200", 0) == 0, got.substr(0, 200));
  BOOST_TEST(got.find("Transfer-Encoding: chunked") != std::string::npos);
  Reply second = get(g.port(), "/debug/pprof/trace?seconds=1");
  BOOST_TEST(second.status == 409);
  BOOST_TEST(second.body == "Could not enable tracing: execution trace already in progress\n");
  // Hang up: the 60 s trace stops and the next one is served.
  close(fd);
  BOOST_TEST(eventually([&] { return get(g.port(), "/debug/pprof/trace?seconds=0.1").status == 200; },
                        std::chrono::seconds(20)));
}

BOOST_AUTO_TEST_CASE(bad_trace_parameters_answer_400) {
  Gortd g({"--stats-interval", "0"});
  for (const char* target : {"/debug/pprof/trace?seconds=abc", "/debug/pprof/trace?seconds=0",
                             "/debug/pprof/trace?seconds=-1", "/debug/pprof/trace?seconds=3601",
                             "/debug/pprof/trace?format=xml"}) {
    Reply r = get(g.port(), target);
    BOOST_TEST(r.status == 400, target);
    BOOST_TEST(r.body.find('\n') == r.body.size() - 1, target << ": " << r.body);
  }
  BOOST_TEST(get(g.port(), "/debug/pprof/flightrecorder").status == 404);  // off unless --flight-recorder
}

BOOST_AUTO_TEST_CASE(ten_seconds_at_1000_connections_stay_valid_and_bounded) {
  raise_fd_limit();
  Gortd g({"--stats-interval", "0", "--max-conns", "4000"});
  // wrk holds 1,000 connections on a mix of endpoints (a Lua-free mix:
  // two wrk processes).
  std::string wrk_work = "wrk -t1 -c700 -d16s 'http://127.0.0.1:" + std::to_string(g.port()) + "/work?n=5000' >/dev/null 2>&1";
  std::string wrk_sleep = "wrk -t1 -c300 -d16s 'http://127.0.0.1:" + std::to_string(g.port()) + "/sleep?ms=5' >/dev/null 2>&1";
  std::thread a([&] { std::system(wrk_work.c_str()); });
  std::thread b([&] { std::system(wrk_sleep.c_str()); });
  // All 1,000 connections are open (one goroutine each).
  BOOST_REQUIRE(eventually(
      [&] {
        std::smatch m;
        std::string vars = get(g.port(), "/debug/vars").body;
        return std::regex_search(vars, m, std::regex("\"goroutines\": ([0-9]+)")) && std::stol(m[1]) >= 1000;
      },
      kPatience));
  // A first short trace loads what every trace needs once (the DWARF index
  // the stacks are symbolized with), so the growth measured below is what
  // a long trace adds.
  BOOST_REQUIRE_EQUAL(get_trace(g.port(), "?seconds=0.2").status, 200);
  long before = rss_kb(g.pid());
  std::atomic<long> peak{before};
  std::atomic<bool> done{false};
  std::thread watch([&] {
    while (!done.load()) {
      peak.store(std::max(peak.load(), rss_kb(g.pid())));
      usleep(100'000);
    }
  });
  Reply r = get_trace(g.port(), "?seconds=10");
  done.store(true);
  watch.join();
  a.join();
  b.join();
  BOOST_REQUIRE_EQUAL(r.status, 200);
  BOOST_TEST(r.complete);
  long growth_kb = peak.load() - before;
  BOOST_TEST_MESSAGE("trace " << r.body.size() / 1024 << " KiB; gortd RSS " << before << " KiB -> peak " << peak.load()
                              << " KiB (+" << growth_kb << " KiB)");
  // Streaming: gortd holds a few batches per P, not the trace. Under
  // AddressSanitizer RSS says nothing about that (freed blocks wait in its
  // quarantine, every block has redzones), so only the release build judges.
  if (!GORT_ASAN) BOOST_TEST(growth_kb * 1024 < static_cast<long>(r.body.size()) / 4);
  std::string path = save(r.body, "c1000");
  bool ok = false;
  std::string verdict = check(path, &ok);
  BOOST_TEST_MESSAGE(verdict);
  BOOST_TEST(ok, verdict);
  std::remove(path.c_str());
}

// format=json: Chrome trace-event JSON (what Perfetto's UI and
// chrome://tracing open), checked by Python's json module and a walk of
// its tracks.
BOOST_AUTO_TEST_CASE(format_json_is_chrome_trace_events_with_the_expected_tracks) {
  Gortd g({"--stats-interval", "0"});
  Load load(g.port(), {"/fanout?g=8&n=400000", "/alloc?kb=256", "/sleep?ms=3"}, 2);
  BOOST_REQUIRE(eventually([&] { return load.ok() > 10; }, kPatience));
  Reply r = get_trace(g.port(), "?seconds=1&format=json");
  load.stop();
  BOOST_REQUIRE_EQUAL(r.status, 200);
  BOOST_TEST(r.complete);
  BOOST_TEST(r.header("content-type") == "application/json");
  BOOST_TEST(r.header("content-disposition") == "attachment; filename=\"trace.json\"");
  std::string path = save(r.body, "json");
  const char* script = R"PY(
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"]
procs = {e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "process_name"}
for want in ("Proc 0", "Proc 1", "GC", "Goroutines", "User annotations"):
    assert want in procs, ("missing process", want, sorted(procs))
counters = {e["name"] for e in ev if e["ph"] == "C"}
for want in ("HeapAlloc", "HeapGoal", "Goroutines"):
    assert want in counters, ("missing counter", want, sorted(counters))
slices = [e for e in ev if e["ph"] == "X"]
assert all(e["dur"] >= 0 and e["ts"] >= 0 for e in slices)
assert any(e["name"].startswith("G") and "fanout" in e["name"] for e in slices), "no /fanout goroutine slice"
assert any(e["name"].startswith("GC") or "STW" in e["name"] for e in slices), "no GC slice"
starts = {e["id"] for e in ev if e["ph"] == "s"}
ends = {e["id"] for e in ev if e["ph"] == "f"}
assert starts and starts == ends, "unmatched flow arrows"
tasks = {e["name"] for e in ev if e["ph"] == "b"}
assert "/fanout" in tasks and "/alloc" in tasks, sorted(tasks)[:10]
print("ok", len(ev), "events", len(starts), "flows")
)PY";
  std::ofstream(path + ".py") << script;
  std::string out;
  int rc = run("python3 " + path + ".py " + path, &out);
  BOOST_TEST(rc == 0, out);
  BOOST_TEST_MESSAGE(out);
  std::remove((path + ".py").c_str());
  if (rc == 0) std::remove(path.c_str());
}
