// cpu_limiter.h — Go 1.19's GC CPU limiter (runtime/mgclimit.go): a leaky
// bucket that fills with GC CPU time and drains with mutator CPU time, and says
// "limiting" while it is full. The collector consults it before starting a
// cycle that only the memory limit asks for; cpu_limiter.cpp explains why and
// how the stop-the-world collector uses it. Pure logic: time comes in as
// arguments.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

namespace gc {

// kLimiterCapacityPerProcNs is Go's capacityPerProc: each P adds one
// CPU-second to the bucket, so the limiter engages only after a full
// CPU-second per P of GC time more than mutator time in its window.
inline constexpr int64_t kLimiterCapacityPerProcNs = 1'000'000'000;
// kLimiterUpdatePeriodNs is Go's gcCPULimiterUpdatePeriod: the limiter is
// brought up to date at least this often (need_update) while a cycle runs or
// while it is limiting.
inline constexpr int64_t kLimiterUpdatePeriodNs = 10'000'000;

// CpuLimiter — Go's gcCPULimiterState. Mutators take mu_; limiting(),
// overflow_ns() and the add_* pools are lock-free.
class CpuLimiter final {
 public:
  CpuLimiter() = default;
  CpuLimiter(const CpuLimiter&) = delete;
  CpuLimiter& operator=(const CpuLimiter&) = delete;

  // reset brings the bucket up to date at now_ns and sets its capacity to
  // procs CPU-seconds (Go's resetCapacity, called at start and when
  // GOMAXPROCS changes). A fill above the new capacity is clipped and enables
  // limiting. Takes mu_.
  void reset(int procs, int64_t now_ns);

  // add_gc_cpu adds GC CPU time spent outside stop-the-world pauses (assists,
  // in Go also scavenge assists) to the pool the next update drains. Lock-free.
  void add_gc_cpu(int64_t ns) { gc_cpu_pool_ns_.fetch_add(ns, std::memory_order_relaxed); }
  // add_idle adds CPU time Ps spent idle (or in idle-priority marking); it is
  // neither mutator nor GC time and is removed from the window. Lock-free.
  void add_idle(int64_t ns) { idle_pool_ns_.fetch_add(ns, std::memory_order_relaxed); }

  // start_gc_transition begins a stop-the-world pause at now_ns: accounts the
  // window up to now, then records whether background marking runs after the
  // pause (Go counts 25% of all CPU as GC time while it does). Every CPU-ns of
  // the pause is GC time, charged by finish_gc_transition. Takes mu_ (held by
  // no one else during the pause; the lock is released at once here).
  void start_gc_transition(bool mark_enabled_after, int64_t now_ns);
  // finish_gc_transition ends the pause at now_ns, charging (now − start) ×
  // procs as GC CPU time (Go's finishGCTransition). Takes mu_.
  void finish_gc_transition(int64_t now_ns);

  // need_update reports whether kLimiterUpdatePeriodNs has passed since the
  // last update. Lock-free.
  bool need_update(int64_t now_ns) const {
    return now_ns - last_update_ns_.load(std::memory_order_relaxed) > kLimiterUpdatePeriodNs;
  }
  // update accounts the window since the last update at now_ns: total =
  // elapsed × procs − idle, GC = pooled GC CPU (+25% of total while marking
  // runs concurrently), mutator = total − GC. Skips if another thread is
  // updating (Go's tryLock). Takes mu_.
  void update(int64_t now_ns);

  // limiting reports whether the bucket is full, i.e. GC CPU has exceeded
  // mutator CPU by the capacity within the window. Lock-free.
  bool limiting() const { return enabled_.load(std::memory_order_acquire); }
  // overflow_ns returns the total GC CPU time that arrived while the bucket
  // was full. Lock-free.
  int64_t overflow_ns() const { return overflow_ns_.load(std::memory_order_relaxed); }
  // fill_ns returns the bucket's fill. Lock-free.
  int64_t fill_ns() const { return fill_ns_.load(std::memory_order_relaxed); }
  // capacity_ns returns the bucket's capacity (procs × 1 s). Lock-free.
  int64_t capacity_ns() const { return capacity_ns_.load(std::memory_order_relaxed); }

  // set_completed_cycles tells the limiter how many GC cycles have finished
  // (Go's limiter reads memstats.numgc); the collector calls it at every
  // mark termination, before finish_gc_transition. Lock-free.
  void set_completed_cycles(uint32_t n) { completed_cycles_.store(n, std::memory_order_relaxed); }
  // last_enabled_cycle returns the GC cycle during which limiting last
  // turned on — completed cycles + 1 at that moment — or 0 if it never did
  // (Go's lastEnabledCycle, /gc/limiter/last-enabled:gc-cycle). Lock-free.
  uint32_t last_enabled_cycle() const { return last_enabled_cycle_.load(std::memory_order_relaxed); }

 private:
  void update_locked(int64_t now_ns);
  void accumulate_locked(int64_t mutator_ns, int64_t gc_ns);
  void note_enabled_locked();

  std::mutex mu_;
  std::atomic<bool> enabled_{false};       // written under mu_, read lock-free
  std::atomic<int64_t> fill_ns_{0};        // written under mu_; 0 <= fill <= capacity
  std::atomic<int64_t> capacity_ns_{0};    // written under mu_
  std::atomic<int64_t> overflow_ns_{0};    // written under mu_
  std::atomic<int64_t> last_update_ns_{0}; // written under mu_, read by need_update
  std::atomic<int64_t> gc_cpu_pool_ns_{0}; // added by anyone, drained under mu_
  std::atomic<int64_t> idle_pool_ns_{0};   // added by anyone, drained under mu_
  std::atomic<uint32_t> completed_cycles_{0};    // written by the collector, read under mu_
  std::atomic<uint32_t> last_enabled_cycle_{0};  // written under mu_, read lock-free
  bool mark_enabled_ = false;              // guarded by mu_: background marking is running
  bool transitioning_ = false;             // guarded by mu_: inside a stop-the-world pause
  int procs_ = 0;                          // guarded by mu_
};

}  // namespace gc
