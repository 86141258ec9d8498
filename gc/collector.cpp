// collector.cpp — one garbage-collection cycle (Go's gcStart, gcMarkDone,
// gcMarkTermination), its trigger, its bookkeeping and its gctrace line;
// and the argument for why the concurrent mark loses nothing.
//
// A cycle (Go's phases, mgc.go):
//
//   sweep termination   finish the last cycle's sweeping (before the pause,
//   (stop the world)    on the goroutine that starts the cycle); then, world
//                       stopped: flush the Ps' caches, rotate gc::Pool's
//                       victims and grey what the pools hold, turn on the
//                       write barrier, allocate-black and the transfer
//                       barrier, start the stack-scan generation, plan the
//                       mark workers; start the world
//   mark                concurrent: background workers and assists drain
//   (goroutines run)    grey objects and root jobs (mark.cpp,
//                       mark_workers.cpp); every stack is scanned once
//   mark termination    when the last marker out of its drain finds no
//   (stop the world)    work anywhere (try_finish_mark, which no such
//                       check can miss): stop the world, rescan what
//                       has no barrier (registered ranges, stacks not
//                       yet scanned — goroutines that never ran); if
//                       that found work, restart the world
//                       and go on marking (Go's gcMarkDone does the same);
//                       else turn the barriers off, flush the caches, flip
//                       the sweep generation, reset heap_live to the marked
//                       bytes, commit the pacer; start the world
//
// then a background sweeper goroutine starts. Neither pause does work in
// proportion to the heap: the caches (Ps × span classes), the pools' few
// objects, the registered ranges, and the stacks of goroutines that have
// not run since the cycle began.
//
// Why nothing reachable is freed. Go's hybrid barrier (mbarrier.go): a
// store of a pointer into a heap slot shades the old value and the new one;
// new objects are black; each stack is scanned once, at a point where its
// goroutine is stopped. Yuasa's half keeps every object reachable from the
// heap when the mark began reachable to the marker — cutting a path shades
// what it cut. Dijkstra's half means a black heap object never points at a
// white one, so what a black object reaches the marker reaches too. What
// remains are pointers that live outside the heap, which the marker sees
// only when it scans them. gort adds one rule of its own that makes stacks
// easy: the pause at sweep termination stops every goroutine at a
// safepoint, and no goroutine runs again before its stack is scanned (the
// M resuming it scans it first; runtime/concurrent_scan.cpp). So every
// goroutine that executes during the mark has a black stack, and a pointer
// a black stack acquires comes from one of: an allocation (black), a load
// from the heap (the object was reachable from the heap, hence protected
// by Yuasa's half until it is marked), or another goroutine — itself black,
// so by induction the pointer is as safe there. The cases C++ adds:
//   - through a gort::Chan: the buffer is malloc'd memory. A value that sits
//     in it when the mark begins is on no stack; buffered channels are
//     registered with the runtime and scanned as a root job, and every move
//     into or out of a buffer or between two goroutines' stacks shades the
//     value (the transfer barrier, Go's typedmemmove barrier in
//     chansend/chanrecv), so a value taken out before its buffer is scanned
//     is grey. A new goroutine's closure is shaded the same way as it is
//     copied to its stack, and the goroutine counts as scanned.
//   - held only in a register: a goroutine is scanned only when stopped at
//     a safepoint, a call; the callee-saved registers are then on its stack
//     (Boost.Context pushes them at a switch; scan_own_stack spills them),
//     and the caller-saved ones were spilled by the call itself.
//   - inside a BlockingSection: the goroutine runs but touches no heap
//     object, so the part of its stack above the section's entry and the
//     registers recorded there are frozen; a worker scans exactly that. A
//     goroutine leaving the section first waits out such a scan, then, if
//     nobody scanned it, scans its own live stack before it continues.
//   - stored into a handle (Root): Root::set shades the old and the new
//     value, and destroying a Root shades its last value — the hybrid
//     barrier on a slot outside the heap; Root slots are a root job.
//     Registered ranges (add_root_range) have no barrier: they are rescanned
//     in the mark-termination pause.
//   - gc::Pool's malloc'd storage: its contents are greyed in the sweep
//     termination pause, and every put and get shades the object.
// Memory the collector does not see at all (a T* in a std::vector) was
// never a root and still is not (heap.h's rules).
//
// Triggering. The allocation slow path (malloc.cpp) asks maybe_start_cycle
// whether heap_live reached the pacer's trigger; the first goroutine to see
// it starts the cycle, and goroutines arriving while one runs carry on
// (they assist instead). When the CPU limiter is limiting — or would be,
// were this cycle to cost what the last one did — a cycle that only the
// memory limit asks for waits (cpu_limiter.h) — GOGC and forced cycles
// still run — and while it limits, assists are waived.
#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "gc/cpu_limiter.h"
#include "gc/gctrace.h"
#include "gc/heap_internal.h"
#include "gc/hooks.h"
#include "gc/pacer.h"
#include "runtime/gort.h"
#include "runtime/observer.h"
#include "runtime/stw.h"
#include "runtime/sync.h"
#include "runtime/time_histogram.h"

namespace gc::detail {

std::atomic<uint64_t> g_trigger{UINT64_MAX};

namespace {

int64_t unix_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// read_gogc_env and read_memlimit_env read the knobs as Go's runtime does
// at start (readGOGC, readGOMEMLIMIT); an unparsable GOMEMLIMIT leaves the
// limit off here — gortd refuses to start with one, as Go does.
int read_gogc_env() {
  const char* e = std::getenv("GOGC");
  return e ? parse_gogc(e) : 100;
}
int64_t read_memlimit_env() {
  const char* e = std::getenv("GOMEMLIMIT");
  return e ? parse_gomemlimit(e).value_or(kNoMemoryLimit) : kNoMemoryLimit;
}

struct Collector {
  Pacer pacer{read_gogc_env(), read_memlimit_env()};
  CpuLimiter limiter;
  std::once_flag limiter_once;

  // One cycle at a time (Go's work.startSema): running from the start of
  // a cycle to the end of its mark termination; holds keep new ones from
  // starting (hold_cycles). completed counts finished cycles; waiters on
  // cv are collect() and hold_cycles.
  gort::Mutex mu;
  gort::Cond cv{mu};
  bool running = false;       // (mu)
  int holds = 0;              // (mu)
  uint32_t completed = 0;     // (mu)
  CycleSummary last;          // (mu) the last finished cycle
  std::atomic<bool> cycle_active{false};  // = running, read lock-free by the allocation path
  std::atomic<bool> finishing{false};     // a marker is checking for (or running) mark termination
  std::atomic<bool> finish_asked{false};  // a marker asked while another was checking (try_finish_mark)
  bool marking_over = false;  // mark termination has run (finishing holder, world stopped)
  // The cycle in progress (its starter, then its finisher, ordered by the
  // stop-the-world pauses between them).
  CycleSummary cur;
  int64_t t0 = 0, t1 = 0, t2 = 0;  // start, mark start, mark termination start
  int64_t pause_start = 0;         // just before the stop-the-world in progress (Go's work.pauseStart)

  // Statistics, written under stats_lock by the collecting goroutine.
  std::mutex stats_lock;
  uint32_t num_gc = 0;
  uint32_t num_forced = 0;
  uint64_t pause_total_ns = 0;
  uint64_t pause_ns[256] = {};
  uint64_t pause_end[256] = {};
  uint64_t last_gc_unix_ns = 0;
  std::atomic<int64_t> gc_cpu_ns{0};
  std::atomic<int64_t> assist_cpu_ns{0};
  std::atomic<int64_t> last_cycle_cpu_ns{0};  // GC CPU of the last cycle (pause × procs)
  std::atomic<bool> limit_held{false};        // a memory-limit cycle was held since the last cycle
  // Every stop-the-world pause, each measured as Go's gcPauseDist measures
  // it: from before the world is stopped to after it runs again; two per
  // cycle, plus any mark termination abandoned because work appeared.
  gort::TimeHistogram pause_dist;             // atomic counts
  std::vector<std::function<void(const CycleSummary&)>> callbacks;
  std::atomic<bool> gctrace{false};
  int64_t start_ns = gort::nanotime();
};

Collector& collector() {
  static Collector* c = new Collector;  // never destroyed: goroutines may allocate during exit
  return *c;
}

struct StartInit {
  StartInit() {
    collector().gctrace.store(gort::godebug_int("gctrace", 0) > 0);
  }
} start_init;

void publish_trigger() {
  g_trigger.store(collector().pacer.trigger_bytes(), std::memory_order_relaxed);
}

// HeapTotals are the allocation counters summed over the size classes and
// large objects (each read atomically; a free counted before its malloc is
// clamped). by_size, when given, receives Go's per-class BySize rows.
struct HeapTotals {
  uint64_t mallocs = 0, frees = 0, alloc_bytes = 0, freed_bytes = 0;
};
HeapTotals heap_totals(MemStats::BySize* by_size = nullptr) {
  HeapTotals t;
  for (int k = 1; k < kNumSizeClasses; k++) {
    uint64_t n = g_counters.small_mallocs[k].load(std::memory_order_relaxed);
    uint64_t f = std::min(n, g_counters.small_frees[k].load(std::memory_order_relaxed));
    t.mallocs += n;
    t.frees += f;
    t.alloc_bytes += n * kClassToSize[k];
    t.freed_bytes += f * kClassToSize[k];
    if (by_size && k < 61) by_size[k] = {kClassToSize[k], n, f};
  }
  uint64_t lm = g_counters.large_mallocs.load(std::memory_order_relaxed);
  uint64_t lab = g_counters.large_alloc_bytes.load(std::memory_order_relaxed);
  t.mallocs += lm;
  t.frees += std::min(lm, g_counters.large_frees.load(std::memory_order_relaxed));
  t.alloc_bytes += lab;
  t.freed_bytes += std::min(lab, g_counters.large_free_bytes.load(std::memory_order_relaxed));
  return t;
}

MemorySnapshot memory_snapshot() {
  PageStats ps = page_stats();
  HeapTotals t = heap_totals();
  MemorySnapshot m;
  m.heap_alloc_bytes = t.alloc_bytes - t.freed_bytes;
  m.heap_free_bytes = ps.sys - ps.inuse - ps.released;
  m.mapped_ready_bytes = ps.sys - ps.released + non_heap_sys_bytes();
  m.heap_live_bytes = g_counters.heap_live.load(std::memory_order_relaxed);
  return m;
}

bool trigger_test() {
  Collector& c = collector();
  uint64_t live = g_counters.heap_live.load(std::memory_order_relaxed);
  if (live < c.pacer.trigger_bytes()) return false;
  int64_t now = gort::nanotime();
  if (c.limiter.need_update(now)) c.limiter.update(now);
  // Only the memory limit asks for this cycle, and GC already uses its
  // share of the CPU: hold it. Go's limiter cuts assists a few microseconds
  // at a time; a stop-the-world cycle is indivisible, so it is held while
  // the bucket has no room for one more cycle like the last — otherwise a
  // slow cycle (a large heap, a sanitizer build) would overfill the bucket
  // each time it is let through, and GC would take far more than half.
  if (live < c.pacer.gogc_trigger_bytes() &&
      (c.limiter.limiting() ||
       c.limiter.fill_ns() + c.last_cycle_cpu_ns.load(std::memory_order_relaxed) > c.limiter.capacity_ns())) {
    c.limit_held.store(true, std::memory_order_relaxed);
    return false;
  }
  return true;
}

uint64_t count_spans_on_lists() {
  uint64_t n = 0;
  for (Central& c : g_central) {
    std::lock_guard<SpinLock> guard(c.lock);
    n += c.partial[0].n + c.partial[1].n + c.full[0].n + c.full[1].n;
  }
  std::lock_guard<SpinLock> guard(g_large.lock);
  return n + g_large.lists[0].n + g_large.lists[1].n;
}

// Stack memory, as the runtime counts it. Read on goroutines only (the
// runtime's statistics are not safe to read from a plain thread while
// run_main starts or stops); the scavenger thread reads the figure cached
// at the last cycle or statistics read.
std::atomic<uint64_t> g_stack_bytes{0};
uint64_t stack_bytes_in_use() {
  if (!gort::on_goroutine()) return g_stack_bytes.load(std::memory_order_relaxed);
  gort::SchedStats s = gort::sched_stats();
  uint64_t b = static_cast<uint64_t>(s.stack_slots) * static_cast<uint64_t>(s.stack_slot_bytes);
  g_stack_bytes.store(b, std::memory_order_relaxed);
  return b;
}

// ---- The cycle ----

// begin_cycle is Go's gcStart after its trigger test: finish the last
// cycle's sweeping while goroutines run, then the sweep-termination pause —
// flush the caches, rotate the pools and grey what they hold, turn on the
// barriers — and restart the world with the mark running.
void begin_cycle(bool forced) {
  Collector& c = collector();
  // Sweeping left over from the last cycle, done before the pause (so the
  // pause has none of it to do), as Go's gcStart sweeps first.
  while (sweep_one() > 0) {
  }
  CycleSummary& sum = c.cur;
  sum = CycleSummary{};
  sum.forced = forced;
  sum.procs = gort::gomaxprocs();
  sum.heap_start = g_counters.heap_live.load(std::memory_order_relaxed);
  sum.start_unix_ns = unix_now_ns();
  c.t0 = gort::nanotime();
  c.pacer.start_cycle();

  gort::emit_gc_event(gort::GcEvent::Start, c.num_gc + 1);
  gort::emit_gc_event(gort::GcEvent::StwStart, gort::kGcStwSweepTermination);
  c.pause_start = gort::nanotime();
  gort::stop_the_world("GC");
  c.limiter.start_gc_transition(false, gort::nanotime());
  flush_caches();
  finish_sweep();  // nothing, unless a span was being swept as the world stopped
  roots_gc_start();
  mark_begin();
  grey_root_scanners();
  gort::begin_stack_scans(c.num_gc + 1, stack_scan_fn());
  // What the assist ratio is measured against (Go's revise inputs).
  double scan_expected = static_cast<double>(c.pacer.last_heap_scan() + c.pacer.last_stack_scan() + globals_bytes());
  uint64_t goal = c.pacer.heap_goal();
  int gogc = c.pacer.gogc();
  uint64_t hard = gogc < 0 || goal == UINT64_MAX ? goal : static_cast<uint64_t>((1.0 + gogc / 100.0) * static_cast<double>(goal));
  c.t1 = gort::nanotime();
  plan_mark_workers(c.t1, std::max(scan_expected, 64.0 * 1024), goal, hard);
  c.limiter.finish_gc_transition(c.t1);
  c.limiter.start_gc_transition(true, c.t1);  // the mark's 25% counts as GC time from here
  c.limiter.finish_gc_transition(c.t1);
  gort::emit_gc_event(gort::GcEvent::StwDone);
  gort::start_the_world();
  c.pause_dist.record(gort::nanotime() - c.pause_start);
  gort::scan_own_stack_once();
}

// end_cycle is the mark-termination pause and what follows it (Go's
// gcMarkTermination): the world is stopped and no mark work is left.
void end_cycle() {
  Collector& c = collector();
  CycleSummary& sum = c.cur;
  int64_t t2 = c.t2;
  MarkTotals mt = mark_end();
  gort::end_stack_scans();
  MarkCpu cpu = stop_mark_workers();
  flush_caches();  // cached spans become unswept below: give them back first
  sum.heap_end = g_counters.heap_live.load(std::memory_order_relaxed);
  sum.heap_marked = mt.marked_bytes;
  sum.stacks = mt.stack_scan_work;
  sum.globals = mt.globals_scan_work;
  uint64_t spans = count_spans_on_lists();
  g_sweepgen.fetch_add(2, std::memory_order_relaxed);
  g_sweep_pending.store(static_cast<int64_t>(spans), std::memory_order_relaxed);
  g_counters.heap_live.store(mt.marked_bytes, std::memory_order_relaxed);
  CycleResult cr;
  cr.heap_live_bytes = sum.heap_end;
  cr.heap_marked_bytes = mt.marked_bytes;
  cr.heap_scan_work_bytes = mt.heap_scan_work;
  cr.stack_scan_work_bytes = mt.stack_scan_work;
  cr.globals_scan_work_bytes = mt.globals_scan_work;
  cr.globals_scan_bytes = globals_bytes();
  cr.mark_wall_ns = t2 - c.t1;
  cr.assist_cpu_ns = cpu.assist_ns;
  cr.idle_mark_cpu_ns = cpu.idle_ns;
  cr.procs = sum.procs;
  cr.sweep_done = false;
  c.pacer.commit(cr);
  sum.heap_goal = c.pacer.last_heap_goal();  // the goal this cycle ran under (Go's lastHeapGoal)
  c.pacer.update_memory(memory_snapshot());
  publish_trigger();
  set_sweep_pace(page_stats().inuse >> kPageShift, mt.marked_bytes, c.pacer.trigger_bytes());
  sum.next_goal = c.pacer.heap_goal();
  int64_t t3 = gort::nanotime();
  sum.end_unix_ns = unix_now_ns();
  sum.sweep_term_ns = c.t1 - c.t0;
  sum.mark_ns = t2 - c.t1;
  sum.mark_term_ns = t3 - t2;
  sum.pause_ns = sum.sweep_term_ns + sum.mark_term_ns;
  sum.wall_ns = t3 - c.t0;
  sum.assist_cpu_ns = cpu.assist_ns;
  sum.background_cpu_ns = cpu.dedicated_ns + cpu.fractional_ns;
  sum.idle_cpu_ns = cpu.idle_ns;
  {
    std::lock_guard<std::mutex> guard(c.stats_lock);
    sum.num = ++c.num_gc;
    if (sum.forced) c.num_forced++;
    c.pause_total_ns += static_cast<uint64_t>(sum.pause_ns);
    c.pause_ns[(sum.num + 255) % 256] = static_cast<uint64_t>(sum.pause_ns);
    c.pause_end[(sum.num + 255) % 256] = static_cast<uint64_t>(sum.end_unix_ns);
    c.last_gc_unix_ns = static_cast<uint64_t>(sum.end_unix_ns);
  }
  c.limiter.set_completed_cycles(sum.num);
  // GC CPU as Go's gcMarkTermination counts it: both pauses × procs, plus
  // assists and background workers (idle marking used CPU nobody wanted).
  int64_t cycle_cpu = sum.pause_ns * sum.procs + cpu.assist_ns + sum.background_cpu_ns;
  c.gc_cpu_ns.fetch_add(cycle_cpu, std::memory_order_relaxed);
  c.assist_cpu_ns.fetch_add(cpu.assist_ns, std::memory_order_relaxed);
  c.last_cycle_cpu_ns.store(cycle_cpu, std::memory_order_relaxed);
  c.limit_held.store(false, std::memory_order_relaxed);
  c.limiter.finish_gc_transition(t3);
  gort::emit_gc_event(gort::GcEvent::Done);
  gort::start_the_world();
  c.pause_dist.record(gort::nanotime() - c.pause_start);
  gort::emit_gc_event(gort::GcEvent::StwDone);

  wake_assists();
  gort::emit_gc_event(gort::GcEvent::HeapAlloc, mt.marked_bytes);
  gort::emit_gc_event(gort::GcEvent::HeapGoal, sum.next_goal);
  start_background_sweeper();

  if (c.gctrace.load(std::memory_order_relaxed)) {
    GcTraceRecord r;
    r.cycle = sum.num;
    r.start_ns = c.t0 - c.start_ns;
    int64_t elapsed = (t3 - c.start_ns) * sum.procs;
    r.gc_cpu_fraction = elapsed > 0 ? static_cast<double>(c.gc_cpu_ns.load()) / static_cast<double>(elapsed) : 0;
    r.sweep_term_wall_ns = sum.sweep_term_ns;
    r.mark_wall_ns = sum.mark_ns;
    r.mark_term_wall_ns = sum.mark_term_ns;
    r.sweep_term_cpu_ns = sum.sweep_term_ns * sum.procs;
    r.assist_cpu_ns = sum.assist_cpu_ns;
    r.background_cpu_ns = sum.background_cpu_ns;
    r.idle_cpu_ns = sum.idle_cpu_ns;
    r.mark_term_cpu_ns = sum.mark_term_ns * sum.procs;
    r.heap_start_bytes = sum.heap_start;
    r.heap_end_bytes = sum.heap_end;
    r.heap_marked_bytes = sum.heap_marked;
    r.heap_goal_bytes = sum.heap_goal;
    r.stacks_bytes = c.pacer.last_stack_scan();
    r.globals_bytes = c.pacer.globals_scan();
    r.procs = sum.procs;
    r.forced = sum.forced;
    std::string line = format_gctrace(r);
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  for (auto& fn : c.callbacks) fn(sum);
  c.mu.lock();
  c.last = sum;
  c.running = false;
  c.cycle_active.store(false, std::memory_order_release);
  c.completed++;
  c.cv.broadcast();
  c.mu.unlock();
}

}  // namespace

namespace {
std::atomic<bool> g_hold_mark{false};  // hold_mark_for_testing
}  // namespace

void hold_mark_for_testing(bool hold) {
  g_hold_mark.store(hold, std::memory_order_release);
  if (!hold) try_finish_mark();  // no marker may be left to notice
}
bool mark_held() { return g_hold_mark.load(std::memory_order_acquire); }
bool marking_for_testing() { return mark_running(); }

namespace {

// finish_mark_once is one check by the holder of `finishing`: true when it
// ran mark termination (and released the flag), false when the mark's work
// is not over (or the cycle is, or the test holds it).
bool finish_mark_once() {
  Collector& c = collector();
  for (;;) {
    c.finish_asked.store(false);  // requests from here on ask for a fresh look
    if (g_hold_mark.load(std::memory_order_acquire)) return false;
    if (!c.cycle_active.load(std::memory_order_acquire) || c.marking_over) return false;
    gort::scan_own_stack_once();
    if (!mark_work_done()) {
      if (work_available()) return false;  // a marker will drain it and come back here
      // Only stacks of running goroutines are left; they were asked to
      // stop at their next safepoint, where they are scanned.
      gort::yield();
      continue;
    }
    gort::emit_gc_event(gort::GcEvent::StwStart, gort::kGcStwMarkTermination);
    c.pause_start = gort::nanotime();
    gort::stop_the_world("GC");
    if (rescan_at_termination()) {
      // Work appeared after all (Go's gcMarkDone restarts the mark too,
      // and counts the pause).
      gort::start_the_world();
      c.pause_dist.record(gort::nanotime() - c.pause_start);
      gort::emit_gc_event(gort::GcEvent::StwDone);
      return false;
    }
    c.marking_over = true;
    c.t2 = gort::nanotime();
    c.limiter.start_gc_transition(false, c.t2);
    c.finishing.store(false);
    end_cycle();
    return true;
  }
}

}  // namespace

// try_finish_mark: one marker at a time checks whether the mark's work is
// over and, if so, runs mark termination. A marker that finds another at it
// leaves a request and returns; the checker, before it lets go, looks for
// requests and checks again. Without that, a checker that saw work queued
// (and concluded "a marker will drain it and come back here") could let go
// just after the marker that drained it came back and found it busy — and
// with everyone asleep, nobody would ever check again. The request and the
// flag are seq_cst on both sides (Dekker's): either the asker takes the
// flag, or the holder sees the request.
void try_finish_mark() {
  Collector& c = collector();
  if (g_hold_mark.load(std::memory_order_acquire)) return;
  c.finish_asked.store(true);
  while (!c.finishing.exchange(true)) {
    if (finish_mark_once()) return;  // mark termination ran (and let go)
    c.finishing.store(false);
    if (!c.finish_asked.load()) return;
  }
}

namespace {

// start_cycle starts a cycle if none runs or is held; forced cycles wait
// for the one in progress and for holds. Returns the number the new cycle
// will have, or 0 when none started.
uint32_t start_cycle(bool forced) {
  Collector& c = collector();
  std::call_once(c.limiter_once, [&] { c.limiter.reset(gort::gomaxprocs(), gort::nanotime()); });
  c.mu.lock();
  if (forced) {
    while (c.running || c.holds > 0) c.cv.wait();
  } else if (c.running || c.holds > 0 || !trigger_test()) {
    c.mu.unlock();
    return 0;
  }
  c.running = true;
  c.marking_over = false;
  c.cycle_active.store(true, std::memory_order_release);
  uint32_t num = c.completed + 1;
  c.mu.unlock();
  begin_cycle(forced);
  return num;
}

}  // namespace

namespace {

// runtime_exited is the runtime's exit hook: the goroutines are gone, the
// workers and any goroutine waiting on a cycle with them. A mark in
// progress is abandoned — its partial mark bits cleared, so the next cycle
// starts white — and the next run starts new workers.
void runtime_exited() {
  Collector& c = collector();
  if (c.cycle_active.load(std::memory_order_acquire)) {
    mark_end();
    stop_mark_workers();
    drop_mark_work();
    clear_all_mark_bits();
    c.running = false;
    c.cycle_active.store(false, std::memory_order_release);
    c.finishing.store(false, std::memory_order_relaxed);
    c.completed++;
  }
  forget_mark_workers();
}

struct ExitHookInit {
  ExitHookInit() { gort::set_exit_hook(&runtime_exited); }
} exit_hook_init;

}  // namespace

bool assists_limited() {
  Collector& c = collector();
  int64_t now = gort::nanotime();
  if (c.limiter.need_update(now)) c.limiter.update(now);
  return c.limiter.limiting();
}

void note_mark_cpu(int64_t gc_ns, int64_t idle_ns) {
  Collector& c = collector();
  if (gc_ns > 0) c.limiter.add_gc_cpu(gc_ns);
  if (idle_ns > 0) c.limiter.add_idle(idle_ns);
}

void maybe_start_cycle() {
  if (__builtin_expect(g_counters.heap_live.load(std::memory_order_relaxed) < g_trigger.load(std::memory_order_relaxed), 1))
    return;
  if (collector().cycle_active.load(std::memory_order_relaxed)) return;
  if (!trigger_test()) return;
  start_cycle(false);
}

uint64_t scavenger_heap_goal() {
  Collector& c = collector();
  // Keep the figures the memory-limit goal uses fresh (the scavenger calls
  // this every few milliseconds).
  c.pacer.update_memory(memory_snapshot());
  publish_trigger();
  uint64_t goal = c.pacer.heap_goal();
  return goal == UINT64_MAX ? g_counters.heap_live.load(std::memory_order_relaxed) : goal;
}

void note_sweep_done() {
  collector().pacer.note_sweep_done();
  publish_trigger();
}

uint64_t non_heap_sys_bytes() { return stack_bytes_in_use(); }

}  // namespace gc::detail

namespace gc {

using detail::collector;

CycleSummary collect() {
  detail::Collector& c = collector();
  uint32_t num = detail::start_cycle(true);
  detail::scrub_dead_frames();  // where start_cycle scanned this stack
  c.mu.lock();
  while (c.completed < num) c.cv.wait();
  CycleSummary sum = c.last;
  c.mu.unlock();
  return sum;
}

void hold_cycles() {
  detail::Collector& c = collector();
  c.mu.lock();
  while (c.running) c.cv.wait();
  c.holds++;
  c.mu.unlock();
}

void release_cycles() {
  detail::Collector& c = collector();
  c.mu.lock();
  c.holds--;
  c.cv.broadcast();
  c.mu.unlock();
}

int set_gogc(int percent) {
  int prev = collector().pacer.set_gogc(percent);
  detail::publish_trigger();
  return prev;
}
int gogc() { return collector().pacer.gogc(); }

int64_t set_memory_limit(int64_t bytes) {
  int64_t prev = collector().pacer.set_memory_limit(bytes);
  collector().pacer.update_memory(detail::memory_snapshot());
  detail::publish_trigger();
  return prev;
}
int64_t memory_limit() { return collector().pacer.memory_limit(); }

void add_cycle_callback(std::function<void(const CycleSummary&)> fn) {
  std::lock_guard<std::mutex> guard(collector().stats_lock);
  collector().callbacks.push_back(std::move(fn));
}

void set_gctrace(bool on) { collector().gctrace.store(on); }
bool gctrace_enabled() { return collector().gctrace.load(); }

bool is_heap_pointer(const void* p) {
  uintptr_t a = reinterpret_cast<uintptr_t>(p);
  detail::Span* s = detail::span_of(a);
  if (!s || a >= s->limit) return false;
  return true;
}

void read_mem_stats(MemStats* out) {
  using namespace detail;
  Collector& c = collector();
  PageStats ps = page_stats();
  MemStats& m = *out;
  m = MemStats{};
  HeapTotals t = heap_totals(m.by_size);
  m.mallocs = t.mallocs;
  m.frees = t.frees;
  m.total_alloc = t.alloc_bytes;
  m.heap_alloc = m.alloc = t.alloc_bytes - t.freed_bytes;
  m.heap_objects = t.mallocs - t.frees;
  m.heap_sys = ps.sys;
  m.heap_inuse = ps.inuse;
  m.heap_idle = ps.sys - ps.inuse;
  m.heap_released = ps.released;
  m.stack_inuse = m.stack_sys = stack_bytes_in_use();
  m.mspan_inuse = ps.spans_inuse * sizeof(Span);
  m.mspan_sys = m.mspan_inuse;
  m.mcache_inuse = m.mcache_sys = sizeof(g_caches);
  m.gc_sys = ps.sys / 64;  // span table and bitmaps: one pointer per page plus the scavenged bits
  m.sys = m.heap_sys + m.stack_sys + m.mspan_sys + m.mcache_sys + m.gc_sys;
  m.next_gc = c.pacer.heap_goal();
  {
    std::lock_guard<std::mutex> guard(c.stats_lock);
    m.last_gc = c.last_gc_unix_ns;
    m.pause_total_ns = c.pause_total_ns;
    std::memcpy(m.pause_ns, c.pause_ns, sizeof(m.pause_ns));
    std::memcpy(m.pause_end, c.pause_end, sizeof(m.pause_end));
    m.num_gc = c.num_gc;
    m.num_forced_gc = c.num_forced;
  }
  int64_t elapsed = (gort::nanotime() - c.start_ns) * std::max(1, gort::gomaxprocs());
  m.gc_cpu_fraction = elapsed > 0 ? static_cast<double>(c.gc_cpu_ns.load()) / static_cast<double>(elapsed) : 0;
  m.enable_gc = true;
}

void read_heap_alloc_counts(HeapAllocCounts* out) {
  using detail::g_counters;
  HeapAllocCounts& a = *out;
  a = HeapAllocCounts{};
  for (int k = 1; k < kNumSizeClasses; k++) {
    // Frees are read after mallocs and clamped to them, as heap_totals does,
    // so that a free counted before its malloc never shows.
    a.small_mallocs[k] = g_counters.small_mallocs[k].load(std::memory_order_relaxed);
    a.small_frees[k] = std::min(a.small_mallocs[k], g_counters.small_frees[k].load(std::memory_order_relaxed));
  }
  a.large_mallocs = g_counters.large_mallocs.load(std::memory_order_relaxed);
  a.large_alloc_bytes = g_counters.large_alloc_bytes.load(std::memory_order_relaxed);
  a.large_frees = std::min(a.large_mallocs, g_counters.large_frees.load(std::memory_order_relaxed));
  a.large_free_bytes = std::min(a.large_alloc_bytes, g_counters.large_free_bytes.load(std::memory_order_relaxed));
}

gort::TimeHistogramCounts read_gc_pause_distribution() { return collector().pause_dist.read(); }

GcCounters read_gc_counters() {
  using namespace detail;
  Collector& c = collector();
  GcCounters g;
  {
    std::lock_guard<std::mutex> guard(c.stats_lock);
    g.cycles = c.num_gc;
    g.forced_cycles = c.num_forced;
  }
  g.assist_cpu_ns = c.assist_cpu_ns.load();
  g.gc_cpu_ns = c.gc_cpu_ns.load();
  g.heap_live = g_counters.heap_live.load(std::memory_order_relaxed);
  g.trigger = c.pacer.trigger_bytes();
  g.cpu_limiter_on = c.limiter.limiting() || c.limit_held.load(std::memory_order_relaxed);
  g.limiter_last_enabled_cycle = c.limiter.last_enabled_cycle();
  g.sweep_pending_spans = static_cast<uint64_t>(std::max<int64_t>(0, g_sweep_pending.load()));
  return g;
}

}  // namespace gc
