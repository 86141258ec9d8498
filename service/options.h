// options.h — gortd's command line (Boost.Program_options) and listen
// addresses. Flags override the environment, which the runtime reads itself
// at start (GOMAXPROCS, GODEBUG=schedtrace=MS,scheddetail=1); the
// collector's knobs (GOGC, GOMEMLIMIT, GODEBUG=gctrace=1) are read here and
// applied by the server (gc_control.h). `gortd --help` lists all.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "service/auth_limiter.h"
#include "service/gc_control.h"
#include "service/serve_context.h"

namespace gortd {

struct Options {
  std::string addr = ":8080";      // main listener
  std::string debug_addr;          // empty: /debug/* and /gc stay on the main listener
  std::string debug_auth;          // "user:password"; empty: no auth
  AuthLimits auth_limits;          // failed --debug-auth attempts per client (auth_limiter.h)
  int64_t max_profile_ns = 300'000'000'000;  // longest CPU profile, trace or delta profile a request may ask for
  int64_t stats_interval_ns = 0;   // 0: no periodic stats line
  int64_t shutdown_timeout_ns = 10'000'000'000;  // SIGINT/SIGTERM wait for in-flight requests
  ServeLimits limits;
  // Profiling rates (Go's runtime.SetBlockProfileRate,
  // SetMutexProfileFraction, MemProfileRate), applied at start-up.
  int64_t block_profile_rate_ns = 0;
  int64_t mutex_profile_fraction = 0;
  int64_t mem_profile_rate_bytes = 512 * 1024;
  // Scheduled capture (--profile-dir/--profile-every/--profile-keep), the
  // flight recorder and slow-request snapshots (capture.h).
  std::string profile_dir;            // empty: none
  int64_t profile_every_ns = 0;       // 0: no scheduled profiles
  int64_t profile_keep = 24;          // files kept per kind
  int64_t flight_recorder_ns = 0;     // 0: no flight recorder
  int64_t flight_recorder_bytes = 64 << 20;
  int64_t slow_request_ns = 0;        // 0: no slow-request snapshots
  // The access log (access_log.h): "" off, "-" standard output, else a file.
  std::string access_log;
  bool access_log_json = false;       // --access-log-format json (default logfmt)
  std::vector<std::string> cmdline;  // argv, for /debug/vars
};

// parse_options parses argv. When the program should stop instead of
// serving (--help: 0, a bad flag or a malformed $GOMEMLIMIT: 2) it prints the reason and returns
// nullopt with *exit_code set.
std::optional<Options> parse_options(int argc, char** argv, int* exit_code);

// resolve_listen_address turns "host:port", ":port" or "[v6]:port" into an
// endpoint (empty host: all IPv4 interfaces). Port 0 picks a free port.
// Blocking (may resolve a host name): call before serving.
bool resolve_listen_address(const std::string& addr, boost::asio::ip::tcp::endpoint* ep, std::string* err);

}  // namespace gortd
