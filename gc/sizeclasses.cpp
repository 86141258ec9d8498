// sizeclasses.cpp — compile-time checks of the size-class table
// (sizeclasses.h): sizes increase, spans hold at least one object.
#include "gc/sizeclasses.h"

namespace gc {
namespace {
constexpr bool classes_increase() {
  for (int c = 2; c < kNumSizeClasses; c++)
    if (kClassToSize[c] <= kClassToSize[c - 1]) return false;
  return true;
}
constexpr bool spans_hold_objects() {
  for (int c = 1; c < kNumSizeClasses; c++)
    if (kClassToPages[c] * kPageBytes < kClassToSize[c]) return false;
  return true;
}
static_assert(classes_increase());
static_assert(spans_hold_objects());
static_assert(kClassToSize[kNumSizeClasses - 1] == kMaxSmallBytes);
}  // namespace
}  // namespace gc
