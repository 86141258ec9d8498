// collector.cpp — one garbage-collection cycle (Go's gcStart, gcMarkDone,
// gcMarkTermination), its trigger, its bookkeeping and its gctrace line.
//
// A cycle, in this issue, is one stop-the-world:
//
//   sweep termination   stop the world; flush every P's cache to the
//                       central lists; finish sweeping the previous cycle;
//                       let root scanners drop caches (gc::Pool's victims)
//   mark                mark everything reachable (mark.cpp), world stopped
//   mark termination    flip the sweep generation (every span becomes
//                       unswept), reset heap_live to the marked bytes, commit
//                       the pacer, record statistics; start the world
//
// then a background sweeper goroutine starts. Go runs mark concurrently
// between two short pauses; here the mark sits inside the pause, and
// gctrace says so: the concurrent-mark phase is 0 ms, the mark time is in
// the mark-termination figure, and the CPU of both pauses is wall × procs
// (every P was stopped), exactly as Go counts its pauses.
//
// Triggering. The allocation slow path (malloc.cpp) asks maybe_start_cycle
// whether heap_live reached the pacer's trigger; the first goroutine to see
// it runs the cycle, others that arrive meanwhile queue on the cycle lock
// and find, once they get it, that the heap is below the new trigger (Go's
// gcStart re-checks its trigger test for the same reason). When the CPU
// limiter is limiting — or would be, were this cycle to cost what the last
// one did — a cycle that only the memory limit asks for waits
// (cpu_limiter.h) — GOGC and forced cycles still run — so an impossible
// memory limit costs at most about half the CPU instead of all of it.
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
  return e && *e ? parse_memory_limit(e).value_or(kNoMemoryLimit) : kNoMemoryLimit;
}

struct Collector {
  Pacer pacer{read_gogc_env(), read_memlimit_env()};
  CpuLimiter limiter;
  std::once_flag limiter_once;
  gort::Mutex cycle_lock;  // one cycle at a time (Go's work.startSema)

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

CycleSummary run_cycle(bool forced) {
  Collector& c = collector();
  std::call_once(c.limiter_once, [&] { c.limiter.reset(gort::gomaxprocs(), gort::nanotime()); });
  c.cycle_lock.lock();
  if (!forced && !trigger_test()) {
    c.cycle_lock.unlock();
    return {};
  }
  CycleSummary sum;
  sum.forced = forced;
  sum.procs = gort::gomaxprocs();
  sum.heap_start = g_counters.heap_live.load(std::memory_order_relaxed);
  sum.start_unix_ns = unix_now_ns();
  int64_t t0 = gort::nanotime();
  c.pacer.start_cycle();

  // The execution tracer sees Go's phases: the cycle starts, a sweep
  // termination stop-the-world, marking — here still inside the same
  // stop — told as the mark termination stop, and the cycle ends before
  // the world restarts (Go's gcStart, gcMarkDone, gcMarkTermination).
  gort::emit_gc_event(gort::GcEvent::Start, c.num_gc + 1);
  gort::emit_gc_event(gort::GcEvent::StwStart, gort::kGcStwSweepTermination);
  gort::stop_the_world("GC");
  c.limiter.start_gc_transition(false, gort::nanotime());
  // Sweep termination.
  flush_caches();
  finish_sweep();
  roots_gc_start();
  int64_t t1 = gort::nanotime();
  gort::emit_gc_event(gort::GcEvent::StwDone);
  gort::emit_gc_event(gort::GcEvent::StwStart, gort::kGcStwMarkTermination);

  // Mark, with the world stopped.
  MarkResult mr = mark_all();
  int64_t t2 = gort::nanotime();

  // Mark termination.
  sum.heap_end = g_counters.heap_live.load(std::memory_order_relaxed);
  sum.heap_marked = mr.marked_bytes;
  sum.stacks = mr.stack_bytes;
  sum.globals = mr.globals_bytes;
  uint64_t spans = count_spans_on_lists();
  g_sweepgen.fetch_add(2, std::memory_order_relaxed);
  g_sweep_pending.store(static_cast<int64_t>(spans), std::memory_order_relaxed);
  g_counters.heap_live.store(mr.marked_bytes, std::memory_order_relaxed);
  CycleResult cr;
  cr.heap_live_bytes = sum.heap_end;
  cr.heap_marked_bytes = mr.marked_bytes;
  cr.heap_scan_work_bytes = mr.scan_work;
  cr.stack_scan_work_bytes = mr.stack_bytes;
  cr.globals_scan_work_bytes = mr.globals_bytes;
  cr.globals_scan_bytes = mr.globals_bytes;
  cr.mark_wall_ns = t2 - t1;
  cr.procs = sum.procs;
  cr.sweep_done = false;
  c.pacer.commit(cr);
  sum.heap_goal = c.pacer.last_heap_goal();  // the goal this cycle ran under (Go's lastHeapGoal)
  c.pacer.update_memory(memory_snapshot());
  publish_trigger();
  set_sweep_pace(page_stats().inuse >> kPageShift, mr.marked_bytes, c.pacer.trigger_bytes());
  sum.next_goal = c.pacer.heap_goal();
  int64_t t3 = gort::nanotime();
  sum.end_unix_ns = unix_now_ns();
  sum.sweep_term_ns = t1 - t0;
  sum.mark_ns = 0;
  sum.mark_term_ns = t3 - t1;
  sum.pause_ns = t3 - t0;
  sum.wall_ns = t3 - t0;
  {
    std::lock_guard<std::mutex> guard(c.stats_lock);
    sum.num = ++c.num_gc;
    if (forced) c.num_forced++;
    c.pause_total_ns += static_cast<uint64_t>(sum.pause_ns);
    c.pause_ns[(sum.num + 255) % 256] = static_cast<uint64_t>(sum.pause_ns);
    c.pause_end[(sum.num + 255) % 256] = static_cast<uint64_t>(sum.end_unix_ns);
    c.last_gc_unix_ns = static_cast<uint64_t>(sum.end_unix_ns);
  }
  c.gc_cpu_ns.fetch_add(sum.pause_ns * sum.procs, std::memory_order_relaxed);
  c.last_cycle_cpu_ns.store(sum.pause_ns * sum.procs, std::memory_order_relaxed);
  c.limit_held.store(false, std::memory_order_relaxed);
  c.limiter.finish_gc_transition(t3);
  gort::emit_gc_event(gort::GcEvent::Done);
  gort::start_the_world();
  gort::emit_gc_event(gort::GcEvent::StwDone);

  gort::emit_gc_event(gort::GcEvent::HeapAlloc, mr.marked_bytes);
  gort::emit_gc_event(gort::GcEvent::HeapGoal, sum.next_goal);
  start_background_sweeper();

  if (c.gctrace.load(std::memory_order_relaxed)) {
    GcTraceRecord r;
    r.cycle = sum.num;
    r.start_ns = t0 - c.start_ns;
    int64_t elapsed = (t3 - c.start_ns) * sum.procs;
    r.gc_cpu_fraction = elapsed > 0 ? static_cast<double>(c.gc_cpu_ns.load()) / static_cast<double>(elapsed) : 0;
    r.sweep_term_wall_ns = sum.sweep_term_ns;
    r.mark_wall_ns = 0;
    r.mark_term_wall_ns = sum.mark_term_ns;
    r.sweep_term_cpu_ns = sum.sweep_term_ns * sum.procs;
    r.mark_term_cpu_ns = sum.mark_term_ns * sum.procs;
    r.heap_start_bytes = sum.heap_start;
    r.heap_end_bytes = sum.heap_end;
    r.heap_marked_bytes = sum.heap_marked;
    r.heap_goal_bytes = sum.heap_goal;
    r.stacks_bytes = c.pacer.last_stack_scan();
    r.globals_bytes = c.pacer.globals_scan();
    r.procs = sum.procs;
    r.forced = forced;
    std::string line = format_gctrace(r);
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
  for (auto& fn : c.callbacks) fn(sum);
  c.cycle_lock.unlock();
  return sum;
}

}  // namespace

void maybe_start_cycle() {
  if (__builtin_expect(g_counters.heap_live.load(std::memory_order_relaxed) < g_trigger.load(std::memory_order_relaxed), 1))
    return;
  if (!trigger_test()) return;
  run_cycle(false);
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

CycleSummary collect() { return detail::run_cycle(true); }

void hold_cycles() { detail::collector().cycle_lock.lock(); }
void release_cycles() { detail::collector().cycle_lock.unlock(); }

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
  g.sweep_pending_spans = static_cast<uint64_t>(std::max<int64_t>(0, g_sweep_pending.load()));
  return g;
}

}  // namespace gc
