// netpoll_test.cpp — the Asio netpoller: a TCP echo over loopback between two
// goroutines, many concurrent connections parked in "IO wait" without a
// thread each, and Asio timers waking goroutines.
//
// How fast connections are accepted and parked, and how late a timer wakes
// its goroutine, is measured in bench/micro/netpoll_bench.cpp.
#define BOOST_TEST_MODULE netpoll_test
#include <boost/test/unit_test.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <atomic>
#include <string>

#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/netpoll.h"
#include "runtime/observer.h"
#include "tests/runtime/test_util.h"

using namespace gort;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

namespace {

// Blocking-style helpers over await_io, as the service writes them.
void accept(tcp::acceptor& a, tcp::socket& s, error_code& ec) {
  await_io([&](IoWaker wake) {
    a.async_accept(s, [&, wake](error_code e) {
      ec = e;
      wake();
    });
  });
}

size_t read_exactly(tcp::socket& s, void* buf, size_t n, error_code& ec) {
  size_t got = 0;
  await_io([&](IoWaker wake) {
    asio::async_read(s, asio::buffer(buf, n), [&, wake](error_code e, size_t k) {
      ec = e;
      got = k;
      wake();
    });
  });
  return got;
}

size_t write_all(tcp::socket& s, const void* buf, size_t n, error_code& ec) {
  size_t put = 0;
  await_io([&](IoWaker wake) {
    asio::async_write(s, asio::buffer(buf, n), [&, wake](error_code e, size_t k) {
      ec = e;
      put = k;
      wake();
    });
  });
  return put;
}

void connect(tcp::socket& s, const tcp::endpoint& ep, error_code& ec) {
  await_io([&](IoWaker wake) {
    s.async_connect(ep, [&, wake](error_code e) {
      ec = e;
      wake();
    });
  });
}

}  // namespace

BOOST_AUTO_TEST_CASE(tcp_echo_between_two_goroutines) {
  std::string echoed;
  bool accepted = false;  // checked after the run: Boost.Test is not thread-safe
  run_main([&] {
    tcp::acceptor acc(io_context(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    auto ep = acc.local_endpoint();
    Chan<int> server_done;
    go([&] {
      tcp::socket s(io_context());
      error_code ec;
      accept(acc, s, ec);
      accepted = !ec;
      char buf[5];
      for (;;) {
        read_exactly(s, buf, sizeof buf, ec);
        if (ec) break;
        write_all(s, buf, sizeof buf, ec);
        if (ec) break;
      }
      server_done.send(1);
    });
    tcp::socket c(io_context());
    error_code ec;
    connect(c, ep, ec);
    BOOST_REQUIRE(!ec);
    for (int i = 0; i < 100; i++) {
      char msg[6];
      snprintf(msg, sizeof msg, "m%04d", i);
      write_all(c, msg, 5, ec);
      char back[6] = {};
      read_exactly(c, back, 5, ec);
      BOOST_REQUIRE(!ec);
      if (i == 99) echoed.assign(back, 5);
    }
    c.close();
    server_done.recv();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(accepted);
  BOOST_TEST(echoed == "m0099");
}

BOOST_AUTO_TEST_CASE(many_connections_parked_in_io_wait_without_threads) {
  constexpr int kConns = 500;
  int io_waiting = 0;
  int64_t threads = 0;
  long total = 0;
  run_main([&] {
    tcp::acceptor acc(io_context(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    acc.listen(1024);
    auto ep = acc.local_endpoint();
    Chan<long> sums(kConns);
    std::atomic<bool> accepted_all{false};
    go([&] {
      for (int i = 0; i < kConns; i++) {
        auto* s = new tcp::socket(io_context());
        error_code ec;
        accept(acc, *s, ec);
        go([s, &sums] {
          error_code ec2;
          uint32_t v = 0;
          read_exactly(*s, &v, sizeof v, ec2);  // parks until the client writes
          sums.send(ec2 ? -1 : long(v));
          delete s;
        });
      }
      accepted_all = true;
    });
    std::vector<std::unique_ptr<tcp::socket>> clients;
    for (int i = 0; i < kConns; i++) {
      clients.push_back(std::make_unique<tcp::socket>(io_context()));
      error_code ec;
      connect(*clients.back(), ep, ec);
      BOOST_REQUIRE(!ec);
    }
    // Every connection's reader parks in IO wait. The acceptor, the only
    // other goroutine that waits for I/O, must have left its loop first: while
    // it waits for the last connection it is counted in place of the last
    // reader.
    gort_test::wait_until([&] { return accepted_all.load() && gort_test::count_parked(WaitReason::IOWait) == kConns; },
                          "every connection's reader is parked in IO wait");
    io_waiting = static_cast<int>(gort_test::count_parked(WaitReason::IOWait));
    threads = sched_stats().threads;
    for (int i = 0; i < kConns; i++) {
      uint32_t v = static_cast<uint32_t>(i);
      error_code ec;
      write_all(*clients[static_cast<size_t>(i)], &v, sizeof v, ec);
    }
    for (int i = 0; i < kConns; i++) total += sums.recv();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(io_waiting == kConns);
  BOOST_TEST_MESSAGE("Ms created: " << threads);
  // A few Ms — M0, one per P, and spares started while another M was on its
  // way to the idle list (typically 3 in all) — never one per connection.
  BOOST_TEST(threads <= 8);
  BOOST_TEST(total == long(kConns) * (kConns - 1) / 2);
}

BOOST_AUTO_TEST_CASE(asio_timer_wakes_goroutine) {
  // The timer's expiry wakes the parked goroutine, and not earlier.
  int64_t elapsed = 0;
  error_code wait_ec = asio::error::would_block;
  run_main([&] {
    asio::steady_timer t(io_context());
    int64_t t0 = nanotime();  // before arming: the expiry is at least 15 ms after it
    t.expires_after(std::chrono::milliseconds(15));
    await_io([&](IoWaker wake) {
      t.async_wait([&, wake](error_code ec) {
        wait_ec = ec;
        wake();
      });
    });
    elapsed = nanotime() - t0;
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(!wait_ec);
  BOOST_TEST(elapsed >= 15'000'000);
}
