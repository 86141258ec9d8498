// sched_test.cpp — scheduler behaviour: spawning, ids, labels, yield,
// sleep and timer order, work stealing, sysmon preemption at GOMAXPROCS=1,
// blocking-section handoff, stop-the-world, the observer interface,
// schedtrace, stack-overflow detection and shutdown.
//
// Tests wait for conditions (test_util.h), never for time; how late a
// sleeper wakes is measured in bench/micro/sleep_bench.cpp.
#define BOOST_TEST_MODULE sched_test
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/observer.h"
#include "runtime/stw.h"
#include "tests/runtime/child_process.h"
#include "tests/runtime/test_util.h"

using namespace gort;
using gort_test::run_child;
using gort_test::wait_parked;
using gort_test::wait_until;

namespace {
// wait_for waits (yielding) until n reaches want.
void wait_for(std::atomic<int>& n, int want) {
  wait_until([&] { return n.load() >= want; }, std::to_string(want) + " goroutines are done");
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

BOOST_AUTO_TEST_CASE(timers_fire_in_deadline_order_and_never_early) {
  // GOMAXPROCS=1: timers that are due together (a loaded machine wakes us
  // late) are readied in deadline order onto one FIFO run queue, so the
  // sleepers run — and record — in deadline order. Each sleeper records its
  // own deadline (start + delay) rather than the nominal delay: if the OS
  // deschedules the M between two sleepers' starts for longer than their
  // delays differ, the later-started one really is due later.
  struct Fired {
    int delay_ms;
    int64_t deadline_ns, woke_ns;
  };
  std::vector<Fired> fired;
  std::mutex mu;
  run_main([&] {
    std::atomic<int> done{0};
    const int delays[] = {30, 5, 20, 1, 10, 15, 25, 2};
    for (int d : delays)
      go([&, d] {
        const int64_t deadline = nanotime() + d * 1'000'000LL;
        sleep_ms(d);
        const int64_t woke = nanotime();
        std::lock_guard<std::mutex> l(mu);
        fired.push_back({d, deadline, woke});
        done++;
      });
    wait_for(done, 8);
  }, Config{.gomaxprocs = 1});
  BOOST_REQUIRE(fired.size() == 8u);
  for (size_t i = 1; i < fired.size(); i++)
    BOOST_TEST(fired[i - 1].deadline_ns <= fired[i].deadline_ns,
               "the " << fired[i - 1].delay_ms << " ms sleeper ran before the " << fired[i].delay_ms
                      << " ms one but was due later");
  for (const Fired& f : fired) BOOST_TEST(f.woke_ns >= f.deadline_ns, f.delay_ms << " ms sleeper woke early");
}

BOOST_AUTO_TEST_CASE(sleeper_wakes_after_its_deadline) {
  // sleep_for parks for at least the given time, also when the runtime is
  // otherwise idle and the blocked netpoller M sleeps until the earliest
  // timer. How late it wakes is bench/micro/sleep_bench.cpp's business.
  std::vector<int64_t> slept;
  run_main([&] {
    for (int i = 0; i < 20; i++) {
      int64_t t0 = nanotime();
      sleep_ms(3);
      slept.push_back(nanotime() - t0);
    }
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(slept.size() == 20u);
  for (int64_t ns : slept) BOOST_TEST(ns >= 3'000'000);
}

BOOST_AUTO_TEST_CASE(stealing_happens) {
  // The main goroutine spawns many CPU-bound goroutines onto its own P's
  // local queue and then keeps that P busy, without a safepoint, until it
  // sees a steal: the other P can only get them by stealing, however late
  // the OS lets its M run. Everything spawned still runs.
  SchedStats st;
  std::atomic<int> done{0};
  uint64_t steals_seen = 0;
  run_main([&] {
    const uint64_t steals_before = sched_stats().steals;
    for (int i = 0; i < 200; i++)
      go([&] {
        volatile uint64_t x = 1;
        for (int k = 0; k < 20000; k++) x = x * 6364136223846793005ULL + 1;
        done++;
      });
    const int64_t deadline = nanotime() + gort_test::kDeadlineNs;
    while (sched_stats().steals == steals_before && nanotime() < deadline) cpu_relax();
    steals_seen = sched_stats().steals - steals_before;
    wait_for(done, 200);
    st = sched_stats();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST_MESSAGE("steals=" << st.steals << " stolen=" << st.stolen_gs);
  BOOST_TEST(steals_seen > 0u);  // the spin ended because of a steal, not the deadline
  BOOST_TEST(st.stolen_gs >= st.steals);  // a successful steal takes at least one G
  BOOST_TEST(done.load() == 200);
}

BOOST_AUTO_TEST_CASE(preempt_check_spinner_does_not_starve_others) {
  // At GOMAXPROCS=1 a goroutine spinning with preempt_check must be preempted
  // by sysmon so that a sleeper and a channel partner still run.
  std::atomic<bool> stop{false};
  int ticks = 0;
  SchedStats st;
  uint64_t preemptions = 0;
  run_main([&] {
    const uint64_t preemptions_before = sched_stats().preemptions;
    std::atomic<bool> spinning{false};
    go([&] {
      spinning = true;
      while (!stop.load()) preempt_check();
    });
    // The spinner holds the only P from here on: main runs again only
    // because sysmon preempts it.
    wait_until([&] { return spinning.load(); }, "the spinner runs");
    for (int i = 0; i < 5; i++) {
      sleep_ms(1);
      ticks++;
    }
    stop = true;
    st = sched_stats();
    preemptions = st.preemptions - preemptions_before;
  }, Config{.gomaxprocs = 1});
  BOOST_TEST(ticks == 5);
  // Each tick needed the spinner off the only P, at least once.
  BOOST_TEST(preemptions >= 5u);
  BOOST_TEST_MESSAGE("preemption latency max " << st.preempt_latency_max_ns << " ns over " << st.preemptions);
}

BOOST_AUTO_TEST_CASE(blocking_section_hands_off_p) {
  // GOMAXPROCS=1: one goroutine blocks its thread in a BlockingSection (a
  // stand-in for a blocking system call: it sleeps in usleep until the
  // other goroutine has made progress); the other can only run meanwhile
  // if sysmon retakes the P and hands it to another M.
  std::atomic<int> progress{0};
  std::atomic<bool> in_call{false};
  int during = 0;
  uint64_t handoffs = 0;
  run_main([&] {
    Chan<int> done;
    const uint64_t handoffs_before = sched_stats().handoffs;
    go([&] {
      {
        BlockingSection bs;
        in_call = true;
        const int64_t deadline = nanotime() + gort_test::kDeadlineNs;
        while (progress.load() == 0 && nanotime() < deadline) usleep(100);
        during = progress.load();
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
    handoffs = sched_stats().handoffs - handoffs_before;
  }, Config{.gomaxprocs = 1});
  BOOST_TEST(during > 0);  // the other goroutine ran while this one was in the section
  BOOST_TEST(handoffs >= 1u);
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
    wait_for(running, 2);
    // Both spinners run: the counter moves.
    const uint64_t c0 = counter.load();
    wait_until([&] { return counter.load() > c0 + 1000; }, "the spinners count");
    time_to_stop = with_world_stopped("test", [&] {
      uint64_t a = counter.load();
      usleep(5000);  // a window in which a running spinner would count: nothing may happen in it
      frozen = counter.load() == a;
      BOOST_TEST(world_stopped());
    });
    stop = true;
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(frozen);
  BOOST_TEST_MESSAGE("time to stop the world: " << time_to_stop << " ns");
}

namespace {
// LifecycleObserver records the events of the goroutines that one parent
// creates (by goroutine id; the runtime's own goroutines and the parent are
// left out): how many of each kind, and each goroutine's event sequence.
struct LifecycleObserver final : SchedObserver {
  explicit LifecycleObserver(int64_t parent) : parent_id(parent) {}
  const int64_t parent_id;
  std::atomic<int> create{0}, start{0}, block{0}, unblock{0}, sched{0}, preempt{0}, end{0};
  std::atomic<int> block_not_chan_receive{0};  // blocks with another reason
  std::atomic<int> unblock_not_by_parent{0};   // unblocks by anyone but the parent

  struct Trace {
    std::string kinds;  // one letter per event: c(reate) s(tart) b(lock) u(nblock) y(ield) p(reempt) e(nd)
    std::vector<int64_t> ts;
  };
  std::mutex mu;
  std::map<int64_t, Trace> traces;  // guarded by mu; a key per child created

  // record appends an event of g's if g is one of ours.
  bool record(G* g, int64_t ts, char kind) {
    std::lock_guard<std::mutex> l(mu);
    auto it = traces.find(goroutine_id(g));
    if (it == traces.end()) return false;
    it->second.kinds += kind;
    it->second.ts.push_back(ts);
    return true;
  }
  void on_go_create(int64_t ts, G* g, G* parent) override {
    if (parent == nullptr || goroutine_id(parent) != parent_id) return;
    {
      std::lock_guard<std::mutex> l(mu);
      traces[goroutine_id(g)] = Trace{};
    }
    record(g, ts, 'c');
    create++;
  }
  void on_go_start(int64_t ts, G* g, int32_t) override {
    if (record(g, ts, 's')) start++;
  }
  void on_go_block(int64_t ts, G* g, WaitReason r) override {
    if (!record(g, ts, 'b')) return;
    block++;
    if (r != WaitReason::ChanReceive) block_not_chan_receive++;
  }
  void on_go_unblock(int64_t ts, G* g, G* by) override {
    if (!record(g, ts, 'u')) return;
    unblock++;
    if (by == nullptr || goroutine_id(by) != parent_id) unblock_not_by_parent++;
  }
  void on_go_sched(int64_t ts, G* g) override {
    if (record(g, ts, 'y')) sched++;
  }
  void on_go_preempt(int64_t ts, G* g) override {
    if (record(g, ts, 'p')) preempt++;
  }
  void on_go_end(int64_t ts, G* g) override {
    if (record(g, ts, 'e')) end++;
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(observer_sees_lifecycle_and_enumerates) {
  // kN goroutines each block exactly once, receiving on an unbuffered
  // channel that main sends on only once all of them are parked: every
  // event of their lives is implied by that.
  constexpr int kN = 16;
  std::unique_ptr<LifecycleObserver> obs;
  int64_t parked_seen = 0;
  run_main([&] {
    obs = std::make_unique<LifecycleObserver>(goid());
    add_observer(obs.get());
    Chan<int> c;
    std::vector<int64_t> ids;
    for (int i = 0; i < kN; i++) ids.push_back(go([&] { c.recv(); }));
    gort_test::wait_all_parked(ids, WaitReason::ChanReceive);
    // Enumeration sees them parked, with Go's wait-reason string.
    for_each_goroutine([&](G* g) {
      GoroutineInfo info = goroutine_info(g);
      if (info.status == GStatus::Waiting && info.parent_id == goid() &&
          std::string(wait_reason_string(info.wait_reason)) == "chan receive")
        parked_seen++;
    });
    for (int i = 0; i < kN; i++) c.send(i);
    wait_until([&] { return obs->end.load() == kN; }, "every child's GoEnd is observed");
    remove_observer(obs.get());
  }, Config{.gomaxprocs = 2});
  LifecycleObserver& o = *obs;
  BOOST_TEST(parked_seen == kN);
  BOOST_TEST(o.create.load() == kN);
  BOOST_TEST(o.block.load() == kN);
  BOOST_TEST(o.block_not_chan_receive.load() == 0);
  BOOST_TEST(o.unblock.load() == kN);
  BOOST_TEST(o.unblock_not_by_parent.load() == 0);
  BOOST_TEST(o.end.load() == kN);
  // Every start follows a create, an unblock, a yield or a preemption (a
  // loaded machine may have sysmon preempt a child at its safepoint).
  BOOST_TEST(o.start.load() == o.create.load() + o.unblock.load() + o.sched.load() + o.preempt.load());
  // Per goroutine: create, start, block, unblock, start, end — with any
  // number of preempt+start pairs in between — and non-decreasing times.
  std::lock_guard<std::mutex> l(o.mu);
  BOOST_TEST(o.traces.size() == size_t(kN));
  for (auto& [id, t] : o.traces) {
    std::string k = t.kinds;
    for (size_t p; (p = k.find("ps")) != std::string::npos;) k.erase(p, 2);
    BOOST_TEST(k == "csbuse", "goroutine " << id << " events " << t.kinds);
    BOOST_TEST(std::is_sorted(t.ts.begin(), t.ts.end()), "goroutine " << id << " timestamps out of order");
  }
}

BOOST_AUTO_TEST_CASE(count_goroutines_by_state_and_wait_reason) {
  // kRecv goroutines park on a channel and kSleep on timers; the counts see
  // at least them under their wait reasons, the caller running, and add up
  // to the live goroutines once the background ones are parked too.
  constexpr int kRecv = 12, kSleep = 5;
  run_main([&] {
    Chan<int> c;
    std::vector<int64_t> recv_ids, sleep_ids;
    for (int i = 0; i < kRecv; i++) recv_ids.push_back(go([&] { c.recv(); }));
    for (int i = 0; i < kSleep; i++) sleep_ids.push_back(go([&] { sleep_ms(60'000); }));
    gort_test::wait_all_parked(recv_ids, WaitReason::ChanReceive);
    gort_test::wait_all_parked(sleep_ids, WaitReason::Sleep);
    GoroutineCounts n = count_goroutines();
    BOOST_TEST(n.waiting[static_cast<size_t>(WaitReason::ChanReceive)] >= kRecv);
    BOOST_TEST(n.waiting[static_cast<size_t>(WaitReason::Sleep)] >= kSleep);
    BOOST_TEST(n.running >= 1);  // this goroutine
    BOOST_TEST(n.total() >= kRecv + kSleep + 1);
    for (int i = 0; i < kRecv; i++) c.send(i);
    wait_until([&] { return count_goroutines().waiting[static_cast<size_t>(WaitReason::ChanReceive)] < kRecv; },
               "the receivers are counted no longer");
  }, Config{.gomaxprocs = 2});
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

namespace {
// run_until_stderr_shows runs a runtime with cfg whose main goroutine (G1)
// parks in a channel receive while a helper goroutine collects what the
// runtime writes to stderr, until a whole line containing needle has
// appeared; then it writes everything collected to the real stderr. For
// children of run_child that check sysmon's periodic output: they wait for
// the line, not for a number of trace periods.
void run_until_stderr_shows(Config cfg, const char* needle) {
  int fds[2];
  if (pipe(fds) != 0) _exit(3);
  fcntl(fds[0], F_SETFL, O_NONBLOCK);
  const int real_stderr = dup(2);
  dup2(fds[1], 2);
  std::string text;
  auto drain = [&] {
    char buf[4096];
    for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) text.append(buf, static_cast<size_t>(n));
  };
  run_main([&] {
    Chan<int> seen;
    go([&] {
      wait_until([&] {
        drain();
        size_t p = text.find(needle);
        return p != std::string::npos && text.find('\n', p) != std::string::npos;
      }, std::string("stderr shows \"") + needle + "\"");
      seen.send(1);
    });
    seen.recv();
  }, cfg);
  fflush(stderr);
  drain();
  dup2(real_stderr, 2);
  if (write(2, text.data(), text.size()) < 0) _exit(4);
}
}  // namespace

BOOST_AUTO_TEST_CASE(schedtrace_prints_go_lines) {
  auto [status, err] = run_child([] { run_until_stderr_shows(Config{.gomaxprocs = 2, .schedtrace_ms = 50}, "SCHED "); });
  BOOST_TEST(WIFEXITED(status));
  // SCHED 50ms: gomaxprocs=2 idleprocs=2 threads=3 spinningthreads=0 idlethreads=1 runqueue=0 [0 0]
  BOOST_TEST(err.find("SCHED ") == 0, err);
  int ms, procs, idle, threads, spinning, idlethreads, runq, q0, q1;
  int n = sscanf(err.c_str(),
                 "SCHED %dms: gomaxprocs=%d idleprocs=%d threads=%d spinningthreads=%d idlethreads=%d runqueue=%d [%d %d]",
                 &ms, &procs, &idle, &threads, &spinning, &idlethreads, &runq, &q0, &q1);
  BOOST_TEST(n == 9, err);
  BOOST_TEST(procs == 2);

  // scheddetail: main is parked (status 4, Go's _Gwaiting) in "chan
  // receive" for as long as the child waits for that line.
  auto [status2, detail] = run_child([] {
    run_until_stderr_shows(Config{.gomaxprocs = 2, .schedtrace_ms = 50, .scheddetail = 1},
                           "  G1: status=4(chan receive) m=-1 lockedm=-1");
  });
  BOOST_TEST(WIFEXITED(status2));
  BOOST_TEST(detail.find(" gcwaiting=0 nmidlelocked=0 stopwait=") != std::string::npos, detail);
  BOOST_TEST(detail.find("  P0: status=") != std::string::npos, detail);
  BOOST_TEST(detail.find("  M0: p=") != std::string::npos, detail);
  BOOST_TEST(detail.find("  G1: status=4(chan receive) m=-1 lockedm=-1") != std::string::npos, detail);
}

#if !GORT_ASAN && !GORT_TSAN  // under a sanitizer its own SEGV handler reports the fault
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
    wait_parked(id, WaitReason::ChanReceive);
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
