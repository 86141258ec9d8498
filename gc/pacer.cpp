// pacer.cpp — Go 1.19's GC pacer (runtime/mgcpacer.go), carried over as facts
// and formulas; see pacer.h for the interface.
//
// What the pacer decides
// ----------------------
// Two numbers: the heap goal (how large heap_live may grow before a cycle must
// be finished) and the trigger (the heap_live at which a cycle starts, early
// enough that marking finishes by the goal).
//
//   GOGC goal     = heap_marked + (heap_marked + last_stack_scan + globals_scan)
//                                 × GOGC/100, at least heap_minimum = 4 MiB × GOGC/100
//                   (UINT64_MAX when GOGC is off)
//   limit goal    = memory_limit − (non_heap + overage) − 1 MiB headroom, where
//                   non_heap = mapped_ready − heap_free − heap_alloc and
//                   overage  = max(mapped_ready − memory_limit, 0);
//                   at least 1 MiB and at least heap_marked, and exactly
//                   heap_marked when non_heap + overage already fill the limit
//   goal          = min(GOGC goal, limit goal); if the GOGC goal wins it is
//                   further raised to keep the sweep distance (heap_live + 1 MiB
//                   while sweeping is unfinished at commit) and, during a cycle,
//                   64 KiB above the trigger. Neither raise applies under the
//                   memory limit: there the goal must not be pushed up.
//
// As in Go, GOGC=off with no memory limit leaves the limit goal in charge:
// about 2^63 bytes, which no heap reaches — "off" in practice.
//
// The trigger comes from the runway: the bytes the mutator is expected to
// allocate while a cycle marks,
//
//   runway  = cons_mark × (1 − u)/u × (last_heap_scan + last_stack_scan + globals_scan)
//   trigger = goal − runway, clamped to [min_trigger, max_trigger]
//   min_trigger = max(heap_marked + 45/64 (goal − heap_marked), sweep distance bound)
//   max_trigger = max(heap_marked + 61/64 (goal − heap_marked), goal − 4 MiB)
//
// with u = 25%, the CPU share background marking is meant to use. The lower
// bound (~0.7) keeps a fast allocator from driving the GC to run nearly all
// the time while the heap grows; the upper bound (~0.95, or 4 MiB below the
// goal for large heaps) always leaves some room when the cycle starts. If
// heap_marked ≥ goal (the memory limit is unreachable) trigger = goal: cycles
// run back to back, and the CPU limiter (cpu_limiter.h) is what reins them in.
//
// cons/mark
// ---------
// cons_mark is the ratio of the mutator's allocation rate to the GC's scan
// rate, both per CPU-second. At the end of each cycle Go measures
//
//   current = (heap_live − triggered) × (u_assist + u_idle + 25%)
//             / (scan_work × (1 − 25% − u_assist))
//
// where triggered is the trigger computed when the cycle started (not the
// heap_live it actually started at — Go 1.19 keeps the precomputed value, see
// the TODO in its startCycle and golang/go#53738), scan_work is heap + stack +
// globals bytes scanned, and the utilizations are CPU time over
// mark_wall × procs. The measurement is noisy, so Go feeds it through a PI
// controller (kp 0.9, ti 4 cycles, tt 1000, output in [−1000, 1000]) and uses
// the controller's output as the next estimate. (Go 1.20 replaced this with
// the maximum of the last four measurements; 1.19 — what we follow — has the
// controller. If heap_live ≤ triggered the cycle is ignored, as in Go.)
//
// Stop-the-world marking, as the collector does it today, allocates nothing
// during mark: heap_live − triggered is only the overshoot of the allocation
// that crossed the trigger, cons/mark settles near zero, the runway near zero,
// and the trigger at max_trigger — the right answer when marking takes no
// mutator time. Once marking is concurrent the same code paces assists.
//
// Why a cache
// -----------
// Go 1.19 computes the trigger at query time because the limit goal depends on
// live memory figures. Here every input change — commit, a setter, or
// update_memory — recomputes goal and trigger under mu_ and publishes them in
// atomics, so the allocation slow path pays one relaxed load.
//
// Deviations from Go 1.19
// -----------------------
// - A negative cons/mark estimate gives zero runway (Go on arm64) rather than
//   the huge wrapped runway Go on amd64 computes; see runway_from_float.
// - Memory figures are a snapshot the collector pushes (update_memory), not
//   atomics read at query time; an inconsistent snapshot counts as no
//   non-heap memory instead of being re-read.
// - Mark-worker scheduling (dedicated/fractional/idle workers) and the assist
//   ratio (revise) are not here yet; they arrive with concurrent marking.
#include "gc/pacer.h"

#include <cmath>

namespace gc {

namespace {

constexpr uint64_t kNoTrigger = std::numeric_limits<uint64_t>::max();

// runway_from_float converts the runway as Go's uint64(f) does on arm64,
// which saturates: a negative estimate (the PI controller can undershoot
// below zero after a cons/mark spike) gives no runway, so the trigger goes to
// its upper bound. Go on amd64 wraps it to a huge runway instead, putting
// the trigger at its lower bound; that is an accident of CVTTSD2SQ, not a
// design, and it leaves the trigger stuck low whenever the estimate stays
// negative — the saturating reading is the one we keep.
uint64_t runway_from_float(double f) {
  if (std::isnan(f) || f <= 0) return 0;
  if (f >= 18446744073709551615.0) return kNoTrigger;
  return static_cast<uint64_t>(f);
}

// gogc_goal returns marked + (marked + stacks + globals) × percent / 100,
// saturating instead of wrapping for absurd GOGC values.
uint64_t gogc_goal(uint64_t marked, uint64_t stacks, uint64_t globals, int percent) {
  unsigned __int128 base = static_cast<unsigned __int128>(marked) + stacks + globals;
  unsigned __int128 goal = marked + base * static_cast<unsigned>(percent) / 100;
  return goal > kNoTrigger ? kNoTrigger : static_cast<uint64_t>(goal);
}

}  // namespace

bool PiController::next(double input, double setpoint, double period, double* output) {
  double prop = kp * (setpoint - input);
  double raw = prop + err_integral;
  double out = raw;
  if (std::isinf(out) || std::isnan(out)) {
    err_integral = 0;
    *output = min;
    return false;
  }
  if (out < min) out = min;
  if (out > max) out = max;
  if (ti != 0 && tt != 0) {
    err_integral += (kp * period / ti) * (setpoint - input) + (period / tt) * (out - raw);
    if (std::isinf(err_integral) || std::isnan(err_integral)) {
      err_integral = 0;
      *output = min;
      return false;
    }
  }
  *output = out;
  return true;
}

Pacer::Pacer(int gogc_percent, int64_t memory_limit_bytes)
    : gogc_percent_(kGcOff), memory_limit_(kNoMemoryLimit), triggered_(kNoTrigger) {
  // Go's tuning: Ziegler-Nichols in simulation, then the integral time tuned
  // against real applications; a long reset time because clipping is fine.
  cons_mark_controller_.kp = 0.9;
  cons_mark_controller_.ti = 4.0;
  cons_mark_controller_.tt = 1000;
  cons_mark_controller_.min = -1000;
  cons_mark_controller_.max = 1000;
  set_gogc(gogc_percent);
  set_memory_limit(memory_limit_bytes);
  std::lock_guard lock(mu_);
  commit_locked(/*sweep_done=*/true);  // no sweep precedes the first cycle
}

int Pacer::set_gogc(int percent) {
  std::lock_guard lock(mu_);
  int old = gogc_percent_.load(std::memory_order_relaxed);
  if (percent < 0) percent = kGcOff;
  // Go computes defaultHeapMinimum × uint64(in) / 100, which wraps for -1; the
  // minimum is irrelevant when GOGC is off, so it is simply 0 here.
  heap_minimum_ = percent < 0 ? 0 : kDefaultHeapMinimumBytes * static_cast<uint64_t>(percent) / 100;
  gogc_percent_.store(percent, std::memory_order_relaxed);
  commit_locked(sweep_done_);
  return old;
}

int64_t Pacer::set_memory_limit(int64_t bytes) {
  std::lock_guard lock(mu_);
  int64_t old = memory_limit_.load(std::memory_order_relaxed);
  if (bytes < 0 || bytes == old) return old;
  memory_limit_.store(bytes, std::memory_order_relaxed);
  commit_locked(sweep_done_);
  return old;
}

void Pacer::update_memory(const MemorySnapshot& snapshot) {
  std::lock_guard lock(mu_);
  memory_ = snapshot;
  if (snapshot.heap_live_bytes > heap_live_) heap_live_ = snapshot.heap_live_bytes;
  publish_locked();
}

uint64_t Pacer::start_cycle() {
  std::lock_guard lock(mu_);
  GoalAndMinTrigger g = heap_goal_internal_locked(true);
  triggered_ = trigger_locked(g.goal, g.min_trigger);
  publish_locked();
  return triggered_;
}

void Pacer::note_sweep_done() {
  std::lock_guard lock(mu_);
  sweep_done_ = true;
}

void Pacer::commit(const CycleResult& cycle) {
  std::lock_guard lock(mu_);
  // Go's order: endCycle (which records lastHeapGoal first), resetLive, commit.
  if (cycle.heap_live_bytes > heap_live_) heap_live_ = cycle.heap_live_bytes;
  last_heap_goal_.store(heap_goal_internal_locked(true).goal, std::memory_order_relaxed);
  end_cycle_locked(cycle);
  heap_marked_.store(cycle.heap_marked_bytes, std::memory_order_relaxed);
  heap_live_ = cycle.heap_marked_bytes;
  last_heap_scan_ = cycle.heap_scan_work_bytes;
  last_heap_scan_atomic_.store(cycle.heap_scan_work_bytes, std::memory_order_relaxed);
  last_stack_scan_.store(cycle.stack_scan_work_bytes, std::memory_order_relaxed);
  globals_scan_.store(cycle.globals_scan_bytes, std::memory_order_relaxed);
  triggered_ = kNoTrigger;
  sweep_done_ = cycle.sweep_done;
  commit_locked(cycle.sweep_done);
}

// end_cycle_locked folds this cycle's cons/mark measurement into the estimate
// (Go's endCycle). triggered_ must still hold the cycle's trigger; a cycle
// committed without start_cycle is measured from heap_marked.
void Pacer::end_cycle_locked(const CycleResult& c) {
  uint64_t triggered = triggered_ != kNoTrigger ? triggered_ : heap_marked_.load(std::memory_order_relaxed);
  int procs = c.procs > 0 ? c.procs : 1;
  double utilization = kGcGoalUtilization;  // assume background marking hit its goal
  double idle_utilization = 0;
  if (c.mark_wall_ns > 0) {
    double cpu = static_cast<double>(c.mark_wall_ns) * procs;
    utilization += static_cast<double>(c.assist_cpu_ns) / cpu;
    idle_utilization = static_cast<double>(c.idle_mark_cpu_ns) / cpu;
  }
  if (c.heap_live_bytes <= triggered) return;  // too short to say anything
  double scan_work =
      static_cast<double>(c.heap_scan_work_bytes + c.stack_scan_work_bytes + c.globals_scan_work_bytes);
  double current = static_cast<double>(c.heap_live_bytes - triggered) * (utilization + idle_utilization) /
                   (scan_work * (1 - utilization));
  double next = 0;
  if (!cons_mark_controller_.next(cons_mark_, current, 1.0, &next)) next = 0;  // Go resets to 0
  cons_mark_ = next;
}

// commit_locked recomputes the GOGC goal, the sweep-distance bound and the
// runway from the committed state (Go's commit), then publishes.
void Pacer::commit_locked(bool sweep_done) {
  sweep_dist_min_trigger_ = sweep_done ? 0 : heap_live_ + kSweepMinHeapDistanceBytes;
  uint64_t marked = heap_marked_.load(std::memory_order_relaxed);
  uint64_t stacks = last_stack_scan_.load(std::memory_order_relaxed);
  uint64_t globals = globals_scan_.load(std::memory_order_relaxed);
  int percent = gogc_percent_.load(std::memory_order_relaxed);
  uint64_t goal = percent >= 0 ? gogc_goal(marked, stacks, globals, percent) : kNoTrigger;
  if (goal < heap_minimum_) goal = heap_minimum_;
  gogc_goal_ = goal;
  double scan = static_cast<double>(last_heap_scan_ + stacks + globals);
  runway_ = runway_from_float(cons_mark_ * (1 - kGcGoalUtilization) / kGcGoalUtilization * scan);
  publish_locked();
}

// publish_locked recomputes goal and triggers and stores them for the lock-free readers.
void Pacer::publish_locked() {
  GoalAndMinTrigger with_limit = heap_goal_internal_locked(true);
  GoalAndMinTrigger gogc_only = heap_goal_internal_locked(false);
  goal_.store(with_limit.goal, std::memory_order_relaxed);
  gogc_trigger_.store(trigger_locked(gogc_only.goal, gogc_only.min_trigger), std::memory_order_release);
  trigger_.store(trigger_locked(with_limit.goal, with_limit.min_trigger), std::memory_order_release);
}

// heap_goal_internal_locked returns the goal and the sweep-distance lower
// bound for the trigger (Go's heapGoalInternal); min_trigger <= goal.
Pacer::GoalAndMinTrigger Pacer::heap_goal_internal_locked(bool with_memory_limit) const {
  uint64_t goal = gogc_goal_;
  uint64_t min_trigger = 0;
  uint64_t limit_goal = with_memory_limit ? memory_limit_heap_goal_locked() : kNoTrigger;
  if (limit_goal < goal) return {limit_goal, 0};
  if (sweep_dist_min_trigger_ > goal) goal = sweep_dist_min_trigger_;
  min_trigger = sweep_dist_min_trigger_;
  if (triggered_ != kNoTrigger && goal < triggered_ + kMinRunwayBytes) goal = triggered_ + kMinRunwayBytes;
  return {goal, min_trigger};
}

// memory_limit_heap_goal_locked returns the goal derived from the memory
// limit (Go's memoryLimitHeapGoal).
uint64_t Pacer::memory_limit_heap_goal_locked() const {
  uint64_t heap_marked = heap_marked_.load(std::memory_order_relaxed);
  uint64_t limit = static_cast<uint64_t>(memory_limit_.load(std::memory_order_relaxed));
  uint64_t mapped = memory_.mapped_ready_bytes;
  uint64_t in_heap = memory_.heap_free_bytes + memory_.heap_alloc_bytes;
  // Go retries until it reads a consistent triple; a snapshot that is not
  // consistent counts as having no non-heap memory.
  uint64_t non_heap = mapped > in_heap ? mapped - in_heap : 0;
  uint64_t overage = mapped > limit ? mapped - limit : 0;
  if (non_heap + overage >= limit) return heap_marked;  // nothing to give the heap: collect continuously
  uint64_t goal = limit - (non_heap + overage);
  if (goal < kMemoryLimitHeadroomBytes || goal - kMemoryLimitHeadroomBytes < kMemoryLimitHeadroomBytes) {
    goal = kMemoryLimitHeadroomBytes;
  } else {
    goal -= kMemoryLimitHeadroomBytes;
  }
  if (goal < heap_marked) goal = heap_marked;  // a goal below the live heap makes no sense
  return goal;
}

// trigger_locked returns the trigger for goal (Go's trigger()).
uint64_t Pacer::trigger_locked(uint64_t goal, uint64_t min_trigger) const {
  uint64_t marked = heap_marked_.load(std::memory_order_relaxed);
  if (marked >= goal) return goal;  // continuous collection at the goal
  if (min_trigger < marked) min_trigger = marked;
  uint64_t lower = (goal - marked) / kTriggerRatioDen * kMinTriggerRatioNum + marked;
  if (min_trigger < lower) min_trigger = lower;
  uint64_t max_trigger = (goal - marked) / kTriggerRatioDen * kMaxTriggerRatioNum + marked;
  if (goal > kDefaultHeapMinimumBytes && goal - kDefaultHeapMinimumBytes > max_trigger) {
    max_trigger = goal - kDefaultHeapMinimumBytes;
  }
  if (max_trigger < min_trigger) max_trigger = min_trigger;
  uint64_t trigger = runway_ > goal ? min_trigger : goal - runway_;
  if (trigger < min_trigger) trigger = min_trigger;
  if (trigger > max_trigger) trigger = max_trigger;
  return trigger;  // <= goal: min_trigger <= goal by construction
}

double Pacer::cons_mark() const {
  std::lock_guard lock(mu_);
  return cons_mark_;
}

uint64_t Pacer::runway_bytes() const {
  std::lock_guard lock(mu_);
  return runway_;
}

uint64_t Pacer::heap_minimum_bytes() const {
  std::lock_guard lock(mu_);
  return heap_minimum_;
}

uint64_t Pacer::gogc_heap_goal_bytes() const {
  std::lock_guard lock(mu_);
  return gogc_goal_;
}

uint64_t Pacer::memory_limit_heap_goal_bytes() const {
  std::lock_guard lock(mu_);
  return memory_limit_heap_goal_locked();
}

}  // namespace gc
