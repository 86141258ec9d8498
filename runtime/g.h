// g.h — the goroutine record (G), its states and wait reasons.
//
// A G is a goroutine: a Boost.Context fcontext on a pooled stack plus the
// bookkeeping the scheduler, profilers and tracer read. G records are never
// freed while the runtime runs (as in Go): an exited G goes to a free list
// and is reused, so a G* seen by an observer stays a valid record.
//
// Status transitions mirror Go's (runtime2.go):
//   idle -> runnable (spawn) -> running -> waiting (park) -> runnable (ready)
//   running -> syscall (BlockingSection) -> running
//   running -> dead (exit) -> (free list) -> runnable (reuse)
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/base.h"
#include "runtime/stack.h"

namespace gort {

enum class GStatus : uint32_t {
  Idle = 0,      // just allocated, not yet initialized
  Runnable = 1,  // on a run queue
  Running = 2,   // executing on an M with a P
  Syscall = 3,   // executing in a BlockingSection, may have lost its P
  Waiting = 4,   // parked; see wait_reason
  Dead = 6,      // exited, on a free list
};

const char* gstatus_string(GStatus s);

// WaitReason: why a goroutine is parked. Strings are Go's (runtime2.go
// waitReasonStrings) because people read them in goroutine dumps.
enum class WaitReason : uint8_t {
  Zero = 0,
  ChanReceiveNilChan,
  ChanSendNilChan,
  Select,
  SelectNoCases,
  ChanReceive,
  ChanSend,
  Sleep,
  IOWait,
  SyncMutexLock,
  SyncRWMutexRLock,
  SyncRWMutexLock,
  SyncWaitGroupWait,
  SyncCondWait,
  Semacquire,
  GCAssistWait,
  GarbageCollection,
  Preempted,
  DebugCall,
  Count,
};

const char* wait_reason_string(WaitReason r);

// Labels are goroutine labels (pprof.Do): immutable, shared by a goroutine
// and the goroutines it creates.
using LabelSet = std::vector<std::pair<std::string, std::string>>;
using Labels = std::shared_ptr<const LabelSet>;

struct M;
struct P;
struct Sudog;

struct G {
  // Saved context while not running. Written by the switching-away side's
  // g0 (which receives it from jump_fcontext); read by the M that resumes G.
  void* ctx = nullptr;
  Stack stack;
  int64_t id = 0;                      // goroutine id, unique per runtime run
  std::atomic<GStatus> status{GStatus::Idle};
  G* schedlink = nullptr;              // run queue / free list link (owner-protected)
  M* m = nullptr;                      // M running this G (set before each resume)

  // Preemption request, set by sysmon or stop-the-world, cleared at the
  // safepoint that honours it. atomic.
  std::atomic<bool> preempt{false};
  int64_t preempt_requested_ns = 0;    // when sysmon asked (for latency stats)

  // Wait state, written by the G itself before parking.
  WaitReason wait_reason = WaitReason::Zero;
  int64_t wait_since_ns = 0;           // when it last parked (sysmon's coarse clock, ≤ 10 ms stale)
  int64_t runnable_since_ns = 0;       // TSC stamp when it last became runnable (if tracking)
  // Scheduling-latency sampling, as Go's gTrackingPeriod: every 8th
  // transition out of running is tracked (an rdtsc costs ~11 ns here).
  uint8_t tracking_seq = 0;
  bool tracking = false;

  // Entry point: entry(arg), arg lives at the top of the G's own stack.
  void (*entry)(void*) = nullptr;
  void* arg = nullptr;

  uintptr_t gopc = 0;                  // PC of the go statement that created it
  uintptr_t startpc = 0;               // entry function (for dumps)
  int64_t parent_id = 0;
  Labels labels;                       // written only by G itself (or at spawn)

  // Channel/select support (chan.cpp, select.cpp).
  Sudog* waiting = nullptr;            // sudogs this G is blocked on
  std::atomic<uint32_t> select_done{0};
  void* param = nullptr;               // passed by the waker (winning sudog)

  // Observer-owned word (e.g. tracer sequence numbers). Not used by runtime.
  uint64_t trace_seq = 0;
  int64_t trace_last_p = -1;

#if GORT_ASAN
  void* asan_fake_stack = nullptr;
#endif
};

// SavedFrame is where a stack walk of a switched-out goroutine starts.
struct SavedFrame {
  uintptr_t pc = 0;  // return address into the frame that switched away
  uintptr_t fp = 0;  // that frame's frame pointer (rbp): head of the chain
  uintptr_t sp = 0;  // stack pointer after the switch returns
};

// saved_frame reads the registers Boost.Context's jump_fcontext saved on a
// goroutine's stack when it switched away (x86-64 SysV layout: rbp at
// ctx+0x38, return address at ctx+0x40). Valid only while g is not running
// (runnable or waiting); returns zeros otherwise.
SavedFrame saved_frame(const G* g);

}  // namespace gort
