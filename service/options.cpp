// options.cpp — command-line parsing and listen addresses (see options.h).
#include "service/options.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/program_options.hpp>

#include <cstdio>
#include <iostream>
#include <sstream>

#include "service/duration.h"

namespace gortd {

namespace po = boost::program_options;

namespace {

const char* const kEnvironmentHelp =
    "Environment (read at start, Go's meanings; flags win):\n"
    "  GOMAXPROCS=N               number of Ps (default: the CPUs we may run on)\n"
    "  GOGC=N|off                 collect when the heap grows N% over the live heap\n"
    "                             (default 100; off disables; /gc?set=V changes it)\n"
    "  GOMEMLIMIT=BYTES|off       soft memory limit, with optional B/KiB/MiB/GiB/TiB\n"
    "                             suffix (default off; malformed: exit 2; /gc?memlimit=L)\n"
    "  GODEBUG=schedtrace=MS      print a SCHED line every MS ms (add scheddetail=1 for\n"
    "                             per-P/M/G detail)\n"
    "  GODEBUG=gctrace=1          print a gc line per collection to stderr (Go 1.19's\n"
    "                             format); settings combine: GODEBUG=gctrace=1,schedtrace=1000\n"
    "  GORT_STACK_KB=K            goroutine stack slot size (default 256)\n";

// duration_flag parses a Go duration flag value into *ns.
bool duration_flag(const po::variables_map& vm, const char* name, int64_t* ns, bool allow_zero) {
  if (!vm.count(name)) return true;
  std::string s = vm[name].as<std::string>();
  auto v = parse_go_duration(s);
  if (!v || *v < 0 || (!allow_zero && *v == 0)) {
    std::fprintf(stderr, "gortd: invalid value \"%s\" for --%s: want a Go duration such as 10s, 250ms, 1m30s%s\n",
                 s.c_str(), name, allow_zero ? "" : " (> 0)");
    return false;
  }
  *ns = *v;
  return true;
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv, int* exit_code) {
  Options o;
  for (int i = 0; i < argc; i++) o.cmdline.emplace_back(argv[i]);

  po::options_description desc(
      "gortd — an HTTP service whose handlers run as goroutines on gort's M:N scheduler\n\n"
      "Usage: gortd [options]\n\nOptions");
  // clang-format off
  desc.add_options()
    ("help,h", "print this help and exit")
    ("addr", po::value<std::string>()->default_value(o.addr), "listen address host:port (port 0 picks a free port)")
    ("debug-addr", po::value<std::string>(), "serve /debug/* and /gc on this separate listener instead of --addr, e.g. 127.0.0.1:6060")
    ("debug-auth", po::value<std::string>(), "user:password — require HTTP basic auth on /debug/* and /gc")
    ("debug-auth-max-failures", po::value<int64_t>()->default_value(o.auth_limits.max_failures), "after N wrong --debug-auth credentials from one client (IPv4 address or IPv6 /64) within --debug-auth-window, answer its requests to /debug/* and /gc with 429 and Retry-After until the window ends, even with the right credentials (0 = no limit)")
    ("debug-auth-window", po::value<std::string>()->default_value("1m"), "the window of --debug-auth-max-failures, from a client's first failure (Go duration)")
    ("max-profile-duration", po::value<std::string>()->default_value("5m"), "longest CPU profile, execution trace or delta profile a request may ask for (?seconds=N); longer ones are refused with 400 (Go duration, at least 1s)")
    ("stats-interval", po::value<std::string>(), "print \"heap=… KB, sys=… KB, num_gc=…, goroutines=…\" to stderr at this interval (Go duration, e.g. 5s; default off)")
    ("read-timeout", po::value<std::string>()->default_value("10s"), "limit for reading one request from its first byte; slow clients get 408")
    ("idle-timeout", po::value<std::string>()->default_value("2m"), "how long a keep-alive connection may wait for its next request")
    ("write-timeout", po::value<std::string>()->default_value("30s"), "limit for writing one reply to a client that does not read")
    ("shutdown-timeout", po::value<std::string>()->default_value("10s"), "on SIGINT/SIGTERM, how long to let in-flight requests finish")
    ("max-conns", po::value<int64_t>()->default_value(o.limits.max_conns), "connection cap; connections beyond it are answered 503")
    ("block-profile-rate", po::value<int64_t>()->default_value(0), "block profile: record blocking events of at least NS ns, shorter ones with probability blocked/NS (Go's runtime.SetBlockProfileRate; 0 = off, 1 = every event)")
    ("mutex-profile-fraction", po::value<int64_t>()->default_value(0), "mutex profile: record 1/N of contention events on average (Go's runtime.SetMutexProfileFraction; 0 = off)")
    ("mem-profile-rate", po::value<int64_t>()->default_value(o.mem_profile_rate_bytes), "heap profile: sample one allocation per BYTES allocated on average (0 = off; Go's runtime.MemProfileRate)")
    ("profile-dir", po::value<std::string>(), "directory for scheduled profiles and flight-recorder snapshots (created if missing)")
    ("profile-every", po::value<std::string>(), "every D, write a CPU profile of a few seconds, a heap and a goroutine profile into --profile-dir (Go duration, e.g. 5m)")
    ("profile-keep", po::value<int64_t>()->default_value(o.profile_keep), "how many files of each kind --profile-dir keeps (oldest removed)")
    ("flight-recorder", po::value<std::string>(), "keep the last D of execution trace in memory (Go 1.25's flight recorder; e.g. 10s); served at /debug/pprof/flightrecorder")
    ("flight-recorder-bytes", po::value<int64_t>()->default_value(o.flight_recorder_bytes), "memory bound of the flight recorder's history (bytes, at least 1 MiB)")
    ("slow-request", po::value<std::string>(), "when a request takes longer than T, save the flight recorder into --profile-dir (at most one snapshot per window)")
    ("access-log", po::value<std::string>(), "one line per request to PATH (reopened on SIGHUP) or - for stdout; default off")
    ("access-log-format", po::value<std::string>()->default_value("logfmt"), "access log line format: logfmt or json");
  // clang-format on

  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(desc).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    std::fprintf(stderr, "gortd: %s (see --help)\n", e.what());
    *exit_code = 2;
    return std::nullopt;
  }
  if (vm.count("help")) {
    std::ostringstream out;
    out << desc << "\n" << kEnvironmentHelp;
    std::fputs(out.str().c_str(), stdout);
    *exit_code = 0;
    return std::nullopt;
  }
  o.addr = vm["addr"].as<std::string>();
  if (vm.count("debug-addr")) o.debug_addr = vm["debug-addr"].as<std::string>();
  if (vm.count("debug-auth")) {
    o.debug_auth = vm["debug-auth"].as<std::string>();
    if (o.debug_auth.find(':') == std::string::npos) {
      std::fprintf(stderr, "gortd: --debug-auth wants user:password\n");
      *exit_code = 2;
      return std::nullopt;
    }
  }
  bool ok = duration_flag(vm, "stats-interval", &o.stats_interval_ns, true) &&
            duration_flag(vm, "read-timeout", &o.limits.read_timeout_ns, false) &&
            duration_flag(vm, "idle-timeout", &o.limits.idle_timeout_ns, false) &&
            duration_flag(vm, "write-timeout", &o.limits.write_timeout_ns, false) &&
            duration_flag(vm, "shutdown-timeout", &o.shutdown_timeout_ns, true) &&
            duration_flag(vm, "profile-every", &o.profile_every_ns, false) &&
            duration_flag(vm, "flight-recorder", &o.flight_recorder_ns, false) &&
            duration_flag(vm, "slow-request", &o.slow_request_ns, false) &&
            duration_flag(vm, "debug-auth-window", &o.auth_limits.window_ns, false) &&
            duration_flag(vm, "max-profile-duration", &o.max_profile_ns, false);
  if (vm.count("profile-dir")) o.profile_dir = vm["profile-dir"].as<std::string>();
  o.profile_keep = vm["profile-keep"].as<int64_t>();
  o.flight_recorder_bytes = vm["flight-recorder-bytes"].as<int64_t>();
  if (vm.count("access-log")) o.access_log = vm["access-log"].as<std::string>();
  std::string log_format = vm["access-log-format"].as<std::string>();
  o.access_log_json = log_format == "json";
  auto refuse = [&](const char* why) {
    if (!ok) return;
    std::fprintf(stderr, "gortd: %s\n", why);
    ok = false;
  };
  if (log_format != "logfmt" && log_format != "json") refuse("--access-log-format wants logfmt or json");
  if (vm.count("access-log") && o.access_log.empty()) refuse("--access-log wants a path or -");
  if (vm.count("profile-dir") && o.profile_dir.empty()) refuse("--profile-dir wants a directory");
  if (o.profile_every_ns > 0 && o.profile_dir.empty()) refuse("--profile-every needs --profile-dir");
  if (o.profile_every_ns > 0 && o.profile_every_ns < 1'000'000'000) refuse("--profile-every must be at least 1s");
  if (o.profile_keep < 1) refuse("--profile-keep must be at least 1");
  if (o.flight_recorder_ns > 0 && (o.flight_recorder_ns < 100'000'000 || o.flight_recorder_ns > 3'600'000'000'000))
    refuse("--flight-recorder must be between 100ms and 1h");
  if (o.flight_recorder_bytes < (1 << 20)) refuse("--flight-recorder-bytes must be at least 1048576");
  if (o.slow_request_ns > 0 && o.flight_recorder_ns == 0) refuse("--slow-request needs --flight-recorder");
  if (o.slow_request_ns > 0 && o.profile_dir.empty()) refuse("--slow-request needs --profile-dir");
  o.auth_limits.max_failures = vm["debug-auth-max-failures"].as<int64_t>();
  if (o.auth_limits.max_failures < 0) refuse("--debug-auth-max-failures must be >= 0");
  if (o.max_profile_ns < 1'000'000'000) refuse("--max-profile-duration must be at least 1s");
  o.limits.max_conns = vm["max-conns"].as<int64_t>();
  o.block_profile_rate_ns = vm["block-profile-rate"].as<int64_t>();
  o.mutex_profile_fraction = vm["mutex-profile-fraction"].as<int64_t>();
  o.mem_profile_rate_bytes = vm["mem-profile-rate"].as<int64_t>();
  if (ok && o.limits.max_conns < 1) {
    std::fprintf(stderr, "gortd: --max-conns must be at least 1\n");
    ok = false;
  }
  if (ok && (o.block_profile_rate_ns < 0 || o.mutex_profile_fraction < 0 || o.mem_profile_rate_bytes < 0)) {
    std::fprintf(stderr, "gortd: profile rates must be >= 0\n");
    ok = false;
  }
  if (ok) {
    if (auto err = gc_environment_error()) {
      std::fprintf(stderr, "gortd: %s\n", err->c_str());
      ok = false;
    }
  }
  if (!ok) {
    *exit_code = 2;
    return std::nullopt;
  }
  return o;
}

bool resolve_listen_address(const std::string& addr, boost::asio::ip::tcp::endpoint* ep, std::string* err) {
  namespace ip = boost::asio::ip;
  size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
    *err = "address " + addr + ": missing port";
    return false;
  }
  std::string host = addr.substr(0, colon), port = addr.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (port.empty() || *end != '\0' || p < 0 || p > 65535) {
    *err = "address " + addr + ": invalid port";
    return false;
  }
  if (host.empty()) {
    *ep = ip::tcp::endpoint(ip::address_v4::any(), static_cast<unsigned short>(p));
    return true;
  }
  boost::system::error_code ec;
  ip::address a = ip::make_address(host, ec);
  if (!ec) {
    *ep = ip::tcp::endpoint(a, static_cast<unsigned short>(p));
    return true;
  }
  boost::asio::io_context io;
  ip::tcp::resolver resolver(io);
  auto results = resolver.resolve(host, port, ec);
  if (ec || results.empty()) {
    *err = "address " + addr + ": " + (ec ? ec.message() : "no addresses");
    return false;
  }
  *ep = results.begin()->endpoint();
  return true;
}

}  // namespace gortd
