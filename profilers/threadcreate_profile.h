// threadcreate_profile.h — Go's threadcreate profile
// (/debug/pprof/threadcreate): the stacks that created the runtime's OS
// threads, from the thread registry (runtime/threads.h).
#pragma once

#include <string>

#include "profilers/profile.h"

namespace profilers {

// threadcreate_profile returns the profile (debug=0): sample type
// threadcreate/count, period threadcreate/count 1, one sample per distinct
// creating stack. Go counts every M ever created; gort's registry keeps
// only live threads, so threads that have exited are counted with an empty
// stack (as Go shows m0) to make the total gort::threads_created().
// Symbolizes nothing; takes the registry lock briefly. Any thread.
Profile threadcreate_profile();

// threadcreate_profile_text returns the debug=1 text, Go's
// printCountProfile: "threadcreate profile: total N", then "count @ 0x…"
// and the stack record of each distinct stack. Symbolizes; never call from
// a signal handler.
std::string threadcreate_profile_text();

}  // namespace profilers
