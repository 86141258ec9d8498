// stackwalk.h — stacks for the profilers: frame-pointer walks of the
// calling code, of a goroutine that is not running, and, for a SIGPROF
// handler, which goroutine (if any) the interrupted thread was on.
//
// Every walk follows the rbp chain (the whole project is built with
// -fno-omit-frame-pointer) and stops at the bounds of the stack it started
// on, so a garbage frame pointer ends a walk instead of faulting. PCs are
// return addresses, innermost first (profilers/profile.h says how they are
// symbolized).
#pragma once

#include <cstdint>

#include "runtime/goroutine.h"
#include "runtime/scan.h"

namespace gort {

struct ThreadInfo;

// walk_frame_pointers follows the rbp chain from fp while each frame lies
// in [lo, hi) and frames move towards hi, storing up to max return
// addresses in pcs; returns how many. Async-signal-safe. A signal can land
// in code built without frame pointers (libstdc++, libc), whose rbp then
// points at any local — under ASan possibly a redzone: the walk trusts
// only its bounds and reads like a conservative scan (scan.h).
GORT_CONSERVATIVE_SCAN int walk_frame_pointers(uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t* pcs, int max);

// capture_stack stores the caller's own stack — first the return address
// into the caller (a PC inside the function that called capture_stack),
// then its callers' — walking the goroutine stack it runs on, or the
// thread's stack off-goroutine; returns how many. skip drops that many
// innermost entries first (wrappers that should not appear).
int capture_stack(uintptr_t* pcs, int max, int skip = 0);

// goroutine_stack walks g, which must not be running: parked or runnable
// (from the frame that switched it out) or in a BlockingSection (from the
// frame that entered it). The first entry is the return address into that
// frame. Returns 0 for a running, dead or never-started goroutine. Stable
// only while the world is stopped or g stays parked.
int goroutine_stack(const G* g, uintptr_t* pcs, int max);

// SignalView is what a signal handler may know about where it interrupted:
// the thread's registry record, and the goroutine whose stack the thread
// was on, if any (with that stack's bounds).
struct SignalView {
  const ThreadInfo* thread = nullptr;  // nullptr: not a runtime thread
  const G* g = nullptr;                // nullptr: on the thread's own stack (g0), or sysmon's
  int64_t goid = 0;
  uintptr_t g_stack_lo = 0, g_stack_hi = 0;
};

// signal_view fills *v for the calling thread. Async-signal-safe: no lock,
// no allocation. The goroutine is the one whose stack the thread was on
// when the signal arrived — between its landing on that stack and leaving
// it; the handler still checks the interrupted SP against the bounds,
// because a context switch moves the SP a few instructions before the
// bookkeeping catches up.
void signal_view(SignalView* v);

}  // namespace gort
