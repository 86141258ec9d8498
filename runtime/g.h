// g.h — the goroutine record (G). Internal to runtime/: code outside the
// scheduler sees G only as an opaque pointer (goroutine.h). Kept apart from
// sched_internal.h only because the run-queue classes (runq.h) link Gs.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/base.h"
#include "runtime/goroutine.h"
#include "runtime/stack.h"

namespace gort {

struct M;
struct SharedLabels;  // labels.cpp

// Callee-saved registers of the x86-64 SysV ABI: rbx, rbp, r12–r15.
inline constexpr size_t kSavedRegisters = 6;

struct G {
  // Context switching (switch.cpp). ctx is the saved fcontext while the G is
  // switched out: written by the side that receives it from the switch (g0,
  // or the direct hand-off's on-top function), read by the M that resumes
  // the G; the run-queue hand-off orders the two.
  void* ctx = nullptr;
  Stack stack;
  M* m = nullptr;                      // M running it; set before each resume
  // Has run: ctx came from a switch, not make_fcontext. Written by the G
  // (true) and at spawn (false); read by the owner of the P whose runnext
  // holds it. atomic (relaxed).
  std::atomic<bool> started{false};

  // Unique per runtime run; set at spawn. atomic (relaxed): dumps and
  // observers on other threads read it while the record may be reused.
  std::atomic<int64_t> id{0};
  int64_t parent_id = 0;
  uintptr_t gopc = 0;                  // return address of the go statement
  uintptr_t startpc = 0;               // entry function (for dumps)
  std::atomic<GStatus> status{GStatus::Idle};
  G* schedlink = nullptr;              // run queue / free list link (owner of the list)

  // Preemption request, set by sysmon or stop-the-world, cleared at the
  // safepoint that honours it or at the start of a fresh time slice. atomic.
  std::atomic<bool> preempt{false};
  std::atomic<int64_t> preempt_requested_ns{0};  // when sysmon asked (latency stats); atomic

  // Wait state: written by the parking side before the G is published as
  // Waiting (release), read by dumps. wait_reason is atomic (relaxed) so
  // count_goroutines may read it while the G parks again.
  std::atomic<WaitReason> wait_reason{WaitReason::Zero};
  int64_t wait_since_ns = 0;           // sched.coarse_now_ns at park (≤ 10 ms stale)

  // Scheduling-latency sampling (stats.cpp), as Go's gTrackingPeriod: every
  // 8th transition out of running is timed until the G runs again.
  uint64_t runnable_since_ticks = 0;   // cputicks() when it became runnable, if tracking
  uint8_t tracking_seq = 0;
  bool tracking = false;

  // Block profiling (switch.cpp): when a block hook is set at park time the
  // waker stamps when it readied the G.
  bool block_stamped = false;
  int64_t block_release_ns = 0;

  // Entry point: entry(arg); arg lives at the top of the G's own stack.
  void (*entry)(void*) = nullptr;
  void* arg = nullptr;

  // Labels (labels.cpp): written only by the G itself or at spawn; read
  // lock-free by signal handlers on its thread and, through a hazard
  // pointer, by other threads. atomic.
  std::atomic<SharedLabels*> labels{nullptr};

  // The execution tracer's per-goroutine state (goroutine.h); the runtime
  // leaves it alone.
  TraceSlot trace;

  // BlockingSection (syscall.cpp, scan.cpp): stack pointer, callee-saved
  // registers and the caller's frame at entry, written before status
  // becomes Syscall (release), read by stack_scan_range and saved_frame.
  uintptr_t syscall_sp = 0;
  uintptr_t syscall_fp = 0;
  uintptr_t syscall_pc = 0;
  uintptr_t syscall_regs[kSavedRegisters] = {};

  // Concurrent stack scanning (concurrent_scan.cpp): the collector cycle in
  // which this stack was last scanned, with kScanBusy set while somebody
  // scans it. atomic: the scanning worker and the M resuming the G meet on
  // it (see the protocol there).
  std::atomic<uint32_t> scan_gen{0};
  // The collector's per-goroutine word (scan.h gc_word): its mark-assist
  // credit. Touched only by the goroutine itself.
  int64_t gc_word = 0;
  // The tracer's label for the G's next start (goroutine.h start_label):
  // written by the collector's worker source on the M that then starts it.
  const char* start_label = nullptr;

  // Channel and select support (chan.cpp, select.cpp).
  std::atomic<uint32_t> select_done{0};  // atomic: first channel to CAS 0->1 wins the select
  void* param = nullptr;               // the waker's winning sudog

#if GORT_ASAN
  void* asan_fake_stack = nullptr;
#endif
#if GORT_TSAN
  void* tsan_fiber = nullptr;          // one per goroutine lifetime (switch.cpp)
#endif
};

}  // namespace gort
