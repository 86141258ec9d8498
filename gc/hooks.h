// hooks.h — what the profilers see of the heap: sampled allocations and
// their frees for the heap profiler, and a way for the execution tracer to
// start and stop between collection cycles. Costs one subtraction and a branch per allocation when
// no hooks are set.
#pragma once

#include <cstddef>
#include <cstdint>

namespace gc {

// AllocSampleHook is called on the allocating goroutine, after the object
// is allocated and zeroed but before it is constructed, for about one
// allocation per mem_profile_rate bytes (exponentially distributed, as Go's
// nextSample). It returns a handle the heap keeps with the object (Go's
// profile bucket) — or nullptr to keep nothing. It may capture the stack
// and take its own locks; it must not allocate from the collected heap.
using AllocSampleHook = void* (*)(void* obj, size_t bytes);
// FreeSampleHook is called when a sampled object is swept, with the handle
// AllocSampleHook returned, on whichever goroutine or thread sweeps; same
// rules.
using FreeSampleHook = void (*)(void* handle, size_t bytes);

// set_alloc_sample_hooks installs both hooks (nullptr, nullptr removes
// them; objects sampled earlier still report their frees to the hook set
// when they are swept, or to nobody).
void set_alloc_sample_hooks(AllocSampleHook on_alloc, FreeSampleHook on_free);

// set_mem_profile_rate sets Go's runtime.MemProfileRate: the mean bytes
// between samples (default 512 KiB; 1 samples every allocation; 0 none).
// Returns the previous rate.
int64_t set_mem_profile_rate(int64_t bytes);
int64_t mem_profile_rate();
inline constexpr int64_t kDefaultMemProfileRateBytes = 512 * 1024;

// sample_cycle returns how many mark terminations there have been (Go's
// mProfCycle). It advances with the world stopped, as a cycle's marking
// ends and every span becomes unswept, so a hook reading it knows which
// cycle an allocation or a free belongs to: frees the sweep reports while
// it reads N are of objects found dead by mark termination N. One relaxed
// load.
uint32_t sample_cycle();

// finish_sweeping sweeps, on the calling goroutine, every span the last
// cycle left unswept and returns when no sweep is in progress anywhere, so
// every free of a sampled object that cycle found dead has been reported
// (the sweep half of Go's runtime.GC, which the heap profile's gc=1 needs).
// Call on a goroutine.
void finish_sweeping();

// hold_cycles waits until no collection cycle is running (Go's
// stopTheWorldGC waiting on gcsema) and keeps new ones from starting until
// release_cycles; a goroutine that triggers a cycle meanwhile waits. The
// execution tracer brackets its start and stop with it, so a trace never
// begins or ends inside a cycle. Call on a goroutine; not reentrant.
void hold_cycles();
void release_cycles();

}  // namespace gc
