// netpoll_bench.cpp — the Asio netpoller under many connections, and how
// late an Asio timer wakes its goroutine. The tests check that these work
// (every reader parks in "IO wait", a timer never fires early); this is
// where their speed is measured.
//
//   BM_AcceptAndPark/procs:P/conns:N  one iteration: the main goroutine opens
//                    N loopback connections to a listener whose acceptor
//                    goroutine starts one reader goroutine per connection;
//                    each reader blocks in a 4-byte read. Timed from the
//                    first connect until the last reader is about to park
//                    (manual time); then, untimed, check that all N are
//                    parked in IO wait, close the clients and wait until
//                    every reader has left. Counter ns_per_conn. The former
//                    netpoll_test claim: 500 connections within 20 ms.
//   BM_AsioTimerLateness/procs:P  one iteration: an asio::steady_timer of
//                    1 ms awaited with await_io. Counters lateness_p50_ns,
//                    lateness_p99_ns, lateness_max_ns (wake-up minus 1 ms).
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

#include "bench/micro/harness.h"
#include "runtime/chan.h"
#include "runtime/netpoll.h"

namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// accept_and_park_round runs one timed round with n connections on acc;
// returns the nanoseconds from the first connect to the last reader's park,
// or -1 if a connect failed (the round's goroutines are then left parked).
double accept_and_park_round(tcp::acceptor& acc, int64_t n) {
  const tcp::endpoint ep = acc.local_endpoint();
  gort::Chan<int> all_parking(1), all_left(1);  // buffered: the signal never blocks
  std::atomic<int64_t> parking{0}, left{0};
  gort::go([&, n] {
    for (int64_t i = 0; i < n; i++) {
      auto s = std::make_shared<tcp::socket>(gort::io_context());
      error_code ec;
      gort::await_io([&](gort::IoWaker wake) {
        acc.async_accept(*s, [&ec, wake](error_code e) {
          ec = e;
          wake();
        });
      });
      gort::go([&, s, n] {
        uint32_t v = 0;
        error_code rec;
        if (parking.fetch_add(1) + 1 == n) all_parking.send(0);
        gort::await_io([&](gort::IoWaker wake) {
          asio::async_read(*s, asio::buffer(&v, sizeof v), [&rec, wake](error_code e, size_t) {
            rec = e;
            wake();
          });
        });
        if (left.fetch_add(1) + 1 == n) all_left.send(0);
      });
    }
  });
  std::vector<std::unique_ptr<tcp::socket>> clients;
  auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; i++) {
    clients.push_back(std::make_unique<tcp::socket>(gort::io_context()));
    error_code ec;
    gort::await_io([&](gort::IoWaker wake) {
      clients.back()->async_connect(ep, [&ec, wake](error_code e) {
        ec = e;
        wake();
      });
    });
    if (ec) return -1;
  }
  all_parking.recv();
  auto t1 = std::chrono::steady_clock::now();
  while (gort_bench::count_parked(gort::WaitReason::IOWait) < n) gort::yield();  // the last few may still be on their way
  clients.clear();  // EOF for every reader
  all_left.recv();
  return std::chrono::duration<double, std::nano>(t1 - t0).count();
}

void BM_AcceptAndPark(benchmark::State& state) {
  const int64_t n = state.range(1);
  double sum_ns = 0;
  gort_bench::run_on_runtime(state, [&] {
    tcp::acceptor acc(gort::io_context(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acc.listen(4096);
    for (auto _ : state) {
      double ns = accept_and_park_round(acc, n);
      if (ns < 0) {
        state.SkipWithError("connect failed");
        break;
      }
      state.SetIterationTime(ns * 1e-9);
      sum_ns += ns;
    }
  });
  state.counters["ns_per_conn"] =
      benchmark::Counter(sum_ns / static_cast<double>(n), benchmark::Counter::kAvgIterations);
}

void BM_AsioTimerLateness(benchmark::State& state) {
  constexpr int64_t kTimerNs = 1'000'000;
  std::vector<int64_t> late;
  gort_bench::run_on_runtime(state, [&] {
    asio::steady_timer t(gort::io_context());
    for (auto _ : state) {
      int64_t t0 = gort::nanotime();
      t.expires_after(std::chrono::nanoseconds(kTimerNs));
      gort::await_io([&](gort::IoWaker wake) { t.async_wait([wake](error_code) { wake(); }); });
      late.push_back(gort::nanotime() - t0 - kTimerNs);
    }
  });
  gort_bench::report_lateness(state, late);
}

}  // namespace

BENCHMARK(BM_AcceptAndPark)
    ->ArgNames({"procs", "conns"})
    ->Args({1, 500})
    ->Args({2, 500})
    ->Iterations(20)  // 10,000 connections per run: bounded TIME_WAIT ports
    ->UseManualTime()
    ->MeasureProcessCPUTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_AsioTimerLateness)
    ->Apply(gort_bench::procs_1_2)
    ->Iterations(200)
    ->Unit(benchmark::kMicrosecond);
