// gortd_faults_conns_test.cpp — fault injection against the real gortd,
// part 2 (part 1 is gortd_faults_test.cpp): connections beyond what gortd
// can hold.
//   - A descriptor limit (RLIMIT_NOFILE 64) far below the connection count:
//     accept fails with EMFILE and gortd backs off (5 ms doubling to 1 s, as
//     Go's http.Server does) instead of spinning; the connections it cannot
//     take wait in the listen queue and are served as descriptors free up;
//     a request on a held connection (/metrics, which itself opens /proc
//     files) is answered; with a --max-conns below the limit the surplus
//     gets whole 503s. Then every connection is served, the descriptors
//     return to their idle count, new requests get 200, and stderr holds
//     nothing but the back-off lines.
//   - 10,000 idle keep-alive connections (scaled down, and said so, when the
//     hard descriptor limit is too low): gortd's resident memory per
//     connection is printed, gortd still answers, and everything is returned
//     when the clients leave; with --idle-timeout 2s gortd itself closes all
//     of them (each client reads its reply, then end-of-file) and the
//     connection gauge returns to its idle value.
// The clients are one epoll loop (client_fleet.h), not a thread each.
#define BOOST_TEST_MODULE gortd_faults_conns_test
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/service/client_fleet.h"
#include "tests/service/gortd_harness.h"

using namespace gortd_test;
using namespace std::chrono;
using namespace std::chrono_literals;

namespace {

double metric_value(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

double metric_of(const Gortd& g, const std::string& series) { return metric_value(get(g.port(), "/metrics").body, series); }

// Idle is gortd with nothing to do, seen from one /metrics request.
struct Idle {
  double goroutines = -1;
  int sockets = -1;
};

Idle idle_state(const Gortd& g) {
  BOOST_REQUIRE(eventually([&] { return metric_of(g, "http_requests_in_flight") == 1; }));
  // The goroutine of the connection that asked before may not have
  // returned yet when the next request counts: the least of a few counts.
  double goroutines = metric_of(g, "go_goroutines");
  for (int i = 0; i < 4; i++) goroutines = std::min(goroutines, metric_of(g, "go_goroutines"));
  return {goroutines, open_sockets(g.pid())};
}

// expect_back_to_idle waits until only the asking connection is open and
// goroutines and sockets are what they were.
void expect_back_to_idle(const Gortd& g, const Idle& before) {
  double v = -1;
  BOOST_TEST(eventually([&] { return (v = metric_of(g, "gort_http_open_connections")) == 1; }), "open " << v);
  // (<=: the baseline may still have counted a goroutine on its way out.)
  BOOST_TEST(eventually([&] { return (v = metric_of(g, "go_goroutines")) <= before.goroutines; }),
             "go_goroutines " << v << ", want " << before.goroutines);
  int fds = -1;
  BOOST_TEST(eventually([&] { return (fds = open_sockets(g.pid())) == before.sockets; }),
             "gortd has " << fds << " sockets open, " << before.sockets << " before");
}

// unexpected_log_lines returns the lines of gortd's stderr that are none of
// start-up, accept back-off and shutdown.
std::string unexpected_log_lines(const std::string& log) {
  static const std::regex expected(
      R"(gortd listening on .*|gortd: accept: Too many open files; retrying in \d+ ms)");
  std::istringstream in(log);
  std::string odd;
  for (std::string line; std::getline(in, line);)
    if (!std::regex_match(line, expected)) odd += line + "\n";
  return odd;
}

int count(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) n++;
  return n;
}

const std::string kKeepAliveGet = "GET /sleep?ms=1 HTTP/1.1\r\nHost: t\r\n\r\n";
constexpr int kNoFile = 64;  // gortd's RLIMIT_NOFILE in the descriptor tests
constexpr int kCrowd = 200;  // connections opened at once against it

}  // namespace

BOOST_AUTO_TEST_SUITE(descriptor_limit)

BOOST_AUTO_TEST_CASE(emfile_backs_off_and_recovers) {
  Gortd g({"--stats-interval", "0"}, {}, kNoFile);
  const Idle before = idle_state(g);
  BOOST_TEST_MESSAGE("gortd with RLIMIT_NOFILE " << kNoFile << ": " << open_fds(g.pid()) << " descriptors open when idle");
  ClientFleet f;
  for (int i = 0; i < kCrowd; i++) f.send(f.open(g.port()), kKeepAliveGet);
  auto answered = [&] {
    size_t n = 0;
    for (size_t c = 0; c < f.size(); c++) n += !f[c].replies.empty();
    return n;
  };
  // gortd runs out of descriptors: the connections it accepted are served
  // and kept open (keep-alive), the others wait in the listen queue.
  BOOST_TEST_REQUIRE(f.pump_until([&] {
    return answered() > 0 && g.log().find("gortd: accept: Too many open files") != std::string::npos;
  }), g.log());
  // Hold gortd out of descriptors for a while: back-off lines, not a spin.
  const std::string log0 = g.log();
  const auto t0 = steady_clock::now();
  f.pump_until([] { return false; }, 2s);
  const double held_s = duration<double>(steady_clock::now() - t0).count();
  const int retries = count(g.log(), "retrying in") - count(log0, "retrying in");
  BOOST_TEST(retries <= 10 + 2 * held_s, "accept retried " << retries << " times in " << held_s << " s: a spin");
  BOOST_TEST(f.live() == static_cast<size_t>(kCrowd));  // nobody was dropped
  // While out of descriptors, a request on a held connection is answered,
  // /metrics included (it opens /proc files, which fail with EMFILE now):
  // every connection gortd holds has been served, the rest are queued.
  size_t probe = 0;
  while (f[probe].replies.empty()) probe++;
  size_t held = 0;
  double open = -1;
  BOOST_TEST(f.pump_until([&] {
    size_t asked = f[probe].replies.size();
    f.send(probe, "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n");
    if (!f.pump_until([&] { return f[probe].replies.size() > asked; })) return false;
    const Reply& m = f[probe].replies.back();
    BOOST_TEST_REQUIRE(m.status == 200);
    open = metric_value(m.body, "gort_http_open_connections");
    held = answered();
    return open == static_cast<double>(held);
  }), open << " connections open in gortd, " << held << " served");
  BOOST_TEST(held < static_cast<size_t>(kNoFile));
  BOOST_TEST_MESSAGE(held << " connections served and held, " << kCrowd - held << " queued; " << retries
                     << " accept retries in " << held_s << " s");

  // Free descriptors: each client leaves after its reply, and the queued
  // ones are accepted and served in turn.
  f.on_reply = [&](size_t c, const Reply&) { f.close(c); };
  for (size_t c = 0; c < f.size(); c++)
    if (!f[c].replies.empty()) f.close(c);
  BOOST_TEST(f.pump_until([&] { return f.live() == 0; }), f.live() << " connections never served");
  for (size_t c = 0; c < f.size(); c++) {
    BOOST_TEST(f[c].replies.size() >= 1, "connection " << c);
    BOOST_TEST(f[c].partial.empty(), "connection " << c);
    for (const Reply& r : f[c].replies) BOOST_TEST(r.status == 200, "connection " << c);
  }
  BOOST_TEST(get(g.port(), "/").status == 200);
  expect_back_to_idle(g, before);
  BOOST_TEST(unexpected_log_lines(g.log()).empty(), g.log());
}

// With --max-conns below the descriptor limit, the surplus is answered 503
// (whole replies, then closed) while descriptors run out around them.
BOOST_AUTO_TEST_CASE(over_the_cap_gets_503_while_out_of_descriptors) {
  constexpr int kCap = 16;
  Gortd g({"--stats-interval", "0", "--max-conns", std::to_string(kCap)}, {}, kNoFile);
  const Idle before = idle_state(g);
  ClientFleet f;
  for (int i = 0; i < kCrowd; i++) f.send(f.open(g.port()), kKeepAliveGet);
  int ok = 0, refused = 0;
  f.on_reply = [&](size_t, const Reply& r) {
    ok += r.status == 200;
    refused += r.status == 503;
  };
  // The first kCap admitted are served and held; every other connection
  // gets a 503 and is closed by gortd.
  BOOST_TEST(f.pump_until([&] { return ok == kCap && refused == kCrowd - kCap && f.live() == kCap; }),
             ok << " served, " << refused << " refused, " << f.live() << " open");
  for (size_t c = 0; c < f.size(); c++) {
    BOOST_TEST(f[c].partial.empty(), "connection " << c);
    if (f[c].ended) {
      BOOST_TEST_REQUIRE(f[c].replies.size() == 1u, "connection " << c << " ended with error " << f[c].error);
      BOOST_TEST(f[c].replies[0].body == "too many open connections (limit 16)\n");
      BOOST_TEST(f[c].replies[0].header("connection") == "close");
    }
  }
  BOOST_TEST_MESSAGE(ok << " served, " << refused << " answered 503; gortd logged "
                     << count(g.log(), "Too many open files") << " accept back-offs");
  for (size_t c = 0; c < f.size(); c++) f.close(c);
  BOOST_TEST(eventually([&] { return get(g.port(), "/").status == 200; }));
  expect_back_to_idle(g, before);
  BOOST_TEST(unexpected_log_lines(g.log()).empty(), g.log());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(idle_connections)

// connection_count is 10,000, or what the hard descriptor limit allows
// both the test and gortd (which inherits it), said so.
int connection_count() {
  constexpr int kWanted = 10000, kSpareFds = 200;
  raise_fd_limit();
  const long limit = static_cast<long>(fd_limit());
  if (limit >= kWanted + kSpareFds) return kWanted;
  int n = static_cast<int>(std::max(100L, limit - kSpareFds));
  BOOST_TEST_MESSAGE("RLIMIT_NOFILE hard limit " << limit << ": SCALED DOWN to " << n << " idle connections (want "
                     << kWanted << ")");
  return n;
}

// open_idle opens n connections to port, at most kInFlight unanswered at a
// time, each sending one keep-alive request; returns once every one has its
// reply (or one ended, which fails the test).
void open_idle(ClientFleet& f, int port, int n) {
  constexpr size_t kInFlight = 256;
  const std::string req = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  size_t answered = 0, ended = 0;
  f.on_reply = [&](size_t, const Reply& r) {
    answered++;
    BOOST_TEST(r.status == 200);
  };
  BOOST_TEST_REQUIRE(f.pump_until([&] {
    while (f.size() < static_cast<size_t>(n) && f.size() - answered < kInFlight) f.send(f.open(port), req);
    ended = f.size() - f.live();
    return answered == static_cast<size_t>(n) || ended > 0;
  }, 180s), answered << " of " << n << " connections answered");
  BOOST_TEST_REQUIRE(ended == 0u);
  f.on_reply = nullptr;
}

BOOST_AUTO_TEST_CASE(ten_thousand_idle_keep_alive_connections) {
  const int n = connection_count();
  Gortd g({"--stats-interval", "0", "--max-conns", "20000"});
  for (int i = 0; i < 20; i++) BOOST_REQUIRE(get(g.port(), "/").status == 200);  // warm up
  const Idle before = idle_state(g);
  const long rss0 = rss_kb(g.pid());
  ClientFleet f;
  open_idle(f, g.port(), n);
  const long rss1 = rss_kb(g.pid());
  const std::string m = get(g.port(), "/metrics").body;
  BOOST_TEST(metric_value(m, "gort_http_open_connections") == n + 1);
  BOOST_TEST(metric_value(m, "go_goroutines") == before.goroutines + n);
  // Still answering, beside them.
  BOOST_TEST(get(g.port(), "/work?n=1000").status == 200);
  BOOST_TEST(get(g.port(), "/").status == 200);
  BOOST_TEST_MESSAGE(n << " idle keep-alive connections: gortd RSS " << rss0 << " KiB -> " << rss1 << " KiB, "
                     << (rss1 - rss0) * 1024.0 / n << " bytes per connection (stack slots in use: "
                     << metric_value(m, "go_memstats_stack_inuse_bytes") / (1 << 20) << " MiB of address space)");
  BOOST_TEST(rss1 > rss0);
  // The clients leave: everything is returned.
  for (size_t c = 0; c < f.size(); c++) f.close(c);
  expect_back_to_idle(g, before);
  BOOST_TEST_MESSAGE("after they closed: RSS " << rss_kb(g.pid()) << " KiB");
}

BOOST_AUTO_TEST_CASE(idle_timeout_closes_ten_thousand_connections) {
  const int n = connection_count();
  Gortd g({"--stats-interval", "0", "--max-conns", "20000", "--idle-timeout", "2s"});
  const Idle before = idle_state(g);
  ClientFleet f;
  // Opened as fast as they are answered; gortd closes each one 2 s (to
  // 2.5 s: the reaper's period) after its reply, some while others still
  // open. Every client sees its whole reply, then end-of-file.
  const std::string req = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  constexpr size_t kInFlight = 256;
  size_t answered = 0;
  f.on_reply = [&](size_t, const Reply&) { answered++; };
  BOOST_TEST(f.pump_until([&] {
    while (f.size() < static_cast<size_t>(n) && f.size() - answered < kInFlight) f.send(f.open(g.port()), req);
    return f.size() == static_cast<size_t>(n) && f.live() == 0;
  }, 180s), f.live() << " of " << n << " connections still open");
  int eof = 0, bad = 0;
  for (size_t c = 0; c < f.size(); c++) {
    bool clean = f[c].replies.size() == 1 && f[c].replies[0].status == 200 && f[c].ended_by_peer &&
                 f[c].error == 0 && f[c].partial.empty();
    eof += clean;
    if (!clean && bad++ < 5)
      BOOST_TEST_MESSAGE("connection " << c << ": " << f[c].replies.size() << " replies, error " << f[c].error
                         << ", partial " << f[c].partial.size() << " bytes");
  }
  BOOST_TEST(eof == n, eof << " of " << n << " closed by gortd after their reply");
  expect_back_to_idle(g, before);
  BOOST_TEST_MESSAGE("--idle-timeout 2s: gortd closed " << eof << " of " << n << " idle connections");
}

BOOST_AUTO_TEST_SUITE_END()
