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

}  // namespace gort
