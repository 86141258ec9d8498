// sched_test.cpp — scheduler basics: spawn, yield, sleep, ids, GOMAXPROCS,
// stealing, preemption, stop-the-world, blocking sections, shutdown.
#define BOOST_TEST_MODULE sched_test
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <vector>

#include "runtime/gort.h"

using namespace gort;

BOOST_AUTO_TEST_CASE(spawn_and_join_via_spin) {
  std::atomic<int> n{0};
  run_main([&] {
    for (int i = 0; i < 1000; i++) go([&] { n.fetch_add(1); });
    while (n.load() < 1000) yield();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(n.load() == 1000);
}

BOOST_AUTO_TEST_CASE(sleep_wakes) {
  int64_t slept = 0;
  run_main([&] {
    int64_t t0 = nanotime();
    sleep_ms(20);
    slept = nanotime() - t0;
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(slept >= 20'000'000);
}
