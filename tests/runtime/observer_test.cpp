// observer_test.cpp — the profilers' and tracer's contract (observer.h,
// threads.h): several observers at once with exact event counts, attach and
// detach at any moment while events fire, one clock for all events, block
// and unblock events and block-hook delays for channels, select, netpoll and
// sync, the BlockingSection events (including the requeue without a P),
// stop-the-world events with their reason, and the thread registry with
// hooks that run on the thread itself.
#define BOOST_TEST_MODULE observer_test
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/netpoll.h"
#include "runtime/observer.h"
#include "runtime/select.h"
#include "runtime/stw.h"
#include "runtime/sync.h"
#include "runtime/threads.h"
#include "tests/runtime/test_util.h"

using namespace gort;
using gort_test::wait_parked;
using gort_test::wait_until;

namespace {

// Recorder keeps every event about the goroutines in `ids` (filled by the
// test as it spawns them), in arrival order per goroutine.
struct Event {
  int64_t ts;
  std::string kind;
  WaitReason reason = WaitReason::Zero;
};

class Recorder final : public SchedObserver {
 public:
  std::mutex mu;
  std::map<int64_t, std::vector<Event>> by_g;  // guarded by mu
  std::set<int64_t> ids;                       // guarded by mu
  std::vector<std::string> stw;                // guarded by mu
  std::atomic<int> syscall_block{0};

  void watch(int64_t id) {
    std::lock_guard<std::mutex> l(mu);
    ids.insert(id);
  }
  std::vector<Event> events(int64_t id) {
    std::lock_guard<std::mutex> l(mu);
    return by_g[id];
  }
  int count(int64_t id, const std::string& kind) {
    auto ev = events(id);
    return static_cast<int>(std::count_if(ev.begin(), ev.end(), [&](const Event& e) { return e.kind == kind; }));
  }

  void on_go_create(int64_t ts, G* g, G*) override { add(ts, g, "create"); }
  void on_go_start(int64_t ts, G* g, int32_t) override { add(ts, g, "start"); }
  void on_go_block(int64_t ts, G* g, WaitReason r) override { add(ts, g, "block", r); }
  void on_go_unblock(int64_t ts, G* g, G*) override { add(ts, g, "unblock"); }
  void on_go_sched(int64_t ts, G* g) override { add(ts, g, "sched"); }
  void on_go_preempt(int64_t ts, G* g) override { add(ts, g, "preempt"); }
  void on_go_end(int64_t ts, G* g) override { add(ts, g, "end"); }
  void on_go_syscall_enter(int64_t ts, G* g) override { add(ts, g, "syscall"); }
  void on_go_syscall_exit(int64_t ts, G* g, bool lost_p) override { add(ts, g, lost_p ? "sysexit-requeued" : "sysexit"); }
  void on_go_syscall_block(int64_t, int32_t) override { syscall_block++; }
  void on_stw_start(int64_t, const char* reason) override {
    std::lock_guard<std::mutex> l(mu);
    stw.push_back(std::string("start:") + reason);
  }
  void on_stw_done(int64_t) override {
    std::lock_guard<std::mutex> l(mu);
    stw.push_back("done");
  }

 private:
  void add(int64_t ts, G* g, const char* kind, WaitReason r = WaitReason::Zero) {
    int64_t id = goroutine_id(g);
    std::lock_guard<std::mutex> l(mu);
    // Everything is kept: a goroutine's first events may fire before the
    // test learns its id; tests read only the goroutines they watch.
    by_g[id].push_back(Event{ts, kind, r});
  }
};

// watched_events drops events of goroutines the test did not watch.
std::vector<Event> watched_events(Recorder& r, int64_t id) {
  std::lock_guard<std::mutex> l(r.mu);
  return r.ids.count(id) ? r.by_g[id] : std::vector<Event>{};
}

// kinds_without_preemptions lists the events' kinds, leaving out each
// preempt and the start after it: sysmon may preempt a goroutine the OS
// descheduled for 10 ms (a loaded machine, a sanitizer build), which is
// legal anywhere a goroutine runs.
std::vector<std::string> kinds_without_preemptions(const std::vector<Event>& ev) {
  std::vector<std::string> kinds;
  for (size_t i = 0; i < ev.size(); i++) {
    if (ev[i].kind == "preempt" && i + 1 < ev.size() && ev[i + 1].kind == "start") {
      i++;
      continue;
    }
    kinds.push_back(ev[i].kind);
  }
  return kinds;
}

}  // namespace

BOOST_AUTO_TEST_CASE(two_observers_see_the_same_exact_events) {
  // N goroutines each block once on a channel receive and exit.
  constexpr int kN = 50;
  Recorder a, b;
  std::vector<int64_t> ids;
  run_main([&] {
    add_observer(&a);
    add_observer(&b);
    Chan<int> c;
    WaitGroup wg;
    for (int i = 0; i < kN; i++) {
      wg.add(1);
      int64_t id = go([&] {
        c.recv();
        wg.done();
      });
      a.watch(id);
      b.watch(id);
      ids.push_back(id);
    }
    wait_until([&] { return gort_test::count_parked(WaitReason::ChanReceive) == kN; }, "all receivers parked");
    for (int i = 0; i < kN; i++) c.send(i);
    wg.wait();
    // wg.wait() returns once every goroutine called done(), but each still
    // has to return from its function before its end event fires: wait for
    // all of them, not only the last one spawned.
    wait_until(
        [&] {
          return std::all_of(ids.begin(), ids.end(),
                             [&](int64_t id) { return a.count(id, "end") == 1 && b.count(id, "end") == 1; });
        },
        "every end event");
    remove_observer(&a);
    remove_observer(&b);
  }, Config{.gomaxprocs = 2});
  for (int64_t id : ids) {
    for (Recorder* r : {&a, &b}) {
      auto ev = watched_events(*r, id);
      // create, start, block(chan receive), unblock, start, end — in order,
      // with non-decreasing timestamps from the one clock.
      std::vector<std::string> kinds = kinds_without_preemptions(ev);
      std::string seen;
      for (auto& k : kinds) seen += " " + k;
      BOOST_TEST((kinds == std::vector<std::string>{"create", "start", "block", "unblock", "start", "end"}),
                 "goroutine " << id << ":" << seen);
      for (size_t i = 1; i < ev.size(); i++) BOOST_TEST(ev[i].ts >= ev[i - 1].ts);
      auto block = std::find_if(ev.begin(), ev.end(), [](const Event& e) { return e.kind == "block"; });
      if (block != ev.end()) BOOST_TEST((block->reason == WaitReason::ChanReceive));
    }
  }
}

namespace {
// Fragile is an observer that must never be called after remove_observer
// returned: it is poisoned then, and deleted (ASan would see a late call).
struct Fragile final : SchedObserver {
  std::atomic<bool> removed{false};
  std::atomic<int64_t> calls{0};
  std::atomic<int64_t>* late;
  explicit Fragile(std::atomic<int64_t>* l) : late(l) {}
  void hit() {
    if (removed.load()) late->fetch_add(1);
    calls++;
  }
  void on_go_start(int64_t, G*, int32_t) override { hit(); }
  void on_go_block(int64_t, G*, WaitReason) override { hit(); }
  void on_go_unblock(int64_t, G*, G*) override { hit(); }
  void on_proc_start(int64_t, int32_t, int64_t) override { hit(); }
  void on_proc_stop(int64_t, int32_t) override { hit(); }
};
}  // namespace

BOOST_AUTO_TEST_CASE(attach_and_detach_while_events_fire) {
  std::atomic<int64_t> late{0}, total_calls{0};
  run_main([&] {
    std::atomic<bool> stop{false};
    WaitGroup wg;
    // Event generators: ping-pong pairs and sleepers on both Ps.
    for (int k = 0; k < 4; k++) {
      wg.add(2);
      auto* a = new Chan<int>();
      auto* b = new Chan<int>();
      go([&, a, b] {
        while (!stop.load()) {
          a->send(1);
          b->recv();
        }
        a->send(0);
        wg.done();
      });
      go([&, a, b] {
        while (a->recv() != 0) b->send(1);
        wg.done();
        delete a;
        delete b;
      });
    }
    for (int i = 0; i < 300; i++) {
      auto* o1 = new Fragile(&late);
      auto* o2 = new Fragile(&late);
      add_observer(o1);
      add_observer(o2);
      yield();
      remove_observer(o1);
      o1->removed = true;
      if (i % 2 == 0) yield();
      remove_observer(o2);
      o2->removed = true;
      total_calls += o1->calls.load() + o2->calls.load();
      delete o1;
      delete o2;
    }
    stop = true;
    wg.wait();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(late.load() == 0);
  BOOST_TEST(total_calls.load() > 0);
}

BOOST_AUTO_TEST_CASE(block_events_carry_the_wait_reason) {
  Recorder r;
  std::map<std::string, int64_t> id_of;
  run_main([&] {
    add_observer(&r);
    Chan<int> c, d;
    Mutex mu;
    auto spawn = [&](const std::string& name, auto fn) {
      int64_t id = go(fn);
      r.watch(id);
      id_of[name] = id;
      return id;
    };
    spawn("recv", [&] { c.recv(); });
    spawn("send", [&] { d.send(1); });
    spawn("select", [&] {
      int v;
      select(on_recv(c, &v), on_recv(c, &v));
    });
    mu.lock();
    spawn("mutex", [&] {
      mu.lock();
      mu.unlock();
    });
    spawn("sleep", [&] { sleep_ms(1); });
    wait_parked(id_of["recv"], WaitReason::ChanReceive);
    wait_parked(id_of["send"], WaitReason::ChanSend);
    wait_parked(id_of["select"], WaitReason::Select);
    wait_parked(id_of["mutex"], WaitReason::SyncMutexLock);
    c.send(1);
    c.send(2);
    d.recv();
    mu.unlock();
    wait_until([&] {
      for (auto& [name, id] : id_of)
        if (r.count(id, "end") != 1) return false;
      return true;
    }, "all five goroutines ended");
    remove_observer(&r);
  }, Config{.gomaxprocs = 2});
  auto reason_of = [&](const std::string& name) {
    for (auto& e : watched_events(r, id_of[name]))
      if (e.kind == "block") return e.reason;
    return WaitReason::Zero;
  };
  BOOST_TEST((reason_of("recv") == WaitReason::ChanReceive));
  BOOST_TEST((reason_of("send") == WaitReason::ChanSend));
  BOOST_TEST((reason_of("select") == WaitReason::Select));
  BOOST_TEST((reason_of("mutex") == WaitReason::SyncMutexLock));
  BOOST_TEST((reason_of("sleep") == WaitReason::Sleep));
  for (auto& [name, id] : id_of) BOOST_TEST(r.count(id, "unblock") == 1, name);
}

namespace {
std::mutex g_hook_mu;
std::map<WaitReason, std::vector<int64_t>> g_hook_delays;  // guarded by g_hook_mu
void record_block(int64_t ns, WaitReason r) {
  std::lock_guard<std::mutex> l(g_hook_mu);
  g_hook_delays[r].push_back(ns);
}
}  // namespace

BOOST_AUTO_TEST_CASE(block_hook_reports_channel_select_and_netpoll_waits) {
  // Each waiter is parked for at least 5 ms before it is readied, so each
  // reported delay is at least 5 ms (and exactly one event per wait).
  constexpr int64_t kHoldNs = 5'000'000;
  set_block_hook(&record_block);
  run_main([&] {
    Chan<int> c, d, s;
    int64_t recv_id = go([&] { c.recv(); });
    int64_t send_id = go([&] { d.send(1); });
    int64_t select_id = go([&] {
      int v;
      select(on_recv(s, &v));
    });
    // netpoll: a read on a socket pair that stays empty for a while.
    using boost::asio::ip::tcp;
    tcp::acceptor acc(io_context(), tcp::endpoint(boost::asio::ip::address_v4::loopback(), 0));
    tcp::socket server(io_context()), client(io_context());
    client.connect(acc.local_endpoint());
    acc.accept(server);
    int64_t io_id = go([&] {
      char byte;
      await_io([&](IoWaker wake) {
        server.async_read_some(boost::asio::buffer(&byte, 1), [wake](auto, size_t) { wake(); });
      });
    });
    wait_parked(recv_id, WaitReason::ChanReceive);
    wait_parked(send_id, WaitReason::ChanSend);
    wait_parked(select_id, WaitReason::Select);
    wait_parked(io_id, WaitReason::IOWait);
    sleep_for(std::chrono::nanoseconds(kHoldNs));
    c.send(1);
    d.recv();
    s.send(1);
    char one = 1;
    boost::asio::write(client, boost::asio::buffer(&one, 1));
    wait_until([&] {
      std::lock_guard<std::mutex> l(g_hook_mu);
      return g_hook_delays.size() == 4;
    }, "four block events");
  }, Config{.gomaxprocs = 2});
  set_block_hook(nullptr);
  std::lock_guard<std::mutex> l(g_hook_mu);
  for (WaitReason r : {WaitReason::ChanReceive, WaitReason::ChanSend, WaitReason::Select, WaitReason::IOWait}) {
    BOOST_TEST(g_hook_delays[r].size() == 1u, wait_reason_string(r));
    if (!g_hook_delays[r].empty()) BOOST_TEST(g_hook_delays[r][0] >= kHoldNs, wait_reason_string(r));
  }
}

BOOST_AUTO_TEST_CASE(no_hook_no_calls_and_no_stamps) {
  // With no hook set nothing is reported, and a hook set afterwards does not
  // see waits that started before it (they were never stamped).
  set_block_hook(nullptr);
  {
    std::lock_guard<std::mutex> l(g_hook_mu);
    g_hook_delays.clear();
  }
  run_main([&] {
    Chan<int> c;
    int64_t id = go([&] { c.recv(); });
    wait_parked(id, WaitReason::ChanReceive);
    set_block_hook(&record_block);
    c.send(1);
    wait_until([&] { return gort_test::goroutine_state(id).status == GStatus::Dead; }, "receiver exits");
    set_block_hook(nullptr);
  }, Config{.gomaxprocs = 1});
  std::lock_guard<std::mutex> l(g_hook_mu);
  BOOST_TEST(g_hook_delays.empty());
}

BOOST_AUTO_TEST_CASE(blocking_section_events_including_the_requeue_without_a_p) {
  // GOMAXPROCS=1: a goroutine blocks its thread in a BlockingSection while
  // another keeps the only P busy; sysmon retakes the P (syscall_block), so
  // when the section ends there is no P and the goroutine is requeued.
  Recorder r;
  int64_t id = 0;
  std::atomic<bool> io_failed{false};
  run_main([&] {
    add_observer(&r);
    std::atomic<bool> in_call{false};
    int pipefd[2];
    BOOST_REQUIRE(pipe(pipefd) == 0);
    WaitGroup wg;
    wg.add(2);
    id = go([&] {
      {
        BlockingSection bs;
        in_call = true;
        char c;
        if (read(pipefd[0], &c, 1) != 1) io_failed = true;
      }
      wg.done();
    });
    r.watch(id);
    go([&] {
      // Hold the P (with safepoints) until the blocked goroutine's P was retaken.
      while (!in_call.load() || r.syscall_block.load() == 0) preempt_check();
      // The P now runs us; release the reader, then keep the P busy until it
      // has come back through the global queue.
      char c = 1;
      if (write(pipefd[1], &c, 1) != 1) io_failed = true;
      while (r.count(id, "sysexit-requeued") == 0) preempt_check();
      wg.done();
    });
    wg.wait();
    close(pipefd[0]);
    close(pipefd[1]);
    remove_observer(&r);
  }, Config{.gomaxprocs = 1});
  std::vector<std::string> kinds;
  for (auto& k : kinds_without_preemptions(watched_events(r, id)))
    if (k != "block" && k != "unblock") kinds.push_back(k);
  BOOST_TEST(!io_failed.load());
  BOOST_TEST(r.syscall_block.load() >= 1);
  // syscall, then sysexit-requeued: runnable again without a P
  BOOST_TEST((kinds == std::vector<std::string>{"create", "start", "syscall", "sysexit-requeued", "start", "end"}));
}

BOOST_AUTO_TEST_CASE(stop_the_world_events_carry_the_reason) {
  Recorder r;
  run_main([&] {
    add_observer(&r);
    with_world_stopped("test reason", [] {});
    remove_observer(&r);
  }, Config{.gomaxprocs = 2});
  BOOST_TEST((r.stw == std::vector<std::string>{"start:test reason", "done"}));
}

namespace {
struct ThreadHooks final : SchedObserver {
  std::atomic<int> starts{0}, exits{0}, wrong_thread{0};
  void on_thread_start(int64_t, const ThreadInfo& t) override {
    starts++;
    if (t.tid != gettid() || current_thread() != &t) wrong_thread++;
  }
  void on_thread_exit(int64_t, const ThreadInfo& t) override {
    exits++;
    if (t.tid != gettid() || current_thread() != &t) wrong_thread++;
  }
};
}  // namespace

BOOST_AUTO_TEST_CASE(thread_hooks_run_on_the_thread_itself) {
  // Observers attached before run_main see every thread start and exit.
  ThreadHooks h;
  add_observer(&h);
  int64_t created = 0;
  run_main([&] {
    // Make sure a second M exists: block one thread, keep the other busy.
    WaitGroup wg;
    wg.add(2);
    std::atomic<bool> started{false};
    go([&] {
      BlockingSection bs;
      started = true;
      usleep(20'000);  // a real blocking call; its length is irrelevant
      wg.done();
    });
    go([&] {
      while (!started.load()) yield();
      wg.done();
    });
    wg.wait();
  }, Config{.gomaxprocs = 2});
  created = threads_created();  // of the run that just ended
  remove_observer(&h);
  BOOST_TEST(h.wrong_thread.load() == 0);
  BOOST_TEST(h.starts.load() == created);
  BOOST_TEST(h.exits.load() == created);
  BOOST_TEST(created >= 3);  // M0, sysmon, at least one more M
}

BOOST_AUTO_TEST_CASE(thread_registry_records_stacks_and_tids) {
  std::vector<ThreadInfo> threads;
  const ThreadInfo* mine = nullptr;
  ThreadInfo mine_copy;
  run_main([&] {
    for_each_thread([&](const ThreadInfo& t) { threads.push_back(t); });
    mine = current_thread();
    if (mine != nullptr) mine_copy = *mine;
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(current_thread() == nullptr);  // M0 left the registry with run_main
  BOOST_REQUIRE(mine != nullptr);
  int sysmon = 0, ms = 0;
  for (const ThreadInfo& t : threads) {
    (t.kind == ThreadKind::Sysmon ? sysmon : ms)++;
    BOOST_TEST(t.tid > 0);
    BOOST_TEST(t.stack_lo < t.stack_hi);
#if !GORT_ASAN
    BOOST_TEST(t.sigstack_lo < t.sigstack_hi);  // every runtime thread has an alternate signal stack
#endif
  }
  BOOST_TEST(sysmon == 1);
  BOOST_TEST(ms >= 1);
  // The main goroutine ran on an M whose g0 stack is the thread's own.
  BOOST_TEST((mine_copy.kind == ThreadKind::M));
  BOOST_TEST(mine_copy.stack_lo < mine_copy.stack_hi);
}
