// contention_hooks_test.cpp — the block and mutex profiling hooks
// (observer.h: set_block_hook, set_mutex_hook) as the sync primitives and
// channels call them: every wait is reported once, by the goroutine that
// waited, with a delay at least as long as its waker held on; every
// Mutex/RWMutex hand-over once, by the unlocker; nothing when no hook is
// set; nothing from the uncontended fast paths.
//
// Each scenario is made certain by waiting for states (test_util.h), so the
// counts are exact; the only timed parts are the holds that give the
// delays their lower bounds.
#define BOOST_TEST_MODULE contention_hooks_test
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>

#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/observer.h"
#include "runtime/sync.h"
#include "tests/runtime/test_util.h"

using namespace gort;
using gort_test::kDeadlineNs;
using gort_test::wait_parked;
using gort_test::wait_until;

namespace {
constexpr int kReasons = static_cast<int>(WaitReason::Count);

// HookLog is what one hook received: events, shortest and longest delay,
// per wait reason. Written from hooks on any thread.
struct HookLog {
  std::atomic<int64_t> events[kReasons];
  std::atomic<int64_t> min_ns[kReasons];
  std::atomic<int64_t> max_ns[kReasons];

  void reset() {
    for (int r = 0; r < kReasons; r++) {
      events[r] = 0;
      min_ns[r] = INT64_MAX;
      max_ns[r] = INT64_MIN;
    }
  }
  void record(int64_t ns, WaitReason reason) {
    const int r = static_cast<int>(reason);
    events[r]++;
    for (int64_t m = min_ns[r].load(); ns < m && !min_ns[r].compare_exchange_weak(m, ns);) {
    }
    for (int64_t m = max_ns[r].load(); ns > m && !max_ns[r].compare_exchange_weak(m, ns);) {
    }
  }
  int64_t count(WaitReason r) const { return events[static_cast<int>(r)].load(); }
  int64_t min(WaitReason r) const { return min_ns[static_cast<int>(r)].load(); }
  int64_t total() const {
    int64_t n = 0;
    for (int r = 0; r < kReasons; r++) n += events[r].load();
    return n;
  }
};

HookLog g_block_log, g_mutex_log;
void on_block(int64_t ns, WaitReason r) { g_block_log.record(ns, r); }
void on_mutex(int64_t ns, WaitReason r) { g_mutex_log.record(ns, r); }

// one_wait_of_each_kind makes exactly one goroutine wait once in each of a
// Mutex, a WaitGroup, a Cond, an RWMutex read lock and a channel receive,
// and nothing else block (joins poll with wait_until, sleeps are not
// reported): the waker acts only once the waiter is parked, and only after
// holding on for another hold_ms (long_hold_ms for the Mutex and the
// WaitGroup), so each wait lasts at least that long. On a goroutine.
void one_wait_of_each_kind(int64_t long_hold_ms, int64_t hold_ms) {
  const int64_t main_id = goid();
  Mutex mu;

  // Mutex and WaitGroup: A holds mu until B is parked on it and main is
  // parked in wg.wait(), then for long_hold_ms more.
  WaitGroup wg;
  wg.add(2);
  std::atomic<bool> held{false};
  std::atomic<int64_t> b_id{0};
  go([&] {
    mu.lock();
    held = true;
    wait_until([&] { return b_id.load() != 0; }, "B is spawned");
    wait_parked(b_id.load(), WaitReason::SyncMutexLock);
    wait_parked(main_id, WaitReason::SyncWaitGroupWait);
    sleep_ms(long_hold_ms);
    mu.unlock();
    wg.done();
  });
  wait_until([&] { return held.load(); }, "A holds the mutex");
  b_id = go([&] {
    mu.lock();
    mu.unlock();
    wg.done();
  });
  wg.wait();

  // Cond: C waits until main signals.
  Cond cv(mu);
  bool ready = false;  // guarded by mu
  std::atomic<bool> c_done{false};
  const int64_t c = go([&] {
    mu.lock();
    while (!ready) cv.wait();
    mu.unlock();
    c_done = true;
  });
  wait_parked(c, WaitReason::SyncCondWait);
  sleep_ms(hold_ms);
  {
    std::lock_guard<Mutex> l(mu);  // C is parked and does not hold mu
    ready = true;
  }
  cv.signal();  // after unlocking, so C relocks mu without waiting
  wait_until([&] { return c_done.load(); }, "C is done");

  // RWMutex: a reader waits for main's write lock.
  RWMutex rw;
  rw.lock();
  std::atomic<bool> r_done{false};
  const int64_t r = go([&] {
    rw.rlock();
    rw.runlock();
    r_done = true;
  });
  wait_parked(r, WaitReason::SyncRWMutexRLock);
  sleep_ms(hold_ms);
  rw.unlock();
  wait_until([&] { return r_done.load(); }, "the reader is done");

  // Channel: a receiver waits for main's send.
  Chan<int> ch;
  std::atomic<bool> d_done{false};
  const int64_t d = go([&] {
    ch.recv();
    d_done = true;
  });
  wait_parked(d, WaitReason::ChanReceive);
  sleep_ms(hold_ms);
  ch.send(1);
  wait_until([&] { return d_done.load(); }, "the receiver is done");
}
}  // namespace

// Every wait reaches the block hook exactly once with a delay at least as
// long as the waker held on; every Mutex/RWMutex hand-over reaches the
// mutex hook once, from the unlocker.
BOOST_AUTO_TEST_CASE(profiling_hooks_report_every_wait_once) {
  constexpr int64_t kLongMs = 20, kShortMs = 10, kNs = 1'000'000;
  g_block_log.reset();
  g_mutex_log.reset();
  set_block_hook(&on_block);
  set_mutex_hook(&on_mutex);
  run_main([&] { one_wait_of_each_kind(kLongMs, kShortMs); }, Config{.gomaxprocs = 2});
  set_block_hook(nullptr);
  set_mutex_hook(nullptr);

  const HookLog& b = g_block_log;
  BOOST_TEST(b.total() == 5);
  for (WaitReason r : {WaitReason::SyncMutexLock, WaitReason::SyncWaitGroupWait, WaitReason::SyncCondWait,
                       WaitReason::SyncRWMutexRLock, WaitReason::ChanReceive})
    BOOST_TEST(b.count(r) == 1, wait_reason_string(r));
  BOOST_TEST(b.min(WaitReason::SyncMutexLock) >= kLongMs * kNs);
  BOOST_TEST(b.min(WaitReason::SyncWaitGroupWait) >= kLongMs * kNs);
  BOOST_TEST(b.min(WaitReason::SyncCondWait) >= kShortMs * kNs);
  BOOST_TEST(b.min(WaitReason::SyncRWMutexRLock) >= kShortMs * kNs);
  BOOST_TEST(b.min(WaitReason::ChanReceive) >= kShortMs * kNs);

  // Mutex::unlock and RWMutex::unlock each woke one waiter.
  const HookLog& m = g_mutex_log;
  BOOST_TEST(m.total() == 2);
  BOOST_TEST(m.count(WaitReason::SyncMutexLock) == 1);
  BOOST_TEST(m.count(WaitReason::SyncRWMutexRLock) == 1);
  BOOST_TEST(m.min(WaitReason::SyncMutexLock) >= kLongMs * kNs);
  BOOST_TEST(m.min(WaitReason::SyncRWMutexRLock) >= kShortMs * kNs);

  // Delays are durations within this run, not timestamps.
  for (int r = 0; r < kReasons; r++) {
    if (b.events[r] != 0) BOOST_TEST(b.max_ns[r].load() < kDeadlineNs);
    if (m.events[r] != 0) BOOST_TEST(m.max_ns[r].load() < kDeadlineNs);
  }
}

// A hook that was installed and removed again is not called: the same
// waits as above report nothing. set_*_hook returns the previous hook.
BOOST_AUTO_TEST_CASE(hooks_removed_fire_nothing) {
  g_block_log.reset();
  g_mutex_log.reset();
  BOOST_TEST(set_block_hook(&on_block) == nullptr);
  BOOST_TEST(set_mutex_hook(&on_mutex) == nullptr);
  BOOST_TEST(set_block_hook(nullptr) == &on_block);
  BOOST_TEST(set_mutex_hook(nullptr) == &on_mutex);
  run_main([&] { one_wait_of_each_kind(0, 0); }, Config{.gomaxprocs = 2});
  BOOST_TEST(g_block_log.total() == 0);
  BOOST_TEST(g_mutex_log.total() == 0);
}

// The uncontended fast paths of Mutex and RWMutex never reach a wait
// queue: with the hooks installed, a million lock/unlock pairs of each kind
// on one goroutine report no wait, take no slow path and leave every lock
// free. (What they cost: BM_MutexUncontended, BM_RWMutexRLockUncontended
// and BM_RWMutexLockUncontended in bench/micro/sync_bench.cpp.)
BOOST_AUTO_TEST_CASE(uncontended_fast_paths_never_wait) {
  constexpr int kIters = 1'000'000;
  const SyncStats before = sync_stats();
  g_block_log.reset();
  g_mutex_log.reset();
  set_block_hook(&on_block);
  set_mutex_hook(&on_mutex);
  bool all_free = false;
  run_main([&] {
    Mutex mu;
    for (int i = 0; i < kIters; i++) {
      mu.lock();
      mu.unlock();
    }
    RWMutex rw;
    for (int i = 0; i < kIters; i++) {
      rw.rlock();
      rw.runlock();
    }
    for (int i = 0; i < kIters; i++) {
      rw.lock();
      rw.unlock();
    }
    all_free = mu.debug_state() == 0 && mu.try_lock() && rw.try_lock();
  }, Config{.gomaxprocs = 1});
  set_block_hook(nullptr);
  set_mutex_hook(nullptr);
  const SyncStats after = sync_stats();
  BOOST_TEST(all_free);
  BOOST_TEST(g_block_log.total() == 0);
  BOOST_TEST(g_mutex_log.total() == 0);
  BOOST_TEST(after.mutex_starvation_entries == before.mutex_starvation_entries);
  BOOST_TEST(after.sema_handoffs == before.sema_handoffs);
}
