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
#include "profilers/heap_profile.h"
#include "runtime/gort.h"
#include "runtime/netpoll.h"
#include "service/auth.h"
#include "service/conn_tracker.h"
#include "service/demos.h"
#include "service/gc_control.h"
#include "service/gc_metrics.h"
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
  int64_t abandoned = 0;  // connections still busy when shutdown gave up (set once by run)

  void build_routes(bool separate_debug);
  void start_reaper();
  void start_stats_printer();
};

void Server::State::build_routes(bool separate_debug) {
  Router& dbg = separate_debug ? debug_router : main_router;
  add_workload_routes(main_router);
  add_demo_routes(main_router, demos);
  add_metrics_route(main_router, exporter);
  add_gc_route(dbg);
  add_debug_routes(dbg, debug_info);
  std::string note;
  if (separate_debug) note = "/gc and /debug/* are served on the debug listener (" + opts.debug_addr + ")";
  if (!opts.debug_auth.empty())
    note += std::string(note.empty() ? "" : "; ") + "/gc and /debug/* require basic auth";
  add_index_route(main_router, note);
  if (separate_debug) add_index_route(debug_router, "");
  for (Router* r : {&main_router, &debug_router})
    for (Route& rt : r->routes()) rt.metric_path = metrics.path_id(rt.pattern);
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
  if (!s.opts.debug_auth.empty()) s.auth = std::make_unique<BasicAuth>(s.opts.debug_auth);
  s.debug_info.cmdline = s.opts.cmdline;
  s.debug_info.tracker = &s.tracker;
  s.debug_info.metrics = &s.metrics;
  s.build_routes(separate_debug);
  s.exporter.add_collectable(s.registry);
  s.exporter.add_source(collect_go_metrics);
  s.exporter.add_source(collect_process_metrics);
  s.exporter.add_source(collect_sched_metrics);
  s.exporter.add_source(collect_gc_metrics);
  s.exporter.add_source([&s](Families& f) {
    f.gauge("gort_http_open_connections", "Open HTTP connections (admitted; refusals excluded).",
            static_cast<double>(s.tracker.open()));
  });
  s.main_ctx = {&s.main_router, &s.metrics, &s.tracker, s.auth.get(), s.opts.limits};
  s.debug_ctx = {&s.debug_router, &s.metrics, &s.tracker, s.auth.get(), s.opts.limits};

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
    s.listeners[i]->start();
  }
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
  s.abandoned = s.tracker.open();
  if (s.abandoned > 0)
    std::fprintf(stderr, "gortd: shutdown timeout: abandoning %lld connection(s)\n",
                 static_cast<long long>(s.abandoned));
  else
    std::fprintf(stderr, "gortd: shutdown complete\n");
  return 0;
}

}  // namespace gortd
