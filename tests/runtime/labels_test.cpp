// labels_test.cpp — goroutine labels: set/get, inheritance by goroutines
// started afterwards, reading them from a signal handler on the
// goroutine's own thread (as SIGPROF will), and reading them from another
// thread while the goroutine keeps replacing them (the hazard-pointer path;
// the ASan build turns any premature free into a failure).
#define BOOST_TEST_MODULE labels_test
#include <boost/test/unit_test.hpp>

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/observer.h"
#include "runtime/sync.h"
#include "tests/runtime/test_util.h"

using namespace gort;
using gort_test::wait_until;

BOOST_AUTO_TEST_CASE(set_get_and_clear) {
  LabelSet before, after, cleared;
  run_main([&] {
    before = get_labels();
    set_labels({{"endpoint", "/work"}, {"tenant", "a"}});
    after = get_labels();
    set_labels({});
    cleared = get_labels();
  });
  BOOST_TEST(before.empty());
  BOOST_TEST((after == LabelSet{{"endpoint", "/work"}, {"tenant", "a"}}));
  BOOST_TEST(cleared.empty());
  BOOST_TEST(get_labels().empty());  // off-goroutine: none
}

BOOST_AUTO_TEST_CASE(children_inherit_and_own_changes_stay_local) {
  LabelSet child_saw, grandchild_saw, parent_after;
  run_main([&] {
    set_labels({{"handler", "work"}});
    Chan<int> done;
    go([&] {
      child_saw = get_labels();
      set_labels({{"handler", "child"}});
      go([&] {
        grandchild_saw = get_labels();
        done.send(1);
      });
    });
    done.recv();
    parent_after = get_labels();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST((child_saw == LabelSet{{"handler", "work"}}));
  BOOST_TEST((grandchild_saw == LabelSet{{"handler", "child"}}));
  BOOST_TEST((parent_after == LabelSet{{"handler", "work"}}));
}

namespace {
// The handler copies what it finds into plain storage: no allocation.
char g_seen_key[64];
char g_seen_value[64];
std::atomic<int> g_handled{0};

void on_usr1(int) {
  const LabelSet* l = current_labels_for_signal();
  if (l != nullptr && !l->empty()) {
    strncpy(g_seen_key, (*l)[0].first.c_str(), sizeof g_seen_key - 1);
    strncpy(g_seen_value, (*l)[0].second.c_str(), sizeof g_seen_value - 1);
  } else {
    strcpy(g_seen_key, "<none>");
  }
  g_handled.fetch_add(1);
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_signal_handler_reads_the_running_goroutines_labels) {
  struct sigaction sa {};
  sa.sa_handler = &on_usr1;
  sigemptyset(&sa.sa_mask);
  struct sigaction old {};
  sigaction(SIGUSR1, &sa, &old);
  std::string key_on_g, value_on_g, key_off_g;
  run_main([&] {
    set_labels({{"endpoint", "/sleep"}});
    // The signal is delivered to this thread before pthread_kill returns
    // (a thread's own pending unblocked signal is handled on return to user
    // space), while this goroutine runs.
    pthread_kill(pthread_self(), SIGUSR1);
    key_on_g = g_seen_key;
    value_on_g = g_seen_value;
  });
  pthread_kill(pthread_self(), SIGUSR1);  // off-goroutine
  key_off_g = g_seen_key;
  sigaction(SIGUSR1, &old, nullptr);
  BOOST_TEST(g_handled.load() == 2);
  BOOST_TEST(key_on_g == "endpoint");
  BOOST_TEST(value_on_g == "/sleep");
  BOOST_TEST(key_off_g == "<none>");
}

BOOST_AUTO_TEST_CASE(foreign_readers_while_labels_churn) {
  // Goroutines replace their labels as fast as they can (each set is freed
  // when replaced) while another goroutine and a plain thread read them
  // through read_labels. Every read must see a whole, valid set.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> reads{0}, bad{0};
  run_main([&] {
    WaitGroup wg;
    std::vector<int64_t> ids;
    for (int k = 0; k < 4; k++) {
      wg.add(1);
      ids.push_back(go([&, k] {
        for (int64_t i = 0; !stop.load(); i++) {
          std::string v = std::to_string(k) + ":" + std::to_string(i);
          set_labels({{"k", v}, {"check", v}});
          if (i % 64 == 0) yield();
        }
        wg.done();
      }));
    }
    auto read_all = [&] {
      for_each_goroutine([&](G* g) {
        if (std::find(ids.begin(), ids.end(), goroutine_id(g)) == ids.end()) return;
        read_labels(g, [&](const LabelSet& l) {
          reads++;
          if (!l.empty() && (l.size() != 2 || l[0].second != l[1].second)) bad++;
        });
      });
    };
    std::thread reader([&] {
      while (!stop.load()) read_all();
    });
    wg.add(1);
    go([&] {
      while (!stop.load()) {
        read_all();
        yield();
      }
      wg.done();
    });
    wait_until([&] { return reads.load() >= 20000; }, "20,000 foreign label reads");
    stop = true;
    wg.wait();
    reader.join();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(bad.load() == 0);
  BOOST_TEST(reads.load() >= 20000);
}
