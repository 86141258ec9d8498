// gortd_test.cpp — integration tests of gortd: each test starts the real
// binary on 127.0.0.1:0 and checks, over loopback, every endpoint's reply
// text, every refusal status (400/401/404/405/408/413/431/503) and its
// count in http_requests_total, `promtool check metrics` on /metrics, that
// metric labels are route templates and never raw URLs, the debug
// listener and basic auth, graceful shutdown with a request in flight, 1,000
// concurrent /sleep connections, and that a long /work does not starve
// other requests.
//
// The tests wait for what they expect gortd to do (a metric, a log line, a
// refused connect: eventually() in gortd_harness.h), never for a fixed
// time. Timeouts are checked from below (gortd cannot answer before its
// configured timeout) and from above only to tell the configured value
// from the default. Latencies are measured by bench/http.sh and
// bench/http-beside-work.sh, not asserted here.
#define BOOST_TEST_MODULE gortd_test
#include <boost/test/unit_test.hpp>

#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fcntl.h>
#include <regex>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "gortd_harness.h"

using namespace gortd_test;
using namespace std::chrono;
using namespace std::chrono_literals;

namespace {

// metric_value returns the value of the sample line starting with series
// (name plus exact label text), or -1 when absent.
double metric_value(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

std::string metrics_of(const Gortd& g) { return get(g.port(), "/metrics").body; }

// metric_of fetches /metrics and returns one series' value (-1 if absent).
double metric_of(const Gortd& g, const std::string& series) { return metric_value(metrics_of(g), series); }

// in_flight_beside_this returns how many requests gortd is handling besides
// the /metrics request that asks (which counts itself).
double in_flight_beside_this(const Gortd& g) { return metric_of(g, "http_requests_in_flight") - 1; }

// log_shows waits until gortd's log contains text.
bool log_shows(const Gortd& g, const std::string& text) {
  return eventually([&] { return g.log().find(text) != std::string::npos; });
}

// xorshift64 runs n rounds of SPEC.md's xorshift64 from x: the test's own
// copy, so that /work and /fanout are checked against an independent
// computation rather than against gortd's code.
uint64_t xorshift64(uint64_t x, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
  }
  return x;
}

// fanout_expected computes SPEC.md's /fanout result: part i of g runs
// n/g rounds (one more if i < n%g) from 88172645463325252 ^ i; the parts'
// final values are summed modulo 2^64.
uint64_t fanout_expected(int64_t g, int64_t n) {
  uint64_t sum = 0;
  for (int64_t i = 0; i < g; i++)
    sum += xorshift64(88172645463325252ULL ^ static_cast<uint64_t>(i), n / g + (i < n % g ? 1 : 0));
  return sum;
}

// ms returns d in whole milliseconds (printable in test messages).
template <class D>
long long ms(D d) {
  return duration_cast<milliseconds>(d).count();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(endpoints)

BOOST_AUTO_TEST_CASE(index_lists_every_endpoint) {
  Gortd g;
  Reply r = get(g.port(), "/");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("content-type") == "text/plain; charset=utf-8");
  BOOST_TEST(r.body.rfind("gortd 0.1.0", 0) == 0);
  for (const char* e : {"/work", "/alloc", "/sleep", "/mixed", "/fanout", "/error", "/leak", "/contend",
                        "/gc", "/metrics", "/debug/pprof/", "/debug/vars"})
    BOOST_TEST(r.body.find(std::string("  ") + e) != std::string::npos, e);
}

BOOST_AUTO_TEST_CASE(work_sleep_error_reply_texts) {
  Gortd g;
  BOOST_TEST(get(g.port(), "/work?n=200000").body == "work n=200000 result=14173078858223602343\n");
  BOOST_TEST(get(g.port(), "/work?n=0").body == "work n=0 result=88172645463325252\n");
  BOOST_TEST(get(g.port(), "/work").body.rfind("work n=1000000 result=", 0) == 0);
  BOOST_TEST(get(g.port(), "/sleep?ms=10").body == "slept ms=10\n");
  Reply e = get(g.port(), "/error?code=503");
  BOOST_TEST(e.status == 503);
  BOOST_TEST(e.body == "error code=503\n");
  BOOST_TEST(get(g.port(), "/error").status == 500);
  Reply ok = get(g.port(), "/error?code=502&p=0");
  BOOST_TEST(ok.status == 200);
  BOOST_TEST(ok.body == "ok\n");
  BOOST_TEST(get(g.port(), "/error?code=599").status == 599);
}

BOOST_AUTO_TEST_CASE(fanout_sums_the_parts_as_spec_md_splits_them) {
  Gortd g;
  // The defaults, also computed with a Python loop over SPEC.md's split
  // (the Go peer replies the same).
  BOOST_TEST(fanout_expected(8, 1000000) == 18411841181429268476ULL);
  BOOST_TEST(get(g.port(), "/fanout").body == "fanout g=8 n=1000000 result=18411841181429268476\n");
  // g=1 is /work's loop from /work's seed; n=0 sums the seeds; n < g leaves
  // some parts with no rounds; g=1000 spawns a thousand goroutines.
  BOOST_TEST(fanout_expected(1, 200000) == 14173078858223602343ULL);
  const std::vector<std::pair<int64_t, int64_t>> g_and_n = {
      {1, 200000}, {1, 0},      {8, 0},       {3, 100},        {7, 5},
      {1000, 0},   {1000, 999}, {1000, 2500}, {1000, 1000000}, {13, 1000003},
  };
  for (auto [gs, ns] : g_and_n) {
    std::string target = "/fanout?g=" + std::to_string(gs) + "&n=" + std::to_string(ns);
    Reply r = get(g.port(), target);
    BOOST_TEST(r.status == 200, target);
    BOOST_TEST(r.body == "fanout g=" + std::to_string(gs) + " n=" + std::to_string(ns) +
                             " result=" + std::to_string(fanout_expected(gs, ns)) + "\n",
               target);
  }
}

BOOST_AUTO_TEST_CASE(fanout_goroutines_are_gone_after_the_reply) {
  Gortd g;
  // Seen from a /metrics request, an otherwise idle gortd always runs the
  // same goroutines; every part has sent and returns once the reply is out.
  const double before = metric_of(g, "go_goroutines");
  BOOST_TEST(get(g.port(), "/fanout?g=1000&n=100000").status == 200);
  double now = -1;
  BOOST_TEST(eventually([&] { return (now = metric_of(g, "go_goroutines")) == before; }),
             "go_goroutines " << now << ", want " << before);
}

BOOST_AUTO_TEST_CASE(leak_starts_and_releases_goroutines) {
  Gortd g;
  // Seen from a /metrics request, an otherwise idle gortd always runs the
  // same goroutines; the leaked ones come on top of them.
  const double before = metric_of(g, "go_goroutines");
  BOOST_TEST(get(g.port(), "/leak?n=100").body == "leak started=100 blocked=100\n");
  BOOST_TEST(get(g.port(), "/leak?n=5").body == "leak started=5 blocked=105\n");
  double now = -1;
  BOOST_TEST(eventually([&] { return (now = metric_of(g, "go_goroutines")) == before + 105; }),
             "go_goroutines " << now << ", want " << before << " + 105");
  BOOST_TEST(get(g.port(), "/leak?release=1").body == "leak released=105\n");
  // Released goroutines exit asynchronously, every one of them.
  BOOST_TEST(eventually([&] { return (now = metric_of(g, "go_goroutines")) == before; }),
             "go_goroutines " << now << ", want " << before);
  BOOST_TEST(get(g.port(), "/leak?release=1").body == "leak released=0\n");
  BOOST_TEST(get(g.port(), "/leak").body == "leak started=1000 blocked=1000\n");
}

BOOST_AUTO_TEST_CASE(contend_reports_go_duration) {
  Gortd g;
  Reply r = get(g.port(), "/contend?g=4&n=200");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(std::regex_match(r.body, std::regex(R"(contend g=4 n=200 elapsed=[0-9.]+(ns|µs|ms|s)\n)")), r.body);
  BOOST_TEST(std::regex_match(get(g.port(), "/contend").body, std::regex(R"(contend g=8 n=1000 elapsed=\S+\n)")));
}

BOOST_AUTO_TEST_CASE(debug_vars_is_json_with_cmdline) {
  Gortd g({"--stats-interval", "0"});
  Reply r = get(g.port(), "/debug/vars");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("content-type") == "application/json; charset=utf-8");
  BOOST_TEST(r.body.rfind("{\n\"cmdline\": [", 0) == 0);
  BOOST_TEST(r.body.find("\"--stats-interval\", \"0\"") != std::string::npos);
  BOOST_TEST(r.body.find("\"goroutines\": ") != std::string::npos);
  BOOST_TEST(r.body.find("\"gomaxprocs\": ") != std::string::npos);
  BOOST_TEST(r.body.find("\n\"memstats\": {\"Alloc\":") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_parameters_answer_400_with_the_reason) {
  Gortd g;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"/work?n=abc", "bad parameter n=\"abc\": not an integer"},
      {"/work?n=-1", "bad parameter n=-1: out of range [0, 10000000000]"},
      {"/work?n=10000000001", "bad parameter n=10000000001: out of range [0, 10000000000]"},
      {"/work?n=99999999999999999999", "bad parameter n=\"99999999999999999999\": not an integer"},
      {"/work?n=1.5", "bad parameter n=\"1.5\": not an integer"},
      {"/work?n=%22x", "bad parameter n=\"\\\"x\": not an integer"},
      {"/sleep?ms=600001", "bad parameter ms=600001: out of range [0, 600000]"},
      {"/error?code=399", "bad parameter code=399: out of range [400, 599]"},
      {"/error?p=2", "bad parameter p=2: out of range [0, 1]"},
      {"/error?p=x", "bad parameter p=\"x\": not a number"},
      {"/leak?n=1000001", "bad parameter n=1000001: out of range [0, 1000000]"},
      {"/leak?release=2", "bad parameter release=\"2\": must be 1"},
      {"/contend?g=0", "bad parameter g=0: out of range [1, 10000]"},
      {"/contend?n=1000001", "bad parameter n=1000001: out of range [0, 1000000]"},
      {"/fanout?g=0", "bad parameter g=0: out of range [1, 1000]"},
      {"/fanout?g=1001", "bad parameter g=1001: out of range [1, 1000]"},
      {"/fanout?g=abc", "bad parameter g=\"abc\": not an integer"},
      {"/fanout?n=-1", "bad parameter n=-1: out of range [0, 10000000000]"},
      {"/fanout?n=10000000001", "bad parameter n=10000000001: out of range [0, 10000000000]"},
      {"/fanout?n=1e6", "bad parameter n=\"1e6\": not an integer"},
      {"/fanout?g=0&n=x", "bad parameter g=0: out of range [1, 1000]"},
      {"/alloc?size=7", "bad parameter size=7: out of range [8, 1048576]"},
      {"/alloc?kb=1048577", "bad parameter kb=1048577: out of range [0, 1048576]"},
      {"/alloc?keep=4097", "bad parameter keep=4097: out of range [0, 4096]"},
      {"/alloc?pool=2", "bad parameter pool=2: out of range [0, 1]"},
      {"/alloc?kb=abc", "bad parameter kb=\"abc\": not an integer"},
      {"/mixed?size=x", "bad parameter size=\"x\": not an integer"},
      {"/gc?set=1.5", "bad parameter set=\"1.5\": must be an integer >= 0 or off"},
      {"/gc?set=2147483648", "bad parameter set=\"2147483648\": must be an integer >= 0 or off"},
      {"/gc?memlimit=-5", "bad parameter memlimit=\"-5\": must be bytes with optional B/KiB/MiB/GiB/TiB suffix, or off"},
      {"/gc?memlimit=5KB", "bad parameter memlimit=\"5KB\": must be bytes with optional B/KiB/MiB/GiB/TiB suffix, or off"},
      {"/mixed?ms=-5", "bad parameter ms=-5: out of range [0, 600000]"},
      {"/gc?set=-1", "bad parameter set=\"-1\": must be an integer >= 0 or off"},
      {"/gc?memlimit=12XB", "bad parameter memlimit=\"12XB\": must be bytes with optional B/KiB/MiB/GiB/TiB suffix, or off"},
      {"/gc?run=2", "bad parameter run=\"2\": must be 1"},
  };
  for (const auto& [target, reason] : cases) {
    Reply r = get(g.port(), target);
    BOOST_TEST(r.status == 400, target);
    BOOST_TEST(r.body == reason + "\n", target);
  }
}

BOOST_AUTO_TEST_CASE(unknown_path_404_and_wrong_method_405) {
  Gortd g;
  Reply nf = get(g.port(), "/no/such/path");
  BOOST_TEST(nf.status == 404);
  BOOST_TEST(nf.body == "404 page not found: /no/such/path\n");
  Reply na = request(g.port(), "POST", "/work", "Content-Length: 0\r\n");
  BOOST_TEST(na.status == 405);
  BOOST_TEST(na.header("allow") == "GET, HEAD");
  BOOST_TEST(na.body == "method POST not allowed on /work\n");
  BOOST_TEST(request(g.port(), "DELETE", "/metrics").status == 405);
}

BOOST_AUTO_TEST_CASE(keep_alive_pipelining_and_head) {
  Gortd g;
  std::string out = exchange(g.port(),
                             "GET /work?n=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                             "HEAD /work?n=1 HTTP/1.1\r\nHost: t\r\n\r\n"
                             "GET /sleep?ms=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  BOOST_TEST(out.find("work n=1 result=8748534153485358512\n") != std::string::npos);
  BOOST_TEST(out.find("work n=1 result=8748534153485358512\n", out.find("HTTP/1.1 200", 10)) == std::string::npos);
  BOOST_TEST(out.find("slept ms=1\n") != std::string::npos);
  size_t responses = 0;
  for (size_t p = 0; (p = out.find("HTTP/1.1 200 OK", p)) != std::string::npos; p++) responses++;
  BOOST_TEST(responses == 3u);
  Reply v10 = parse_reply(exchange(g.port(), "GET /work?n=1 HTTP/1.0\r\n\r\n"));
  BOOST_TEST(v10.status == 200);
  BOOST_TEST(v10.raw.rfind("HTTP/1.0 200", 0) == 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(limits)

BOOST_AUTO_TEST_CASE(malformed_request_400) {
  Gortd g;
  BOOST_TEST(parse_reply(exchange(g.port(), "GARBAGE\r\n\r\n")).status == 400);
  BOOST_TEST(parse_reply(exchange(g.port(), "GET /work HTTP/1.1\r\n\r\n")).body == "missing required Host header\n");
  BOOST_TEST(parse_reply(exchange(g.port(), "GET work HTTP/1.1\r\nHost: t\r\n\r\n")).status == 400);
  BOOST_TEST(parse_reply(exchange(g.port(), "GET /%zz HTTP/1.1\r\nHost: t\r\n\r\n")).status == 400);
  BOOST_TEST(parse_reply(exchange(g.port(), "GET / HTTP/1.1\r\nHost: t\r\nBad Header\r\n\r\n")).status == 400);
  BOOST_TEST(parse_reply(exchange(g.port(), "GET / HTTP/1.1\r\nHost: t\r\nContent-Length: x\r\n\r\n")).status == 400);
}

BOOST_AUTO_TEST_CASE(header_over_8k_431) {
  Gortd g;
  Reply r = parse_reply(exchange(g.port(), "GET /work?n=1 HTTP/1.1\r\nHost: t\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n"));
  BOOST_TEST(r.status == 431);
  BOOST_TEST(r.header("connection") == "close");
  // Just under the limit is fine.
  Reply ok = parse_reply(exchange(g.port(), "GET /work?n=1 HTTP/1.1\r\nHost: t\r\nConnection: close\r\nX-Big: " +
                                                std::string(7000, 'a') + "\r\n\r\n"));
  BOOST_TEST(ok.status == 200);
}

BOOST_AUTO_TEST_CASE(body_over_1m_413) {
  Gortd g;
  // Declared too large: refused from the header, before any body is read.
  Reply r = parse_reply(exchange(g.port(), "POST /debug/pprof/symbol HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n" +
                                               std::string(300000, 'x')));
  BOOST_TEST(r.status == 413);
  BOOST_TEST(r.body == "request body too large (limit 1048576 bytes)\n");
  // Chunked past the limit.
  std::string chunked = "POST /debug/pprof/symbol HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; i++) chunked += "10000\r\n" + std::string(0x10000, 'y') + "\r\n";
  chunked += "0\r\n\r\n";
  BOOST_TEST(parse_reply(exchange(g.port(), chunked)).status == 413);
  // Within the limit the body is read and the request served.
  Reply small = parse_reply(exchange(g.port(), "POST /debug/pprof/symbol HTTP/1.1\r\nHost: t\r\nConnection: close\r\n"
                                                   "Content-Length: 10\r\n\r\n0123456789"));
  BOOST_TEST(small.status == 200);
  BOOST_TEST(small.body == "num_symbols: 1\n");
}

BOOST_AUTO_TEST_CASE(slow_client_408_and_idle_close) {
  // gortd's deadlines start after our clock does, so the timeouts are lower
  // bounds. Waiting at most 8 s (defaults: read 10 s, idle 2 min) tells the
  // configured timeouts from the defaults.
  constexpr auto kBelowDefaults = 8s;
  Gortd g({"--read-timeout", "300ms", "--idle-timeout", "400ms"});
  auto t0 = steady_clock::now();
  Reply r = parse_reply(exchange(g.port(), "GET /work?n=1 HTTP/1.1\r\nHost: t\r\n", kBelowDefaults));  // header never ends
  auto took = steady_clock::now() - t0;
  BOOST_TEST(r.status == 408);
  BOOST_TEST(r.body == "request timeout\n");
  BOOST_TEST(ms(took) >= 300);
  // A body that stops arriving also times out.
  BOOST_TEST(parse_reply(exchange(g.port(), "GET /work HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc",
                                  kBelowDefaults)).status == 408);
  // A connection that never sends anything is closed without a reply (by
  // gortd: before our limit ran out).
  t0 = steady_clock::now();
  BOOST_TEST(exchange(g.port(), "", kBelowDefaults).empty());
  took = steady_clock::now() - t0;
  BOOST_TEST(ms(took) >= 400);
  BOOST_TEST(took < kBelowDefaults);
  // Bytes dribbled slower than the read timeout: 408 even though each gap
  // is short (20 ms per byte: ~600 ms for the request line and Host).
  int fd = connect_to(g.port());
  for (char c : std::string("GET /work?n=1 HTTP/1.1\r\nHost: t")) {
    if (send(fd, &c, 1, MSG_NOSIGNAL) != 1) break;
    std::this_thread::sleep_for(20ms);
  }
  BOOST_TEST(parse_reply(read_until_close(fd, kBelowDefaults)).status == 408);
  close(fd);
}

BOOST_AUTO_TEST_CASE(write_timeout_closes_client_that_does_not_read) {
  Gortd g({"--write-timeout", "300ms"});
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int small = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);  // fill up sooner
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(g.port()));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  BOOST_REQUIRE(connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  std::string many;
  for (int i = 0; i < 2000; i++) many += "GET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
  fcntl(fd, F_SETFL, O_NONBLOCK);
  send(fd, many.data(), many.size(), MSG_NOSIGNAL);  // as much as fits; never read
  // gortd closes it once a write has been stuck for 300 ms; from then on
  // the only open connection is the /metrics one that asks.
  double open = -1;
  BOOST_TEST(eventually([&] { return (open = metric_of(g, "gort_http_open_connections")) == 1; }),
             "open connections: " << open);
  close(fd);
}

BOOST_AUTO_TEST_CASE(connection_cap_503) {
  Gortd g({"--max-conns", "2"});
  // One acceptor admits connections in the kernel's accept-queue order, so
  // a and b hold both slots by the time the third connection is accepted.
  int a = connect_to(g.port()), b = connect_to(g.port());
  Reply r = get(g.port(), "/work?n=1");
  BOOST_TEST(r.status == 503);
  BOOST_TEST(r.body == "too many open connections (limit 2)\n");
  close(a);
  close(b);
  // The two slots free up as gortd sees the closes.
  BOOST_TEST(eventually([&] { return get(g.port(), "/work?n=1").status == 200; }));
}

BOOST_AUTO_TEST_CASE(every_refusal_is_counted) {
  Gortd g({"--read-timeout", "200ms", "--max-conns", "3"});
  get(g.port(), "/nope");                                                  // 404
  request(g.port(), "PUT", "/sleep", "Content-Length: 0\r\n");             // 405
  get(g.port(), "/work?n=x");                                              // 400 (parameter)
  exchange(g.port(), "GARBAGE\r\n\r\n");                                   // 400 (malformed)
  exchange(g.port(), "GET /work HTTP/1.1\r\nHost: t\r\nX: " + std::string(9000, 'a') + "\r\n\r\n");  // 431
  exchange(g.port(), "GET /work HTTP/1.1\r\nHost: t\r\nContent-Length: 9999999\r\n\r\n");           // 413
  exchange(g.port(), "GET /sleep HTTP/1.1\r\nHost: t\r\n", kPatience);      // 408
  // Refused connections linger until they see our close. Once gortd has let
  // them all go (only the asking /metrics connection is open, and it is
  // released before its reply ends), a, b and c take the three slots, in
  // accept order, before the fourth connection is accepted.
  double open = -1;
  BOOST_TEST(eventually([&] { return (open = metric_of(g, "gort_http_open_connections")) == 1; }),
             "open connections: " << open);
  int a = connect_to(g.port()), b = connect_to(g.port()), c = connect_to(g.port());
  BOOST_TEST(get(g.port(), "/error?code=418").status == 503);              // 503 (over the cap)
  close(a);
  close(b);
  close(c);
  // A reply is counted before the connection ends, so every refusal above
  // is in the metrics once /metrics gets a slot again.
  std::string m;
  BOOST_TEST(eventually([&] {
    Reply r = get(g.port(), "/metrics");
    m = r.body;
    return r.status == 200;
  }));
  BOOST_TEST(metric_value(m, R"(http_requests_total{code="404",method="GET",path="unmatched"})") == 1);
  BOOST_TEST(metric_value(m, R"(http_requests_total{code="405",method="PUT",path="/sleep"})") == 1);
  BOOST_TEST(metric_value(m, R"(http_requests_total{code="400",method="GET",path="/work"})") == 1);
  BOOST_TEST(metric_value(m, R"(http_requests_total{code="400",method="OTHER",path="unmatched"})") == 1);
  BOOST_TEST(metric_value(m, R"(http_requests_total{code="431",method="GET",path="/work"})") == 1);
  BOOST_TEST(metric_value(m, R"(http_requests_total{code="413",method="GET",path="/work"})") == 1);
  BOOST_TEST(metric_value(m, R"(http_requests_total{code="408",method="GET",path="/sleep"})") == 1);
  BOOST_TEST(metric_value(m, R"(http_requests_total{code="503",method="GET",path="/error"})") == 1);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(debug_listener)

BOOST_AUTO_TEST_CASE(debug_auth_401_with_challenge) {
  Gortd g({"--debug-auth", "admin:s3cret"});
  Reply none = get(g.port(), "/debug/vars");
  BOOST_TEST(none.status == 401);
  BOOST_TEST(none.header("www-authenticate").rfind("Basic realm=", 0) == 0);
  // admin:wrong, admin:s3cret, admin:s3cretX in base64
  BOOST_TEST(get(g.port(), "/debug/vars", "Authorization: Basic YWRtaW46d3Jvbmc=\r\n").status == 401);
  BOOST_TEST(get(g.port(), "/debug/vars", "Authorization: Basic YWRtaW46czNjcmV0WA==\r\n").status == 401);
  BOOST_TEST(get(g.port(), "/debug/vars", "Authorization: Bearer YWRtaW46czNjcmV0\r\n").status == 401);
  BOOST_TEST(get(g.port(), "/debug/vars", "Authorization: Basic YWRtaW46czNjcmV0\r\n").status == 200);
  BOOST_TEST(get(g.port(), "/gc").status == 401);
  BOOST_TEST(get(g.port(), "/debug/pprof/heap").status == 401);
  // Workloads and metrics stay open.
  BOOST_TEST(get(g.port(), "/work?n=1").status == 200);
  BOOST_TEST(get(g.port(), "/metrics").status == 200);
  BOOST_TEST(metric_value(metrics_of(g), R"(http_requests_total{code="401",method="GET",path="/debug/vars"})") == 4);
}

BOOST_AUTO_TEST_CASE(debug_addr_moves_debug_routes) {
  Gortd g({"--debug-addr", "127.0.0.1:0"});
  BOOST_TEST(g.debug_port() != 0);
  BOOST_TEST(get(g.port(), "/debug/vars").status == 404);
  BOOST_TEST(get(g.port(), "/gc").status == 404);
  BOOST_TEST(get(g.port(), "/debug/pprof/").status == 404);
  BOOST_TEST(get(g.debug_port(), "/debug/vars").status == 200);
  BOOST_TEST(get(g.debug_port(), "/gc").body == "GOGC=100 GOMEMLIMIT=off\n");
  BOOST_TEST(get(g.debug_port(), "/work?n=1").status == 404);
  BOOST_TEST(get(g.port(), "/work?n=1").status == 200);
  BOOST_TEST(get(g.port(), "/metrics").status == 200);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(metrics)

BOOST_AUTO_TEST_CASE(metrics_pass_promtool) {
  std::string promtool = PROMTOOL_PATH;
  BOOST_REQUIRE_MESSAGE(!promtool.empty(), "promtool not found at configure time (install prometheus)");
  Gortd g;
  get(g.port(), "/work?n=10");
  get(g.port(), "/nope");
  get(g.port(), "/error?code=503");
  Reply r = get(g.port(), "/metrics");
  BOOST_TEST(r.status == 200);
  BOOST_TEST(r.header("content-type") == "text/plain; version=0.0.4; charset=utf-8");
  std::string out;
  int status = promtool_check_metrics(promtool, r.body, &out);
  BOOST_TEST(status == 0, "promtool check metrics: " << out);
  for (const char* name : {"go_goroutines ", "go_threads ", "go_info{", "process_cpu_seconds_total ",
                           "process_resident_memory_bytes ", "process_open_fds ", "process_start_time_seconds ",
                           "http_requests_in_flight ", "http_request_duration_seconds_bucket{",
                           "gort_sched_global_runqueue_length ", "gort_sched_local_runqueue_length{p=\"0\"} ",
                           "gort_sched_steals_total ", "gort_sched_preempt_requests_total ",
                           "gort_sched_latency_seconds_bucket{le=\"+Inf\"} "})
    BOOST_TEST(r.body.find(std::string("\n") + name) != std::string::npos, name);
  BOOST_TEST(metric_value(r.body, R"(http_requests_total{code="200",method="GET",path="/work"})") == 1);
  BOOST_TEST(metric_value(r.body, R"(http_requests_total{code="503",method="GET",path="/error"})") == 1);
}

BOOST_AUTO_TEST_CASE(path_labels_are_route_templates_never_raw_urls) {
  Gortd g;
  for (const char* t : {"/no/such/path?x=1", "/debug/pprof/heap?debug=1", "/debug/pprof/goroutine", "/work?n=abc",
                        "/%2e%2e/etc/passwd", "/work/", "/WORK", "/sleep?ms=1&x=%ff", "//work",
                        "http://evil.example/secret?q=1"})
    get(g.port(), t);
  exchange(g.port(), "BREW /coffee HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
  std::string m = metrics_of(g);
  std::set<std::string> allowed = {"unmatched", "/", "/work", "/alloc", "/sleep", "/mixed", "/fanout",
                                   "/error", "/leak", "/contend", "/gc", "/metrics", "/debug/vars",
                                   "/debug/pprof/", "/debug/pprof/symbol", "/debug/pprof/{profile}"};
  std::set<std::string> methods = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "OTHER"};
  std::regex path_re(R"re(path="([^"]*)")re"), method_re(R"re(method="([^"]*)")re");
  for (auto it = std::sregex_iterator(m.begin(), m.end(), path_re); it != std::sregex_iterator(); ++it)
    BOOST_TEST(allowed.count((*it)[1]) == 1u, "unexpected path label " << (*it)[1]);
  for (auto it = std::sregex_iterator(m.begin(), m.end(), method_re); it != std::sregex_iterator(); ++it)
    BOOST_TEST(methods.count((*it)[1]) == 1u, "unexpected method label " << (*it)[1]);
  // Every request above was counted once, under one of those templates.
  double counted = 0;
  std::istringstream lines(m);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("http_requests_total{", 0) == 0) counted += std::stod(line.substr(line.rfind(' ') + 1));
  BOOST_TEST(counted == 11);
  BOOST_TEST(m.find("passwd") == std::string::npos);
  BOOST_TEST(m.find("evil") == std::string::npos);
  BOOST_TEST(metric_value(m, R"(http_requests_total{code="200",method="GET",path="/debug/pprof/{profile}"})") == 2);
  BOOST_TEST(metric_value(m, R"(http_requests_total{code="405",method="OTHER",path="unmatched"})") < 0);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(lifecycle)

BOOST_AUTO_TEST_CASE(graceful_shutdown_finishes_request_in_flight) {
  Gortd g;
  // An idle keep-alive connection: closed at shutdown, not waited for.
  int idle = connect_to(g.port());
  std::string req = "GET /work?n=1 HTTP/1.1\r\nHost: t\r\n\r\n";
  BOOST_REQUIRE(send(idle, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  char buf[512];
  BOOST_REQUIRE(recv(idle, buf, sizeof buf, 0) > 0);

  Reply in_flight;
  std::thread client([&] { in_flight = get(g.port(), "/sleep?ms=2000"); });
  BOOST_TEST(eventually([&] { return in_flight_beside_this(g) == 1; }), "the /sleep request is being handled");
  g.signal(SIGTERM);
  // At the signal the idle connection and the /sleep one were open.
  BOOST_TEST(log_shows(g, "gortd: SIGTERM: shutting down, 2 connection(s) open"), g.log());
  // No longer accepting.
  BOOST_TEST(eventually([&] {
    int fd = connect_to(g.port());
    if (fd >= 0) close(fd);
    return fd < 0;
  }));
  BOOST_TEST(read_until_close(idle, kPatience).empty());  // the idle connection was closed
  close(idle);
  client.join();
  BOOST_TEST(in_flight.status == 200);
  BOOST_TEST(in_flight.body == "slept ms=2000\n");
  BOOST_TEST(in_flight.header("connection") == "close");
  BOOST_TEST(g.wait_exit(kPatience) == 0);
  // It waited for the request, not for the 10 s shutdown timeout to give up.
  BOOST_TEST(g.log().find("shutdown complete") != std::string::npos, g.log());
  BOOST_TEST(g.log().find("abandoning") == std::string::npos, g.log());
}

BOOST_AUTO_TEST_CASE(shutdown_wait_is_bounded) {
  Gortd g({"--shutdown-timeout", "300ms"});
  std::thread client([&] { get(g.port(), "/sleep?ms=60000"); });
  BOOST_TEST(eventually([&] { return in_flight_beside_this(g) == 1; }), "the /sleep request is being handled");
  auto t0 = steady_clock::now();
  g.signal(SIGINT);
  // Exits (status 0) long before the request's 60 s are over ...
  BOOST_TEST(g.wait_exit(30s) == 0);
  // ... but only after the shutdown timeout, which starts after our clock.
  BOOST_TEST(ms(steady_clock::now() - t0) >= 300);
  BOOST_TEST(g.log().find("gortd: shutdown timeout: abandoning 1 connection(s)") != std::string::npos, g.log());
  client.join();
}

BOOST_AUTO_TEST_CASE(thousand_concurrent_sleeps_all_succeed) {
  raise_fd_limit();
  Gortd g;
  constexpr int kConns = 1000;
  const std::string req = "GET /sleep?ms=50 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n";
  std::vector<pollfd> fds(kConns);
  std::vector<std::string> replies(kConns);
  std::vector<bool> sent(kConns, false);
  for (int i = 0; i < kConns; i++) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(g.port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);  // EINPROGRESS
    fds[i] = {fd, POLLOUT, 0};
  }
  int open = kConns;
  auto deadline = steady_clock::now() + 30s;
  while (open > 0 && steady_clock::now() < deadline) {
    if (poll(fds.data(), fds.size(), 100) <= 0) continue;
    for (int i = 0; i < kConns; i++) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      if (!sent[i] && (fds[i].revents & POLLOUT)) {
        sent[i] = send(fds[i].fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size());
        fds[i].events = POLLIN;
        continue;
      }
      char buf[1024];
      ssize_t n = recv(fds[i].fd, buf, sizeof buf, 0);
      if (n > 0) {
        replies[i].append(buf, static_cast<size_t>(n));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        close(fds[i].fd);
        fds[i].fd = -1;
        open--;
      }
    }
  }
  int ok = 0;
  for (int i = 0; i < kConns; i++) {
    if (fds[i].fd >= 0) close(fds[i].fd);
    Reply r = parse_reply(replies[i]);
    if (r.status == 200 && r.body == "slept ms=50\n") ok++;
  }
  BOOST_TEST(ok == kConns);
}

BOOST_AUTO_TEST_CASE(long_work_does_not_starve_other_connections) {
  // One P: without preemption checks in /work, / would wait for it.
  Gortd g({}, {"GOMAXPROCS=1"});
  std::atomic<bool> done{false};
  std::string work;
  std::thread client([&] {
    // Seconds of CPU, many more on a loaded machine or under ASan: no
    // 10 s reply deadline here, the condition is that it completes.
    work = exchange(g.port(), "GET /work?n=1000000000 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
                    std::chrono::minutes(5));
    done = true;
  });
  BOOST_TEST(eventually([&] { return in_flight_beside_this(g) == 1; }), "the /work request is being handled");
  // Each request is answered while /work is still running (how fast:
  // bench/http-beside-work.sh).
  int answered_meanwhile = 0;
  for (int i = 0; i < 10; i++) {
    Reply r = get(g.port(), "/");
    if (r.status == 200 && !done.load()) answered_meanwhile++;
  }
  BOOST_TEST(answered_meanwhile == 10);
  client.join();
  BOOST_TEST(work.rfind("HTTP/1.1 200 OK\r\n", 0) == 0u, work);
  BOOST_TEST(metric_value(metrics_of(g), "gort_sched_preemptions_total") > 0);
}

BOOST_AUTO_TEST_CASE(flags_help_and_errors) {
  std::string out;
  FILE* p = popen(GORTD_PATH " --help", "r");
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  BOOST_TEST(pclose(p) == 0);
  for (const char* f : {"--addr", "--debug-addr", "--debug-auth", "--stats-interval", "--read-timeout",
                        "--max-conns", "--shutdown-timeout", "--mem-profile-rate", "GOMAXPROCS", "GOGC",
                        "GOMEMLIMIT", "GODEBUG=schedtrace", "GODEBUG=gctrace"})
    BOOST_TEST(out.find(f) != std::string::npos, f);
  BOOST_TEST(WEXITSTATUS(system(GORTD_PATH " --no-such-flag 2>/dev/null")) == 2);
  BOOST_TEST(WEXITSTATUS(system(GORTD_PATH " --read-timeout 5 2>/dev/null")) == 2);
}

BOOST_AUTO_TEST_CASE(stats_interval_prints_stats_lines) {
  Gortd g({"--stats-interval", "50ms"});
  const std::regex line(R"(heap=\d+ KB, sys=\d+ KB, num_gc=\d+, goroutines=\d+\n)");
  BOOST_TEST(eventually([&] { return std::regex_search(g.log(), line); }), g.log());
}

BOOST_AUTO_TEST_CASE(environment_gomaxprocs_and_schedtrace) {
  Gortd g({}, {"GOMAXPROCS=3", "GODEBUG=schedtrace=50"});
  BOOST_TEST(g.log().find("GOMAXPROCS=3") != std::string::npos);
  BOOST_TEST(metric_value(metrics_of(g), "gort_sched_gomaxprocs") == 3);
  const std::regex sched(R"(SCHED \d+ms: gomaxprocs=3 idleprocs=\d+ threads=\d+)");
  BOOST_TEST(eventually([&] { return std::regex_search(g.log(), sched); }), g.log());
}

BOOST_AUTO_TEST_CASE(address_in_use_exits_1) {
  Gortd g;
  std::string cmd = std::string(GORTD_PATH) + " --addr 127.0.0.1:" + std::to_string(g.port()) + " 2>&1";
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  int status = pclose(p);
  BOOST_TEST(WEXITSTATUS(status) == 1);
  BOOST_TEST(out.find("bind: Address already in use") != std::string::npos, out);
}

BOOST_AUTO_TEST_SUITE_END()
