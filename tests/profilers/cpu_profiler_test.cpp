// cpu_profiler_test.cpp — the SIGPROF sampler: samples land in the
// function that burns the CPU, carry the running goroutine's labels, a
// second profile is refused while one runs, and a 1000 Hz profile of
// goroutines that switch, park and migrate across Ps neither crashes nor
// corrupts anything (run under ASan and TSan in the suite's sanitizer
// builds). Stacks are checked with dladdr against the test's own function
// addresses, so this test does not depend on the DWARF symbolizer.
#define BOOST_TEST_MODULE cpu_profiler_test
#include <boost/test/unit_test.hpp>

#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "profilers/cpu_profiler.h"
#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/sync.h"
#include "tests/runtime/test_util.h"

using profilers::CpuProfiler;
using profilers::Profile;

namespace {

std::atomic<uint64_t> g_sink{0};

}  // namespace

// burn_cpu_for_profile spins on xorshift rounds until *stop, checking for
// preemption like gortd's /work loop. Exported (the test links with
// -rdynamic) so that dladdr names it.
__attribute__((noinline)) void burn_cpu_for_profile(const std::atomic<bool>* stop) {
  uint64_t x = 88172645463325252ull;
  while (!stop->load(std::memory_order_relaxed)) {
    for (int i = 0; i < 10000; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
    gort::preempt_check();
  }
  g_sink.fetch_add(x, std::memory_order_relaxed);
}

namespace {

// function_of returns the start address of the function containing the
// return address pc (symbolized at pc-1), or 0.
uintptr_t function_of(uintptr_t pc) {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(pc - 1), &info) == 0 || info.dli_saddr == nullptr) return 0;
  return reinterpret_cast<uintptr_t>(info.dli_saddr);
}

bool stack_has(const profilers::Sample& s, void (*fn)(const std::atomic<bool>*)) {
  auto want = reinterpret_cast<uintptr_t>(fn);
  for (uintptr_t pc : s.stack)
    if (function_of(pc) == want) return true;
  return false;
}

std::string label_of(const profilers::Sample& s, const std::string& key) {
  for (const auto& [k, v] : s.labels)
    if (k == key) return v;
  return "";
}

// profile_while runs work(stop) on `workers` goroutines with the given
// labels while a CPU profile at hz runs until `samples` samples were
// collected (or a generous deadline), and returns the profile.
Profile profile_while(int hz, int workers, int64_t want_samples) {
  Profile p;
  gort::run_main([&] {
    std::string why;
    auto prof = CpuProfiler::start(hz, &why);
    if (!prof) return;
    std::atomic<bool> stop{false};
    gort::WaitGroup wg;
    for (int i = 0; i < workers; i++) {
      wg.add(1);
      gort::go([&, i] {
        gort::set_labels({{"worker", i % 2 == 0 ? "even" : "odd"}});
        burn_cpu_for_profile(&stop);
        wg.done();
      });
    }
    int64_t deadline = gort::nanotime() + 60'000'000'000;
    int64_t period_ns = 1'000'000'000 / hz;
    for (;;) {
      gort::sleep_ms(50);
      prof->drain();
      Profile now = prof->snapshot();
      int64_t total = 0;
      for (const auto& s : now.samples) total += s.values[1] / period_ns;
      if (total >= want_samples || gort::nanotime() > deadline) break;
    }
    stop.store(true);
    wg.wait();
    p = prof->stop();
  });
  return p;
}

}  // namespace

BOOST_AUTO_TEST_CASE(samples_land_in_the_busy_function_with_labels) {
  Profile p = profile_while(500, 2, 200);
  BOOST_TEST_REQUIRE(p.sample_types.size() == 2u);
  BOOST_TEST(p.sample_types[0].type == "samples");
  BOOST_TEST(p.sample_types[0].unit == "count");
  BOOST_TEST(p.sample_types[1].type == "cpu");
  BOOST_TEST(p.sample_types[1].unit == "nanoseconds");
  BOOST_TEST(p.period_type.type == "cpu");
  BOOST_TEST(p.period == 2'000'000);
  BOOST_TEST(p.duration_nanos > 0);
  int64_t total = 0, in_burn = 0, even = 0, odd = 0;
  for (const auto& s : p.samples) {
    BOOST_TEST_REQUIRE(s.values.size() == 2u);
    BOOST_TEST(s.values[1] == s.values[0] * p.period);
    BOOST_TEST(!s.stack.empty());
    total += s.values[0];
    if (stack_has(s, &burn_cpu_for_profile)) {
      in_burn += s.values[0];
      std::string w = label_of(s, "worker");
      if (w == "even") even += s.values[0];
      if (w == "odd") odd += s.values[0];
    }
  }
  BOOST_TEST_MESSAGE("samples " << total << ", in burn_cpu_for_profile " << in_burn << " (even " << even
                                << ", odd " << odd << ")");
  BOOST_TEST(total >= 200);
  // Two goroutines burn the CPU for the whole profile; everything else is
  // the main goroutine's sleeps and the scheduler.
  BOOST_TEST(in_burn * 10 >= total * 8);
  // Every burning sample carries its goroutine's label.
  BOOST_TEST(even + odd == in_burn);
  BOOST_TEST(even > 0);
  BOOST_TEST(odd > 0);
}

BOOST_AUTO_TEST_CASE(a_second_profile_is_refused_while_one_runs) {
  bool first = false, second = false, third = false;
  std::string why;
  gort::run_main([&] {
    auto a = CpuProfiler::start(100, &why);
    first = a != nullptr;
    auto b = CpuProfiler::start(100, &why);
    second = b != nullptr;
    BOOST_TEST_REQUIRE(CpuProfiler::running());
    a->stop();
    auto c = CpuProfiler::start(100, &why);
    third = c != nullptr;
  });
  BOOST_TEST(first);
  BOOST_TEST(!second);
  BOOST_TEST(why == "cpu profiling already in use");
  BOOST_TEST(third);
  BOOST_TEST(!CpuProfiler::running());
  std::string bad;
  BOOST_TEST(CpuProfiler::start(0, &bad) == nullptr);
  BOOST_TEST(!bad.empty());
}

// A signal-heavy stress: 1000 Hz on every thread while goroutines switch
// (ping-pong over unbuffered channels), park (sleep), migrate (yield across
// Ps) and spawn. The sanitizer builds turn a bad read in the handler into a
// failure; here it must simply survive and collect samples.
BOOST_AUTO_TEST_CASE(signal_heavy_stress_while_goroutines_switch_park_and_migrate) {
  int64_t total = 0;
  gort::run_main([&] {
    std::string why;
    auto prof = CpuProfiler::start(1000, &why);
    BOOST_TEST_REQUIRE(prof != nullptr);
    std::atomic<bool> stop{false};
    gort::WaitGroup wg;
    for (int pair = 0; pair < 4; pair++) {
      auto ping = std::make_shared<gort::Chan<int>>(0);
      auto pong = std::make_shared<gort::Chan<int>>(0);
      wg.add(2);
      gort::go([&, ping, pong] {
        gort::set_labels({{"side", "ping"}});
        for (int i = 0; !stop.load(); i++) {
          ping->send(i);
          pong->recv();
        }
        ping->close();
        wg.done();
      });
      gort::go([&, ping, pong] {
        while (ping->recv_ok().has_value()) pong->send(0);
        wg.done();
      });
    }
    for (int i = 0; i < 4; i++) {
      wg.add(1);
      gort::go([&] {
        while (!stop.load()) {
          gort::WaitGroup inner;
          for (int k = 0; k < 8; k++) {
            inner.add(1);
            gort::go([&inner] {
              gort::yield();
              gort::sleep_for(std::chrono::microseconds(50));
              inner.done();
            });
          }
          inner.wait();
          gort::yield();
        }
        wg.done();
      });
    }
    int64_t deadline = gort::nanotime() + 3'000'000'000;
    while (gort::nanotime() < deadline) {
      gort::sleep_ms(20);
      prof->drain();
    }
    stop.store(true);
    wg.wait();
    Profile p = prof->stop();
    for (const auto& s : p.samples) total += s.values[0];
  });
  BOOST_TEST_MESSAGE("stress samples: " << total);
  BOOST_TEST(total > 0);
}
