// goroutine.h — what code outside the scheduler may know about a goroutine:
// its states and wait reasons (with Go's names), and a read-only view of
// one goroutine for dumps, profilers and tests. The goroutine record itself
// (G) is opaque here; only the scheduler's files see its fields
// (sched_internal.h).
//
// G records are never freed while the runtime runs (as in Go): an exited G
// goes to a free list and is reused, so a G* obtained from
// for_each_goroutine or an observer event stays a valid record — though it
// may by then describe a later goroutine (compare ids).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace gort {

struct G;

// GStatus mirrors Go's goroutine states (runtime2.go). Transitions:
//   idle -> runnable (spawn) -> running -> waiting (park) -> runnable (ready)
//   running -> syscall (BlockingSection) -> running, or -> runnable when the
//                                           section ends without a free P
//   running -> dead (exit) -> (free list) -> runnable (reuse)
enum class GStatus : uint32_t {
  Idle = 0,      // just allocated, not yet initialized
  Runnable = 1,  // on a run queue
  Running = 2,   // executing on an M with a P
  Syscall = 3,   // executing in a BlockingSection, may have lost its P
  Waiting = 4,   // parked; see wait_reason
  Dead = 6,      // exited, on a free list
};

// gstatus_string returns Go's name of s ("runnable", "IO wait" is a wait
// reason, not a status).
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
  GCWorkerIdle,
  Count,
};

// wait_reason_string returns Go's string for r ("chan receive", "select" …).
const char* wait_reason_string(WaitReason r);

// SavedFrame is where a frame-pointer walk of a switched-out goroutine
// starts: the frame that called the context switch.
struct SavedFrame {
  uintptr_t pc = 0;  // return address into the frame that switched away
  uintptr_t fp = 0;  // that frame's frame pointer (rbp): head of the chain
  uintptr_t sp = 0;  // stack pointer after the switch returns
};

// GoroutineInfo is a snapshot of one goroutine. Fields are read without
// stopping the goroutine, so they are mutually consistent only while the
// world is stopped (stw.h) or the goroutine is parked and stays parked.
struct GoroutineInfo {
  int64_t id = 0;              // 0 for a record never used
  int64_t parent_id = 0;       // goroutine that started it (0: none)
  GStatus status = GStatus::Idle;
  WaitReason wait_reason = WaitReason::Zero;  // meaningful when status == Waiting
  int64_t wait_since_ns = 0;   // nanotime() when it parked, within 10 ms (sysmon's coarse clock)
  uintptr_t gopc = 0;          // return address of the go statement that created it
  uintptr_t startpc = 0;       // its entry function
  uintptr_t stack_lo = 0, stack_hi = 0;  // its stack slot
  SavedFrame frame;            // valid when status is Runnable or Waiting and it has run
};

// TraceSlot is per-goroutine scratch owned by the execution tracer
// (profilers/tracer.cpp), the one observer that must remember something
// about every goroutine between events: its state in the trace being
// written and its sequence number (Go's g.traceseq). The runtime never
// reads or writes it; the tracer claims it when it first sees a goroutine
// in a trace and compares generations to tell stale contents from a
// previous trace or a previous goroutine of a reused record.
struct TraceSlot {
  std::atomic<uint64_t> word{0};  // tracer's (generation, state); atomic: the snapshot and wakers race on it
  uint64_t seq = 0;               // written by whoever owns the goroutine's current transition
};

// trace_slot returns g's TraceSlot (no lock).
TraceSlot& trace_slot(G* g);

// start_label is the label the tracer gives g's next start (Go's
// GoStartLabel: "GC (dedicated)" for a mark worker), or null; set by whoever
// readies g (scan.h set_start_label), read by the M that starts it.
const char* start_label(const G* g);

// goroutine_info returns a snapshot of g (any thread, no lock).
GoroutineInfo goroutine_info(const G* g);

// goroutine_id returns g's id (no lock; 0 for a never-used record).
int64_t goroutine_id(const G* g);

// for_each_goroutine calls fn for every G record the runtime has created,
// dead ones on free lists included (check the status). It takes no lock: the
// registry only grows and records never move, so fn may do anything,
// including spawning goroutines (which may or may not be visited). Records
// created during the walk may be missed.
void for_each_goroutine(const std::function<void(G*)>& fn);

// GoroutineCounts is how many goroutines are in each state, the waiting
// ones split by wait reason (for dashboards: Go's goroutine profile says
// the same, one stack at a time).
struct GoroutineCounts {
  int64_t runnable = 0;
  int64_t running = 0;
  int64_t syscall = 0;
  int64_t waiting[static_cast<size_t>(WaitReason::Count)] = {};  // indexed by WaitReason

  // total returns the goroutines counted in any state.
  int64_t total() const;
};

// count_goroutines counts every live goroutine by state without stopping
// the world and without a lock (one pass over the G records, as
// for_each_goroutine). Each goroutine's status and wait reason are read
// atomically, so it is counted once, in a state it had during the pass; the
// counts are a snapshot taken over the pass, not at one instant.
GoroutineCounts count_goroutines();

}  // namespace gort
