// contention_profile.h — the block and mutex profiles (Go's blockevent /
// mutexevent in runtime/mprof.go, SetBlockProfileRate /
// SetMutexProfileFraction, and runtime/pprof's writeBlock / writeMutex):
// where goroutines wait (block) and which unlocks make others wait
// (mutex), by call stack. contention_profile.cpp's essay has the details.
#pragma once

#include <cstdint>
#include <string>

#include "profilers/profile.h"

namespace profilers {

// set_block_profile_rate is Go's runtime.SetBlockProfileRate: rate ≤ 0
// turns the block profile off, 1 records every blocking event, and a rate
// of N ns records every event of at least N ns and a shorter one of d ns
// with probability d/N. Installs or removes the runtime's block hook
// (observer.h). Channel operations, select, Mutex/RWMutex/WaitGroup/Cond
// waits count; sleeps and IO waits do not, as in Go.
void set_block_profile_rate(int64_t rate_ns);
int64_t block_profile_rate();

// set_mutex_profile_fraction is Go's runtime.SetMutexProfileFraction:
// n < 0 only reads; 0 turns the mutex profile off; n > 0 records on
// average 1 in n contention events (each charged to the unlocker's stack).
// Returns the previous fraction. Installs or removes the mutex hook.
int set_mutex_profile_fraction(int n);

// block_profile and mutex_profile return the profiles as Go's
// printCountCycleProfile builds them: sample types contentions/count and
// delay/nanoseconds, period contentions/count 1; the mutex profile's
// values are multiplied by the current fraction (Go's scaleMutexProfile),
// the block profile's are as recorded. Samples sorted by delay, largest
// first. No lock besides the symbolizer's.
Profile block_profile();
Profile mutex_profile();

// block_profile_text and mutex_profile_text return the debug=1 text forms
// (`--- contention:` / `--- mutex:`, cycles/second, records `cycles count @
// pcs` with their frame lines). gort measures nanoseconds, so it writes
// cycles/second=1000000000 and the delays in ns as the cycles.
std::string block_profile_text();
std::string mutex_profile_text();

}  // namespace profilers
