// mark_workers.cpp — who does the mark work while goroutines run (Go's
// gcBgMarkWorker, findRunnableGCWorker and gcAssistAlloc in mgc.go,
// mgcpacer.go and mgcmark.go).
//
// Background workers. One worker goroutine per P, parked ("GC worker
// (idle)") in a pool between runs. While a mark runs, the scheduler asks
// find_worker (runtime/scan.h WorkerSource) before every G it picks, and
// it hands out workers as Go 1.19's pacer plans them at the start of the
// cycle: of GOMAXPROCS × 25%, the whole part as *dedicated* workers, which
// mark until no work is left (or the world stops), and — when rounding
// would miss 25% by more than 30%, as for GOMAXPROCS ≤ 3 — the rest as a
// *fractional* goal per P: a P runs a fractional worker while its share of
// the mark's wall time is below the goal, and the worker stops at 1.2× it.
// A P with nothing else to run gets an *idle* worker, which marks until the
// P has a goroutine to run. Workers start only while there is work to
// find (or stacks left to scan); the last marker to run out of work checks
// for the end of the mark (collector.cpp try_finish_mark).
//
// Assists. A goroutine that allocates while the mark runs owes mark work
// in proportion — the assist ratio, scan work left over heap bytes left
// before the goal (Go's revise) — charged at each span refill (the
// allocation slow path, where heap_live counts too) and paid at its next
// slow path: first from the credit background workers banked, then by
// marking itself. With no work to do and debt left, it parks in "GC assist
// wait" until workers bank more credit or the mark ends (Go's
// gcParkAssist). Credit is kept per goroutine (the runtime's gc_word): a
// goroutine that overpaid allocates that much more freely.
#include <cmath>

#include "gc/heap_internal.h"
#include "gc/pacer.h"
#include "runtime/gort.h"
#include "runtime/observer.h"
#include "runtime/scan.h"

namespace gc::detail {

namespace {

enum class Mode : uint8_t { Dedicated, Fractional, Idle };

struct Workers {
  SpinLock lock;
  std::vector<gort::G*> parked;             // (lock) worker goroutines ready to run
  bool spawned = false;                      // (lock) one worker per P started
  std::atomic<bool> marking{false};
  std::atomic<int> dedicated_left{0};        // dedicated workers still to hand out
  std::atomic<int> idle_running{0};
  int max_idle = 0;
  double fractional_goal = 0;                // per P, fraction of wall time
  int64_t mark_start_ns = 0;
  Mode mode[kMaxProcs] = {};                 // written by find_worker on P p's M, read by the worker it hands out
  std::atomic<int64_t> fractional_ns[kMaxProcs] = {};
  std::atomic<int64_t> cpu_ns[4] = {};       // by Mode, and [3] assists
  std::atomic<int64_t> bg_credit{0};         // scan work banked by workers for assists

  // The assist ratio's inputs, set at the start of the cycle.
  double scan_expected = 0;                  // scan work the cycle should take
  uint64_t heap_goal = 0;
  uint64_t hard_goal = 0;

  SpinLock assist_lock;
  std::vector<gort::G*> assist_queue;        // (assist_lock) parked in "GC assist wait"
};
Workers& workers() {
  static Workers* w = new Workers;  // never destroyed: workers outlive main
  return *w;
}

constexpr int kAssistCpu = 3;

bool publish_parked(gort::G* g, void*) {
  Workers& w = workers();
  std::lock_guard<SpinLock> guard(w.lock);
  w.parked.push_back(g);
  return true;
}

struct RunState {
  int p;
  int64_t start_ns;
};

bool stop_dedicated(void*) { return gort::preempt_requested(); }

bool stop_fractional(void* arg) {
  if (gort::preempt_requested()) return true;
  Workers& w = workers();
  auto* rs = static_cast<RunState*>(arg);
  int64_t now = gort::nanotime();
  int64_t delta = now - w.mark_start_ns;
  if (delta <= 0) return false;
  double self = static_cast<double>(w.fractional_ns[rs->p].load(std::memory_order_relaxed) + now - rs->start_ns);
  return self / static_cast<double>(delta) > 1.2 * w.fractional_goal;
}

bool stop_idle(void*) { return gort::preempt_requested() || gort::local_work_pending(); }

// worker_loop is one background mark worker goroutine.
void worker_loop() {
  Workers& w = workers();
  for (;;) {
    scrub_dead_frames();  // the last drain's, before this goroutine sleeps on them
    gort::detail::park_current(&publish_parked, nullptr, gort::WaitReason::GCWorkerIdle);
    int p = gort::current_p_index();
    Mode mode = w.mode[p];
    RunState rs{p, gort::nanotime()};
    gort::scan_own_stack_once();
    Marker m;
    int64_t work = drain(m, INT64_MAX,
                         mode == Mode::Dedicated ? &stop_dedicated : mode == Mode::Fractional ? &stop_fractional : &stop_idle,
                         &rs);
    int64_t spent = gort::nanotime() - rs.start_ns;
    w.cpu_ns[static_cast<int>(mode)].fetch_add(spent, std::memory_order_relaxed);
    if (mode == Mode::Fractional) w.fractional_ns[p].fetch_add(spent, std::memory_order_relaxed);
    if (mode == Mode::Idle) {
      w.idle_running.fetch_sub(1, std::memory_order_relaxed);
      note_mark_cpu(0, spent);
    }
    if (mode == Mode::Dedicated) w.dedicated_left.fetch_add(1, std::memory_order_relaxed);
    if (work > 0) {
      w.bg_credit.fetch_add(work, std::memory_order_relaxed);
      wake_assists();
    }
    // The last marker out with no work left: the assists may all be
    // asleep in GC assist wait, and no P starts a worker while no work is
    // queued, so nobody else would finish the mark. Whatever stopped the
    // drain — sysmon's preemption request, or another finisher's
    // stop-the-world, which try_finish_mark yields to — as Go's
    // gcBgMarkWorker calls gcMarkDone.
    if (m.finish_point) try_finish_mark();
  }
}

// find_worker is the runtime's WorkerSource.
gort::G* find_worker(int p, bool idle) {
  Workers& w = workers();
  if (!w.marking.load(std::memory_order_relaxed) || p >= kMaxProcs) return nullptr;
  if (!work_available()) return nullptr;
  Mode mode;
  if (idle) {
    if (w.idle_running.fetch_add(1, std::memory_order_relaxed) >= w.max_idle) {
      w.idle_running.fetch_sub(1, std::memory_order_relaxed);
      return nullptr;
    }
    mode = Mode::Idle;
  } else if (w.dedicated_left.fetch_sub(1, std::memory_order_relaxed) > 0) {
    mode = Mode::Dedicated;
  } else {
    w.dedicated_left.fetch_add(1, std::memory_order_relaxed);
    if (w.fractional_goal <= 0) return nullptr;
    int64_t delta = gort::nanotime() - w.mark_start_ns;
    if (delta > 0 && static_cast<double>(w.fractional_ns[p].load(std::memory_order_relaxed)) / static_cast<double>(delta) >
                         w.fractional_goal)
      return nullptr;
    mode = Mode::Fractional;
  }
  gort::G* g = nullptr;
  {
    std::lock_guard<SpinLock> guard(w.lock);
    if (!w.parked.empty()) {
      g = w.parked.back();
      w.parked.pop_back();
    }
  }
  if (g == nullptr) {
    if (mode == Mode::Idle) w.idle_running.fetch_sub(1, std::memory_order_relaxed);
    if (mode == Mode::Dedicated) w.dedicated_left.fetch_add(1, std::memory_order_relaxed);
    return nullptr;
  }
  w.mode[p] = mode;
  static constexpr const char* kLabels[] = {"GC (dedicated)", "GC (fractional)", "GC (idle)"};  // Go's markWorkerLabels
  gort::set_start_label(g, kLabels[static_cast<int>(mode)]);
  return g;
}

// assist_work_per_byte is Go's revise(): the scan work still expected over
// the heap bytes still allowed before the goal. Past the expected work the
// goal stretches toward the hard goal (1 + GOGC/100 of it), and past the
// goal the heap gets 10% more, so assists never demand infinite work.
double assist_work_per_byte() {
  Workers& w = workers();
  double work = static_cast<double>(heap_scan_work_so_far());
  double expected = w.scan_expected;
  double goal = static_cast<double>(w.heap_goal);
  if (work > expected) {
    expected = work * 1.5;
    goal = static_cast<double>(w.hard_goal);
  }
  double live = static_cast<double>(g_counters.heap_live.load(std::memory_order_relaxed));
  if (live > goal) goal = live * 1.1;
  double remaining_work = std::max(expected - work, 1000.0);
  double remaining_heap = std::max(goal - live, 1.0);
  return remaining_work / remaining_heap;
}

bool park_assist(gort::G* g, void*) {
  Workers& w = workers();
  std::lock_guard<SpinLock> guard(w.assist_lock);
  if (!w.marking.load(std::memory_order_acquire) || w.bg_credit.load(std::memory_order_relaxed) > 0) return false;
  w.assist_queue.push_back(g);
  return true;
}

}  // namespace

void charge_assist(uint64_t bytes) {
  if (int64_t* credit = gort::gc_word()) *credit -= static_cast<int64_t>(bytes);
}

void pay_assist_debt() {
  Workers& w = workers();
  int64_t* credit = gort::gc_word();
  if (credit == nullptr || *credit >= 0) return;
  // While GC uses more than its share of the CPU, the limiter waives
  // assists; the heap may overshoot its goal instead (Go 1.19).
  if (assists_limited()) return;
  int64_t t0 = gort::nanotime();
  gort::emit_gc_event(gort::GcEvent::AssistStart);
  while (*credit < 0 && w.marking.load(std::memory_order_acquire)) {
    double per_byte = assist_work_per_byte();
    auto owed = static_cast<int64_t>(std::ceil(static_cast<double>(-*credit) * per_byte));
    // The workers' banked credit first (Go's gcAssistAlloc steal).
    int64_t bank = w.bg_credit.load(std::memory_order_relaxed);
    while (bank > 0) {
      int64_t take = std::min(bank, owed);
      if (w.bg_credit.compare_exchange_weak(bank, bank - take, std::memory_order_relaxed)) {
        *credit += static_cast<int64_t>(static_cast<double>(take) / per_byte) + 1;
        owed -= take;
        break;
      }
    }
    if (*credit >= 0) break;
    Marker m;
    int64_t done = drain(m, owed, &stop_dedicated, nullptr);
    *credit += static_cast<int64_t>(static_cast<double>(done) / per_byte) + (done > 0 ? 1 : 0);
    // The last marker out with no work left tries to finish the mark even
    // when its debt is paid (see worker_loop): it may have taken the work
    // a worker left queued, and that worker is asleep.
    if (m.finish_point) try_finish_mark();
    if (*credit >= 0) break;
    if (gort::preempt_requested()) break;  // a stop-the-world waits; pay the rest later
    if (done == 0 || !work_available()) {
      if (!m.finish_point) try_finish_mark();  // wait for the markers still draining
      if (!w.marking.load(std::memory_order_acquire) || mark_held()) break;
      if (!work_available()) {
        int64_t worked = gort::nanotime() - t0;
        w.cpu_ns[kAssistCpu].fetch_add(worked, std::memory_order_relaxed);
        note_mark_cpu(worked, 0);
        gort::emit_gc_event(gort::GcEvent::AssistDone);
        scrub_dead_frames();
        gort::detail::park_current(&park_assist, nullptr, gort::WaitReason::GCAssistWait);
        t0 = gort::nanotime();
        gort::emit_gc_event(gort::GcEvent::AssistStart);
      }
    }
  }
  int64_t worked = gort::nanotime() - t0;
  w.cpu_ns[kAssistCpu].fetch_add(worked, std::memory_order_relaxed);
  note_mark_cpu(worked, 0);
  gort::emit_gc_event(gort::GcEvent::AssistDone);
  scrub_dead_frames();  // before the goroutine's own frames grow over the drain's
}

bool mark_running() { return workers().marking.load(std::memory_order_acquire); }

void wake_assists() {
  Workers& w = workers();
  std::vector<gort::G*> ready;
  {
    std::lock_guard<SpinLock> guard(w.assist_lock);
    if (w.assist_queue.empty()) return;
    ready.swap(w.assist_queue);
  }
  for (gort::G* g : ready) gort::detail::ready(g);
}

void plan_mark_workers(int64_t now, double scan_expected, uint64_t heap_goal, uint64_t hard_goal) {
  Workers& w = workers();
  int procs = std::min(gort::gomaxprocs(), kMaxProcs);
  {
    std::lock_guard<SpinLock> guard(w.lock);
    if (!w.spawned) {
      w.spawned = true;
      for (int i = 0; i < procs; i++) gort::go([] { worker_loop(); });
      gort::set_worker_source(&find_worker);
    }
  }
  // Go 1.19's startCycle.
  double total = procs * kGcGoalUtilization;
  int dedicated = static_cast<int>(total + 0.5);
  double error = static_cast<double>(dedicated) / total - 1;
  double fractional = 0;
  if (error < -0.3 || error > 0.3) {
    if (dedicated > total) dedicated--;
    fractional = (total - dedicated) / procs;
  }
  w.dedicated_left.store(dedicated, std::memory_order_relaxed);
  w.fractional_goal = fractional;
  w.max_idle = procs - dedicated;
  w.idle_running.store(0, std::memory_order_relaxed);
  w.mark_start_ns = now;
  for (auto& f : w.fractional_ns) f.store(0, std::memory_order_relaxed);
  for (auto& c : w.cpu_ns) c.store(0, std::memory_order_relaxed);
  w.bg_credit.store(0, std::memory_order_relaxed);
  w.scan_expected = scan_expected;
  w.heap_goal = heap_goal;
  w.hard_goal = hard_goal;
  w.marking.store(true, std::memory_order_release);
}

MarkCpu stop_mark_workers() {
  Workers& w = workers();
  {
    std::lock_guard<SpinLock> guard(w.assist_lock);
    w.marking.store(false, std::memory_order_release);
  }
  MarkCpu c;
  c.dedicated_ns = w.cpu_ns[static_cast<int>(Mode::Dedicated)].load(std::memory_order_relaxed);
  c.fractional_ns = w.cpu_ns[static_cast<int>(Mode::Fractional)].load(std::memory_order_relaxed);
  c.idle_ns = w.cpu_ns[static_cast<int>(Mode::Idle)].load(std::memory_order_relaxed);
  c.assist_ns = w.cpu_ns[kAssistCpu].load(std::memory_order_relaxed);
  return c;
}

void forget_mark_workers() {
  Workers& w = workers();
  w.marking.store(false, std::memory_order_relaxed);
  std::lock_guard<SpinLock> guard(w.lock);
  w.parked.clear();
  w.spawned = false;
  std::lock_guard<SpinLock> guard2(w.assist_lock);
  w.assist_queue.clear();
}

}  // namespace gc::detail
