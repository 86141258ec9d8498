// heap_profile.h — the heap and allocs profiles (Go's runtime/mprof.go
// memory profiling and runtime/pprof's writeHeap): sampled allocations by
// call stack, with what is still in use as of the last completed
// collection. heap_profile.cpp's essay explains the cycle accounting.
#pragma once

#include <cstdint>
#include <string>

#include "gc/stats.h"
#include "profilers/profile.h"

namespace profilers {

// start_heap_profiler installs the heap's sampling hooks (gc/hooks.h) and
// the per-collection callback that publishes the profile. Idempotent; the
// service calls it at start-up, before the first collection. Allocations
// before it are not in the profile.
void start_heap_profiler();

// collect_for_heap_profile is Go's runtime.GC as /debug/pprof/heap?gc=1
// uses it: a forced collection (gc::collect), then the rest of its sweep
// on the calling goroutine (gc::finish_sweeping), then the profile as of
// that collection is published (Go's mProf_PostSweep), unless another
// collection finished meanwhile. Returns the collection's summary. Call on
// a goroutine; blocks for the collection and the sweep.
gc::CycleSummary collect_for_heap_profile();

// heap_profile returns the heap profile as of the last completed
// collection: sample types alloc_objects/count alloc_space/bytes
// inuse_objects/count inuse_space/bytes, period space/bytes = the current
// mem profile rate, values unsampled with Go's scaleHeapSample, a numeric
// label "bytes" = the object size, stacks from the allocating function out
// (the heap's own frames dropped). allocs_default makes alloc_space the
// default sample type (Go's allocs profile); otherwise pprof's default,
// the last type (inuse_space). Takes the profile's active lock; symbolizes
// the allocation sites' first frames (Symbolizer, cached).
Profile heap_profile(bool allocs_default);

// heap_profile_text returns the debug=1 legacy text form, as Go's
// writeHeapInternal: `heap profile: …` header, one record per site with
// its frame lines, then `# runtime.MemStats` (gc::read_mem_stats).
std::string heap_profile_text();

// set_mem_profile_rate sets Go's runtime.MemProfileRate (mean bytes between
// samples; 1 every allocation; 0 none) and returns the previous rate.
int64_t set_mem_profile_rate(int64_t bytes);

}  // namespace profilers
