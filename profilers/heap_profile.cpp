// heap_profile.cpp — the heap and allocs profiles: Go's memory profiling
// (runtime/mprof.go mProf_*, runtime/pprof writeHeap) on gort's collector.
//
// Sampling. The heap calls on_alloc for about one allocation per
// mem_profile_rate bytes (gc/hooks.h; Go's nextSample) on the allocating
// goroutine. on_alloc walks that goroutine's stack from the return address
// into the heap's sampling code (its own frame dropped), finds the
// (stack, size) bucket (bucket_table.h) and returns it as the allocation's
// handle; when the sweep frees the object, on_free gets the handle back and
// charges the free to the same bucket. The heap's own frames (functions in
// namespace gc::, whose number depends on the path the allocation took:
// fast path, refill, large object) are left in the bucket's stack and
// dropped when the profile is read — as Go's writeHeapProto drops leading
// runtime.* frames — so the first frame shown is the function that called
// gc::make or gc::alloc_bytes (those two are inline and usually vanish into
// it). Buckets whose stacks differ only in those frames are merged then.
//
// Cycle-consistent accounting (Go's memRecord: `active` + `future[3]`).
// Allocations happen in real time, frees only when the sweep finds an
// object dead, so counting both as they come would skew the profile
// towards allocations (garbage not yet swept looks live). Instead every
// event is charged to a heap-profile cycle and a cycle is published only
// when all its events are in. The cycle number C is gc::sample_cycle(): the
// number of mark terminations, advanced by the collector with the world
// stopped. Then, as in Go:
//   mProf_Malloc    on_alloc charges future[(C+2) % 3];
//   mProf_Free      on_free charges future[(C+1) % 3] (the sweep frees
//                   objects found dead at mark termination C);
//   mProf_NextCycle the collector's advance of C at mark termination (no
//                   code here: the counter is the collector's);
//   mProf_Flush     the cycle callback (gc::add_cycle_callback, run on the
//                   collecting goroutine once the world runs again) adds
//                   future[C % 3] to active: allocations made before mark
//                   termination C−1, and frees of what mark termination
//                   C−1 found dead — the heap as of the previous collection;
//   mProf_PostSweep collect_for_heap_profile, after gc::collect() and
//                   gc::finish_sweeping() (gort's collect() returns before
//                   its sweep is done, so runtime.GC's second half is
//                   here), adds future[(C+1) % 3]: every free of the
//                   collection just made, and the allocations before it —
//                   the heap as of that collection.
// Sweep termination's leftover sweeping (finish_sweep inside the next
// cycle's pause) runs before C advances, so its frees land in the right
// slot. A profile read also flushes future[C % 3] (Go's MemProfile), and
// until the first collection publishes anything it shows every cycle's
// events (Go's "clear" case, for programs that never collect).
//
// Counters are relaxed atomics (no lock on the hook path); the active
// record is written and read under g_active_lock (Go's profMemActiveLock).
// A flush racing with a late event of the slot it drains may move that
// event's count and bytes in different flushes; Go's per-slot locks avoid
// this, at a lock per sampled allocation. The only slot that still receives
// events when it is drained is PostSweep's, and only from frees that a
// concurrent cycle's sweep reports — it settles at the next flush.
//
// Sizes are the sizes the heap reports to the hooks: the bytes asked for
// (Go reports the size-class size).
#include "profilers/heap_profile.h"

#include <sys/resource.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <map>
#include <mutex>
#include <tuple>

#include "gc/heap.h"
#include "gc/hooks.h"
#include "profilers/bucket_table.h"
#include "profilers/stack_text.h"
#include "profilers/symbolize.h"
#include "runtime/stackwalk.h"

namespace profilers {

namespace {

std::mutex g_active_lock;                  // Go's profMemActiveLock: every bucket's mem.active
std::atomic<int64_t> g_flushed_cycle{-1};  // atomic: the cycle mprof_flush last published (Go's flushed flag)
std::once_flag g_start_once;

void* on_alloc(void* /*obj*/, size_t bytes) {
  uintptr_t pcs[kMaxRawStackDepth + 2];
  int n = gort::capture_stack(pcs, kMaxRawStackDepth + 2, 0);
  n = start_at_return_address(pcs, n, reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
  Bucket* b = find_bucket(BucketKind::Memory, pcs, n, bytes);
  if (b == nullptr) return nullptr;
  MemCycle& c = b->mem.future[(gc::sample_cycle() + 2) % 3];
  c.allocs.fetch_add(1, std::memory_order_relaxed);
  c.alloc_bytes.fetch_add(bytes, std::memory_order_relaxed);
  return b;
}

void on_free(void* handle, size_t bytes) {
  auto* b = static_cast<Bucket*>(handle);
  MemCycle& c = b->mem.future[(gc::sample_cycle() + 1) % 3];
  c.frees.fetch_add(1, std::memory_order_relaxed);
  c.free_bytes.fetch_add(bytes, std::memory_order_relaxed);
}

// drain moves the counts of `from` into `to` and zeroes `from`.
void drain(MemCycle& to, MemCycle& from) {
  to.allocs.fetch_add(from.allocs.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
  to.frees.fetch_add(from.frees.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
  to.alloc_bytes.fetch_add(from.alloc_bytes.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
  to.free_bytes.fetch_add(from.free_bytes.exchange(0, std::memory_order_relaxed), std::memory_order_relaxed);
}

// flush_locked publishes cycle slot index into every bucket's active
// record (Go's mProf_FlushLocked). Requires g_active_lock.
void flush_locked(uint32_t index) {
  for_each_bucket(BucketKind::Memory, [&](Bucket& b) { drain(b.mem.active, b.mem.future[index]); });
}

// mprof_flush is Go's mProf_Flush: publish cycle C once per cycle.
void mprof_flush() {
  uint32_t cycle = gc::sample_cycle();
  if (g_flushed_cycle.exchange(cycle) == static_cast<int64_t>(cycle)) return;
  std::lock_guard<std::mutex> guard(g_active_lock);
  flush_locked(cycle % 3);
}

// MemRecord is one site as a profile shows it (Go's MemProfileRecord).
struct MemRecord {
  std::vector<uintptr_t> stack;
  uint64_t size = 0;
  int64_t allocs = 0, frees = 0, alloc_bytes = 0, free_bytes = 0;
  int64_t inuse_objects() const { return allocs - frees; }
  int64_t inuse_bytes() const { return alloc_bytes - free_bytes; }
};

// is_heap_frame reports whether return address pc lies in the heap's own
// code: a function of namespace gc:: (a template's demangled name may
// start with its return type).
bool is_heap_frame(uintptr_t pc) {
  const std::string& name = Symbolizer::global().frames(pc - 1).back().function;
  size_t paren = name.find('(');
  std::string_view head(name.data(), paren == std::string::npos ? name.size() : paren);
  return head.rfind("gc::", 0) == 0 || head.find(" gc::") != std::string_view::npos;
}

// user_stack drops the heap's leading frames from a bucket's stack (all of
// them kept if nothing else is left) and cuts it to Go's maxStack.
std::vector<uintptr_t> user_stack(const std::vector<uintptr_t>& stk) {
  size_t i = 0;
  while (i < stk.size() && is_heap_frame(stk[i])) i++;
  if (i == stk.size()) i = 0;
  size_t end = std::min(stk.size(), i + kMaxStackDepth);
  return std::vector<uintptr_t>(stk.begin() + static_cast<ptrdiff_t>(i), stk.begin() + static_cast<ptrdiff_t>(end));
}

// read_records is Go's runtime.MemProfile(p, inuseZero=true), with the
// buckets merged by their user stacks.
std::vector<MemRecord> read_records() {
  std::vector<MemRecord> raw;
  {
    std::lock_guard<std::mutex> guard(g_active_lock);
    flush_locked(gc::sample_cycle() % 3);
    bool clear = true;
    for_each_bucket(BucketKind::Memory, [&](Bucket& b) {
      if (b.mem.active.allocs.load(std::memory_order_relaxed) != 0 ||
          b.mem.active.frees.load(std::memory_order_relaxed) != 0)
        clear = false;
    });
    if (clear)  // nothing published yet: no collection so far
      for_each_bucket(BucketKind::Memory, [&](Bucket& b) {
        for (MemCycle& f : b.mem.future) drain(b.mem.active, f);
      });
    for_each_bucket(BucketKind::Memory, [&](Bucket& b) {
      MemRecord r;
      r.size = b.size;
      r.allocs = static_cast<int64_t>(b.mem.active.allocs.load(std::memory_order_relaxed));
      r.frees = static_cast<int64_t>(b.mem.active.frees.load(std::memory_order_relaxed));
      r.alloc_bytes = static_cast<int64_t>(b.mem.active.alloc_bytes.load(std::memory_order_relaxed));
      r.free_bytes = static_cast<int64_t>(b.mem.active.free_bytes.load(std::memory_order_relaxed));
      r.stack.assign(b.stk, b.stk + b.nstk);  // raw for now: symbolizing waits until the lock is dropped
      raw.push_back(std::move(r));
    });
  }
  std::map<std::pair<std::vector<uintptr_t>, uint64_t>, size_t> index;
  std::vector<MemRecord> out;
  std::reverse(raw.begin(), raw.end());  // oldest bucket first: a stable order across reads
  for (MemRecord& r : raw) {
    std::vector<uintptr_t> stk = user_stack(r.stack);
    auto [it, fresh] = index.try_emplace({stk, r.size}, out.size());
    if (fresh) {
      r.stack = std::move(stk);
      out.push_back(std::move(r));
      continue;
    }
    MemRecord& m = out[it->second];
    m.allocs += r.allocs;
    m.frees += r.frees;
    m.alloc_bytes += r.alloc_bytes;
    m.free_bytes += r.free_bytes;
  }
  return out;
}

// scale_heap_sample is Go's scaleHeapSample: a sample of average size S is
// collected with probability 1 − exp(−S/rate), so each is worth
// 1/(1 − exp(−S/rate)) of what it reports.
std::pair<int64_t, int64_t> scale_heap_sample(int64_t count, int64_t size, int64_t rate) {
  if (count == 0 || size == 0) return {0, 0};
  if (rate <= 1) return {count, size};
  double avg_size = static_cast<double>(size) / static_cast<double>(count);
  double scale = 1 / (1 - std::exp(-avg_size / static_cast<double>(rate)));
  return {static_cast<int64_t>(static_cast<double>(count) * scale),
          static_cast<int64_t>(static_cast<double>(size) * scale)};
}

int64_t unix_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void appendf(std::string& out, const char* fmt, auto... args) {
  char buf[256];
  int n = std::snprintf(buf, sizeof buf, fmt, args...);
  if (n > 0) out.append(buf, std::min<size_t>(static_cast<size_t>(n), sizeof buf - 1));
}

// append_array appends a [256]uint64 as Go's %d prints an array: [a b c].
void append_array(std::string& out, const uint64_t (&a)[256]) {
  out += '[';
  for (size_t i = 0; i < 256; i++) {
    if (i) out += ' ';
    out += std::to_string(a[i]);
  }
  out += ']';
}

}  // namespace

void start_heap_profiler() {
  std::call_once(g_start_once, [] {
    gc::add_cycle_callback([](const gc::CycleSummary&) { mprof_flush(); });
    gc::set_alloc_sample_hooks(&on_alloc, &on_free);
  });
}

gc::CycleSummary collect_for_heap_profile() {
  gc::CycleSummary sum = gc::collect();
  uint32_t cycle = gc::sample_cycle();
  gc::finish_sweeping();
  if (gc::sample_cycle() == cycle) {  // Go's mProf_PostSweep, unless a newer cycle began
    std::lock_guard<std::mutex> guard(g_active_lock);
    flush_locked((cycle + 1) % 3);
  }
  return sum;
}

Profile heap_profile(bool allocs_default) {
  Profile p;
  p.time_nanos = unix_now_ns();
  int64_t rate = gc::mem_profile_rate();
  p.sample_types = {{"alloc_objects", "count"}, {"alloc_space", "bytes"}, {"inuse_objects", "count"}, {"inuse_space", "bytes"}};
  p.default_sample_type = allocs_default ? "alloc_space" : "";
  p.period_type = {"space", "bytes"};
  p.period = rate;
  for (MemRecord& r : read_records()) {
    Sample s;
    auto [ao, ab] = scale_heap_sample(r.allocs, r.alloc_bytes, rate);
    auto [io, ib] = scale_heap_sample(r.inuse_objects(), r.inuse_bytes(), rate);
    s.values = {ao, ab, io, ib};
    int64_t block_size = r.allocs > 0 ? r.alloc_bytes / r.allocs : 0;
    if (block_size != 0) s.num_labels.push_back({"bytes", block_size});
    s.stack = std::move(r.stack);
    p.samples.push_back(std::move(s));
  }
  return p;
}

std::string heap_profile_text() {
  // MemStats first, so that building the profile is not in them (as Go).
  gc::MemStats ms;
  gc::read_mem_stats(&ms);
  std::vector<MemRecord> recs = read_records();
  std::stable_sort(recs.begin(), recs.end(),
                   [](const MemRecord& a, const MemRecord& b) { return a.inuse_bytes() > b.inuse_bytes(); });
  MemRecord total;
  for (const MemRecord& r : recs) {
    total.allocs += r.allocs;
    total.frees += r.frees;
    total.alloc_bytes += r.alloc_bytes;
    total.free_bytes += r.free_bytes;
  }
  std::string out;
  // Go prints 2*MemProfileRate: early C++ heap profilers did, and pprof expects it.
  appendf(out, "heap profile: %lld: %lld [%lld: %lld] @ heap/%lld\n", (long long)total.inuse_objects(),
          (long long)total.inuse_bytes(), (long long)total.allocs, (long long)total.alloc_bytes,
          (long long)(2 * gc::mem_profile_rate()));
  for (const MemRecord& r : recs) {
    appendf(out, "%lld: %lld [%lld: %lld] @", (long long)r.inuse_objects(), (long long)r.inuse_bytes(),
            (long long)r.allocs, (long long)r.alloc_bytes);
    for (uintptr_t pc : r.stack) appendf(out, " %#lx", (unsigned long)pc);
    out += '\n';
    append_stack_record(out, r.stack);
  }

  auto u = [](uint64_t v) { return (unsigned long long)v; };
  out += "\n# runtime.MemStats\n";
  appendf(out, "# Alloc = %llu\n", u(ms.alloc));
  appendf(out, "# TotalAlloc = %llu\n", u(ms.total_alloc));
  appendf(out, "# Sys = %llu\n", u(ms.sys));
  appendf(out, "# Lookups = %llu\n", u(ms.lookups));
  appendf(out, "# Mallocs = %llu\n", u(ms.mallocs));
  appendf(out, "# Frees = %llu\n", u(ms.frees));
  appendf(out, "# HeapAlloc = %llu\n", u(ms.heap_alloc));
  appendf(out, "# HeapSys = %llu\n", u(ms.heap_sys));
  appendf(out, "# HeapIdle = %llu\n", u(ms.heap_idle));
  appendf(out, "# HeapInuse = %llu\n", u(ms.heap_inuse));
  appendf(out, "# HeapReleased = %llu\n", u(ms.heap_released));
  appendf(out, "# HeapObjects = %llu\n", u(ms.heap_objects));
  appendf(out, "# Stack = %llu / %llu\n", u(ms.stack_inuse), u(ms.stack_sys));
  appendf(out, "# MSpan = %llu / %llu\n", u(ms.mspan_inuse), u(ms.mspan_sys));
  appendf(out, "# MCache = %llu / %llu\n", u(ms.mcache_inuse), u(ms.mcache_sys));
  // The heap leaves BuckHashSys to the profiler: this table's memory.
  appendf(out, "# BuckHashSys = %llu\n", u(ms.buck_hash_sys ? ms.buck_hash_sys : bucket_table_bytes()));
  appendf(out, "# GCSys = %llu\n", u(ms.gc_sys));
  appendf(out, "# OtherSys = %llu\n", u(ms.other_sys));
  appendf(out, "# NextGC = %llu\n", u(ms.next_gc));
  appendf(out, "# LastGC = %llu\n", u(ms.last_gc));
  out += "# PauseNs = ";
  append_array(out, ms.pause_ns);
  out += "\n# PauseEnd = ";
  append_array(out, ms.pause_end);
  out += '\n';
  appendf(out, "# NumGC = %u\n", ms.num_gc);
  appendf(out, "# NumForcedGC = %u\n", ms.num_forced_gc);
  out += "# GCCPUFraction = " + go_float_v(ms.gc_cpu_fraction) + "\n";
  out += std::string("# DebugGC = ") + (ms.debug_gc ? "true" : "false") + "\n";
  rusage ru{};
  if (getrusage(RUSAGE_SELF, &ru) == 0) appendf(out, "# MaxRSS = %llu\n", u(static_cast<uint64_t>(ru.ru_maxrss) * 1024));
  return out;
}

int64_t set_mem_profile_rate(int64_t bytes) { return gc::set_mem_profile_rate(bytes); }

}  // namespace profilers
