// timer_test.cpp — TimerHeap (runtime/timer.h) without the scheduler: add's
// "new earliest" result, next(), run(now) firing exactly the due timers in
// deadline order, remove and modify of pending, fired and never-added
// timers, a randomized comparison against a std::multiset model, and a
// firing thread racing a thread that adds, modifies and removes timers.
//
// Deadlines are plain numbers (no clock is read) and fn only records, so
// every single-threaded case is exact; the concurrent cases check
// invariants that hold under any interleaving.
#define BOOST_TEST_MODULE timer_test
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdint>
#include <random>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include "runtime/runq.h"
#include "runtime/timer.h"

using namespace gort;

namespace {

// FireLog records the timers fired through it, in firing order.
struct FireLog {
  std::vector<Timer*> fired;
};

void log_fire(Timer* t, GQueue*) { static_cast<FireLog*>(t->arg)->fired.push_back(t); }

void arm(Timer& t, int64_t when, FireLog& log) {
  t.when = when;
  t.fn = &log_fire;
  t.arg = &log;
}

// run_until runs h up to now and returns the deadlines of what fired.
std::vector<int64_t> run_until(TimerHeap& h, int64_t now, FireLog& log) {
  log.fired.clear();
  GQueue ready;
  int n = h.run(now, &ready);
  BOOST_TEST(n == static_cast<int>(log.fired.size()));
  BOOST_TEST(ready.empty());  // fn readied nothing
  std::vector<int64_t> whens;
  for (Timer* t : log.fired) whens.push_back(t->when);
  return whens;
}

using Whens = std::vector<int64_t>;

}  // namespace

BOOST_AUTO_TEST_CASE(add_reports_new_earliest_and_next_follows) {
  TimerHeap h;
  FireLog log;
  Timer a, b, c, d;
  BOOST_TEST(h.next() == INT64_MAX);
  arm(a, 100, log);
  BOOST_TEST(h.add(&a));  // first timer
  BOOST_TEST(h.next() == 100);
  arm(b, 200, log);
  BOOST_TEST(!h.add(&b));
  arm(c, 50, log);
  BOOST_TEST(h.add(&c));
  arm(d, 50, log);
  BOOST_TEST(!h.add(&d));  // a tie does not displace the earliest
  BOOST_TEST(h.next() == 50);
  BOOST_TEST(h.size() == 4u);
  BOOST_TEST(a.state.load() == Timer::Waiting);
}

BOOST_AUTO_TEST_CASE(run_fires_exactly_the_due_timers_in_deadline_order) {
  TimerHeap h;
  FireLog log;
  const int64_t deadlines[] = {70, 10, 40, 90, 20, 60, 30, 80, 50, 100, 15, 35};
  std::vector<Timer> ts(std::size(deadlines));
  for (size_t i = 0; i < ts.size(); i++) {
    arm(ts[i], deadlines[i], log);
    h.add(&ts[i]);
  }
  BOOST_TEST(run_until(h, 9, log) == Whens{}, boost::test_tools::per_element());
  BOOST_TEST(run_until(h, 35, log) == (Whens{10, 15, 20, 30, 35}), boost::test_tools::per_element());
  BOOST_TEST(h.next() == 40);
  BOOST_TEST(h.size() == 7u);
  BOOST_TEST(run_until(h, 35, log) == Whens{}, boost::test_tools::per_element());  // nothing new is due
  BOOST_TEST(run_until(h, 100, log) == (Whens{40, 50, 60, 70, 80, 90, 100}), boost::test_tools::per_element());
  BOOST_TEST(h.next() == INT64_MAX);
  BOOST_TEST(h.size() == 0u);
  for (Timer& t : ts) BOOST_TEST(t.state.load() == Timer::Idle);
}

BOOST_AUTO_TEST_CASE(remove_pending_fired_and_never_added) {
  TimerHeap h;
  FireLog log;
  Timer a, b, c, never;
  arm(a, 10, log);
  arm(b, 20, log);
  arm(c, 30, log);
  h.add(&a);
  h.add(&b);
  h.add(&c);
  BOOST_TEST(TimerHeap::remove(&a));  // the earliest: next() moves on
  BOOST_TEST(h.next() == 20);
  BOOST_TEST(!TimerHeap::remove(&a));  // already removed
  BOOST_TEST(a.state.load() == Timer::Idle);
  BOOST_TEST(!TimerHeap::remove(&never));
  BOOST_TEST(run_until(h, 25, log) == Whens{20}, boost::test_tools::per_element());
  BOOST_TEST(!TimerHeap::remove(&b));  // fired
  BOOST_TEST(TimerHeap::remove(&c));
  BOOST_TEST(h.next() == INT64_MAX);
  BOOST_TEST(run_until(h, INT64_MAX, log) == Whens{}, boost::test_tools::per_element());  // a and c never fire
  // A removed timer can be added again and fires normally.
  BOOST_TEST(h.add(&a));
  BOOST_TEST(run_until(h, 10, log) == Whens{10}, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(modify_earlier_later_and_not_pending) {
  TimerHeap h;
  FireLog log;
  std::vector<Timer> ts(8);
  for (size_t i = 0; i < ts.size(); i++) {
    arm(ts[i], 100 * int64_t(i + 1), log);  // 100, 200, ..., 800
    h.add(&ts[i]);
  }
  BOOST_TEST(TimerHeap::modify(&ts[5], 50));  // 600 -> 50: the new earliest
  BOOST_TEST(h.next() == 50);
  BOOST_TEST(TimerHeap::modify(&ts[5], 650));  // and back out: next() follows
  BOOST_TEST(h.next() == 100);
  BOOST_TEST(TimerHeap::modify(&ts[0], 900));  // the earliest moves last
  BOOST_TEST(h.next() == 200);
  BOOST_TEST(TimerHeap::modify(&ts[3], 450));  // later, same place in order
  BOOST_TEST(h.size() == 8u);
  BOOST_TEST(run_until(h, 1000, log) == (Whens{200, 300, 450, 500, 650, 700, 800, 900}),
             boost::test_tools::per_element());
  BOOST_TEST(log.fired.front() == &ts[1]);
  BOOST_TEST(log.fired.back() == &ts[0]);

  // Fired, removed and never-added timers are not pending: false, untouched.
  Timer never, removed;
  arm(removed, 10, log);
  h.add(&removed);
  BOOST_TEST(TimerHeap::remove(&removed));
  BOOST_TEST(!TimerHeap::modify(&ts[2], 5));
  BOOST_TEST(ts[2].when == 300);
  BOOST_TEST(!TimerHeap::modify(&never, 5));
  BOOST_TEST(!TimerHeap::modify(&removed, 5));
  BOOST_TEST(h.next() == INT64_MAX);
  BOOST_TEST(run_until(h, INT64_MAX, log) == Whens{}, boost::test_tools::per_element());
}

// Random adds, removes, modifies and runs against a reference model: a
// multiset of (deadline, timer index). After every step next() equals the
// model's minimum, and each run fires exactly the model's due prefix, in
// deadline order (equal deadlines in any order).
BOOST_AUTO_TEST_CASE(random_operations_match_a_multiset_model) {
  constexpr int kTimers = 500;
  constexpr int kSteps = 200'000;
  TimerHeap h;
  FireLog log;
  std::vector<Timer> ts(kTimers);
  std::vector<bool> pending(kTimers, false);
  std::multiset<std::pair<int64_t, int>> model;
  std::mt19937_64 rng(20240601);
  int64_t now = 0;
  auto index = [&](Timer* t) { return static_cast<int>(t - ts.data()); };
  for (int step = 0; step < kSteps; step++) {
    const int i = static_cast<int>(rng() % kTimers);
    Timer& t = ts[i];
    switch (rng() % 8) {
      case 0: case 1: case 2:  // add, if idle; deadlines cluster so ties happen
        if (pending[i]) break;
        arm(t, now + static_cast<int64_t>(rng() % 200), log);
        BOOST_REQUIRE(h.add(&t) == (model.empty() || t.when < model.begin()->first));
        model.emplace(t.when, i);
        pending[i] = true;
        break;
      case 3: case 4:  // remove
        BOOST_REQUIRE(TimerHeap::remove(&t) == pending[i]);
        if (pending[i]) model.erase(model.find({t.when, i}));
        pending[i] = false;
        break;
      case 5: {  // modify, earlier or later
        const int64_t old = t.when, when = now + static_cast<int64_t>(rng() % 200);
        BOOST_REQUIRE(TimerHeap::modify(&t, when) == pending[i]);
        BOOST_REQUIRE(t.when == (pending[i] ? when : old));
        if (pending[i]) {
          model.erase(model.find({old, i}));
          model.emplace(when, i);
        }
        break;
      }
      default: {  // advance the clock and run
        now += static_cast<int64_t>(rng() % 40);
        std::vector<std::pair<int64_t, int>> want(model.begin(), model.upper_bound({now, INT_MAX}));
        model.erase(model.begin(), model.upper_bound({now, INT_MAX}));
        log.fired.clear();
        GQueue ready;
        BOOST_REQUIRE(h.run(now, &ready) == static_cast<int>(want.size()));
        std::vector<std::pair<int64_t, int>> got;
        for (Timer* f : log.fired) got.emplace_back(f->when, index(f));
        for (size_t k = 1; k < got.size(); k++) BOOST_REQUIRE(got[k - 1].first <= got[k].first);
        std::sort(got.begin(), got.end());  // ties may fire in any order
        BOOST_REQUIRE(got == want);
        for (auto& [when, k] : want) pending[k] = false;
        break;
      }
    }
    BOOST_REQUIRE(h.next() == (model.empty() ? INT64_MAX : model.begin()->first));
    BOOST_REQUIRE(h.size() == model.size());
  }
}

namespace {

// Counted is a timer for the concurrent cases: fn bumps fired through arg.
struct Counted {
  Timer t;
  std::atomic<int> fired{0};
  int removed = 0;  // remove() returned true; written only by the mutator thread
};

void count_fire(Timer* t, GQueue*) { static_cast<Counted*>(t->arg)->fired.fetch_add(1); }

}  // namespace

// One thread fires timers in a loop on a logical clock that it advances;
// another adds timers just ahead of that clock and removes or modifies
// random earlier ones, racing the firing thread. Afterwards each timer has
// either fired exactly once or been removed (remove returned true), never
// both and never neither.
BOOST_AUTO_TEST_CASE(run_races_add_modify_remove) {
  constexpr int kTimers = 100'000;
  TimerHeap h;
  std::vector<Counted> cs(kTimers);
  std::atomic<int64_t> clock{0};  // written by the firing thread only
  std::atomic<bool> stop{false};
  std::thread firer([&] {
    GQueue ready;
    while (!stop.load(std::memory_order_acquire)) h.run(clock.fetch_add(1) + 1, &ready);
  });
  std::mt19937 rng(7);
  int modified = 0;
  for (int i = 0; i < kTimers; i++) {
    Counted& c = cs[i];
    c.t.when = clock.load() + static_cast<int64_t>(rng() % 64);
    c.t.fn = &count_fire;
    c.t.arg = &c;
    h.add(&c.t);
    Counted& other = cs[rng() % (i + 1)];  // pending, firing, fired or removed
    switch (rng() % 4) {
      case 0:
        if (TimerHeap::remove(&other.t)) other.removed++;
        break;
      case 1:
        modified += TimerHeap::modify(&other.t, clock.load() + static_cast<int64_t>(rng() % 64));
        break;
      default:
        break;
    }
  }
  stop.store(true, std::memory_order_release);
  firer.join();
  GQueue ready;
  h.run(INT64_MAX, &ready);  // fire whatever the firing thread left

  int fired = 0, removed = 0, bad = 0;
  for (Counted& c : cs) {
    fired += c.fired.load();
    removed += c.removed;
    if (c.fired.load() + c.removed != 1) bad++;
  }
  BOOST_TEST(bad == 0);
  BOOST_TEST(fired + removed == kTimers);
  BOOST_TEST(h.size() == 0u);
  BOOST_TEST(h.next() == INT64_MAX);
  BOOST_TEST_MESSAGE("fired " << fired << ", removed " << removed << ", modified " << modified);
}

// remove and modify of a timer whose fn is running return false only after
// fn has returned, so the owner may free or re-add it. The fn here holds
// still until the remover has started; whether the remover then really
// waits inside remove depends on the OS, so a broken remove may go
// unnoticed on some runs, but a correct one never fails.
BOOST_AUTO_TEST_CASE(remove_and_modify_wait_for_a_running_fn) {
  for (bool use_modify : {false, true}) {
    BOOST_TEST_CONTEXT((use_modify ? "modify" : "remove")) {
      struct Blocking {
        Timer t;
        std::atomic<bool> in_fn{false}, let_go{false}, fn_done{false};
      } b;
      b.t.when = 1;
      b.t.arg = &b;
      b.t.fn = [](Timer* t, GQueue*) {
        auto* b = static_cast<Blocking*>(t->arg);
        b->in_fn.store(true);
        while (!b->let_go.load()) std::this_thread::yield();
        b->fn_done.store(true);
      };
      TimerHeap h;
      h.add(&b.t);
      std::thread firer([&] {
        GQueue ready;
        h.run(1, &ready);
      });
      while (!b.in_fn.load()) std::this_thread::yield();
      std::atomic<bool> started{false};
      bool result = true, done_at_return = false;
      std::thread remover([&] {
        started.store(true);
        result = use_modify ? TimerHeap::modify(&b.t, 5) : TimerHeap::remove(&b.t);
        done_at_return = b.fn_done.load();
      });
      while (!started.load()) std::this_thread::yield();
      b.let_go.store(true);
      remover.join();
      firer.join();
      BOOST_TEST(!result);
      BOOST_TEST(done_at_return);
      BOOST_TEST(b.t.state.load() == Timer::Idle);
    }
  }
}
