// server.cpp — wiring and lifecycle of gortd (see server.h).
#include "service/server.h"

#include <boost/asio/signal_set.hpp>
#include <prometheus/registry.h>

#include <csignal>
#include <cstdio>
#include <memory>
#include <string>

#include "gc/stats.h"
#include "profilers/contention_profile.h"
#include "profilers/flight_recorder.h"
#include "profilers/heap_profile.h"
#include "runtime/gort.h"
#include "runtime/netpoll.h"
#include "service/access_log.h"
#include "service/auth.h"
#include "service/capture.h"
#include "service/conn_tracker.h"
#include "service/demos.h"
#include "service/gc_control.h"
#include "service/gc_metrics.h"
#include "service/go_runtime_metrics.h"
#include "service/handlers.h"
#include "service/listener.h"
#include "service/metrics_exporter.h"
#include "service/request_metrics.h"
#include "service/router.h"
#include "service/runtime_metrics.h"

namespace gortd {

namespace {

// The reaper wakes this often relative to the shortest timeout, within
// these bounds: timeouts fire at most a quarter late (or 250 ms).
constexpr int64_t kMinReapIntervalNs = 10'000'000, kMaxReapIntervalNs = 250'000'000;
// Graceful shutdown polls the open-connection count this often.
constexpr int64_t kDrainPollMs = 5;
// How long to wait for a woken acceptor goroutine to return.
constexpr int64_t kAcceptorExitWaitNs = 1'000'000'000;

// warn_if_debug_exposed prints one start-up warning when /debug/* and /gc
// are served, without --debug-auth, on debug_ep that is not a loopback
// address: the default (--addr :8080, every interface) keeps them there
// for convenience, but whoever reaches that port can then take profiles
// and traces, read the command line and change GOGC.
void warn_if_debug_exposed(const boost::asio::ip::tcp::endpoint& debug_ep, bool auth) {
  boost::asio::ip::address a = debug_ep.address();
  if (a.is_v6() && a.to_v6().is_v4_mapped())
    a = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, a.to_v6());
  if (auth || a.is_loopback()) return;
  std::string where = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  std::fprintf(stderr,
               "gortd: warning: /debug/* and /gc are served on %s:%u without --debug-auth; anyone who can reach it "
               "can profile and control this process (use --debug-addr 127.0.0.1:6060 and/or --debug-auth)\n",
               where.c_str(), debug_ep.port());
}

}  // namespace

struct Server::State {
  Options opts;
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  RequestMetrics metrics{*registry};
  MetricsExporter exporter;
  ConnTracker tracker;
  Demos demos;
  std::unique_ptr<BasicAuth> auth;
  DebugInfo debug_info;
  Router main_router, debug_router;
  ServeContext main_ctx, debug_ctx;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::atomic<bool> stopping{false};
  // What gortd saves and logs by itself (capture.h, access_log.h).
  std::unique_ptr<ProfileDir> profile_dir;
  std::unique_ptr<profilers::FlightRecorder> recorder;
  std::unique_ptr<SlowRequestSnapshots> slow_requests;
  std::unique_ptr<AccessLog> access_log;
  // hup waits for SIGHUP on start_reopen_on_sighup's goroutine; cancelled
  // at shutdown so that goroutine returns (and frees what it holds) rather
  // than being discarded parked when the process exits.
  std::unique_ptr<boost::asio::signal_set> hup;
  std::atomic<bool> hup_exited{false};
  std::vector<RequestObserver*> observers;
  int64_t abandoned = 0;  // connections still busy when shutdown gave up (set once by run)

  void build_routes(bool separate_debug);
  bool start_capture_and_logs();
  void start_reopen_on_sighup();
  void start_reaper();
  void start_stats_printer();
};

void Server::State::build_routes(bool separate_debug) {
  build_route_tables({&demos, &exporter, &debug_info, &metrics}, separate_debug, opts.debug_addr,
                     !opts.debug_auth.empty(), main_router, debug_router);
}

void Server::State::start_reaper() {
  const ServeLimits& l = opts.limits;
  int64_t shortest = std::min({l.read_timeout_ns, l.idle_timeout_ns, l.write_timeout_ns});
  int64_t interval = std::clamp(shortest / 4, kMinReapIntervalNs, kMaxReapIntervalNs);
  gort::go([this, interval] {
    while (!stopping.load()) {
      gort::sleep_for(std::chrono::nanoseconds(interval));
      tracker.reap(gort::nanotime());
    }
  });
}

// start_stats_printer prints SPEC.md's periodic line: HeapAlloc and Sys
// from the heap's MemStats, NumGC, and the goroutine count.
void Server::State::start_stats_printer() {
  if (opts.stats_interval_ns <= 0) return;
  gort::go([this] {
    auto ms = std::make_unique<gc::MemStats>();  // 4 KiB of pause history: not on the goroutine stack
    while (!stopping.load()) {
      gort::sleep_for(std::chrono::nanoseconds(opts.stats_interval_ns));
      gc::read_mem_stats(ms.get());
      std::fprintf(stderr, "heap=%llu KB, sys=%llu KB, num_gc=%u, goroutines=%lld\n",
                   static_cast<unsigned long long>(ms->heap_alloc >> 10),
                   static_cast<unsigned long long>(ms->sys >> 10), ms->num_gc,
                   static_cast<long long>(gort::num_goroutine()));
    }
  });
}

// start_capture_and_logs opens the profile dir, starts the flight
// recorder, scheduled capture, slow-request snapshots and the access log,
// as the flags ask; false (reason printed) when one cannot start.
bool Server::State::start_capture_and_logs() {
  std::string why;
  if (!opts.profile_dir.empty() && !ProfileDir::open(opts.profile_dir, opts.profile_keep, &profile_dir, &why)) {
    std::fprintf(stderr, "gortd: --profile-dir: %s\n", why.c_str());
    return false;
  }
  if (opts.flight_recorder_ns > 0) {
    recorder = profilers::FlightRecorder::start(
        {.window_ns = opts.flight_recorder_ns, .max_bytes = static_cast<uint64_t>(opts.flight_recorder_bytes)}, &why);
    if (!recorder) {
      std::fprintf(stderr, "gortd: --flight-recorder: %s\n", why.c_str());
      return false;
    }
  }
  if (opts.profile_every_ns > 0) start_scheduled_capture(*profile_dir, opts.profile_every_ns, stopping);
  if (opts.slow_request_ns > 0) {
    slow_requests = std::make_unique<SlowRequestSnapshots>(*profile_dir, *recorder, opts.slow_request_ns,
                                                           opts.flight_recorder_ns);
    observers.push_back(slow_requests.get());
  }
  if (!opts.access_log.empty()) {
    access_log = AccessLog::open(opts.access_log, opts.access_log_json, &why);
    if (!access_log) {
      std::fprintf(stderr, "gortd: --access-log: %s\n", why.c_str());
      return false;
    }
    observers.push_back(access_log.get());
    if (opts.access_log != "-") start_reopen_on_sighup();
  }
  return true;
}

// start_reopen_on_sighup reopens the access log on every SIGHUP
// (logrotate's postrotate), on a goroutine of its own.
void Server::State::start_reopen_on_sighup() {
  hup = std::make_unique<boost::asio::signal_set>(gort::io_context(), SIGHUP);
  gort::go([this] {
    struct Exited {
      std::atomic<bool>& flag;
      ~Exited() { flag.store(true); }
    } exited{hup_exited};
    while (!stopping.load()) {
      bool got = false;
      gort::await_io([&](gort::IoWaker wake) {
        hup->async_wait([&got, wake](const boost::system::error_code& ec, int) {
          got = !ec;
          wake();
        });
      });
      if (!got) return;
      access_log->reopen();
      std::fprintf(stderr, "gortd: SIGHUP: access log reopened\n");
    }
  });
}

Server::Server(Options opts) : s_(std::make_unique<State>()) { s_->opts = std::move(opts); }

Server::~Server() = default;

int64_t Server::abandoned() const { return s_->abandoned; }

int Server::run(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints) {
  State& s = *s_;
  // The heap profiler first: nothing has allocated from the heap yet.
  profilers::set_mem_profile_rate(s.opts.mem_profile_rate_bytes);
  profilers::start_heap_profiler();
  profilers::set_block_profile_rate(s.opts.block_profile_rate_ns);
  profilers::set_mutex_profile_fraction(static_cast<int>(s.opts.mutex_profile_fraction));
  start_gc_metrics();
  // Signals that arrive before we wait for them are queued by Asio, so
  // installing the set first makes a signal during start-up a shutdown.
  boost::asio::signal_set signals(gort::io_context(), SIGINT, SIGTERM);

  bool separate_debug = endpoints.size() > 1;
  if (!s.opts.debug_auth.empty()) s.auth = std::make_unique<BasicAuth>(s.opts.debug_auth, s.opts.auth_limits);
  s.debug_info.cmdline = s.opts.cmdline;
  s.debug_info.max_profile_ns = s.opts.max_profile_ns;
  s.debug_info.tracker = &s.tracker;
  if (!s.start_capture_and_logs()) return 2;
  s.debug_info.metrics = &s.metrics;
  s.build_routes(separate_debug);
  s.exporter.add_collectable(s.registry);
  s.exporter.add_source(collect_go_metrics);
  s.exporter.add_source(collect_process_metrics);
  s.exporter.add_source(collect_sched_metrics);
  s.exporter.add_source(collect_gc_metrics);
  s.exporter.add_source(collect_go_runtime_metrics);
  s.exporter.add_source([&s](Families& f) {
    f.gauge("gort_http_open_connections", "Open HTTP connections (admitted; refusals excluded).",
            static_cast<double>(s.tracker.open()));
  });
  s.exporter.add_source([&s](Families& f) {
    if (s.access_log)
      f.counter("gort_access_log_dropped_lines_total", "Access log lines dropped because the writer fell behind.",
                static_cast<double>(s.access_log->dropped()));
    if (s.recorder) {
      profilers::FlightRecorder::Stats st = s.recorder->stats();
      f.gauge("gort_flight_recorder_bytes", "Execution trace history the flight recorder keeps, in bytes.",
              static_cast<double>(st.bytes));
      f.gauge("gort_flight_recorder_window_seconds", "Age of the oldest trace the flight recorder keeps.",
              static_cast<double>(st.oldest_ns) * 1e-9);
      f.counter("gort_flight_recorder_snapshots_total", "Trace files written by the flight recorder.",
                static_cast<double>(st.snapshots));
      f.counter("gort_flight_recorder_cuts_total", "Cuts the flight recorder made (each stops the world briefly).",
                static_cast<double>(st.cuts));
      f.gauge("gort_flight_recorder_last_cut_seconds",
              "How long the flight recorder's last cut took, waiting for a GC cycle and the stop-the-world included.",
              static_cast<double>(st.last_cut_ns) * 1e-9);
    }
    if (s.auth) {
      f.counter("gort_debug_auth_failures_total",
                "Requests to /debug/* and /gc refused with 401 for wrong --debug-auth credentials (requests "
                "without credentials excluded).",
                static_cast<double>(s.auth->failures()));
      f.counter("gort_debug_auth_throttled_total",
                "Requests to /debug/* and /gc refused with 429 because their client had too many failed "
                "--debug-auth attempts (--debug-auth-max-failures).",
                static_cast<double>(s.auth->throttled()));
    }
    if (s.slow_requests) {
      f.counter("gort_slow_requests_total", "Requests slower than --slow-request (outside /debug/).",
                static_cast<double>(s.slow_requests->slow()));
      f.counter("gort_slow_request_snapshots_total",
                "Flight recorder snapshots asked for by slow requests (at most one per window).",
                static_cast<double>(s.slow_requests->taken()));
      f.counter("gort_slow_request_snapshots_saved_total", "Flight recorder snapshots saved into --profile-dir.",
                static_cast<double>(s.slow_requests->saved()));
    }
  });
  s.main_ctx = {&s.main_router, &s.metrics, &s.tracker, s.auth.get(), s.opts.limits, s.observers};
  s.debug_ctx = {&s.debug_router, &s.metrics, &s.tracker, s.auth.get(), s.opts.limits, s.observers};

  for (size_t i = 0; i < endpoints.size(); i++) {
    std::string err;
    auto l = Listener::open(endpoints[i], i == 0 ? s.main_ctx : s.debug_ctx, &err);
    if (!l) {
      std::fprintf(stderr, "gortd: %s\n", err.c_str());
      for (auto& opened : s.listeners) opened->stop();
      return 1;
    }
    s.listeners.push_back(std::move(l));
  }
  for (size_t i = 0; i < s.listeners.size(); i++) {
    auto ep = s.listeners[i]->local_endpoint();
    std::string where = ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
    if (i == 0)
      std::fprintf(stderr, "gortd listening on %s:%u (version %s, GOMAXPROCS=%d)\n", where.c_str(), ep.port(),
                   kServiceVersion, gort::gomaxprocs());
    else
      std::fprintf(stderr, "gortd debug listening on %s:%u\n", where.c_str(), ep.port());
  }
  // Before the first accept: the warning precedes any reply in the log.
  warn_if_debug_exposed(s.listeners[separate_debug ? 1 : 0]->local_endpoint(), s.auth != nullptr);
  for (auto& l : s.listeners) l->start();
  s.start_reaper();
  s.start_stats_printer();

  int signo = 0;
  gort::await_io([&](gort::IoWaker wake) {
    signals.async_wait([&signo, wake](const boost::system::error_code& ec, int n) {
      signo = ec ? 0 : n;
      wake();
    });
  });

  // Graceful shutdown: no new connections, idle ones closed, busy ones
  // finish their request (bounded by --shutdown-timeout).
  int64_t deadline = gort::nanotime() + s.opts.shutdown_timeout_ns;
  std::fprintf(stderr, "gortd: %s: shutting down, %lld connection(s) open\n", signo == SIGINT ? "SIGINT" : "SIGTERM",
               static_cast<long long>(s.tracker.open()));
  for (auto& l : s.listeners) l->stop();
  s.tracker.drain();
  while (s.tracker.open() > 0 && gort::nanotime() < deadline) gort::sleep_ms(kDrainPollMs);
  s.stopping.store(true);
  // Acceptors were woken by stop(); their sockets belong to the runtime's
  // io_context, so they must be gone before run_main tears it down.
  for (auto& l : s.listeners) {
    int64_t give_up = gort::nanotime() + kAcceptorExitWaitNs;
    while (!l->exited() && gort::nanotime() < give_up) gort::sleep_ms(kDrainPollMs);
    if (!l->exited()) (void)l.release();  // still parked: never destroy under it
  }
  s.listeners.clear();
  if (s.recorder) s.recorder->stop();
  s.abandoned = s.tracker.open();
  // Every request has been answered and queued its access log line; write
  // them out before the process exits, which would end the log's writer
  // thread with lines still queued. (With connections abandoned the log
  // stays open: they may still log.)
  if (s.access_log && s.abandoned == 0) s.access_log->close();
  if (s.hup) {
    boost::system::error_code ignored;
    s.hup->cancel(ignored);  // the SIGHUP goroutine wakes and returns
    int64_t give_up = gort::nanotime() + kAcceptorExitWaitNs;
    while (!s.hup_exited.load() && gort::nanotime() < give_up) gort::sleep_ms(kDrainPollMs);
  }
  if (s.abandoned > 0)
    std::fprintf(stderr, "gortd: shutdown timeout: abandoning %lld connection(s)\n",
                 static_cast<long long>(s.abandoned));
  else
    std::fprintf(stderr, "gortd: shutdown complete\n");
  return 0;
}

}  // namespace gortd
