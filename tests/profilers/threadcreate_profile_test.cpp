// threadcreate_profile_test.cpp — the threadcreate profile counts every
// thread the runtime created, shows the stacks that created its Ms, and its
// debug=1 text has Go's printCountProfile shape.
#define BOOST_TEST_MODULE threadcreate_profile_test
#include <boost/test/unit_test.hpp>

#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "profilers/threadcreate_profile.h"
#include "runtime/gort.h"
#include "runtime/sync.h"
#include "runtime/threads.h"
#include "tests/runtime/test_util.h"

namespace {

// hold_in_syscall keeps goroutines in BlockingSections until released, so
// that sysmon hands their Ps to new Ms (threads are created).
struct Threads {
  int64_t ms = 0;             // registered Ms
  int64_t ms_with_stack = 0;  // … with a creating stack
  int64_t live = 0;           // every registered thread
};

Threads count_threads() {
  Threads t;
  gort::for_each_thread([&](const gort::ThreadInfo& i) {
    t.live++;
    if (i.kind != gort::ThreadKind::M) return;
    t.ms++;
    if (i.ncreator_pcs > 0) t.ms_with_stack++;
  });
  return t;
}

}  // namespace

BOOST_AUTO_TEST_CASE(counts_created_threads_and_their_stacks) {
  std::string text;
  profilers::Profile prof;
  Threads threads;
  int64_t created_before = 0, created_after = 0;
  gort::run_main(
      [&] {
        // Four goroutines in blocking sections make the scheduler start Ms
        // for the other runnable work.
        std::atomic<bool> release{false};
        std::atomic<int> entered{0};
        gort::WaitGroup wg;
        for (int i = 0; i < 4; i++) {
          wg.add(1);
          gort::go([&] {
            {
              gort::BlockingSection s;
              entered.fetch_add(1);
              while (!release.load()) sched_yield();
            }
            wg.done();
          });
        }
        gort_test::wait_until([&] { return entered.load() == 4; }, "four goroutines are in BlockingSections");
        gort_test::wait_until([&] { return count_threads().ms_with_stack >= 2; }, "two Ms were started");
        release.store(true);
        wg.wait();
        // sysmon may start more Ms meanwhile: bracket the two profiles.
        threads = count_threads();
        created_before = gort::threads_created();
        text = profilers::threadcreate_profile_text();
        prof = profilers::threadcreate_profile();
        created_after = gort::threads_created();
      },
      gort::Config{.gomaxprocs = 2});
  BOOST_TEST_MESSAGE(text);

  std::istringstream in(text);
  std::string line;
  std::getline(in, line);
  std::smatch m;
  BOOST_REQUIRE_MESSAGE(std::regex_match(line, m, std::regex("^threadcreate profile: total (\\d+)$")), line);
  const int64_t total = std::stoll(m[1].str());
  BOOST_TEST(total >= threads.ms);
  BOOST_TEST(total >= threads.live);
  BOOST_TEST(total >= created_before);
  BOOST_TEST(total <= created_after);

  // Blocks: "N @ 0x…", "#" frame lines, an empty line.
  static const std::regex at_re("^(\\d+) @((?: 0x[0-9a-f]+)*)$");
  static const std::regex frame_re("^#\\t+0x[0-9a-f]+(\\t+[^\\t]+\\+0x[0-9a-f]+\\t+[^\\t]*:\\d+)?$");
  int64_t sum = 0, with_stack = 0;
  bool names_runtime = false;
  while (std::getline(in, line)) {
    BOOST_REQUIRE_MESSAGE(std::regex_match(line, m, at_re), "bad count line: " << line);
    const int64_t n = std::stoll(m[1].str());
    sum += n;
    if (!m[2].str().empty()) with_stack += n;
    int frames = 0;
    while (std::getline(in, line) && !line.empty()) {
      BOOST_TEST(std::regex_match(line, frame_re), "bad frame line: " << line);
      names_runtime |= line.find("gort::") != std::string::npos;
      frames++;
    }
    BOOST_TEST(frames > 0);
  }
  BOOST_TEST(sum == total);
  BOOST_TEST(with_stack >= threads.ms_with_stack);
  BOOST_TEST(with_stack >= 2);
  BOOST_TEST(names_runtime, "no frame names the runtime code that started an M");

  BOOST_REQUIRE(prof.sample_types.size() == 1u);
  BOOST_TEST(prof.sample_types[0].type == "threadcreate");
  BOOST_TEST(prof.sample_types[0].unit == "count");
  BOOST_TEST(prof.period_type.type == "threadcreate");
  BOOST_TEST(prof.period == 1);
  int64_t psum = 0, pstack = 0;
  for (const profilers::Sample& s : prof.samples) {
    psum += s.values.at(0);
    if (!s.stack.empty()) pstack += s.values[0];
  }
  BOOST_TEST(psum >= total);  // taken after the text
  BOOST_TEST(psum <= created_after);
  BOOST_TEST(pstack >= with_stack);
}
