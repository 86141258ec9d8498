// goroutine_profile.h — Go's goroutine profile (/debug/pprof/goroutine):
// every live goroutine's stack, as a pprof profile (debug=0), as counted
// stacks (debug=1) or as a traceback of each goroutine (debug=2). The
// formats are described in goroutine_profile.cpp.
#pragma once

#include <string>

#include "profilers/profile.h"

namespace profilers {

// goroutine_profile returns Go's goroutine profile (debug=0): sample type
// goroutine/count, period type goroutine/count with period 1, one sample
// per distinct (stack, labels) with the number of goroutines as its value
// and their labels as string labels. Stops the world briefly; call on a
// goroutine (fatal otherwise), never with the world stopped.
Profile goroutine_profile();

// goroutine_profile_text returns the debug=1 text (stacks with counts and
// labels, Go's printCountProfile) or, for debug >= 2, every goroutine's
// traceback (Go's runtime.Stack(buf, true)). Same conditions as
// goroutine_profile.
std::string goroutine_profile_text(int debug);

}  // namespace profilers
