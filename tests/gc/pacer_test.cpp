// pacer_test — a deterministic simulation of Go 1.19's pacer and CPU limiter
// (gc/pacer.h, gc/cpu_limiter.h): a heap with a fixed live set and a steady
// allocation rate runs a cycle whenever heap_live reaches the trigger. Checks
// the goal formula, the 4 MiB minimum, GOGC=off, the trigger bounds, the
// cons/mark runway, the memory limit (reachable and not), and the limiter
// turning on and off (and the cycle it last turned on in). Simulated time
// only; no clocks, no sleeps.
#define BOOST_TEST_MODULE pacer
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstdint>

#include "gc/cpu_limiter.h"
#include "gc/pacer.h"

using namespace gc;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr int64_t kMs = 1'000'000;

// Sim is a heap whose live set stays `live` bytes: every cycle marks exactly
// that, and everything allocated since the last cycle is garbage.
struct Sim {
  Pacer pacer;
  CpuLimiter limiter;
  uint64_t live;
  uint64_t heap_live;
  uint64_t stacks = 0, globals = 0;
  uint64_t non_heap = 0;           // memory held outside heap objects
  uint64_t alloc_during_mark = 0;  // 0 for stop-the-world marking
  int procs = 2;
  int cycles = 0;
  uint64_t peak_heap = 0;   // largest heap_live seen
  uint64_t peak_total = 0;  // largest heap_live + non_heap seen
  uint64_t last_peak = 0;   // heap_live at the end of the last mark
  uint64_t last_goal = 0;   // the goal during the last cycle

  Sim(int gogc, uint64_t live_bytes, int64_t limit = kNoMemoryLimit)
      : pacer(gogc, limit), live(live_bytes), heap_live(live_bytes) {
    snapshot();
  }

  void snapshot() {
    MemorySnapshot s;
    s.heap_alloc_bytes = heap_live;
    s.heap_free_bytes = 0;
    s.mapped_ready_bytes = heap_live + non_heap;
    s.heap_live_bytes = heap_live;
    pacer.update_memory(s);
  }

  // check_trigger_bounds checks Go's bounds: at least 45/64 of the way from
  // heap_marked to the goal, at most 61/64 of it or 4 MiB below the goal.
  void check_trigger_bounds() const {
    uint64_t marked = pacer.heap_marked(), goal = pacer.heap_goal(), trigger = pacer.trigger_bytes();
    BOOST_REQUIRE_LE(trigger, goal);
    if (marked >= goal) {
      BOOST_REQUIRE_EQUAL(trigger, goal);
      return;
    }
    uint64_t lo = (goal - marked) / 64 * 45 + marked;
    uint64_t hi = std::max((goal - marked) / 64 * 61 + marked, goal - std::min(goal, 4 * kMiB));
    BOOST_REQUIRE_GE(trigger, lo);
    BOOST_REQUIRE_LE(trigger, hi);
    if (goal - marked < 80 * kMiB) {  // small heaps: the bounds are the 0.7 and 0.95 points
      double f = double(trigger - marked) / double(goal - marked);
      BOOST_REQUIRE_GE(f, 0.70);
      BOOST_REQUIRE_LE(f, 0.954);
    }
  }

  // run_cycle marks (allocating alloc_during_mark meanwhile) and commits.
  void run_cycle(int64_t mark_wall_ns = kMs) {
    pacer.start_cycle();
    last_goal = pacer.heap_goal();
    heap_live += alloc_during_mark;
    observe();
    last_peak = heap_live;
    CycleResult r;
    r.heap_live_bytes = heap_live;
    r.heap_marked_bytes = live;
    r.heap_scan_work_bytes = live;
    r.stack_scan_work_bytes = stacks;
    r.globals_scan_work_bytes = globals;
    r.globals_scan_bytes = globals;
    r.mark_wall_ns = mark_wall_ns;
    r.procs = procs;
    pacer.commit(r);
    heap_live = live;  // swept at once
    snapshot();
    cycles++;
    check_trigger_bounds();
  }

  void observe() {
    peak_heap = std::max(peak_heap, heap_live);
    peak_total = std::max(peak_total, heap_live + non_heap);
  }

  // allocate allocates total bytes in steps, running a cycle at the trigger.
  void allocate(uint64_t total, uint64_t step) {
    for (uint64_t done = 0; done < total; done += step) {
      heap_live += step;
      observe();
      snapshot();
      if (heap_live >= pacer.trigger_bytes()) run_cycle();
    }
  }
};

CycleResult steady_cycle(uint64_t marked, uint64_t stacks, uint64_t globals, bool sweep_done) {
  CycleResult r;
  r.heap_live_bytes = marked + 10 * kMiB;
  r.heap_marked_bytes = marked;
  r.heap_scan_work_bytes = marked;
  r.stack_scan_work_bytes = stacks;
  r.globals_scan_work_bytes = globals;
  r.globals_scan_bytes = globals;
  r.mark_wall_ns = kMs;
  r.procs = 2;
  r.sweep_done = sweep_done;
  return r;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_fresh_pacer_triggers_at_61_64ths_of_the_minimum_heap) {
  Pacer p;
  BOOST_CHECK_EQUAL(p.gogc(), 100);
  BOOST_CHECK_EQUAL(p.memory_limit(), kNoMemoryLimit);
  BOOST_CHECK_EQUAL(p.heap_goal(), 4 * kMiB);
  BOOST_CHECK_EQUAL(p.trigger_bytes(), 4 * kMiB / 64 * 61);
}

BOOST_AUTO_TEST_CASE(goal_is_marked_plus_gogc_percent_of_marked_stacks_and_globals) {
  const uint64_t marked = 100 * kMiB + 12345, stacks = 3 * kMiB + 7, globals = kMiB + 3;
  for (int gogc : {50, 100, 200}) {
    for (bool sweep_done : {true, false}) {
      Pacer p(gogc);
      p.commit(steady_cycle(marked, stacks, globals, sweep_done));
      uint64_t want = marked + (marked + stacks + globals) * gogc / 100;
      BOOST_CHECK_EQUAL(p.heap_goal(), want);
      BOOST_CHECK_EQUAL(p.gogc_heap_goal_bytes(), want);
      BOOST_CHECK_EQUAL(p.heap_marked(), marked);
      BOOST_CHECK_EQUAL(p.last_stack_scan(), stacks);
      BOOST_CHECK_EQUAL(p.globals_scan(), globals);
    }
  }
  // set_gogc recomputes from the last cycle and returns the previous value.
  Pacer p(100);
  p.commit(steady_cycle(marked, stacks, globals, true));
  BOOST_CHECK_EQUAL(p.set_gogc(300), 100);
  BOOST_CHECK_EQUAL(p.heap_goal(), marked + (marked + stacks + globals) * 3);
}

BOOST_AUTO_TEST_CASE(goal_never_drops_below_4mib_times_gogc) {
  for (int gogc : {50, 100, 200}) {
    Pacer p(gogc);
    p.commit(steady_cycle(kMiB / 2, 0, 0, true));
    BOOST_CHECK_EQUAL(p.heap_minimum_bytes(), 4 * kMiB * gogc / 100);
    BOOST_CHECK_EQUAL(p.heap_goal(), 4 * kMiB * gogc / 100);
  }
  // GOGC=0 collects continuously: no minimum.
  Pacer p0(0);
  p0.commit(steady_cycle(10 * kMiB, 0, 0, true));
  BOOST_CHECK_EQUAL(p0.heap_goal(), 10 * kMiB);
}

BOOST_AUTO_TEST_CASE(gogc_off_never_triggers) {
  Sim sim(kGcOff, 32 * kMiB);
  BOOST_CHECK_EQUAL(sim.pacer.gogc(), -1);
  BOOST_CHECK_EQUAL(sim.pacer.gogc_heap_goal_bytes(), UINT64_MAX);
  // As in Go, the (absent) memory limit still yields a goal: ~2^63 bytes.
  BOOST_CHECK_GE(sim.pacer.heap_goal(), uint64_t{1} << 62);
  BOOST_CHECK_GE(sim.pacer.trigger_bytes(), uint64_t{1} << 62);
  sim.allocate(uint64_t{16} << 30, 4 * kMiB);
  BOOST_CHECK_EQUAL(sim.cycles, 0);
  // Turning it on again paces from the (empty) last cycle: the minimum heap.
  BOOST_CHECK_EQUAL(sim.pacer.set_gogc(100), -1);
  BOOST_CHECK_EQUAL(sim.pacer.heap_goal(), 4 * kMiB);
}

BOOST_AUTO_TEST_CASE(gogc_200_collects_less_often_than_100) {
  int cycles[2];
  int i = 0;
  for (int gogc : {100, 200}) {
    Sim sim(gogc, 32 * kMiB);
    sim.stacks = kMiB;
    sim.globals = kMiB / 2;
    sim.allocate(uint64_t{8} << 30, 256 << 10);
    cycles[i++] = sim.cycles;
    // Stop-the-world: no allocation during mark, so the trigger sits at its
    // upper bound and the heap never passes the goal.
    BOOST_CHECK_LE(sim.peak_heap, sim.last_goal);
  }
  BOOST_TEST_MESSAGE("cycles: GOGC=100 " << cycles[0] << ", GOGC=200 " << cycles[1]);
  BOOST_CHECK_GT(cycles[0], 0);
  BOOST_CHECK_LT(cycles[1], cycles[0]);
  BOOST_CHECK_LT(cycles[1] * 3, cycles[0] * 2);  // about half as many
}

BOOST_AUTO_TEST_CASE(runway_converges_to_allocation_during_mark) {
  // Concurrent marking: 8 MiB are allocated while each cycle marks. The
  // cons/mark estimate should learn that, moving the trigger down by the
  // runway so the heap peaks at the goal rather than 8 MiB beyond it.
  Sim sim(100, 64 * kMiB);
  sim.alloc_during_mark = 8 * kMiB;
  sim.allocate(uint64_t{16} << 30, 64 << 10);
  BOOST_REQUIRE_GT(sim.cycles, 100);
  uint64_t goal = sim.pacer.heap_goal();
  BOOST_CHECK_EQUAL(goal, 128 * kMiB);
  BOOST_CHECK_GT(sim.pacer.cons_mark(), 0);
  BOOST_CHECK_CLOSE(double(sim.pacer.runway_bytes()), double(8 * kMiB + (64 << 10)), 5.0);
  BOOST_CHECK_CLOSE(double(sim.last_peak), double(goal), 2.0);
  // Stop-the-world marking for comparison: nothing allocated during mark,
  // so the estimate stays near zero and the trigger at 61/64 of the way.
  Sim stw(100, 64 * kMiB);
  stw.allocate(uint64_t{4} << 30, (64 << 10) + 8);
  BOOST_CHECK_EQUAL(stw.pacer.trigger_bytes(), 64 * kMiB + 64 * kMiB / 64 * 61);
}

BOOST_AUTO_TEST_CASE(memory_limit_below_the_gogc_goal_sets_the_goal) {
  const int64_t limit = 32 * kMiB;
  Sim sim(100, 20 * kMiB, limit);
  sim.non_heap = 2 * kMiB;
  sim.snapshot();
  sim.allocate(uint64_t{2} << 30, 64 << 10);
  BOOST_REQUIRE_GT(sim.cycles, 10);
  // GOGC alone would allow 40 MiB; the limit leaves 32 − 2 − 1 MiB headroom.
  BOOST_CHECK_EQUAL(sim.pacer.gogc_heap_goal_bytes(), 40 * kMiB);
  BOOST_CHECK_EQUAL(sim.pacer.heap_goal(), 29 * kMiB);
  BOOST_CHECK_EQUAL(sim.pacer.memory_limit_heap_goal_bytes(), 29 * kMiB);
  BOOST_CHECK_LT(sim.pacer.trigger_bytes(), sim.pacer.gogc_trigger_bytes());
  BOOST_CHECK_LE(sim.peak_total, uint64_t(limit));
  // Lifting the limit returns to the GOGC goal.
  BOOST_CHECK_EQUAL(sim.pacer.set_memory_limit(kNoMemoryLimit), limit);
  BOOST_CHECK_EQUAL(sim.pacer.heap_goal(), 40 * kMiB);
  BOOST_CHECK_EQUAL(sim.pacer.trigger_bytes(), sim.pacer.gogc_trigger_bytes());
}

BOOST_AUTO_TEST_CASE(memory_limit_with_gogc_off_sets_the_goal) {
  // Go's SteadyMemoryLimitNoGCPercent: the goal is the limit minus headroom.
  Sim sim(kGcOff, 64 * kMiB, 512 * kMiB);
  sim.allocate(uint64_t{4} << 30, 256 << 10);
  BOOST_CHECK_GT(sim.cycles, 0);
  BOOST_CHECK_EQUAL(sim.pacer.heap_goal(), 512 * kMiB - kMemoryLimitHeadroomBytes);
  BOOST_CHECK_LE(sim.peak_total, 512 * kMiB);
}

BOOST_AUTO_TEST_CASE(cpu_limiter_bucket_fills_overflows_and_drains) {
  CpuLimiter l;
  l.reset(1, 0);
  BOOST_CHECK_EQUAL(l.capacity_ns(), kLimiterCapacityPerProcNs);
  l.start_gc_transition(false, 0);
  l.finish_gc_transition(1500 * kMs);  // a 1.5 s pause on 1 P
  BOOST_CHECK(l.limiting());
  BOOST_CHECK_EQUAL(l.fill_ns(), 1000 * kMs);
  BOOST_CHECK_EQUAL(l.overflow_ns(), 500 * kMs);
  BOOST_CHECK(!l.need_update(1505 * kMs));
  BOOST_CHECK(l.need_update(1511 * kMs));
  l.update(1510 * kMs);  // 10 ms of mutator drains it
  BOOST_CHECK(!l.limiting());
  BOOST_CHECK_EQUAL(l.fill_ns(), 990 * kMs);
  l.add_gc_cpu(30 * kMs);  // 30 ms of assists in a 40 ms window: +20 ms, 10 over
  l.update(1550 * kMs);
  BOOST_CHECK(l.limiting());
  BOOST_CHECK_EQUAL(l.fill_ns(), 1000 * kMs);
  BOOST_CHECK_EQUAL(l.overflow_ns(), 510 * kMs);
  l.add_idle(5 * kMs);  // idle time is neither: 10 ms window − 5 idle = 5 ms mutator
  l.update(1560 * kMs);
  BOOST_CHECK(!l.limiting());
  BOOST_CHECK_EQUAL(l.fill_ns(), 995 * kMs);
  l.update(3000 * kMs);
  BOOST_CHECK_EQUAL(l.fill_ns(), 0);  // never below empty
}

BOOST_AUTO_TEST_CASE(cpu_limiter_remembers_the_cycle_it_last_turned_on_in) {
  // Go's lastEnabledCycle: numgc + 1 when limiting turns on, kept after it
  // turns off, 0 until it ever does.
  CpuLimiter l;
  l.reset(1, 0);
  BOOST_CHECK_EQUAL(l.last_enabled_cycle(), 0u);
  l.set_completed_cycles(4);
  l.start_gc_transition(false, 0);
  l.finish_gc_transition(1500 * kMs);  // a 1.5 s pause fills the bucket during cycle 5
  BOOST_CHECK(l.limiting());
  BOOST_CHECK_EQUAL(l.last_enabled_cycle(), 5u);
  l.update(3000 * kMs);  // 1.5 s of mutator drains it
  BOOST_CHECK(!l.limiting());
  BOOST_CHECK_EQUAL(l.last_enabled_cycle(), 5u);
  l.set_completed_cycles(9);
  l.start_gc_transition(false, 3000 * kMs);
  l.finish_gc_transition(4500 * kMs);  // on again, during cycle 10
  BOOST_CHECK(l.limiting());
  BOOST_CHECK_EQUAL(l.last_enabled_cycle(), 10u);
}

BOOST_AUTO_TEST_CASE(impossible_limit_collects_continuously_until_the_cpu_limiter_steps_in) {
  // 40 MiB live under a 16 MiB limit: the goal bottoms out at heap_marked
  // and every allocation wants a cycle. The collector's rule (cpu_limiter.cpp):
  // a cycle only the memory limit asks for waits while the limiter is limiting.
  const int64_t kPauseNs = 5 * kMs, kStepNs = kMs;
  Sim sim(100, 40 * kMiB, 16 * kMiB);
  sim.non_heap = 2 * kMiB;
  sim.limiter.reset(sim.procs, 0);
  int64_t now = 0, gc_cpu = 0, mutator_cpu = 0;
  int64_t gc_cpu_at_on = -1, mutator_cpu_at_on = -1;
  bool saw_on = false, saw_off_after_on = false;
  auto step = [&](bool limit_on) {
    now += kStepNs;  // the mutator runs 1 ms and allocates 256 KiB
    mutator_cpu += kStepNs * sim.procs;
    sim.heap_live += 256 << 10;
    sim.observe();
    sim.snapshot();
    if (sim.limiter.need_update(now)) sim.limiter.update(now);
    if (sim.heap_live < sim.pacer.trigger_bytes()) return;
    bool memory_limit_only = sim.heap_live < sim.pacer.gogc_trigger_bytes();
    BOOST_REQUIRE(memory_limit_only || !limit_on || sim.cycles == 0);  // the first cycle: nothing marked yet
    if (memory_limit_only && sim.limiter.limiting()) return;  // hold the cycle
    sim.limiter.start_gc_transition(false, now);
    now += kPauseNs;
    gc_cpu += kPauseNs * sim.procs;
    sim.run_cycle();
    sim.limiter.finish_gc_transition(now);
    if (memory_limit_only) BOOST_REQUIRE_EQUAL(sim.pacer.heap_goal(), sim.pacer.heap_marked());
  };
  for (int i = 0; i < 4000; i++) {
    step(true);
    if (sim.limiter.limiting() && !saw_on) {
      saw_on = true;
      gc_cpu_at_on = gc_cpu;
      mutator_cpu_at_on = mutator_cpu;
    }
    if (saw_on && !sim.limiter.limiting()) saw_off_after_on = true;
  }
  BOOST_REQUIRE(saw_on);
  BOOST_CHECK(saw_off_after_on);
  BOOST_CHECK_EQUAL(sim.pacer.heap_goal(), 40 * kMiB);  // never below the live heap
  // It turned on only once GC CPU outweighed mutator CPU by the capacity
  // (less the first mutator step, drained from an empty bucket).
  BOOST_CHECK_GE(gc_cpu_at_on - mutator_cpu_at_on, sim.limiter.capacity_ns() - kStepNs * sim.procs);
  // From then on GC CPU stays near half of the total (Go's 50% target; the
  // pause that tips the bucket over is the overflow).
  double gc_share = double(gc_cpu - gc_cpu_at_on) / double(gc_cpu - gc_cpu_at_on + mutator_cpu - mutator_cpu_at_on);
  BOOST_TEST_MESSAGE("GC CPU share while limited: " << gc_share << ", cycles " << sim.cycles);
  BOOST_CHECK_GT(gc_share, 0.40);
  BOOST_CHECK_LT(gc_share, 0.60);
  BOOST_CHECK_GT(sim.limiter.overflow_ns(), 0);

  // Lift the limit: GOGC paces again, the mutator drains the bucket.
  sim.pacer.set_memory_limit(kNoMemoryLimit);
  for (int i = 0; i < 2000; i++) step(false);
  BOOST_CHECK(!sim.limiter.limiting());
  BOOST_CHECK_EQUAL(sim.limiter.fill_ns(), 0);
}
