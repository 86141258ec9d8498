// sema_test.cpp — gort::Sema and the global semtable behind it
// (runtime/sync.h, sync.cpp): Semas whose addresses hash to one root keep
// separate FIFO queues; a release before the acquire is not lost, also in
// a tight ping-pong race; N waiters are woken one per release, in queueing
// order, whether they are goroutines, OS threads (futex sleepers) or both;
// lifo acquires queue at the front; release(handoff) gives the unit to the
// front waiter where a plain release lets a running acquirer barge; and a
// stress run of 8 colliding Semas ends with every count back and nobody
// queued.
//
// Every wait is for a condition ("waiter k is queued", "waiter k ran"),
// never for time; a deadline only turns a lost wakeup into a failure.
#define BOOST_TEST_MODULE sema_test
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <new>
#include <random>
#include <thread>
#include <vector>

#include "runtime/gort.h"
#include "runtime/observer.h"
#include "runtime/sync.h"

using namespace gort;

namespace {

// Generous deadline for "eventually" conditions: far beyond anything a
// healthy run needs, short enough that a lost wakeup fails instead of hanging.
constexpr int64_t kDeadlineNs = 30'000'000'000;

// sync.cpp hashes a Sema to root (addr >> 3) % 251, so 8-byte-aligned
// addresses 251 * 8 bytes apart share a root.
constexpr size_t kSemTableSize = 251;
constexpr size_t kRootStrideBytes = kSemTableSize * 8;
size_t root_of(const void* p) { return (reinterpret_cast<uintptr_t>(p) >> 3) % kSemTableSize; }

// wait_until polls cond, yielding the goroutine (or thread) between looks.
// Past the deadline it aborts naming `what`: the Sema lost a wakeup, and
// the blocked waiters could not be unwound anyway.
template <class F>
void wait_until(const char* what, F cond) {
  const int64_t deadline = nanotime() + kDeadlineNs;
  while (!cond()) {
    if (nanotime() > deadline) {
      std::fprintf(stderr, "sema_test: timed out waiting until %s\n", what);
      std::abort();
    }
    if (on_goroutine()) yield(); else std::this_thread::yield();
  }
}

// CollidingSemas places Semas kRootStrideBytes apart in one buffer, so that
// all of them hash to the same semtable root.
class CollidingSemas final {
 public:
  explicit CollidingSemas(std::vector<uint32_t> initial)
      : n_(initial.size()), buf_(new std::byte[n_ * kRootStrideBytes]) {
    for (size_t i = 0; i < n_; i++) new (&buf_[i * kRootStrideBytes]) Sema(initial[i]);
    // The test's premise; checked without Boost, which must not throw on a goroutine.
    for (size_t i = 0; i < n_; i++) {
      if (root_of(&(*this)[i]) != root_of(&(*this)[0])) {
        std::fprintf(stderr, "sema_test: Semas do not share a semtable root\n");
        std::abort();
      }
    }
  }
  Sema& operator[](size_t i) { return *std::launder(reinterpret_cast<Sema*>(&buf_[i * kRootStrideBytes])); }
  size_t size() const { return n_; }

 private:
  size_t n_;
  std::unique_ptr<std::byte[]> buf_;
};

// OrderLog records waiter ids in the order they got their unit.
class OrderLog final {
 public:
  void add(int id) {
    std::lock_guard l(mu_);
    ids_.push_back(id);
  }
  std::vector<int> ids() {
    std::lock_guard l(mu_);
    return ids_;
  }
  size_t size() { return ids().size(); }

 private:
  std::mutex mu_;  // held for a push or a copy only, never across a park
  std::vector<int> ids_;
};

// go_waiter / thread_waiter start a goroutine / OS thread that acquires s
// and logs id, and return once it is queued (s has `queued` waiters).
void go_waiter(Sema& s, int id, OrderLog& log, uint32_t queued, bool lifo = false) {
  go([&s, id, &log, lifo] {
    s.acquire(WaitReason::Semacquire, lifo);
    log.add(id);
  });
  wait_until("the goroutine waiter is queued", [&] { return s.waiters() == queued; });
}

std::thread thread_waiter(Sema& s, int id, OrderLog& log, uint32_t queued, bool lifo = false) {
  std::thread t([&s, id, &log, lifo] {
    s.acquire(WaitReason::Semacquire, lifo);
    log.add(id);
  });
  wait_until("the thread waiter is queued", [&] { return s.waiters() == queued; });
  return t;
}

// release_and_expect releases s once and checks that exactly waiter `id`
// ran: it is the next entry of the log, and s has `left` waiters queued.
void release_and_expect(Sema& s, OrderLog& log, int id, uint32_t left, bool handoff = false) {
  const size_t before = log.size();
  s.release(handoff);
  wait_until("the woken waiter has logged", [&] { return log.size() == before + 1; });
  BOOST_TEST(log.ids().back() == id);
  BOOST_TEST(s.waiters() == left);
}

}  // namespace

// Three colliding Semas with two waiters each; releases take waiters from
// the end, the middle and the front of the root's address list, each from
// its own Sema's queue only.
BOOST_AUTO_TEST_CASE(colliding_semas_keep_separate_fifo_queues) {
  for (int procs : {1, 2}) {
    BOOST_TEST_CONTEXT("gomaxprocs " << procs) {
      run_main([&] {
        CollidingSemas s({0, 0, 0});
        OrderLog log;
        for (int i = 0; i < 6; i++) go_waiter(s[i / 2], i, log, 1 + i % 2);  // A0 A1 B2 B3 C4 C5
        release_and_expect(s[0], log, 0, 1);
        BOOST_TEST(s[1].waiters() == 2u);
        BOOST_TEST(s[2].waiters() == 2u);
        release_and_expect(s[0], log, 1, 0);
        release_and_expect(s[2], log, 4, 1);
        BOOST_TEST(s[1].waiters() == 2u);
        release_and_expect(s[2], log, 5, 0);
        release_and_expect(s[1], log, 2, 1);
        release_and_expect(s[1], log, 3, 0);
        for (size_t i = 0; i < s.size(); i++) BOOST_TEST(!s[i].try_acquire());  // each unit was taken
      }, Config{.gomaxprocs = procs});
    }
  }
}

BOOST_AUTO_TEST_CASE(release_before_acquire_is_not_lost) {
  CollidingSemas s({0, 0});
  s[0].release();
  s[0].release();
  s[0].acquire();
  s[0].acquire();
  BOOST_TEST(!s[0].try_acquire());

  // With B's waiter in the root, A's release takes the slow path, finds no
  // waiter of A's and must leave the unit in A's count.
  OrderLog log;
  std::thread b = thread_waiter(s[1], 1, log, 1);
  s[0].release();
  BOOST_TEST(s[0].waiters() == 0u);
  BOOST_TEST(s[0].try_acquire());
  BOOST_TEST(s[1].waiters() == 1u);
  release_and_expect(s[1], log, 1, 0);
  b.join();
}

namespace {

// ping_pong bounces one unit between two parties through colliding Semas
// for kRounds: each side's release races the other's acquire, so a lost
// wakeup stalls it. spawn starts a party (a goroutine or an OS thread).
template <class Spawn>
void ping_pong(Spawn spawn) {
  constexpr int kRounds = 20'000;
  CollidingSemas s({0, 0});
  std::atomic<int> finished{0};  // parties done with all their rounds
  spawn([&] {
    for (int i = 0; i < kRounds; i++) {
      s[0].acquire();
      s[1].release();
    }
    finished.fetch_add(1);
  });
  spawn([&] {
    for (int i = 0; i < kRounds; i++) {
      s[0].release();
      s[1].acquire();
    }
    finished.fetch_add(1);
  });
  wait_until("both ping-pong parties finished", [&] { return finished.load() == 2; });
  BOOST_TEST(!s[0].try_acquire());
  BOOST_TEST(!s[1].try_acquire());
  BOOST_TEST(s[0].waiters() == 0u);
  BOOST_TEST(s[1].waiters() == 0u);
}

}  // namespace

BOOST_AUTO_TEST_CASE(ping_pong_threads) {
  std::vector<std::thread> ts;
  ping_pong([&](auto f) { ts.emplace_back(f); });
  for (std::thread& t : ts) t.join();
}

BOOST_AUTO_TEST_CASE(ping_pong_goroutines) {
  run_main([] { ping_pong([](auto f) { go(f); }); }, Config{.gomaxprocs = 2});
}

BOOST_AUTO_TEST_CASE(goroutine_waiters_wake_one_per_release_in_fifo_order) {
  constexpr int kWaiters = 8;
  for (int procs : {1, 2}) {
    BOOST_TEST_CONTEXT("gomaxprocs " << procs) {
      run_main([&] {
        Sema s;
        OrderLog log;
        for (int i = 0; i < kWaiters; i++) go_waiter(s, i, log, i + 1);
        for (int i = 0; i < kWaiters; i++) release_and_expect(s, log, i, kWaiters - i - 1);
      }, Config{.gomaxprocs = procs});
    }
  }
}

BOOST_AUTO_TEST_CASE(thread_waiters_wake_one_per_release_in_fifo_order) {
  constexpr int kWaiters = 8;
  Sema s;
  OrderLog log;
  std::vector<std::thread> ts;
  for (int i = 0; i < kWaiters; i++) ts.push_back(thread_waiter(s, i, log, i + 1));
  for (int i = 0; i < kWaiters; i++) release_and_expect(s, log, i, kWaiters - i - 1);
  for (std::thread& t : ts) t.join();
}

// Threads and goroutines alternate in one queue; a goroutine releases them.
BOOST_AUTO_TEST_CASE(thread_and_goroutine_waiters_share_one_fifo) {
  constexpr int kWaiters = 6;
  run_main([] {
    Sema s;
    OrderLog log;
    std::vector<std::thread> ts;
    for (int i = 0; i < kWaiters; i++) {
      if (i % 2 == 0) ts.push_back(thread_waiter(s, i, log, i + 1)); else go_waiter(s, i, log, i + 1);
    }
    for (int i = 0; i < kWaiters; i++) release_and_expect(s, log, i, kWaiters - i - 1);
    for (std::thread& t : ts) t.join();  // all have logged: joins return at once
  }, Config{.gomaxprocs = 1});
}

// lifo=true queues at the front of the Sema's queue: on an empty queue, and
// when another colliding Sema's queue sits before it in the root.
BOOST_AUTO_TEST_CASE(lifo_acquire_queues_at_the_front) {
  run_main([] {
    CollidingSemas s({0, 0});
    Sema& a = s[0];
    OrderLog log;
    go_waiter(a, 0, log, 1, /*lifo=*/true);  // [0]
    go_waiter(s[1], 9, log, 1);              // the root now lists B before A
    go_waiter(a, 1, log, 2);                 // [0 1]
    go_waiter(a, 2, log, 3, /*lifo=*/true);  // [2 0 1]
    go_waiter(a, 3, log, 4);                 // [2 0 1 3]
    release_and_expect(a, log, 2, 3);
    release_and_expect(a, log, 0, 2);
    release_and_expect(a, log, 1, 1);
    release_and_expect(a, log, 3, 0);
    release_and_expect(s[1], log, 9, 0);
  }, Config{.gomaxprocs = 1});
}

// A plain release wakes the front waiter but leaves the unit up for grabs:
// at GOMAXPROCS=1 the releaser is still running and takes it back first, so
// the waiter queues again. release(handoff=true) gives the unit to the
// waiter itself; nobody else can take it.
BOOST_AUTO_TEST_CASE(handoff_gives_the_unit_to_the_front_waiter) {
  run_main([] {
    Sema s;
    OrderLog log;
    go_waiter(s, 0, log, 1);
    s.release();
    BOOST_TEST(s.try_acquire());  // barged in ahead of the woken waiter
    wait_until("the waiter queued again", [&] { return s.waiters() == 1; });
    BOOST_TEST(log.size() == 0u);

    const uint64_t handoffs = sync_stats().sema_handoffs;
    s.release(/*handoff=*/true);  // yields to the waiter, which has the unit
    BOOST_TEST(!s.try_acquire());
    wait_until("the waiter ran", [&] { return log.size() == 1; });
    BOOST_TEST(s.waiters() == 0u);
    BOOST_TEST(sync_stats().sema_handoffs == handoffs + 1);
  }, Config{.gomaxprocs = 1});

  // Off-goroutine: the releaser does not yield, yet the unit is already gone.
  Sema s;
  OrderLog log;
  std::thread t = thread_waiter(s, 0, log, 1);
  s.release(/*handoff=*/true);
  BOOST_TEST(!s.try_acquire());
  wait_until("the thread waiter ran", [&] { return log.size() == 1; });
  t.join();
  BOOST_TEST(!s.try_acquire());
}

namespace {

std::atomic<int64_t> g_blocked{0};  // acquires that slept, counted by the block hook
void count_block(int64_t, WaitReason) { g_blocked.fetch_add(1, std::memory_order_relaxed); }

// stress runs `goroutines` goroutines and `threads` OS threads doing
// acquire/release pairs on random ones of 8 colliding Semas (initial counts
// 1..3) at GOMAXPROCS=2, some lifo, some with handoff, sometimes yielding
// while holding a unit. No Sema ever has more holders than its count, and
// at the end every count is back to its initial value with nobody queued.
void stress(int goroutines, int threads) {
  constexpr int kSemas = 8;
  constexpr int kPairs = 5'000;  // acquire/release pairs per participant
  std::vector<uint32_t> initial;
  for (int i = 0; i < kSemas; i++) initial.push_back(1 + i % 3);
  CollidingSemas s(initial);
  std::vector<std::atomic<uint32_t>> holders(kSemas);
  std::atomic<int> over_admitted{0};
  std::atomic<int> finished{0};
  auto work = [&](int seed) {
    std::mt19937 rng(seed);
    for (int k = 0; k < kPairs; k++) {
      const int i = static_cast<int>(rng() % kSemas);
      s[i].acquire(WaitReason::Semacquire, /*lifo=*/rng() % 8 == 0);
      if (holders[i].fetch_add(1) >= initial[i]) over_admitted.fetch_add(1);
      if (rng() % 4 == 0) yield();
      holders[i].fetch_sub(1);
      s[i].release(/*handoff=*/rng() % 8 == 0);
    }
    finished.fetch_add(1);
  };
  g_blocked.store(0);
  set_block_hook(&count_block);
  run_main([&] {
    std::vector<std::thread> ts;
    for (int g = 0; g < goroutines; g++) go([&work, g] { work(g); });
    for (int t = 0; t < threads; t++) ts.emplace_back(work, goroutines + t);
    wait_until("every participant finished", [&] { return finished.load() == goroutines + threads; });
    for (std::thread& t : ts) t.join();
  }, Config{.gomaxprocs = 2});
  set_block_hook(nullptr);

  // Sleeping really happened (yielding while holding a unit makes it all
  // but certain), so the queues were exercised, not just the fast path.
  BOOST_TEST(g_blocked.load() > 0);
  BOOST_TEST_MESSAGE(g_blocked.load() << " acquires slept");
  BOOST_TEST(over_admitted.load() == 0);
  for (int i = 0; i < kSemas; i++) {
    BOOST_TEST_CONTEXT("sema " << i) {
      BOOST_TEST(s[i].waiters() == 0u);
      uint32_t count = 0;
      while (s[i].try_acquire()) count++;
      BOOST_TEST(count == initial[i]);
    }
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(stress_colliding_semas_goroutines) { stress(16, 0); }
BOOST_AUTO_TEST_CASE(stress_colliding_semas_goroutines_and_threads) { stress(12, 4); }
