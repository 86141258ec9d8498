// hooks.h — what the heap profiler sees of the heap: sampled allocations
// and their frees. Costs one subtraction and a branch per allocation when
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

}  // namespace gc
