// gortd_security_test.cpp — gortd's defences around /debug/* and /gc, each
// against the real binary (gortd_harness.h):
//   - the start-up warning when they are served on a non-loopback address
//     without --debug-auth, and its absence otherwise;
//   - the failed-login limiter behind --debug-auth: 401s until
//     --debug-auth-max-failures, then 429 with Retry-After (even with the
//     right credentials) for that client only, until --debug-auth-window
//     ends; counted in gort_debug_auth_failures_total / _throttled_total;
//   - with --debug-addr, no profile, trace, dashboard or /gc endpoint on the
//     main listener, whatever the spelling of the target;
//   - --max-profile-duration: CPU profiles, traces and delta profiles
//     asking for more are refused with 400 naming the parameter and limit.
// The limiter's table (bounded memory, expiry, eviction) is unit-tested in
// gortd_units_test.
#define BOOST_TEST_MODULE gortd_security_test
#include <boost/test/unit_test.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <regex>
#include <sstream>
#include <string>

#include "gortd_harness.h"

using namespace gortd_test;
using namespace std::chrono_literals;

namespace {

constexpr const char* kWarning = "gortd: warning: /debug/* and /gc are served on ";
// admin:s3cret and admin:wrong, as Authorization header lines.
const std::string kRight = "Authorization: Basic YWRtaW46czNjcmV0\r\n";
const std::string kWrong = "Authorization: Basic YWRtaW46d3Jvbmc=\r\n";

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) n++;
  return n;
}

// log_after_first_reply returns gortd's log once it has answered a
// request: the warning, if any, is printed before the first accept.
std::string log_after_first_reply(const Gortd& g) {
  BOOST_REQUIRE_EQUAL(get(g.port(), "/").status, 200);
  return g.log();
}

double metric_value(const std::string& metrics, const std::string& series) {
  std::istringstream in(metrics);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

// get_from sends a GET from source address `from` (another loopback
// address: a different client to gortd) and parses the reply.
Reply get_from(const char* from, int port, const std::string& target, const std::string& headers) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  inet_pton(AF_INET, from, &src.sin_addr);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_port = htons(static_cast<uint16_t>(port));
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof src) != 0 ||
      connect(fd, reinterpret_cast<sockaddr*>(&dst), sizeof dst) != 0) {
    close(fd);
    return {};
  }
  std::string req = "GET " + target + " HTTP/1.1\r\nHost: test\r\nConnection: close\r\n" + headers + "\r\n";
  BOOST_REQUIRE(send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size()));
  std::string raw = read_until_close(fd, 10s);
  close(fd);
  return parse_reply(raw);
}

int run_status(const std::string& args) {
  return WEXITSTATUS(std::system((std::string(GORTD_PATH) + " " + args + " >/dev/null 2>&1").c_str()));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(exposure_warning)

BOOST_AUTO_TEST_CASE(warns_once_for_all_interfaces_without_auth) {
  Gortd g({"--addr", "0.0.0.0:0"});
  std::string log = log_after_first_reply(g);
  BOOST_TEST(count_of(log, kWarning) == 1u, log);
  std::string line = "gortd: warning: /debug/* and /gc are served on 0.0.0.0:" + std::to_string(g.port()) +
                     " without --debug-auth; anyone who can reach it can profile and control this process (use "
                     "--debug-addr 127.0.0.1:6060 and/or --debug-auth)\n";
  BOOST_TEST(log.find(line) != std::string::npos, log);
}

BOOST_AUTO_TEST_CASE(warns_for_a_non_loopback_debug_addr) {
  Gortd g({"--debug-addr", "0.0.0.0:0"});
  std::string log = log_after_first_reply(g);
  BOOST_TEST(count_of(log, kWarning) == 1u, log);
  BOOST_TEST(log.find(kWarning + std::string("0.0.0.0:") + std::to_string(g.debug_port()) + " ") != std::string::npos, log);
}

BOOST_AUTO_TEST_CASE(no_warning_on_loopback_or_with_auth) {
  {
    Gortd g;  // 127.0.0.1:0
    BOOST_TEST(count_of(log_after_first_reply(g), kWarning) == 0u);
  }
  {
    Gortd g({"--addr", "0.0.0.0:0", "--debug-auth", "admin:s3cret"});
    BOOST_TEST(count_of(log_after_first_reply(g), kWarning) == 0u);
  }
  {
    // The main listener is public, but /debug and /gc are not on it.
    Gortd g({"--addr", "0.0.0.0:0", "--debug-addr", "127.0.0.1:0"});
    BOOST_TEST(count_of(log_after_first_reply(g), kWarning) == 0u);
  }
  {
    Gortd g({"--addr", "localhost:0"});
    BOOST_TEST(count_of(log_after_first_reply(g), kWarning) == 0u);
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(auth_rate_limit)

BOOST_AUTO_TEST_CASE(failures_then_429_with_retry_after_even_with_the_right_password) {
  Gortd g({"--debug-auth", "admin:s3cret", "--debug-auth-max-failures", "3", "--debug-auth-window", "1h"});
  BOOST_TEST(get(g.port(), "/debug/vars", kRight).status == 200);
  // No credentials is not a guess: any number of 401s, no throttling.
  for (int i = 0; i < 5; i++) BOOST_TEST(get(g.port(), "/debug/vars").status == 401);
  for (int i = 0; i < 3; i++) BOOST_TEST(get(g.port(), "/gc", kWrong).status == 401);
  for (const std::string& headers : {kWrong, kRight, std::string()}) {
    Reply r = get(g.port(), "/debug/pprof/heap", headers);
    BOOST_TEST(r.status == 429);
    BOOST_TEST(r.body == "too many failed authentication attempts: retry in " + r.header("retry-after") + "s\n");
    int retry = std::atoi(r.header("retry-after").c_str());
    BOOST_TEST((retry > 0 && retry <= 3600), r.header("retry-after"));
    BOOST_TEST(r.header("www-authenticate").empty());
  }
  // Only protected routes, and only this client.
  BOOST_TEST(get(g.port(), "/work?n=1").status == 200);
  Reply other = get_from("127.0.0.2", g.port(), "/debug/vars", kRight);
  BOOST_TEST(other.status == 200, other.raw);
  BOOST_TEST(get_from("127.0.0.2", g.port(), "/debug/vars", kWrong).status == 401);

  std::string metrics = get(g.port(), "/metrics").body;
  BOOST_TEST(metric_value(metrics, "gort_debug_auth_failures_total") == 4);
  BOOST_TEST(metric_value(metrics, "gort_debug_auth_throttled_total") == 3);
  BOOST_TEST(metric_value(metrics, R"(http_requests_total{code="429",method="GET",path="/debug/pprof/{profile}"})") == 3);
}

BOOST_AUTO_TEST_CASE(refusal_ends_with_the_window) {
  Gortd g({"--debug-auth", "admin:s3cret", "--debug-auth-max-failures", "2", "--debug-auth-window", "1s"});
  for (int i = 0; i < 2; i++) BOOST_TEST(get(g.port(), "/debug/vars", kWrong).status == 401);
  Reply r = get(g.port(), "/debug/vars", kRight);
  BOOST_TEST(r.status == 429);
  BOOST_TEST(r.header("retry-after") == "1");
  // Attempts while refused do not extend the window: asking again and again
  // ends in a 200 once it has passed.
  BOOST_TEST(eventually([&] { return get(g.port(), "/debug/vars", kRight).status == 200; }));
  // A fresh window: the next failure is a 401 again, not a 429.
  BOOST_TEST(get(g.port(), "/debug/vars", kWrong).status == 401);
}

BOOST_AUTO_TEST_CASE(zero_means_no_limit_and_flags_are_checked) {
  Gortd g({"--debug-auth", "admin:s3cret", "--debug-auth-max-failures", "0"});
  for (int i = 0; i < 30; i++) BOOST_TEST(get(g.port(), "/debug/vars", kWrong).status == 401);
  BOOST_TEST(get(g.port(), "/debug/vars", kRight).status == 200);
  BOOST_TEST(metric_value(get(g.port(), "/metrics").body, "gort_debug_auth_throttled_total") == 0);
  BOOST_TEST(run_status("--debug-auth-max-failures -1") == 2);
  BOOST_TEST(run_status("--debug-auth-window 0s") == 2);
  BOOST_TEST(run_status("--debug-auth-window ten") == 2);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(debug_addr_isolation)

BOOST_AUTO_TEST_CASE(main_listener_serves_no_debug_endpoint) {
  Gortd g({"--debug-addr", "127.0.0.1:0", "--flight-recorder", "1s"});
  const std::vector<std::string> debug_paths = {
      "/debug/pprof/",          "/debug/pprof/profile?seconds=1", "/debug/pprof/heap",    "/debug/pprof/allocs",
      "/debug/pprof/goroutine", "/debug/pprof/goroutine?debug=2", "/debug/pprof/block",   "/debug/pprof/mutex",
      "/debug/pprof/threadcreate", "/debug/pprof/cmdline",        "/debug/pprof/symbol",  "/debug/pprof/trace?seconds=1",
      "/debug/pprof/flightrecorder", "/debug/ui",                 "/debug/ui/stream",     "/debug/ui/data",
      "/debug/ui/dashboard.js", "/debug/vars",                    "/gc",                  "/gc?run=1",
      "/gc?set=off"};
  for (const std::string& p : debug_paths) {
    Reply r = get(g.port(), p);
    BOOST_TEST(r.status == 404, p << " on the main listener: " << r.status);
  }
  // Other spellings of the same paths reach the same (empty) table.
  for (const char* p : {"/debug/%70prof/heap", "/debug/pprof/%68eap", "/%67c", "http://x/debug/pprof/heap",
                        "/debug/pprof/heap/", "/Debug/pprof/heap"}) {
    Reply r = get(g.port(), p);
    BOOST_TEST((r.status == 404 || r.status == 400), p << " on the main listener: " << r.status);
  }
  BOOST_TEST(request(g.port(), "POST", "/debug/pprof/symbol", "Content-Length: 8\r\n\r\n0x401000").status == 404);
  BOOST_TEST(request(g.port(), "HEAD", "/debug/pprof/heap").status == 404);
  // The debug listener has them (the quick ones are enough to show it).
  for (const char* p : {"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/cmdline", "/debug/pprof/symbol",
                        "/debug/pprof/flightrecorder", "/debug/ui", "/debug/vars", "/gc"}) {
    Reply r = get(g.debug_port(), p);
    BOOST_TEST(r.status == 200, p << " on the debug listener: " << r.status);
  }
  // ... and the main listener keeps the workloads and /metrics.
  BOOST_TEST(get(g.port(), "/work?n=1").status == 200);
  BOOST_TEST(get(g.port(), "/metrics").status == 200);
  BOOST_TEST(get(g.debug_port(), "/work?n=1").status == 404);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(max_profile_duration)

BOOST_AUTO_TEST_CASE(default_limit_is_five_minutes) {
  Gortd g;
  const std::string why = ": longer than --max-profile-duration=5m0s\n";
  BOOST_TEST(get(g.port(), "/debug/pprof/profile?seconds=301").body == "bad parameter seconds=301" + why);
  BOOST_TEST(get(g.port(), "/debug/pprof/trace?seconds=300.5").body == "bad parameter seconds=300.5" + why);
  BOOST_TEST(get(g.port(), "/debug/pprof/trace?seconds=1e9").body == "bad parameter seconds=1e9" + why);
  BOOST_TEST(get(g.port(), "/debug/pprof/heap?seconds=301").body == "bad parameter seconds=301" + why);
  BOOST_TEST(get(g.port(), "/debug/pprof/mutex?seconds=100000").body == "bad parameter seconds=100000" + why);
  for (const char* p : {"/debug/pprof/profile?seconds=301", "/debug/pprof/trace?seconds=301",
                        "/debug/pprof/block?seconds=301"}) {
    Reply r = get(g.port(), p);
    BOOST_TEST(r.status == 400, p);
    BOOST_TEST(r.header("x-go-pprof") == "1", p);
  }
  // Other parameter errors keep their texts.
  BOOST_TEST(get(g.port(), "/debug/pprof/profile?seconds=x").body == "bad parameter seconds=\"x\": not an integer\n");
  BOOST_TEST(get(g.port(), "/debug/pprof/profile?seconds=0").body == "bad parameter seconds=0: out of range [1, 300]\n");
  BOOST_TEST(get(g.port(), "/debug/pprof/trace?seconds=-1").body == "bad parameter seconds=-1: must be positive\n");
  BOOST_TEST(get(g.port(), "/debug/pprof/trace?seconds=0").body == "bad parameter seconds=0: must be positive\n");
}

BOOST_AUTO_TEST_CASE(configured_limit_applies_to_profile_trace_and_deltas) {
  Gortd g({"--max-profile-duration", "2s", "--flight-recorder", "1s"});
  const std::string why = ": longer than --max-profile-duration=2s\n";
  BOOST_TEST(get(g.port(), "/debug/pprof/profile?seconds=3").body == "bad parameter seconds=3" + why);
  BOOST_TEST(get(g.port(), "/debug/pprof/trace?seconds=2.5").body == "bad parameter seconds=2.5" + why);
  BOOST_TEST(get(g.port(), "/debug/pprof/allocs?seconds=3").body == "bad parameter seconds=3" + why);
  // At the limit is fine, and without seconds the CPU profile's default
  // (30 s) shrinks to the limit rather than being refused.
  BOOST_TEST(get(g.port(), "/debug/pprof/trace?seconds=0.2").status == 200);
  BOOST_TEST(get(g.port(), "/debug/pprof/heap?seconds=2").status == 200);
  BOOST_TEST(get(g.port(), "/debug/pprof/profile").status == 200);
}

BOOST_AUTO_TEST_CASE(flag_is_checked_and_documented) {
  BOOST_TEST(run_status("--max-profile-duration 500ms") == 2);
  BOOST_TEST(run_status("--max-profile-duration 5") == 2);
  std::string out;
  FILE* p = popen(GORTD_PATH " --help", "r");
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  BOOST_TEST(pclose(p) == 0);
  for (const char* f : {"--max-profile-duration", "--debug-auth-max-failures", "--debug-auth-window"})
    BOOST_TEST(out.find(f) != std::string::npos, f);
}

BOOST_AUTO_TEST_SUITE_END()
