// cpu_limiter.cpp — Go 1.19's GC CPU limiter (runtime/mgclimit.go); the
// interface is in cpu_limiter.h.
//
// The bucket
// ----------
// A leaky bucket of capacity procs × 1 CPU-second. GC CPU time pours in,
// mutator CPU time drains it, and both at the same weight, so the bucket only
// stays full while the GC takes more than half of the CPU: the limiter's
// target is 50% over a window of about 2 × capacity. The bucket never goes
// below empty, so an idle day earns the GC no credit for tomorrow's death
// spiral; its capacity is all the leeway the GC has. GC time that arrives
// while the bucket is full is counted in overflow: the GC time the limiter
// failed to prevent (Go's tests check it).
//
// "Limiting" (Go's `enabled`) is set when a fill reaches capacity and cleared
// by the first window with a net drain. Time is accounted in windows:
// update(now) takes elapsed wall × procs as total CPU, removes idle time,
// counts pooled GC CPU (assists) plus, while background marking runs, 25% of
// the total as GC time, and the rest as mutator time. A stop-the-world pause
// is a transition: start_gc_transition closes the window at the pause start
// and finish_gc_transition charges the whole pause × procs as GC time.
//
// The stop-the-world adaptation
// -----------------------------
// In Go the limiter acts on the only GC work that can be deferred while the
// heap is over its goal: mark assists (and scavenge assists). When it is
// limiting, allocating goroutines stop assisting and the heap is allowed to
// overshoot the memory limit rather than spend the whole machine on GC.
//
// With stop-the-world marking there are no assists to cut, so the limiter
// does not act; the collector decides. The rule it follows: when the trigger
// was reached only because of the memory limit (heap_live ≥
// Pacer::trigger_bytes() but < Pacer::gogc_trigger_bytes()) and limiting() is
// true, the cycle waits — the mutator keeps running and the heap overshoots
// the limit, exactly the trade Go makes. Cycles that GOGC asks for and forced
// cycles (runtime.GC()) run regardless, as they would in Go. While a cycle
// waits, the collector calls update(now) whenever need_update(now) says the
// update period has passed, so the drain is noticed within 10 ms and the
// cycle starts as soon as limiting() clears. Any net drain clears limiting,
// and the next pause refills the bucket; with pauses shorter than the 10 ms
// update period GC CPU converges to about half of the total while the limit
// is unreachable. A pause is indivisible, though, and a long one (a large
// heap, a sanitizer build) let through on the first drained millisecond
// would overfill the bucket every time — GC at 85% measured under TSan. So
// the collector (collector.cpp trigger_test) also holds a memory-limit-only
// cycle while fill_ns() plus the last cycle's GC CPU exceeds capacity_ns():
// the mutator earns back a whole pause before the next one, which keeps GC
// at about half whatever the pause length, and leaves the limiter's own
// semantics — what metrics and tests compare with Go — untouched.
#include "gc/cpu_limiter.h"

namespace gc {

void CpuLimiter::reset(int procs, int64_t now_ns) {
  std::lock_guard lock(mu_);
  update_locked(now_ns);
  procs_ = procs > 0 ? procs : 1;
  int64_t capacity = int64_t{procs_} * kLimiterCapacityPerProcNs;
  capacity_ns_.store(capacity, std::memory_order_relaxed);
  int64_t fill = fill_ns_.load(std::memory_order_relaxed);
  if (fill > capacity) {
    fill_ns_.store(capacity, std::memory_order_relaxed);
    enabled_.store(true, std::memory_order_release);
    note_enabled_locked();
  } else if (fill < capacity) {
    enabled_.store(false, std::memory_order_release);
  }
}

void CpuLimiter::start_gc_transition(bool mark_enabled_after, int64_t now_ns) {
  std::lock_guard lock(mu_);
  update_locked(now_ns);
  mark_enabled_ = mark_enabled_after;
  transitioning_ = true;
}

void CpuLimiter::finish_gc_transition(int64_t now_ns) {
  std::lock_guard lock(mu_);
  int64_t last = last_update_ns_.load(std::memory_order_relaxed);
  if (now_ns >= last) accumulate_locked(0, (now_ns - last) * procs_);
  last_update_ns_.store(now_ns, std::memory_order_relaxed);
  transitioning_ = false;
}

void CpuLimiter::update(int64_t now_ns) {
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock() || transitioning_) return;  // someone else is accounting; or a pause is
  update_locked(now_ns);
}

// update_locked accounts the window (last_update, now] (Go's updateLocked).
void CpuLimiter::update_locked(int64_t now_ns) {
  int64_t last = last_update_ns_.load(std::memory_order_relaxed);
  if (now_ns < last) return;  // time went backwards (racing callers); skip
  int64_t total = (now_ns - last) * procs_;
  last_update_ns_.store(now_ns, std::memory_order_relaxed);
  int64_t gc = gc_cpu_pool_ns_.exchange(0, std::memory_order_relaxed);
  int64_t idle = idle_pool_ns_.exchange(0, std::memory_order_relaxed);
  if (mark_enabled_) gc += static_cast<int64_t>(static_cast<double>(total) * 0.25);
  total -= idle;
  accumulate_locked(total - gc, gc);
}

// accumulate_locked pours gc_ns in and drains mutator_ns out (Go's accumulate).
void CpuLimiter::accumulate_locked(int64_t mutator_ns, int64_t gc_ns) {
  int64_t capacity = capacity_ns_.load(std::memory_order_relaxed);
  int64_t fill = fill_ns_.load(std::memory_order_relaxed);
  int64_t headroom = capacity - fill;
  bool was_enabled = headroom == 0;
  int64_t change = gc_ns - mutator_ns;
  if (change > 0 && headroom <= change) {
    overflow_ns_.fetch_add(change - headroom, std::memory_order_relaxed);
    fill_ns_.store(capacity, std::memory_order_relaxed);
    if (!was_enabled) {
      enabled_.store(true, std::memory_order_release);
      note_enabled_locked();
    }
    return;
  }
  fill = (change < 0 && fill <= -change) ? 0 : fill + change;
  fill_ns_.store(fill, std::memory_order_relaxed);
  if (change != 0 && was_enabled) enabled_.store(false, std::memory_order_release);
}

// note_enabled_locked records the cycle in which limiting turned on: the
// one in progress, numbered completed + 1 (Go stores memstats.numgc + 1).
void CpuLimiter::note_enabled_locked() {
  last_enabled_cycle_.store(completed_cycles_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
}

}  // namespace gc
