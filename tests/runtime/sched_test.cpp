// sched_test.cpp — scheduler behaviour: spawning, ids, labels, yield,
// sleep and timer order/accuracy, work stealing, sysmon preemption at
// GOMAXPROCS=1, blocking-section handoff, stop-the-world, the observer
// interface, schedtrace, stack-overflow detection and shutdown.
#define BOOST_TEST_MODULE sched_test
#include <boost/test/unit_test.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/observer.h"
#include "runtime/stw.h"
#include "tests/runtime/child_process.h"

using namespace gort;
using gort_test::run_child;

namespace {
// wait_all spins (yielding) until n reaches want.
void wait_for(std::atomic<int>& n, int want) {
  while (n.load() < want) yield();
}

}  // namespace

BOOST_AUTO_TEST_CASE(spawn_many_and_ids_are_unique) {
  std::vector<int64_t> ids(1000);
  std::atomic<int> n{0};
  run_main([&] {
    BOOST_TEST(goid() == 1);
    for (int i = 0; i < 1000; i++)
      go([&, i] {
        ids[static_cast<size_t>(i)] = goid();
        n.fetch_add(1);
      });
    wait_for(n, 1000);
  }, Config{.gomaxprocs = 2});
  std::sort(ids.begin(), ids.end());
  BOOST_TEST((std::adjacent_find(ids.begin(), ids.end()) == ids.end()));
  BOOST_TEST(ids.front() > 1);
}

BOOST_AUTO_TEST_CASE(gomaxprocs_from_config_and_env) {
  int seen = 0;
  run_main([&] { seen = gomaxprocs(); }, Config{.gomaxprocs = 3});
  BOOST_TEST(seen == 3);
  setenv("GOMAXPROCS", "2", 1);
  run_main([&] { seen = gomaxprocs(); });
  unsetenv("GOMAXPROCS");
  BOOST_TEST(seen == 2);
}

BOOST_AUTO_TEST_CASE(labels_are_inherited) {
  std::string child_label;
  run_main([&] {
    set_labels(LabelSet{{"handler", "work"}});
    Chan<int> done;
    go([&] {
      LabelSet l = get_labels();
      child_label = l.empty() ? "" : l[0].second;
      done.send(1);
    });
    done.recv();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(child_label == "work");
}

BOOST_AUTO_TEST_CASE(yield_interleaves_at_gomaxprocs_1) {
  std::vector<int> order;
  run_main([&] {
    std::atomic<int> done{0};
    for (int k = 0; k < 2; k++)
      go([&, k] {
        for (int i = 0; i < 3; i++) {
          order.push_back(k);
          yield();
        }
        done++;
      });
    wait_for(done, 2);
  }, Config{.gomaxprocs = 1});
  BOOST_TEST(order.size() == 6u);
  // Both goroutines make progress alternately, not one after the other.
  BOOST_TEST((order != std::vector<int>{0, 0, 0, 1, 1, 1}));
}

BOOST_AUTO_TEST_CASE(timers_fire_in_deadline_order_and_on_time) {
  // GOMAXPROCS=1: timers that are due together (a loaded machine wakes us
  // late) are readied in deadline order onto one FIFO run queue, so the
  // sleepers run — and record — in deadline order.
  std::vector<int> fired;
  std::mutex mu;
  std::vector<int64_t> lateness;
  run_main([&] {
    std::atomic<int> done{0};
    const int delays[] = {30, 5, 20, 1, 10, 15, 25, 2};
    for (int d : delays)
      go([&, d] {
        int64_t t0 = nanotime();
        sleep_ms(d);
        int64_t late = nanotime() - t0 - d * 1'000'000LL;
        std::lock_guard<std::mutex> l(mu);
        fired.push_back(d);
        lateness.push_back(late);
        done++;
      });
    wait_for(done, 8);
  }, Config{.gomaxprocs = 1});
  BOOST_TEST(std::is_sorted(fired.begin(), fired.end()));
  for (int64_t l : lateness) BOOST_TEST(l >= 0);
}

BOOST_AUTO_TEST_CASE(sleeper_wakes_within_1ms_when_idle) {
  // Median lateness over 20 sleeps on an idle runtime: the blocked netpoller
  // M sleeps exactly until the earliest timer.
  std::vector<int64_t> late;
  run_main([&] {
    for (int i = 0; i < 20; i++) {
      int64_t t0 = nanotime();
      sleep_ms(3);
      late.push_back(nanotime() - t0 - 3'000'000);
    }
  }, Config{.gomaxprocs = 2});
  std::sort(late.begin(), late.end());
  BOOST_TEST_MESSAGE("median sleep lateness " << late[10] << " ns");
  BOOST_TEST(late[10] < 1'000'000);
}

BOOST_AUTO_TEST_CASE(stealing_happens) {
  // One goroutine spawns many CPU-bound goroutines onto its own P; the other
  // P can only get them by stealing.
  SchedStats st;
  std::atomic<int> done{0};
  run_main([&] {
    for (int i = 0; i < 200; i++)
      go([&] {
        volatile uint64_t x = 1;
        for (int k = 0; k < 20000; k++) x = x * 6364136223846793005ULL + 1;
        done++;
      });
    wait_for(done, 200);
    st = sched_stats();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST_MESSAGE("steals=" << st.steals << " stolen=" << st.stolen_gs);
  BOOST_TEST(st.steals > 0u);
}

BOOST_AUTO_TEST_CASE(preempt_check_spinner_does_not_starve_others) {
  // At GOMAXPROCS=1 a goroutine spinning with preempt_check must be preempted
  // by sysmon so that a sleeper and a channel partner still run.
  std::atomic<bool> stop{false};
  int ticks = 0;
  SchedStats st;
  run_main([&] {
    go([&] {
      while (!stop.load()) preempt_check();
    });
    yield();  // let the spinner start
    for (int i = 0; i < 5; i++) {
      sleep_ms(1);
      ticks++;
    }
    stop = true;
    st = sched_stats();
  }, Config{.gomaxprocs = 1});
  BOOST_TEST(ticks == 5);
  BOOST_TEST(st.preemptions > 0u);
  BOOST_TEST_MESSAGE("preemption latency max " << st.preempt_latency_max_ns << " ns over " << st.preemptions);
}

BOOST_AUTO_TEST_CASE(blocking_section_hands_off_p) {
  // GOMAXPROCS=1: one goroutine blocks its thread in a BlockingSection for
  // 50 ms; another must keep running meanwhile (sysmon retakes the P).
  std::atomic<int> progress{0};
  std::atomic<bool> in_call{false};
  int during = 0;
  run_main([&] {
    Chan<int> done;
    go([&] {
      {
        BlockingSection bs;
        in_call = true;
        usleep(50'000);
      }
      in_call = false;
      done.send(1);
    });
    go([&] {
      while (!in_call.load()) yield();
      while (in_call.load()) {
        progress++;
        yield();
      }
    });
    done.recv();
    during = progress.load();
  }, Config{.gomaxprocs = 1});
  BOOST_TEST(during > 0);
}

BOOST_AUTO_TEST_CASE(stop_the_world_stops_cpu_bound_goroutines) {
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> counter{0};
  int64_t time_to_stop = 0;
  bool frozen = false;
  run_main([&] {
    std::atomic<int> running{0};
    for (int i = 0; i < 2; i++)
      go([&] {
        running++;
        while (!stop.load()) {
          counter.fetch_add(1, std::memory_order_relaxed);
          preempt_check();
        }
      });
    while (running.load() < 2) yield();
    time_to_stop = with_world_stopped("test", [&] {
      uint64_t a = counter.load();
      usleep(5000);
      frozen = counter.load() == a;
      BOOST_TEST(world_stopped());
    });
    stop = true;
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(frozen);
  BOOST_TEST_MESSAGE("time to stop the world: " << time_to_stop << " ns");
}

namespace {
struct CountingObserver final : SchedObserver {
  std::atomic<int> create{0}, start{0}, block{0}, unblock{0}, end{0};
  void on_go_create(int64_t, G*, G*) override { create++; }
  void on_go_start(int64_t, G*, int32_t) override { start++; }
  void on_go_block(int64_t, G*, WaitReason) override { block++; }
  void on_go_unblock(int64_t, G*, G*) override { unblock++; }
  void on_go_end(int64_t, G*) override { end++; }
};
}  // namespace

BOOST_AUTO_TEST_CASE(observer_sees_lifecycle_and_enumerates) {
  CountingObserver obs;
  std::vector<std::string> waits;
  run_main([&] {
    add_observer(&obs);
    Chan<int> c;
    go([&] { c.recv(); });
    sleep_ms(2);
    for_each_goroutine([&](G* g) {
      GoroutineInfo info = goroutine_info(g);
      if (info.status == GStatus::Waiting) waits.push_back(wait_reason_string(info.wait_reason));
    });
    c.send(1);
    sleep_ms(1);
    remove_observer(&obs);
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(obs.create.load() >= 1);
  BOOST_TEST(obs.block.load() >= 1);
  BOOST_TEST(obs.unblock.load() >= 1);
  BOOST_TEST(obs.end.load() >= 1);
  BOOST_TEST((std::find(waits.begin(), waits.end(), "chan receive") != waits.end()));
}

BOOST_AUTO_TEST_CASE(stack_overflow_is_reported_with_goroutine_id) {
  auto [status, err] = run_child([] {
    run_main([] {
      struct R {
        static int deep(int n) {
          volatile char pad[512];
          pad[0] = static_cast<char>(n);
          preempt_check();
          yield();
          if (n > 100'000'000) return 0;  // never: the stack runs out first
          return deep(n + 1) + pad[0];
        }
      };
      Chan<int> c;
      go([&] { c.send(R::deep(0)); });
      c.recv();
    }, Config{.gomaxprocs = 1, .stack_bytes = 64 * 1024});
  });
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(err.find("fatal error: stack overflow in goroutine 2") != std::string::npos, err);
}

BOOST_AUTO_TEST_CASE(send_on_closed_channel_is_fatal) {
  auto [status, err] = run_child([] {
    run_main([] {
      Chan<int> c(1);
      c.close();
      c.send(1);
    });
  });
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(err.find("fatal error: send on closed channel") != std::string::npos, err);
  auto [status2, err2] = run_child([] {
    run_main([] {
      Chan<int> c;
      c.close();
      c.close();
    });
  });
  BOOST_TEST(WIFSIGNALED(status2));
  BOOST_TEST(err2.find("fatal error: close of closed channel") != std::string::npos, err2);
}

BOOST_AUTO_TEST_CASE(schedtrace_prints_go_lines) {
  auto [status, err] = run_child([] {
    run_main([] { sleep_ms(120); }, Config{.gomaxprocs = 2, .schedtrace_ms = 50});
  });
  BOOST_TEST(WIFEXITED(status));
  // SCHED 50ms: gomaxprocs=2 idleprocs=2 threads=3 spinningthreads=0 idlethreads=1 runqueue=0 [0 0]
  BOOST_TEST(err.find("SCHED ") == 0, err);
  int ms, procs, idle, threads, spinning, idlethreads, runq, q0, q1;
  int n = sscanf(err.c_str(),
                 "SCHED %dms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d idlethreads=%d runqueue=%d [%d %d]",
                 &ms, &procs, &idle, &threads, &spinning, &idlethreads, &runq, &q0, &q1);
  BOOST_TEST(n == 9, err);
  BOOST_TEST(procs == 2);

  auto [status2, detail] = run_child([] {
    run_main([] { sleep_ms(70); }, Config{.gomaxprocs = 2, .schedtrace_ms = 50, .scheddetail = 1});
  });
  BOOST_TEST(WIFEXITED(status2));
  BOOST_TEST(detail.find(" gcwaiting=0 nmidlelocked=0 stopwait=") != std::string::npos, detail);
  BOOST_TEST(detail.find("  P0: status=") != std::string::npos, detail);
  BOOST_TEST(detail.find("  M0: p=") != std::string::npos, detail);
  BOOST_TEST(detail.find("  G1: status=4(sleep) m=-1 lockedm=-1") != std::string::npos, detail);
}

#if !GORT_ASAN  // under ASan its own SEGV handler reports the fault
BOOST_AUTO_TEST_CASE(huge_frame_overflow_faults_with_goroutine_id) {
  // A frame larger than the red zone, with no safepoint in between, faults
  // in the chunk's guard page; the handler still names the goroutine.
  auto [status, err] = run_child([] {
    run_main([] {
      Chan<int> c;
      go([&] {
        // Within the guard budget every slot has a guard page below it.
        volatile char big[200 * 1024];
        big[0] = 1;
        c.send(big[0]);
      });
      c.recv();
    }, Config{.gomaxprocs = 1, .stack_bytes = 64 * 1024});
  });
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(err.find("fatal error: stack overflow in goroutine") != std::string::npos, err);
}
#endif

namespace {
std::atomic<uintptr_t> g_marker_fp{0};
__attribute__((noinline)) void park_in_marker(Chan<int>& c) {
  g_marker_fp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  c.recv();
  asm volatile("" ::: "memory");  // keep the frame
}
}  // namespace

BOOST_AUTO_TEST_CASE(parked_goroutine_stack_walks_by_frame_pointers) {
  bool found = false;
  int depth = 0;
  run_main([&] {
    Chan<int> c;
    int64_t id = go([&] { park_in_marker(c); });
    sleep_ms(2);
    for_each_goroutine([&](G* g) {
      GoroutineInfo info = goroutine_info(g);
      if (info.id != id) return;
      uintptr_t fp = info.frame.fp;
      for (depth = 0; fp >= info.stack_lo && fp < info.stack_hi && depth < 64; depth++) {
        if (fp == g_marker_fp.load()) {
          found = true;
          break;
        }
        fp = *reinterpret_cast<uintptr_t*>(fp);
      }
    });
    c.send(1);
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(found);
  BOOST_TEST(depth > 0);
}
