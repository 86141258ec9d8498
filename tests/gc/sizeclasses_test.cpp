// sizeclasses_test — Go's size-class table: lookups round up to the smallest
// class that fits, and divMagic divides exactly at every object boundary.
#define BOOST_TEST_MODULE sizeclasses
#include <boost/test/unit_test.hpp>

#include "gc/sizeclasses.h"

using namespace gc;

BOOST_AUTO_TEST_CASE(size_to_class_picks_the_smallest_class_that_fits) {
  for (size_t n = 1; n <= kMaxSmallBytes; n++) {
    int c = size_to_class(n);
    BOOST_REQUIRE_MESSAGE(c >= 1 && c < kNumSizeClasses, "size " << n);
    BOOST_REQUIRE_MESSAGE(kClassToSize[c] >= n, "size " << n << " class " << c);
    BOOST_REQUIRE_MESSAGE(kClassToSize[c - 1] < n || c == 1, "size " << n << " class " << c);
  }
}

BOOST_AUTO_TEST_CASE(div_magic_is_exact_within_a_span) {
  for (int c = 1; c < kNumSizeClasses; c++) {
    size_t size = kClassToSize[c], span = kClassToPages[c] * kPageBytes;
    uint32_t magic = class_div_magic(c);
    for (size_t off = 0; off < span; off++)
      BOOST_REQUIRE_EQUAL((uint64_t{off} * magic) >> 32, off / size);
  }
}
