// chan_test.cpp — channel and select semantics (Go's chan_test.go in spirit):
// unbuffered rendezvous, buffering, close, receive-ok, range, select with
// default, select fairness, many-goroutine stress and pipelines.
#define BOOST_TEST_MODULE chan_test
#include <boost/test/unit_test.hpp>

#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/select.h"
#include "tests/runtime/test_util.h"

using namespace gort;
using gort_test::wait_all_parked;
using gort_test::wait_parked;

BOOST_AUTO_TEST_CASE(unbuffered_rendezvous) {
  run_main([] {
    Chan<int> c;
    go([&] {
      for (int i = 0; i < 100; i++) c.send(i);
      c.close();
    });
    int sum = 0, n = 0;
    for (int v : c) {
      sum += v;
      n++;
    }
    BOOST_TEST(n == 100);
    BOOST_TEST(sum == 4950);
    auto r = c.recv_ok();
    BOOST_TEST(!r.has_value());
    BOOST_TEST(c.recv() == 0);
  }, Config{.gomaxprocs = 2});
}

BOOST_AUTO_TEST_CASE(buffered_fifo_and_len) {
  run_main([] {
    Chan<std::string> c(3);
    c.send("a");
    c.send("b");
    c.send("c");
    BOOST_TEST(c.len() == 3u);
    BOOST_TEST(!c.try_send("d"));
    BOOST_TEST(c.recv() == "a");
    BOOST_TEST(c.try_send("d"));
    c.close();
    std::string all;
    for (auto& s : c) all += s;
    BOOST_TEST(all == "bcd");
  }, Config{.gomaxprocs = 1});
}

BOOST_AUTO_TEST_CASE(move_only_elements) {
  run_main([] {
    Chan<std::unique_ptr<int>> c(1);
    go([&] { c.send(std::make_unique<int>(7)); c.send(std::make_unique<int>(8)); });
    auto a = c.recv();
    auto b = c.recv();
    BOOST_TEST(*a + *b == 15);
  }, Config{.gomaxprocs = 2});
}

BOOST_AUTO_TEST_CASE(close_wakes_all_receivers) {
  run_main([] {
    Chan<int> c;
    Chan<bool> done(100);
    std::vector<int64_t> ids;
    for (int i = 0; i < 100; i++) ids.push_back(go([&] { done.send(c.recv_ok().has_value()); }));
    wait_all_parked(ids, WaitReason::ChanReceive);  // close must wake parked receivers
    c.close();
    int got_value = 0;
    for (int i = 0; i < 100; i++) got_value += done.recv() ? 1 : 0;
    BOOST_TEST(got_value == 0);
  }, Config{.gomaxprocs = 2});
}

BOOST_AUTO_TEST_CASE(try_recv_and_select_default) {
  run_main([] {
    Chan<int> a, b(1);
    int v = -1;
    BOOST_TEST(select_default(on_recv(a, &v), on_recv(b, &v)) == -1);
    BOOST_TEST(!a.try_recv().has_value());
    b.send(5);
    BOOST_TEST(select_default(on_recv(a, &v), on_recv(b, &v)) == 1);
    BOOST_TEST(v == 5);
    BOOST_TEST(select_default(on_send(b, 6)) == 0);
    BOOST_TEST(select_default(on_send(b, 7)) == -1);
  }, Config{.gomaxprocs = 1});
}

BOOST_AUTO_TEST_CASE(select_blocks_until_ready_and_reports_closed) {
  run_main([] {
    Chan<int> a, b;
    const int64_t main_id = goid();
    // Each event happens only once main is parked in the select, so both
    // selects really block and are woken by the other side.
    go([&] {
      wait_parked(main_id, WaitReason::Select);
      b.send(9);
      wait_parked(main_id, WaitReason::Select);
      a.close();
    });
    int v = 0;
    bool ok = false;
    int i = select(on_recv(a, &v, &ok), on_recv(b, &v, &ok));
    BOOST_TEST(i == 1);
    BOOST_TEST(v == 9);
    BOOST_TEST(ok);
    i = select(on_recv(a, &v, &ok), on_recv(b, &v, &ok));
    BOOST_TEST(i == 0);
    BOOST_TEST(!ok);
    BOOST_TEST(v == 0);
  }, Config{.gomaxprocs = 2});
}

BOOST_AUTO_TEST_CASE(select_relay_send_and_recv_cases) {
  // A relay selects between receiving the next input and sending its oldest
  // buffered item: every value must come out exactly once, in order.
  constexpr int kN = 20000;
  long sum = 0;
  bool in_order = true;
  run_main([&] {
    Chan<int> in, out;
    go([&] {
      for (int i = 0; i < kN; i++) in.send(i);
      in.close();
    });
    go([&] {
      std::deque<int> q;
      bool open = true;
      while (open || !q.empty()) {
        int v = 0;
        bool ok = false;
        if (q.empty()) {
          v = 0;
          ok = false;
          if (select(on_recv(in, &v, &ok)) == 0 && ok) q.push_back(v); else open = false;
        } else if (!open) {
          out.send(q.front());
          q.pop_front();
        } else {
          int i = select(on_recv(in, &v, &ok), on_send(out, q.front()));
          if (i == 0) {
            if (ok) q.push_back(v); else open = false;
          } else {
            q.pop_front();
          }
        }
      }
      out.close();
    });
    int expect = 0;
    for (int v : out) {
      if (v != expect) in_order = false;
      expect++;
      sum += v;
    }
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(in_order);
  BOOST_TEST(sum == long(kN) * (kN - 1) / 2);
}

BOOST_AUTO_TEST_CASE(select_fairness_uniform) {
  // Three always-ready buffered channels: counts must be within a few % of uniform.
  std::array<int, 3> counts{};
  run_main([&] {
    Chan<int> a(1), b(1), c(1);
    constexpr int kRounds = 30000;
    for (int r = 0; r < kRounds; r++) {
      a.try_send(1);
      b.try_send(1);
      c.try_send(1);
      int i = select(on_recv(a), on_recv(b), on_recv(c));
      counts[static_cast<size_t>(i)]++;
    }
  }, Config{.gomaxprocs = 1});
  for (int k : counts) {
    BOOST_TEST(k > 10000 * 0.95);
    BOOST_TEST(k < 10000 * 1.05);
  }
}

BOOST_AUTO_TEST_CASE(ten_million_channel_ops_across_ps) {
  // 8 producers x 8 consumers over one buffered and one unbuffered channel;
  // 10M operations total (5M sends + 5M receives).
  long total = 0;
  run_main([&] {
    constexpr int kProducers = 8, kPer = 625000;
    Chan<int> buffered(64), unbuffered;
    Chan<long> sums(16);
    for (int p = 0; p < kProducers; p++) {
      go([&, p] {
        Chan<int>& c = (p % 2) ? buffered : unbuffered;
        for (int i = 0; i < kPer; i++) c.send(1);
      });
    }
    for (int k = 0; k < kProducers; k++) {
      go([&, k] {
        Chan<int>& c = (k % 2) ? buffered : unbuffered;
        long s = 0;
        for (int i = 0; i < kPer; i++) s += c.recv();
        sums.send(s);
      });
    }
    for (int k = 0; k < kProducers; k++) total += sums.recv();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(total == 8L * 625000);
}

BOOST_AUTO_TEST_CASE(pipeline_of_stages) {
  long result = 0;
  run_main([&] {
    constexpr int kStages = 50, kItems = 2000;
    std::vector<std::unique_ptr<Chan<long>>> chans;
    for (int i = 0; i <= kStages; i++) chans.push_back(std::make_unique<Chan<long>>(i % 3));
    for (int s = 0; s < kStages; s++) {
      go([&, s] {
        for (long v : *chans[s]) chans[s + 1]->send(v + 1);
        chans[s + 1]->close();
      });
    }
    go([&] {
      for (int i = 0; i < kItems; i++) chans[0]->send(i);
      chans[0]->close();
    });
    for (long v : *chans[kStages]) result += v;
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(result == 2000L * 1999 / 2 + 2000L * 50);
}

BOOST_AUTO_TEST_CASE(shutdown_with_parked_goroutines) {
  // main returns while goroutines are blocked on channels forever: run_main
  // must return cleanly, and the runtime must be reusable afterwards.
  std::vector<std::unique_ptr<Chan<int>>> keep;  // outlive their abandoned waiters
  for (int round = 0; round < 3; round++) {
    keep.push_back(std::make_unique<Chan<int>>());
    Chan<int>* c = keep.back().get();
    int64_t live = 0;
    run_main([&] {
      std::vector<int64_t> ids;
      for (int i = 0; i < 1000; i++) ids.push_back(go([c] { c->recv(); }));
      wait_all_parked(ids, WaitReason::ChanReceive);
      live = num_goroutine();
    }, Config{.gomaxprocs = 2});
    BOOST_TEST(live == 1001);
  }
}
