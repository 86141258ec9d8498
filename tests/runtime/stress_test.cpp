// stress_test.cpp — many goroutines and random interleavings: 100k
// goroutines alive at once, 1M parked goroutines, random channel graphs,
// and spawn storms across GOMAXPROCS settings.
#define BOOST_TEST_MODULE stress_test
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <memory>
#include <random>
#include <vector>

#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/select.h"
#include "tests/runtime/test_util.h"

using namespace gort;
using gort_test::count_parked;
using gort_test::wait_until;

// Under TSan every live goroutine is a TSan fiber with its own shadow call
// stack (two mappings each): 100k of them exceed vm.max_map_count's default
// (65530), so the TSan build checks the same behaviour with 10k.
constexpr int kManyAlive = GORT_TSAN ? 10'000 : 100'000;

BOOST_AUTO_TEST_CASE(hundred_thousand_goroutines_alive) {
  constexpr int kN = kManyAlive;
  int64_t peak = 0;
  long sum = 0;
  run_main([&] {
    Chan<int> gate;
    Chan<long> out(1024);
    for (int i = 0; i < kN; i++)
      go([&, i] {
        gate.recv_ok();  // park until close
        out.send(i);
      });
    // Alive at once: all of them parked on the gate together.
    wait_until([&] { return count_parked(WaitReason::ChanReceive) == kN; }, "every goroutine waits at the gate");
    peak = num_goroutine();
    gate.close();
    for (int i = 0; i < kN; i++) sum += out.recv();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(peak == kN + 1);
  BOOST_TEST(sum == long(kN) * (kN - 1) / 2);
}

#if !GORT_ASAN && !GORT_TSAN  // the sanitizers' per-stack shadow makes 1M stacks a memory test of them
BOOST_AUTO_TEST_CASE(one_million_parked_goroutines) {
  // 1M goroutines parked on one channel at the same time, then released.
  constexpr int kN = 1'000'000;
  std::atomic<int> parked{0}, finished{0};
  int64_t parked_at_once = 0;
  run_main([&] {
    Chan<int> gate;
    for (int i = 0; i < kN; i++)
      go([&] {
        parked.fetch_add(1, std::memory_order_relaxed);
        gate.recv_ok();
        finished.fetch_add(1, std::memory_order_relaxed);
      });
    wait_until([&] { return parked.load() == kN; }, "every goroutine has started");
    wait_until([&] { return count_parked(WaitReason::ChanReceive) == kN; }, "every goroutine waits at the gate");
    parked_at_once = count_parked(WaitReason::ChanReceive);
    gate.close();
    wait_until([&] { return finished.load() == kN; }, "every goroutine has finished");
  }, Config{.gomaxprocs = 2, .stack_bytes = 64 * 1024});
  BOOST_TEST(parked_at_once == kN);
  BOOST_TEST(finished.load() == kN);
}
#endif

BOOST_AUTO_TEST_CASE(random_channel_graph) {
  // Random producers/consumers/selectors over a random set of channels;
  // every token sent is received exactly once.
  for (int procs : {1, 2, 4}) {
    std::atomic<long> sent{0}, received{0};
    run_main([&] {
      std::mt19937 rng(42 + procs);
      constexpr int kChans = 16, kWorkers = 64, kMsgs = 500;
      std::vector<std::unique_ptr<Chan<long>>> chans;
      for (int i = 0; i < kChans; i++) chans.push_back(std::make_unique<Chan<long>>(rng() % 3 == 0 ? 0 : rng() % 8));
      Chan<int> done(2 * kWorkers);
      Chan<int> quit;
      std::atomic<long> received_n{0};
      for (int w = 0; w < kWorkers; w++) {
        int a = static_cast<int>(rng() % kChans), b = static_cast<int>(rng() % kChans);
        go([&, a, w] {
          for (int m = 0; m < kMsgs; m++) {
            long v = long(w) * kMsgs + m + 1;
            chans[static_cast<size_t>(a)]->send(v);
            sent += v;
          }
          done.send(1);
        });
        go([&, a, b] {
          // Drain either of two channels until every token has been
          // received (quit closes); a random pair may never see more tokens.
          for (;;) {
            long v = 0;
            bool ok = false;
            int i = select(on_recv(*chans[static_cast<size_t>(a)], &v), on_recv(*chans[static_cast<size_t>(b)], &v),
                           on_recv(quit, static_cast<int*>(nullptr), &ok));
            if (i == 2) break;
            received += v;
            if (received_n.fetch_add(1) + 1 == long(kWorkers) * kMsgs) quit.close();
          }
          done.send(1);
        });
      }
      for (int i = 0; i < 2 * kWorkers; i++) done.recv();
    }, Config{.gomaxprocs = procs});
    BOOST_TEST(sent.load() == received.load());
  }
}

// 3^9 = 19,683 leaves, alive at once at worst: too many TSan fibers (see
// kManyAlive), so the TSan build grows 3^7.
constexpr int kTreeDepth = GORT_TSAN ? 7 : 9;

BOOST_AUTO_TEST_CASE(spawn_storm_nested) {
  // Goroutines spawning goroutines, a tree of 3^9 leaves.
  std::atomic<long> leaves{0};
  run_main([&] {
    struct Tree {
      static void grow(int depth, std::atomic<long>& leaves, Chan<int>& done) {
        if (depth == 0) {
          leaves++;
          done.send(1);
          return;
        }
        Chan<int> sub(3);
        for (int i = 0; i < 3; i++) go([&, depth] { grow(depth - 1, leaves, sub); });
        for (int i = 0; i < 3; i++) sub.recv();
        done.send(1);
      }
    };
    Chan<int> done(1);
    Tree::grow(kTreeDepth, leaves, done);
  }, Config{.gomaxprocs = 2});
  long want = 1;
  for (int i = 0; i < kTreeDepth; i++) want *= 3;
  BOOST_TEST(leaves.load() == want);
}

#if !GORT_ASAN && !GORT_TSAN  // 200k goroutines at once; RSS means little under a sanitizer
namespace {
long rss_bytes() {
  long pages = 0, resident = 0;
  FILE* f = fopen("/proc/self/statm", "r");
  if (f) {
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    fclose(f);
  }
  return resident * 4096;
}
}  // namespace

BOOST_AUTO_TEST_CASE(burst_stacks_are_given_back) {
  // 200k goroutines park (each touching ~24 KiB of stack), then exit: the
  // idle Gs beyond the warm pool must give their stack pages back once the
  // burst is over (sysmon's scavenger looks about once a second).
  long base = 0, peak = 0, after = 0;
  run_main([&] {
    base = rss_bytes();
    constexpr int kN = 200000;
    std::atomic<int> parked{0}, done{0};
    Chan<int> gate;
    for (int i = 0; i < kN; i++)
      go([&] {
        volatile char frame[24 * 1024];
        frame[0] = 1;
        parked++;
        gate.recv_ok();
        done += frame[0];
      });
    wait_until([&] { return parked.load() == kN; }, "every goroutine has touched its frame");
    peak = rss_bytes();
    gate.close();
    wait_until([&] { return done.load() == kN; }, "every goroutine has finished");
    // sysmon's scavenger trims the idle surplus about once a second once
    // nobody draws on the free list.
    wait_until([&] {
      after = rss_bytes();
      return after - base < (peak - base) / 4;
    }, "the idle stacks' pages are given back");
  }, Config{.gomaxprocs = 2});
  BOOST_TEST_MESSAGE("rss base " << base / 1048576 << " MiB, peak " << peak / 1048576 << " MiB, after " << after / 1048576 << " MiB");
  BOOST_TEST(peak - base > 200000L * 24 * 1024 / 2);
  BOOST_TEST(after - base < (peak - base) / 4);
}
#endif
