// pacer.h — Go 1.19's GC pacer (runtime/mgcpacer.go): decides the heap goal
// (GOGC and the soft memory limit) and the trigger, the heap size at which the
// next cycle starts. Pure logic: the collector feeds it what it measured
// (commit at mark termination, update_memory after sweeps), and the allocation
// slow path reads trigger_bytes() lock-free. The algorithm and its sources are
// explained at the top of pacer.cpp.
#pragma once

#include <atomic>
#include <cstdint>
#include <limits>
#include <mutex>

#include "gc/knobs.h"

namespace gc {

// kDefaultHeapMinimumBytes is Go's defaultHeapMinimum: the smallest heap goal at
// GOGC=100 (scaled by GOGC/100), so tiny live heaps do not collect constantly.
inline constexpr uint64_t kDefaultHeapMinimumBytes = uint64_t{4} << 20;
// kMemoryLimitHeadroomBytes is Go's memoryLimitHeapGoalHeadroom: the goal under
// the memory limit is lowered by this much to absorb pacing error.
inline constexpr uint64_t kMemoryLimitHeadroomBytes = uint64_t{1} << 20;
// kSweepMinHeapDistanceBytes is Go's sweepMinHeapDistance: while sweeping is
// unfinished the trigger (and goal) stay this far above the live heap so the
// sweeper has room to finish before the next cycle.
inline constexpr uint64_t kSweepMinHeapDistanceBytes = uint64_t{1} << 20;
// kMinRunwayBytes: during a cycle the goal is at least this far above the
// trigger (Go's minRunway in heapGoalInternal).
inline constexpr uint64_t kMinRunwayBytes = uint64_t{64} << 10;
// kGcGoalUtilization is Go's gcGoalUtilization (= gcBackgroundUtilization): the
// fraction of GOMAXPROCS that background marking is meant to use.
inline constexpr double kGcGoalUtilization = 0.25;
// Trigger bounds as fractions n/64 of the way from heap_marked to the goal
// (Go's minTriggerRatioNum / maxTriggerRatioNum / triggerRatioDen).
inline constexpr uint64_t kTriggerRatioDen = 64;
inline constexpr uint64_t kMinTriggerRatioNum = 45;  // ~0.7
inline constexpr uint64_t kMaxTriggerRatioNum = 61;  // ~0.95

// MemorySnapshot is what the memory-limit goal needs to know about the memory
// the collector holds (Go reads these from gcController's heapFree,
// totalAlloc-totalFree, mappedReady). The collector fills it after sweeps and
// periodically; fields should be read together so that
// heap_free_bytes + heap_alloc_bytes <= mapped_ready_bytes.
struct MemorySnapshot {
  uint64_t mapped_ready_bytes = 0;  // memory obtained from the OS and not released (all of it: heap,
                                    // stacks, metadata) — what the memory limit limits
  uint64_t heap_free_bytes = 0;     // free heap pages not returned to the OS
  uint64_t heap_alloc_bytes = 0;    // bytes in heap objects, allocated minus freed (incl. unswept garbage)
  uint64_t heap_live_bytes = 0;     // Go's heapLive: marked by the last cycle plus allocated since
};

// CycleResult is what one cycle measured, handed to Pacer::commit at mark
// termination (Go's endCycle + resetLive + commit inputs).
struct CycleResult {
  uint64_t heap_live_bytes = 0;          // heapLive at mark termination (before it is reset to
                                         // heap_marked); heap_live - trigger = bytes allocated since
                                         // the trigger, the "cons" of cons/mark
  uint64_t heap_marked_bytes = 0;        // bytes found live by this mark
  uint64_t heap_scan_work_bytes = 0;     // scannable heap bytes scanned (Go's heapScanWork)
  uint64_t stack_scan_work_bytes = 0;    // stack bytes scanned (Go's stackScanWork → lastStackScan)
  uint64_t globals_scan_work_bytes = 0;  // global bytes scanned this cycle (Go's globalsScanWork)
  uint64_t globals_scan_bytes = 0;       // scannable globals registered now (Go's globalsScan)
  int64_t mark_wall_ns = 0;              // wall time from mark start to mark termination (Go's
                                         // assistDuration); 0 = too short to measure
  int64_t assist_cpu_ns = 0;             // CPU spent in mark assists (0 for a stop-the-world mark)
  int64_t idle_mark_cpu_ns = 0;          // CPU spent by idle-priority mark workers
  int procs = 1;                         // GOMAXPROCS during the cycle
  bool sweep_done = false;               // whether sweeping is already complete at commit (Go passes
                                         // isSweepDone(), false at mark termination)
};

// PiController is Go's piController: a proportional-integral controller with
// anti-windup, used by the pacer as a smoothing filter for cons/mark.
struct PiController {
  double kp = 0, ti = 0, tt = 0;  // proportional gain, integral time, reset time
  double min = 0, max = 0;        // output bounds
  double err_integral = 0;        // integral of the error so far

  // next returns the controller output for input moving toward setpoint over
  // period, and false (output = min) if the arithmetic overflowed.
  bool next(double input, double setpoint, double period, double* output);
};

// Pacer — Go 1.19's gcControllerState, minus the mark-worker scheduling.
// Written under mu_ by whoever calls the mutators (set_gogc/set_memory_limit
// from any thread, commit/start_cycle from the collector at STW points,
// update_memory from the collector or sweeper); read lock-free through the
// cached atomics by the allocation path.
class Pacer final {
 public:
  // Pacer starts as Go's gcController.init: GOGC and the memory limit set,
  // nothing marked yet (goal = heap minimum), committed with sweeping done.
  explicit Pacer(int gogc_percent = 100, int64_t memory_limit_bytes = kNoMemoryLimit);
  Pacer(const Pacer&) = delete;
  Pacer& operator=(const Pacer&) = delete;

  // set_gogc sets GOGC (any negative value means off) and returns the previous
  // value; recomputes goal and trigger. Takes mu_.
  int set_gogc(int percent);
  // gogc returns GOGC, -1 when off. Lock-free.
  int gogc() const { return gogc_percent_.load(std::memory_order_relaxed); }

  // set_memory_limit sets the soft memory limit in bytes (kNoMemoryLimit = off)
  // and returns the previous one; a negative value only reads it, as in Go.
  // Takes mu_.
  int64_t set_memory_limit(int64_t bytes);
  // memory_limit returns the soft memory limit in bytes. Lock-free.
  int64_t memory_limit() const { return memory_limit_.load(std::memory_order_relaxed); }

  // update_memory records the collector's memory figures and recomputes the
  // memory-limit goal and the trigger. Takes mu_.
  void update_memory(const MemorySnapshot& snapshot);

  // start_cycle records that a cycle starts now and returns its trigger (Go's
  // startCycle: `triggered`, which the cons/mark estimate measures from).
  // Takes mu_.
  uint64_t start_cycle();

  // commit ends a cycle with what it measured: updates the cons/mark
  // estimate (endCycle), resets the live heap to heap_marked (resetLive) and
  // recomputes goal, runway and trigger (commit). Call start_cycle when the
  // cycle starts; without it, cons/mark is measured from heap_marked. Takes mu_.
  void commit(const CycleResult& cycle);

  // note_sweep_done records that sweeping finished; the next recomputation
  // (a setter) drops the sweep-distance bound, as Go's commit(isSweepDone()).
  // Takes mu_.
  void note_sweep_done();

  // trigger_bytes returns the heap_live at which the next cycle should start.
  // Lock-free; for the allocation slow path.
  uint64_t trigger_bytes() const { return trigger_.load(std::memory_order_acquire); }
  // gogc_trigger_bytes returns the trigger the GOGC goal alone would give;
  // heap_live between trigger_bytes() and this means only the memory limit
  // asks for a cycle (the collector may hold such a cycle while the CPU
  // limiter is limiting; see cpu_limiter.h). Lock-free.
  uint64_t gogc_trigger_bytes() const { return gogc_trigger_.load(std::memory_order_acquire); }
  // heap_goal returns the current heap goal in bytes: min(GOGC goal,
  // memory-limit goal) with Go's adjustments. Lock-free.
  uint64_t heap_goal() const { return goal_.load(std::memory_order_acquire); }
  // last_heap_goal returns the goal as it was when the last cycle ended (what
  // gctrace prints as "MB goal"). Lock-free.
  uint64_t last_heap_goal() const { return last_heap_goal_.load(std::memory_order_relaxed); }
  // heap_marked returns the bytes marked by the last cycle. Lock-free.
  uint64_t heap_marked() const { return heap_marked_.load(std::memory_order_relaxed); }
  // last_heap_scan returns the heap scan work of the last cycle. Lock-free.
  uint64_t last_heap_scan() const { return last_heap_scan_atomic_.load(std::memory_order_relaxed); }
  // last_stack_scan returns the stack bytes scanned by the last cycle. Lock-free.
  uint64_t last_stack_scan() const { return last_stack_scan_.load(std::memory_order_relaxed); }
  // globals_scan returns the scannable globals bytes at the last commit. Lock-free.
  uint64_t globals_scan() const { return globals_scan_.load(std::memory_order_relaxed); }

  // cons_mark returns the smoothed cons/mark estimate. Takes mu_.
  double cons_mark() const;
  // runway_bytes returns the allocation runway the next cycle is given. Takes mu_.
  uint64_t runway_bytes() const;
  // heap_minimum_bytes returns 4 MiB × GOGC/100 (0 when GOGC is off). Takes mu_.
  uint64_t heap_minimum_bytes() const;
  // gogc_heap_goal_bytes returns the goal from GOGC alone (UINT64_MAX when
  // off). Takes mu_.
  uint64_t gogc_heap_goal_bytes() const;
  // memory_limit_heap_goal_bytes returns the goal from the memory limit alone. Takes mu_.
  uint64_t memory_limit_heap_goal_bytes() const;

 private:
  struct GoalAndMinTrigger {
    uint64_t goal;
    uint64_t min_trigger;
  };
  GoalAndMinTrigger heap_goal_internal_locked(bool with_memory_limit) const;
  uint64_t memory_limit_heap_goal_locked() const;
  uint64_t trigger_locked(uint64_t goal, uint64_t min_trigger) const;
  void commit_locked(bool sweep_done);
  void end_cycle_locked(const CycleResult& cycle);
  void publish_locked();

  mutable std::mutex mu_;

  // Inputs and state; written under mu_.
  std::atomic<int> gogc_percent_;         // written under mu_, read lock-free
  std::atomic<int64_t> memory_limit_;     // written under mu_, read lock-free
  uint64_t heap_minimum_ = 0;             // guarded by mu_
  uint64_t gogc_goal_ = 0;                // guarded by mu_; UINT64_MAX when GOGC is off
  uint64_t sweep_dist_min_trigger_ = 0;   // guarded by mu_
  uint64_t runway_ = 0;                   // guarded by mu_
  double cons_mark_ = 0;                  // guarded by mu_
  PiController cons_mark_controller_;     // guarded by mu_
  uint64_t triggered_;                    // guarded by mu_; UINT64_MAX outside a cycle
  uint64_t heap_live_ = 0;                // guarded by mu_; last heapLive we were told
  uint64_t last_heap_scan_ = 0;           // guarded by mu_
  bool sweep_done_ = true;                // guarded by mu_
  MemorySnapshot memory_;                 // guarded by mu_

  // Published results; written under mu_, read lock-free.
  std::atomic<uint64_t> heap_marked_{0};
  std::atomic<uint64_t> last_stack_scan_{0};
  std::atomic<uint64_t> last_heap_scan_atomic_{0};  // = last_heap_scan_, for lock-free readers
  std::atomic<uint64_t> globals_scan_{0};
  std::atomic<uint64_t> last_heap_goal_{0};
  std::atomic<uint64_t> goal_{0};
  std::atomic<uint64_t> trigger_{0};
  std::atomic<uint64_t> gogc_trigger_{0};
};

}  // namespace gc
