// sync_test.cpp — the sync primitives (runtime/sync.h) on the scheduler:
// mutual exclusion under contention, try_lock, Mutex starvation mode,
// RWMutex reader concurrency / writer exclusion / writer preference,
// WaitGroup at scale and reused, Cond FIFO signal and broadcast, Once,
// OS-thread waiters, and Go's fatal misuse messages. The profiling hooks
// have their own suite (contention_hooks_test.cpp).
//
// Tests wait for conditions (test_util.h), never for time, and no
// assertion depends on timing: the suite must pass on a loaded 2-core
// machine. What the fast paths cost is measured in
// bench/micro/sync_bench.cpp.
#define BOOST_TEST_MODULE sync_test
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "runtime/gort.h"
#include "runtime/sync.h"
#include "tests/runtime/child_process.h"
#include "tests/runtime/test_util.h"

using namespace gort;
using gort_test::kDeadlineNs;
using gort_test::wait_parked;
using gort_test::wait_until;

namespace {

// busy_for_ns burns CPU like a loop of real work, with safepoints. The
// final safepoint matters on a loaded machine: if the OS deschedules the
// thread mid-loop, the deadline passes meanwhile, and without it a
// preemption requested during the descheduling would be honoured only by
// the caller's next safepoint.
void busy_for_ns(int64_t ns) {
  int64_t end = nanotime() + ns;
  while (nanotime() < end) {
    cpu_relax();
    preempt_check();
  }
  preempt_check();
}

// mutex_counter runs g goroutines each incrementing a shared counter n times
// under one Mutex and checks that no two were ever inside together.
void mutex_counter(int procs, int g, int n) {
  int64_t counter = 0;
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  run_main([&] {
    Mutex mu;
    WaitGroup wg;
    wg.add(g);
    for (int i = 0; i < g; i++) {
      go([&] {
        for (int k = 0; k < n; k++) {
          mu.lock();
          if (inside.fetch_add(1, std::memory_order_relaxed) != 0) overlaps.fetch_add(1);
          counter++;
          inside.fetch_sub(1, std::memory_order_relaxed);
          mu.unlock();
        }
        wg.done();
      });
    }
    wg.wait();
    BOOST_TEST(mu.debug_state() == 0);
  }, Config{.gomaxprocs = procs});
  BOOST_TEST(counter == int64_t(g) * n);
  BOOST_TEST(overlaps.load() == 0);
}

}  // namespace

BOOST_AUTO_TEST_CASE(mutex_exclusion_gomaxprocs2) { mutex_counter(2, 8, 100'000); }
BOOST_AUTO_TEST_CASE(mutex_exclusion_gomaxprocs1) { mutex_counter(1, 8, 100'000); }
BOOST_AUTO_TEST_CASE(mutex_exclusion_many_goroutines) { mutex_counter(2, 64, 5'000); }

BOOST_AUTO_TEST_CASE(mutex_try_lock) {
  run_main([&] {
    Mutex mu;
    BOOST_TEST(mu.try_lock());
    BOOST_TEST(!mu.try_lock());
    std::atomic<int> other{-1};
    WaitGroup wg;
    wg.add(1);
    go([&] {
      other = mu.try_lock() ? 1 : 0;
      wg.done();
    });
    wg.wait();
    BOOST_TEST(other.load() == 0);
    mu.unlock();
    BOOST_TEST(mu.try_lock());
    mu.unlock();
    // Lockable: works with the standard guards.
    {
      std::lock_guard<Mutex> l(mu);
      BOOST_TEST(!mu.try_lock());
    }
    std::unique_lock<Mutex> ul(mu, std::try_to_lock);
    BOOST_TEST(ul.owns_lock());
  }, Config{.gomaxprocs = 2});
}

// A goroutine that re-takes the lock in a tight loop (calling only
// preempt_check, also while holding the lock, so sysmon preempts it there)
// keeps winning in normal mode: it is on the CPU when it unlocks and barges
// straight back in before the woken waiter runs. The waiter must switch the
// lock to starvation mode and get it by direct hand-off.
void starvation_case(int procs) {
  constexpr int kAcquisitions = 20;
  const SyncStats before = sync_stats();
  int acquired = 0;
  bool hog_ran = false;
  int64_t max_wait_ns = 0;
  run_main([&] {
    Mutex mu;
    std::atomic<bool> stop{false};
    std::atomic<int> got{0};
    std::atomic<int64_t> hog_rounds{0};
    WaitGroup wg;
    wg.add(2);
    go([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        mu.lock();
        busy_for_ns(20'000);
        mu.unlock();
        hog_rounds.fetch_add(1, std::memory_order_relaxed);
        preempt_check();
      }
      wg.done();
    });
    wait_until([&] { return hog_rounds.load() >= 10; }, "the hog cycles the lock");
    go([&] {
      int64_t deadline = nanotime() + kDeadlineNs;
      for (int i = 0; i < kAcquisitions && nanotime() < deadline; i++) {
        int64_t t0 = nanotime();
        mu.lock();
        max_wait_ns = std::max(max_wait_ns, nanotime() - t0);
        got++;
        mu.unlock();
        // Let the hog run and re-take the lock (twice: it is cycling again)
        // before the next round.
        const int64_t r = hog_rounds.load();
        wait_until([&] { return hog_rounds.load() >= r + 2; }, "the hog re-takes the lock");
      }
      stop = true;
      wg.done();
    });
    wg.wait();
    hog_ran = hog_rounds.load() > 10;
    acquired = got.load();
  }, Config{.gomaxprocs = procs});
  const SyncStats after = sync_stats();
  BOOST_TEST(hog_ran);
  BOOST_TEST(acquired == kAcquisitions);
  BOOST_TEST_MESSAGE("gomaxprocs=" << procs << ": longest wait " << max_wait_ns / 1000 << " us, "
                     << after.mutex_starvation_entries - before.mutex_starvation_entries
                     << " starvation entries, " << after.sema_handoffs - before.sema_handoffs << " hand-offs");
  BOOST_TEST(after.mutex_starvation_entries > before.mutex_starvation_entries);
  BOOST_TEST(after.sema_handoffs > before.sema_handoffs);
}

BOOST_AUTO_TEST_CASE(mutex_starvation_mode_gomaxprocs1) { starvation_case(1); }
BOOST_AUTO_TEST_CASE(mutex_starvation_mode_gomaxprocs2) { starvation_case(2); }

// Starvation mode is left again: after a contended phase the mutex returns
// to a clean unlocked state word and the fast path works.
BOOST_AUTO_TEST_CASE(mutex_starvation_mode_ends) {
  run_main([&] {
    Mutex mu;
    WaitGroup wg;
    for (int i = 0; i < 4; i++) {
      wg.add(1);
      go([&] {
        for (int k = 0; k < 200; k++) {
          mu.lock();
          busy_for_ns(k % 10 == 0 ? 2'000'000 : 5'000);
          mu.unlock();
        }
        wg.done();
      });
    }
    wg.wait();
    BOOST_TEST(mu.debug_state() == 0);
    BOOST_TEST(mu.try_lock());
    mu.unlock();
  }, Config{.gomaxprocs = 2});
}

BOOST_AUTO_TEST_CASE(rwmutex_readers_run_concurrently) {
  constexpr int kReaders = 4;
  int max_inside = 0;
  run_main([&] {
    RWMutex rw;
    std::atomic<int> inside{0};
    std::atomic<int> peak{0};
    WaitGroup wg;
    wg.add(kReaders);
    for (int i = 0; i < kReaders; i++) {
      go([&] {
        rw.rlock();
        int now = inside.fetch_add(1) + 1;
        int p = peak.load();
        while (now > p && !peak.compare_exchange_weak(p, now)) {
        }
        // Hold the read lock until every reader is inside.
        wait_until([&] { return peak.load() >= kReaders; }, "every reader holds the read lock");
        inside.fetch_sub(1);
        rw.runlock();
        wg.done();
      });
    }
    wg.wait();
    max_inside = peak.load();
  }, Config{.gomaxprocs = 1});
  BOOST_TEST(max_inside == kReaders);
}

BOOST_AUTO_TEST_CASE(rwmutex_writer_exclusion) {
  int64_t a = 0, b = 0;
  std::atomic<int> violations{0};
  run_main([&] {
    RWMutex rw;
    std::atomic<int> writers_inside{0};
    std::atomic<int> readers_inside{0};
    WaitGroup wg;
    for (int w = 0; w < 4; w++) {
      wg.add(1);
      go([&] {
        for (int k = 0; k < 10'000; k++) {
          rw.lock();
          if (writers_inside.fetch_add(1) != 0 || readers_inside.load() != 0) violations++;
          a++;
          if (k % 64 == 0) yield();  // let readers try to get in
          b++;
          writers_inside.fetch_sub(1);
          rw.unlock();
        }
        wg.done();
      });
    }
    for (int r = 0; r < 4; r++) {
      wg.add(1);
      go([&] {
        for (int k = 0; k < 10'000; k++) {
          std::shared_lock<RWMutex> l(rw);
          readers_inside.fetch_add(1);
          if (writers_inside.load() != 0 || a != b) violations++;
          readers_inside.fetch_sub(1);
        }
        wg.done();
      });
    }
    wg.wait();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(violations.load() == 0);
  BOOST_TEST(a == 40'000);
  BOOST_TEST(b == 40'000);
}

// Readers overlap continuously (each yields while holding the read lock), so
// the reader count never drops to zero on its own. A writer still gets in,
// repeatedly, because a pending writer holds back new readers.
BOOST_AUTO_TEST_CASE(rwmutex_writer_not_starved_by_readers) {
  constexpr int kWrites = 50;
  int writes = 0;
  int64_t reads = 0;
  run_main([&] {
    RWMutex rw;
    std::atomic<bool> stop{false};
    std::atomic<int64_t> nreads{0};
    WaitGroup wg;
    for (int r = 0; r < 6; r++) {
      wg.add(1);
      go([&] {
        while (!stop.load(std::memory_order_relaxed)) {
          rw.rlock();
          nreads.fetch_add(1, std::memory_order_relaxed);
          yield();
          rw.runlock();
        }
        wg.done();
      });
    }
    wait_until([&] { return nreads.load() >= 100; }, "readers are reading");
    int64_t deadline = nanotime() + kDeadlineNs;
    for (int i = 0; i < kWrites && nanotime() < deadline; i++) {
      rw.lock();
      writes++;
      rw.unlock();
      yield();
    }
    stop = true;
    wg.wait();
    reads = nreads.load();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(writes == kWrites);
  BOOST_TEST(reads >= 100);
}

BOOST_AUTO_TEST_CASE(rwmutex_try_lock) {
  run_main([&] {
    RWMutex rw;
    BOOST_TEST(rw.try_lock());
    BOOST_TEST(!rw.try_lock());
    BOOST_TEST(!rw.try_rlock());
    rw.unlock();
    BOOST_TEST(rw.try_rlock());
    BOOST_TEST(rw.try_rlock());
    BOOST_TEST(!rw.try_lock());
    rw.runlock();
    rw.runlock();
    BOOST_TEST(rw.try_lock());
    rw.unlock();
    // A reader waiting behind a writer is admitted by the writer's unlock.
    rw.lock();
    std::atomic<bool> read{false};
    WaitGroup wg;
    wg.add(1);
    int64_t reader = go([&] {
      rw.rlock();
      read = true;
      rw.runlock();
      wg.done();
    });
    wait_parked(reader, WaitReason::SyncRWMutexRLock);
    BOOST_TEST(!read.load());
    rw.unlock();
    wg.wait();
    BOOST_TEST(read.load());
  }, Config{.gomaxprocs = 2});
}

BOOST_AUTO_TEST_CASE(waitgroup_10k_goroutines) {
  constexpr int kN = 10'000;
  int64_t done = 0;
  run_main([&] {
    WaitGroup wg;
    std::atomic<int64_t> n{0};
    wg.add(kN);
    for (int i = 0; i < kN; i++) {
      go([&, i] {
        if (i % 2 == 0) yield();
        n.fetch_add(1, std::memory_order_relaxed);
        wg.done();
      });
    }
    wg.wait();
    done = n.load();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(done == kN);
}

// Many goroutines park in wait() on one WaitGroup; one done() releases all.
BOOST_AUTO_TEST_CASE(waitgroup_many_waiters) {
  constexpr int kWaiters = 1000;
  int64_t released = 0;
  run_main([&] {
    WaitGroup gate, joined;
    std::atomic<int64_t> n{0};
    gate.add(1);
    joined.add(kWaiters);
    std::vector<int64_t> ids;
    for (int i = 0; i < kWaiters; i++) {
      ids.push_back(go([&] {
        gate.wait();
        n.fetch_add(1);
        joined.done();
      }));
    }
    gort_test::wait_all_parked(ids, WaitReason::SyncWaitGroupWait);
    BOOST_TEST(n.load() == 0);
    gate.done();
    joined.wait();
    released = n.load();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(released == kWaiters);
}

BOOST_AUTO_TEST_CASE(waitgroup_reuse) {
  int64_t total = 0;
  bool ok = true;
  run_main([&] {
    WaitGroup wg;
    wg.wait();  // zero counter: returns at once
    std::atomic<int64_t> n{0};
    for (int round = 1; round <= 200; round++) {
      const int g = 1 + round % 17;
      wg.add(g);
      for (int i = 0; i < g; i++) {
        go([&] {
          yield();
          n.fetch_add(1);
          wg.done();
        });
      }
      wg.wait();
      total += g;
      if (n.load() != total) ok = false;
    }
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(ok);
}

// Waiters are woken by signal() in the order they started waiting.
BOOST_AUTO_TEST_CASE(cond_signal_is_fifo) {
  constexpr int kWaiters = 12;
  std::vector<int> order;
  run_main([&] {
    Mutex mu;
    Cond cv(mu);
    int waiting = 0;
    int signals = 0;  // guarded by mu
    WaitGroup wg;
    for (int i = 0; i < kWaiters; i++) {
      wg.add(1);
      go([&, i] {
        mu.lock();
        waiting++;
        int my_turn = 0;
        do {
          cv.wait();
          my_turn = signals;
        } while (my_turn == 0);
        signals--;
        order.push_back(i);
        mu.unlock();
        wg.done();
      });
      // Wait until waiter i is inside cv.wait (it took its ticket before
      // releasing mu, so holding mu with waiting == i+1 proves it).
      wait_until([&] {
        std::lock_guard<Mutex> l(mu);
        return waiting == i + 1;
      }, "waiter " + std::to_string(i) + " waits");
    }
    for (int i = 0; i < kWaiters; i++) {
      mu.lock();
      signals++;
      cv.signal();
      mu.unlock();
      wait_until([&] {
        std::lock_guard<Mutex> l(mu);
        return static_cast<int>(order.size()) == i + 1;
      }, "signal " + std::to_string(i) + " woke a waiter");
    }
    wg.wait();
  }, Config{.gomaxprocs = 2});
  std::vector<int> want;
  for (int i = 0; i < kWaiters; i++) want.push_back(i);
  BOOST_TEST(order == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(cond_broadcast_wakes_all) {
  constexpr int kWaiters = 200;
  int woken = 0;
  run_main([&] {
    Mutex mu;
    Cond cv(mu);
    bool go_flag = false;
    int waiting = 0;
    WaitGroup wg;
    wg.add(kWaiters);
    for (int i = 0; i < kWaiters; i++) {
      go([&] {
        std::lock_guard<Mutex> l(mu);
        waiting++;
        while (!go_flag) cv.wait();
        woken++;
        wg.done();
      });
    }
    // Every waiter took its Cond ticket while holding mu.
    wait_until([&] {
      std::lock_guard<Mutex> l(mu);
      return waiting == kWaiters;
    }, "every waiter waits");
    cv.signal();  // a signal with the flag unset: the woken one re-waits
    mu.lock();
    go_flag = true;
    cv.broadcast();
    mu.unlock();
    wg.wait();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(woken == kWaiters);
}

// A bounded producer/consumer queue on two Conds: any lost wakeup hangs it.
BOOST_AUTO_TEST_CASE(cond_producer_consumer) {
  constexpr int kItems = 20'000;
  int64_t sum = 0;
  run_main([&] {
    Mutex mu;
    Cond not_empty(mu), not_full(mu);
    std::vector<int> q;
    int64_t consumed_sum = 0;
    int consumed = 0;
    WaitGroup wg;
    for (int p = 0; p < 3; p++) {
      wg.add(1);
      go([&, p] {
        for (int i = p; i < kItems; i += 3) {
          std::lock_guard<Mutex> l(mu);
          while (q.size() >= 8) not_full.wait();
          q.push_back(i);
          not_empty.signal();
        }
        wg.done();
      });
    }
    for (int c = 0; c < 3; c++) {
      wg.add(1);
      go([&] {
        for (;;) {
          std::lock_guard<Mutex> l(mu);
          while (q.empty() && consumed < kItems) not_empty.wait();
          if (consumed == kItems) {
            not_empty.broadcast();
            break;
          }
          consumed_sum += q.back();
          q.pop_back();
          if (++consumed == kItems) not_empty.broadcast();
          not_full.signal();
        }
        wg.done();
      });
    }
    wg.wait();
    sum = consumed_sum;
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(sum == int64_t(kItems) * (kItems - 1) / 2);
}

BOOST_AUTO_TEST_CASE(once_runs_once) {
  constexpr int kCallers = 100;
  int runs = 0;
  std::atomic<int> saw_done{0};
  run_main([&] {
    Once once;
    WaitGroup wg;
    wg.add(kCallers);
    for (int i = 0; i < kCallers; i++) {
      go([&] {
        once.call([&] {
          // Keep running until every other caller is parked on the Once.
          wait_until([&] { return gort_test::count_parked(WaitReason::SyncMutexLock) == kCallers - 1; },
                     "the other callers wait for the running call");
          runs++;
        });
        if (once.done() && runs == 1) saw_done++;
        wg.done();
      });
    }
    wg.wait();
    once.call([&] { runs++; });
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(runs == 1);
  BOOST_TEST(saw_done.load() == kCallers);
}

BOOST_AUTO_TEST_CASE(once_counts_as_done_after_throw) {
  Once once;
  int runs = 0;
  BOOST_CHECK_THROW(once.call([&] {
    runs++;
    throw std::runtime_error("boom");
  }), std::runtime_error);
  once.call([&] { runs++; });
  BOOST_TEST(once.done());
  BOOST_TEST(runs == 1);
}

namespace {
// thread_state returns the scheduler state letter of one of our threads
// (/proc/self/task/TID/stat: 'R' running, 'S' sleeping …), or '?'.
char thread_state(pid_t tid) {
  std::ifstream in("/proc/self/task/" + std::to_string(tid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t paren = stat.rfind(')');  // the command name may contain anything
  return paren != std::string::npos && paren + 2 < stat.size() ? stat[paren + 2] : '?';
}
}  // namespace

// Plain OS threads contend with goroutines and wait on a WaitGroup: they
// sleep on a futex instead of parking.
BOOST_AUTO_TEST_CASE(os_thread_waiters) {
  int64_t counter = 0;
  bool thread_saw_release = false;
  run_main([&] {
    Mutex mu;
    WaitGroup all, gate;
    gate.add(1);
    all.add(4);
    std::atomic<bool> released{false};
    std::atomic<pid_t> at_gate{0};
    std::thread t([&] {
      for (int k = 0; k < 20'000; k++) {
        std::lock_guard<Mutex> l(mu);
        counter++;
      }
      at_gate = gettid();
      gate.wait();  // blocks this thread until main releases the gate
      thread_saw_release = released.load();
      all.done();
    });
    for (int i = 0; i < 3; i++) {
      go([&] {
        for (int k = 0; k < 20'000; k++) {
          std::lock_guard<Mutex> l(mu);
          counter++;
        }
        all.done();
      });
    }
    // Release the gate only once the thread sleeps in gate.wait (past
    // at_gate that is the only place it can sleep for long).
    wait_until([&] { return at_gate.load() != 0 && thread_state(at_gate.load()) == 'S'; },
               "the thread sleeps in WaitGroup::wait");
    released = true;
    gate.done();
    all.wait();
    t.join();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(counter == 80'000);
  BOOST_TEST(thread_saw_release);
}

namespace {
// expect_fatal runs fn in a forked child and checks that it dies with
// "fatal error: <msg>" on stderr, as Go's throw prints it.
void expect_fatal(void (*fn)(), const char* msg) {
  auto [status, out] = gort_test::run_child(fn);
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(out.find(std::string("fatal error: ") + msg) != std::string::npos, "stderr was: " << out);
}
}  // namespace

BOOST_AUTO_TEST_CASE(misuse_is_fatal) {
  expect_fatal([] { Mutex m; m.unlock(); }, "sync: unlock of unlocked mutex");
  expect_fatal([] { WaitGroup wg; wg.done(); }, "sync: negative WaitGroup counter");
  expect_fatal([] { RWMutex rw; rw.unlock(); }, "sync: Unlock of unlocked RWMutex");
  expect_fatal([] { RWMutex rw; rw.runlock(); }, "sync: RUnlock of unlocked RWMutex");
}

BOOST_AUTO_TEST_CASE(waitgroup_freed_right_after_last_done) {
  // wg.done() is the spawned goroutine's last act and the waiter drops the
  // WaitGroup as soon as wait() returns: the releasing side must not touch
  // the object after publishing its unit (ASan's use-after-scope check
  // catches it in the sanitizer build; in Release it crashed gort_micro).
  std::atomic<long> rounds{0};
  gort::run_main([&] {
    for (int i = 0; i < 100000; i++) {
      auto wg = std::make_unique<gort::WaitGroup>();
      wg->add(1);
      gort::go([w = wg.get()] { w->done(); });
      wg->wait();
      wg.reset();  // freed while done() may still be returning
      rounds++;
    }
  }, gort::Config{.gomaxprocs = 2});
  BOOST_TEST(rounds.load() == 100000);
}
