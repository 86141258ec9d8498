// switch_test.cpp — context switches under the conditions that decide
// between the direct G-to-G hand-off and the trip through g0: channel
// ping-pong (the direct path) with exact results, a ping-pong pair sharing
// one time slice and still preempted, due timers and stop-the-world
// interrupting a hand-off chain, shutdown while a chain runs, and the
// scheduler's context-switch counter.
#define BOOST_TEST_MODULE switch_test
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdint>

#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/stw.h"
#include "runtime/sync.h"
#include "tests/runtime/test_util.h"

using namespace gort;
using gort_test::wait_until;

namespace {

// ping_pong runs n round trips between two goroutines over unbuffered
// channels and returns the sum the receiver saw; *back gets the sum of the
// replies. (No assertions here: it runs on goroutines of several threads,
// and Boost.Test is not thread-safe.)
int64_t ping_pong(int64_t n, int64_t* back) {
  Chan<int64_t> ping, pong;
  int64_t sum = 0;
  WaitGroup wg;
  wg.add(1);
  go([&] {
    for (int64_t i = 0; i < n; i++) {
      int64_t v = ping.recv();
      sum += v;
      pong.send(v + 1);
    }
    wg.done();
  });
  int64_t expect_back = 0;
  for (int64_t i = 0; i < n; i++) {
    ping.send(i);
    expect_back += pong.recv();
  }
  wg.wait();
  *back = expect_back;
  return sum;
}

// Pair is two goroutines handing a token back and forth until stop():
// the direct hand-off in a loop. rounds counts round trips. Start it on a
// goroutine; stop() waits for both to exit.
class Pair final {
 public:
  Pair() {
    done_.add(2);
    go([this] {
      while (!stop_.load()) {
        a_.send(1);
        b_.recv();
        rounds.fetch_add(1, std::memory_order_relaxed);
      }
      a_.send(0);
      done_.done();
    });
    go([this] {
      while (a_.recv() != 0) b_.send(1);
      done_.done();
    });
  }
  void stop() {
    stop_ = true;
    done_.wait();
  }
  std::atomic<int64_t> rounds{0};

 private:
  Chan<int> a_, b_;
  std::atomic<bool> stop_{false};
  WaitGroup done_;
};

}  // namespace

BOOST_AUTO_TEST_CASE(ping_pong_delivers_every_value_in_order) {
  for (int procs : {1, 2}) {
    int64_t sum = 0, back = 0;
    run_main([&] { sum = ping_pong(200'000, &back); }, Config{.gomaxprocs = procs});
    BOOST_TEST(sum == int64_t{200'000} * 199'999 / 2, "procs " << procs);
    BOOST_TEST(back == int64_t{200'000} * 199'999 / 2 + 200'000, "procs " << procs);
  }
}

BOOST_AUTO_TEST_CASE(many_pairs_hand_off_concurrently) {
  // 64 pairs at once: runnext is contended by thieves while the owners
  // hand off directly.
  std::atomic<int64_t> total{0}, total_back{0};
  run_main([&] {
    WaitGroup wg;
    for (int k = 0; k < 64; k++) {
      wg.add(1);
      go([&] {
        int64_t back = 0;
        total += ping_pong(2'000, &back);
        total_back += back;
        wg.done();
      });
    }
    wg.wait();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(total.load() == 64 * (int64_t{2'000} * 1'999 / 2));
  BOOST_TEST(total_back.load() == 64 * (int64_t{2'000} * 1'999 / 2 + 2'000));
}

BOOST_AUTO_TEST_CASE(ping_pong_pair_shares_a_time_slice_and_is_preempted) {
  // GOMAXPROCS=1: a hand-off pair inherits one time slice, so without
  // preemption a third goroutine would never run. sysmon must preempt the
  // pair and the third goroutine must finish while the pair keeps going.
  std::atomic<bool> third_ran{false};
  SchedStats st;
  run_main([&] {
    Pair pair;
    go([&] { third_ran = true; });
    wait_until([&] { return third_ran.load(); }, "a third goroutine runs beside a ping-pong pair");
    st = sched_stats();
    pair.stop();
  }, Config{.gomaxprocs = 1});
  BOOST_TEST(third_ran.load());
  BOOST_TEST(st.preemptions > 0u);
}

BOOST_AUTO_TEST_CASE(timers_fire_during_a_hand_off_chain) {
  // GOMAXPROCS=1: sleepers on the same P wake while a pair hands off
  // directly (the direct path defers to due timers).
  std::atomic<int> woke{0};
  run_main([&] {
    for (int i = 0; i < 10; i++)
      go([&, i] {
        sleep_ms(1 + i);
        woke++;
      });
    Pair pair;
    wait_until([&] { return woke.load() == 10; }, "ten sleepers wake during the ping-pong");
    pair.stop();
  }, Config{.gomaxprocs = 1});
  BOOST_TEST(woke.load() == 10);
}

BOOST_AUTO_TEST_CASE(stop_the_world_interrupts_a_hand_off_chain) {
  int stops = 0;
  run_main([&] {
    Pair pair;
    std::atomic<int64_t>& rounds = pair.rounds;
    for (int i = 0; i < 20; i++) {
      int64_t before = rounds.load();
      wait_until([&] { return rounds.load() > before; }, "the pair makes progress");
      with_world_stopped("test", [&] {
        int64_t frozen = rounds.load();
        for (int k = 0; k < 1000; k++) cpu_relax();
        if (rounds.load() == frozen) stops++;
      });
    }
    pair.stop();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(stops == 20);
}

BOOST_AUTO_TEST_CASE(runtime_exits_while_a_chain_runs) {
  // main returns while two goroutines hand off forever: the runtime must
  // still shut down (the direct path defers to an exiting runtime). The
  // channels outlive the run: the discarded goroutines still point at them.
  static Chan<int> chans[2][2];
  for (int procs : {1, 2}) {
    run_main([procs] {
      Chan<int>* a = &chans[procs - 1][0];
      Chan<int>* b = &chans[procs - 1][1];
      go([=] {
        for (;;) {
          a->send(1);
          b->recv();
        }
      });
      go([=] {
        for (;;) {
          a->recv();
          b->send(1);
        }
      });
      yield();
    }, Config{.gomaxprocs = procs});
  }
  BOOST_TEST(true);  // reaching here is the assertion: run_main returned
}

BOOST_AUTO_TEST_CASE(context_switches_are_counted_once_per_switch) {
  // 1,000 round trips between main and a partner at GOMAXPROCS=1: every
  // receive parks, so each round trip switches in each goroutine once.
  SchedStats st;
  run_main([&] {
    Chan<int> ping, pong;
    go([&] {
      for (int i = 0; i < 1000; i++) pong.send(ping.recv());
    });
    SchedStats before = sched_stats();
    for (int i = 0; i < 1000; i++) {
      ping.send(i);
      pong.recv();
    }
    st = sched_stats();
    st.context_switches -= before.context_switches;
  }, Config{.gomaxprocs = 1});
  // Two switches per round trip, plus a handful for start-up and the end.
  BOOST_TEST(st.context_switches >= 2000u);
  BOOST_TEST(st.context_switches <= 2010u);
}
