// scan_test.cpp — the collector's contract (scan.h, stw.h): the scan range
// of a parked, a runnable never-run, and a blocking-section goroutine holds
// what the goroutine holds — including a value that lives only in a
// callee-saved register — the caller's own stack with registers spilled,
// the allocation safepoint honouring preemption and stop-the-world, the
// rules of the stopped world (no parking; a goroutine leaving a blocking
// section stays stopped) and the report about a goroutine that does not
// reach a safepoint.
#define BOOST_TEST_MODULE scan_test
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <thread>
#include <vector>

#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/scan.h"
#include "runtime/stw.h"
#include "runtime/sync.h"
#include "tests/runtime/child_process.h"
#include "tests/runtime/test_util.h"

using namespace gort;
using gort_test::goroutine_state;
using gort_test::run_child;
using gort_test::wait_parked;
using gort_test::wait_until;

namespace {

constexpr uint64_t kSecret = 0x5ec2e7'0000'c0ffeeULL;

// G* of a goroutine id (nullptr if none).
G* find_g(int64_t id) {
  G* found = nullptr;
  for_each_goroutine([&](G* g) {
    if (goroutine_id(g) == id && goroutine_info(g).status != GStatus::Dead) found = g;
  });
  return found;
}

// holds reports whether any 8-byte word of the range (or its saved
// registers) equals v — what a conservative scan would find.
GORT_CONSERVATIVE_SCAN bool holds(const StackScanRange& r, uint64_t v) {
  for (uintptr_t a = r.lo; a + 8 <= r.hi; a += 8)
    if (*reinterpret_cast<const uint64_t*>(a) == v) return true;
  for (size_t i = 0; i < r.nregs; i++)
    if (r.regs[i] == v) return true;
  return false;
}

}  // namespace

// park_on / block_on are called from assembly with the secret in r12 only.
extern "C" __attribute__((noinline)) void gort_test_park_on(uintptr_t chan) {
  reinterpret_cast<Chan<int>*>(chan)->recv();
}
extern "C" __attribute__((noinline)) void gort_test_block_on(uintptr_t fd) {
  BlockingSection bs;
  char c;
  if (read(static_cast<int>(fd), &c, 1) != 1) abort();
}

// gort_test_with_r12(arg, secret, fn): r12 = secret, then fn(arg); r12
// (callee-saved) is preserved for our caller.
extern "C" void gort_test_with_r12(uintptr_t arg, uint64_t secret, void (*fn)(uintptr_t));
asm(R"(
  .text
  .globl gort_test_with_r12
  .type gort_test_with_r12, @function
gort_test_with_r12:
  pushq %rbp
  movq %rsp, %rbp
  pushq %r12
  subq $8, %rsp
  movq %rsi, %r12
  call *%rdx
  addq $8, %rsp
  popq %r12
  popq %rbp
  ret
  .size gort_test_with_r12, .-gort_test_with_r12
)");

BOOST_AUTO_TEST_CASE(parked_goroutine_range_covers_registers_and_frames) {
  bool ok = false, found = false, covers_regs = false, in_stack = false;
  run_main([&] {
    Chan<int> c;
    int64_t id = go([&] {
      gort_test_with_r12(reinterpret_cast<uintptr_t>(&c), kSecret, &gort_test_park_on);
    });
    wait_parked(id, WaitReason::ChanReceive);
    G* g = find_g(id);
    StackScanRange r;
    ok = stack_scan_range(g, &r);
    GoroutineInfo info = goroutine_info(g);
    found = holds(r, kSecret);
    // jump_fcontext saved the callee-saved registers 0x38..0x10 below the
    // frame's resumption sp: the range must start at or below them.
    covers_regs = r.lo <= info.frame.sp - 0x38;
    in_stack = r.lo >= info.stack_lo && r.hi == info.stack_hi;
    c.send(1);
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(ok);
  BOOST_TEST(found);
  BOOST_TEST(covers_regs);
  BOOST_TEST(in_stack);
}

BOOST_AUTO_TEST_CASE(never_run_goroutine_range_covers_its_closure) {
  bool ok = false, found = false, runnable = false;
  run_main([&] {
    volatile uint64_t secret = kSecret;
    uint64_t copy = secret;
    std::atomic<uint64_t> sink{0};
    // GOMAXPROCS=1: the new goroutine cannot start while we run.
    int64_t id = go([copy, &sink] { sink = copy; });
    G* g = find_g(id);
    runnable = goroutine_info(g).status == GStatus::Runnable;
    StackScanRange r;
    ok = stack_scan_range(g, &r);
    found = holds(r, kSecret);
    wait_until([&] { return sink.load() == kSecret; }, "the goroutine runs");
  }, Config{.gomaxprocs = 1});
  BOOST_TEST(runnable);
  BOOST_TEST(ok);
  BOOST_TEST(found);
}

BOOST_AUTO_TEST_CASE(blocking_section_range_covers_registers_and_caller) {
  bool ok = false, found = false, frame_ok = false;
  run_main([&] {
    int fds[2];
    if (pipe(fds) != 0) return;
    int64_t id = go([&] {
      gort_test_with_r12(static_cast<uintptr_t>(fds[0]), kSecret, &gort_test_block_on);
    });
    wait_until([&] { return goroutine_state(id).status == GStatus::Syscall; }, "the goroutine is in its section");
    G* g = find_g(id);
    StackScanRange r;
    ok = stack_scan_range(g, &r);
    found = holds(r, kSecret);
    GoroutineInfo info = goroutine_info(g);
    frame_ok = info.frame.pc != 0 && info.frame.fp >= r.lo && info.frame.fp < r.hi;
    char one = 1;
    if (write(fds[1], &one, 1) != 1) return;
    wait_until([&] { return goroutine_state(id).status == GStatus::Dead; }, "the goroutine exits");
    close(fds[0]);
    close(fds[1]);
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(ok);
  BOOST_TEST(found);
  BOOST_TEST(frame_ok);
}

namespace {
struct OwnScan {
  uint64_t want;
  bool found = false;
  uintptr_t lo = 0, hi = 0;
};
void own_scan_cb(const StackScanRange& r, void* arg) {
  auto* s = static_cast<OwnScan*>(arg);
  s->found = holds(r, s->want);
  s->lo = r.lo;
  s->hi = r.hi;
}
}  // namespace

BOOST_AUTO_TEST_CASE(own_stack_scan_and_running_goroutines_have_no_range) {
  OwnScan s{kSecret ^ 1};
  bool running_has_range = true;
  uintptr_t local_addr = 0;
  run_main([&] {
    volatile uint64_t local = kSecret ^ 1;
    local_addr = reinterpret_cast<uintptr_t>(&local);
    scan_own_stack(&own_scan_cb, &s);
    StackScanRange r;
    running_has_range = stack_scan_range(find_g(goid()), &r);
  });
  BOOST_TEST(s.found);
  BOOST_TEST((s.lo < local_addr && local_addr < s.hi));
  BOOST_TEST(!running_has_range);
}

BOOST_AUTO_TEST_CASE(every_stopped_goroutine_has_a_range_within_its_stack) {
  int checked = 0, bad = 0;
  run_main([&] {
    Chan<int> c;
    Mutex mu;
    std::atomic<bool> spin{true};
    WaitGroup all;  // everything above lives on this frame: wait for every user
    all.add(72);
    for (int i = 0; i < 50; i++)
      go([&] {
        c.recv();
        all.done();
      });
    mu.lock();
    for (int i = 0; i < 20; i++)
      go([&] {
        mu.lock();
        mu.unlock();
        all.done();
      });
    for (int i = 0; i < 2; i++)
      go([&] {
        while (spin.load()) preempt_check();
        all.done();
      });
    wait_until([&] { return gort_test::count_parked(WaitReason::ChanReceive) == 50; }, "receivers parked");
    int64_t me = goid();
    with_world_stopped("scan", [&] {
      for_each_goroutine([&](G* g) {
        GoroutineInfo info = goroutine_info(g);
        if (info.id == me || info.status == GStatus::Dead || info.status == GStatus::Idle) return;
        StackScanRange r;
        checked++;
        if (!stack_scan_range(g, &r) || r.lo < info.stack_lo || r.hi != info.stack_hi || r.lo >= r.hi) bad++;
      });
    });
    spin = false;
    mu.unlock();
    for (int i = 0; i < 50; i++) c.send(i);
    all.wait();
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(checked >= 72);
  BOOST_TEST(bad == 0);
}

BOOST_AUTO_TEST_CASE(a_goroutine_leaving_its_section_stays_stopped) {
  bool stayed = false, became_runnable = false;
  std::atomic<bool> after{false};
  run_main([&] {
    int fds[2];
    if (pipe(fds) != 0) return;
    int64_t id = go([&] {
      {
        BlockingSection bs;
        char c;
        if (read(fds[0], &c, 1) != 1) abort();
      }
      after = true;
    });
    wait_until([&] { return goroutine_state(id).status == GStatus::Syscall; }, "in the section");
    with_world_stopped("test", [&] {
      char one = 1;
      if (write(fds[1], &one, 1) != 1) abort();
      // No parking here: poll until the goroutine has left its section and
      // been queued (its M finds no P while the world is stopped).
      int64_t deadline = nanotime() + gort_test::kDeadlineNs;
      while (goroutine_state(id).status != GStatus::Runnable && nanotime() < deadline) cpu_relax();
      became_runnable = goroutine_state(id).status == GStatus::Runnable;
      stayed = !after.load();
    });
    wait_until([&] { return after.load(); }, "the goroutine continues after start_the_world");
    close(fds[0]);
    close(fds[1]);
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(became_runnable);
  BOOST_TEST(stayed);
}

BOOST_AUTO_TEST_CASE(alloc_safepoint_honours_preemption_and_stop_the_world) {
  std::atomic<bool> stop{false};
  bool others_ran = false, frozen = false;
  run_main([&] {
    // GOMAXPROCS=1: the loop calls only alloc_safepoint; sysmon's request
    // must make it yield so this goroutine's sleep can end.
    go([&] {
      while (!stop.load()) alloc_safepoint();
    });
    yield();
    sleep_ms(1);
    others_ran = true;
    stop = true;
  }, Config{.gomaxprocs = 1});
  stop = false;
  run_main([&] {
    std::atomic<uint64_t> n{0};
    go([&] {
      while (!stop.load()) {
        n.fetch_add(1, std::memory_order_relaxed);
        alloc_safepoint();
      }
    });
    wait_until([&] { return n.load() > 0; }, "the allocating loop runs");
    with_world_stopped("test", [&] {
      uint64_t a = n.load();
      for (int i = 0; i < 100000; i++) cpu_relax();
      frozen = n.load() == a;
    });
    stop = true;
  }, Config{.gomaxprocs = 2});
  BOOST_TEST(others_ran);
  BOOST_TEST(frozen);
}

BOOST_AUTO_TEST_CASE(parking_inside_stop_the_world_is_fatal) {
  auto [status, err] = run_child([] {
    run_main([] {
      Chan<int> c;
      with_world_stopped("gc", [&] { c.recv(); });
    });
  });
  BOOST_TEST(WIFSIGNALED(status));
  BOOST_TEST(err.find("fatal error: goroutine 1 blocks (chan receive) inside the stop-the-world function of \"gc\"") !=
                 std::string::npos,
             err);
}

BOOST_AUTO_TEST_CASE(a_goroutine_without_safepoints_is_reported_after_a_second) {
  // A goroutine spins without a safepoint until a plain thread releases it
  // 1.5 s later; the stop waits for it and names it on stderr meanwhile.
  auto [status, err] = run_child([] {
    std::atomic<bool> release{false};
    std::atomic<int64_t> spinner{0};
    run_main([&] {
      std::atomic<bool> spinning{false};
      spinner = go([&] {
        spinning = true;
        while (!release.load(std::memory_order_relaxed)) {
        }
        preempt_check();
      });
      while (!spinning.load()) yield();
      std::thread releaser([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1500));
        release = true;
      });
      with_world_stopped("test", [] {});
      releaser.join();
      fprintf(stderr, "spinner=%" PRId64 "\n", spinner.load());
    }, Config{.gomaxprocs = 2});
  });
  BOOST_TEST(WIFEXITED(status));
  int64_t id = 0;
  size_t at = err.find("spinner=");
  if (at != std::string::npos) id = std::stoll(err.substr(at + 8));
  std::string want = "has not reached a safepoint";
  BOOST_TEST(err.find("gort: stop_the_world(\"test\"): P") != std::string::npos, err);
  BOOST_TEST(err.find("goroutine " + std::to_string(id) + " [running] " + want) != std::string::npos, err);
}
