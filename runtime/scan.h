// scan.h — what the collector (gc/) needs from the runtime: the address
// ranges of goroutine stacks to scan conservatively, and the safepoint its
// allocation slow path calls. gc/ reaches the scheduler only through this
// header, stw.h and goroutine.h.
//
// Stacks. A goroutine that is not running has every pointer it holds either
// on its stack or in the callee-saved registers it spilled when it stopped:
//   - parked or runnable (switched out by a context switch): Boost.Context's
//     jump_fcontext pushed rbx, rbp, r12–r15 and the return address just
//     below the goroutine's last frame, at its saved context; the range
//     [saved context, stack top) holds all of them;
//   - never run yet: the range holds its closure, copied to the stack top;
//   - inside a BlockingSection: the section recorded the stack pointer and
//     the callee-saved registers at entry; the range is [that sp, stack top)
//     plus the recorded registers. Code inside a section must not touch the
//     collected heap (gort.h), so what lies above that point is frozen.
// The calling goroutine scans its own stack with scan_own_stack, which
// spills its registers into the range first. A goroutine running on another
// M has no stable range: stop the world first.
//
// A conservative scan reads every word of a range, including sanitizer
// redzones between frames and the live frames of a goroutine still inside
// a blocking call: mark the scanning function GORT_CONSERVATIVE_SCAN so the
// sanitizers do not report those reads. (Under ASan with
// detect_stack_use_after_return, locals live on ASan's fake stack, which no
// stack range covers; the runtime's sanitizer builds turn that off.)
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "runtime/goroutine.h"

#define GORT_CONSERVATIVE_SCAN __attribute__((no_sanitize("address", "thread")))

namespace gort {

struct StackScanRange {
  uintptr_t lo = 0;                // lowest address that may hold a pointer (8-byte aligned)
  uintptr_t hi = 0;                // one past the highest
  const uintptr_t* regs = nullptr; // registers saved outside [lo, hi), if any
  size_t nregs = 0;
};

// stack_scan_range fills *out for a goroutine that is not running (status
// Runnable, Waiting or Syscall) and returns true; returns false for a
// running, dead or idle goroutine. With the world stopped (stw.h) the range
// stays valid until start_the_world. No lock.
bool stack_scan_range(const G* g, StackScanRange* out);

// scan_own_stack calls fn(range, arg) for the calling goroutine's live stack
// — from below a buffer holding its callee-saved registers up to its stack
// top — and returns after fn. Fatal off-goroutine.
void scan_own_stack(void (*fn)(const StackScanRange& range, void* arg), void* arg);

// alloc_safepoint is the allocation slow path's safepoint: it checks the
// stack red zone and, if sysmon or a stop-the-world asked the calling
// goroutine to yield, yields (and so stops for the world). A no-op
// off-goroutine and inside the stop-the-world function.
void alloc_safepoint();

// current_p_index returns the id (0 … gomaxprocs-1) of the P the calling
// goroutine runs on, or -1 off-goroutine. The answer stays true until the
// goroutine's next safepoint (a park, yield, preempt_check or
// alloc_safepoint): goroutines are switched out only there, so per-P data
// indexed by it (the allocator's caches) needs no lock or atomic in between.
// gomaxprocs() is fixed once run_main has started. No lock.
int current_p_index();

// ---- While the collector marks concurrently (concurrent_scan.cpp) ----
//
// Every goroutine's stack is scanned once per cycle, while the goroutine is
// stopped at a safepoint, by whoever gets there first: a mark worker
// (scan_stack), the M about to resume the goroutine, or the goroutine
// itself leaving a BlockingSection or calling scan_own_stack_once. A
// goroutine spawned meanwhile counts as scanned: its closure is shaded
// (the transfer barrier below) as it is copied to the new stack.

// StackScanFn scans one range for the collector; it may run on any M, on a
// goroutine or on g0, and must not park, yield or allocate from the heap.
using StackScanFn = void (*)(const StackScanRange& range);
// begin_stack_scans starts cycle gen (> every earlier gen, < 2^31): every
// goroutine alive now is unscanned until fn has scanned it. World stopped.
void begin_stack_scans(uint32_t gen, StackScanFn fn);
// end_stack_scans ends it. World stopped.
void end_stack_scans();
// scan_stack scans g's stack now unless that was done this cycle, and
// returns true once it is scanned; false if g is running (it will be
// scanned when it next stops — request_stack_scan hurries that) or someone
// is scanning it right now.
bool scan_stack(G* g);
// stack_scanned reports whether g needs no more scanning this cycle (a dead
// or free record needs none).
bool stack_scanned(const G* g);
// request_stack_scan asks a running goroutine to stop at its next safepoint.
void request_stack_scan(G* g);
// scan_own_stack_once scans the calling goroutine's stack unless done.
void scan_own_stack_once();

// TransferBarrier shades every heap pointer among the n bytes at p: the
// collector's barrier for values the runtime copies between goroutines
// outside the heap — channel elements, a new goroutine's closure. Set with
// the world stopped; null (no cost but one load) when no mark runs.
using TransferBarrier = void (*)(const void* p, size_t n);
void set_transfer_barrier(TransferBarrier fn);
extern std::atomic<TransferBarrier> g_transfer_barrier;
inline void transfer_barrier(const void* p, size_t n) {
  if (TransferBarrier fn = g_transfer_barrier.load(std::memory_order_relaxed)) [[unlikely]]
    fn(p, n);
}

// for_each_chan_buffer calls fn(element, bytes) for every value sitting in
// a buffered channel's buffer, each channel under its lock: the buffers are
// roots, being memory the collector does not otherwise see. fn must not
// park or touch a channel.
void for_each_chan_buffer(void (*fn)(const void* elem, size_t bytes));

// WorkerSource lets the collector run its mark workers (goroutines parked
// with WaitReason::GCWorkerIdle) on Ps: the scheduler asks it first for
// every G it picks (idle = false) and again before a P would go idle
// (idle = true); a non-null answer is a parked goroutine, which the
// scheduler readies and runs on that P. Go's findRunnableGCWorker and idle
// mark workers. Set once.
using WorkerSource = G* (*)(int p, bool idle);
void set_worker_source(WorkerSource fn);
// set_start_label labels a worker's next start in execution traces (a
// string literal; goroutine.h start_label). Call before returning it.
void set_start_label(G* g, const char* label);
// local_work_pending reports whether the caller's P has goroutines waiting
// in its run queue or the global one (an idle-priority worker yields then).
bool local_work_pending();

// preempt_requested reports whether a stop-the-world or sysmon asked the
// calling goroutine to stop at its next safepoint (a mark worker then
// stops draining and parks).
bool preempt_requested();

// set_exit_hook registers fn to run when run_main returns, after every
// thread of the runtime has stopped: goroutines parked then are discarded,
// so the collector abandons a mark in progress there. Set once.
void set_exit_hook(void (*fn)());

// gc_word is the calling goroutine's word kept for the collector (its
// assist credit); null off-goroutine. Reset to 0 at spawn.
int64_t* gc_word();

}  // namespace gort
