// knobs.h — the values of the collector's two knobs that mean "off":
// GOGC=off and GOMEMLIMIT=off (Go's math.MaxInt64). Shared by heap.h (the
// public setters) and pacer.h.
#pragma once

#include <cstdint>
#include <limits>

namespace gc {

// kNoMemoryLimit is GOMEMLIMIT=off (Go's math.MaxInt64).
inline constexpr int64_t kNoMemoryLimit = std::numeric_limits<int64_t>::max();
// kGcOff is GOGC=off.
inline constexpr int kGcOff = -1;

}  // namespace gc
