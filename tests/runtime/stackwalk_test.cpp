// stackwalk_test.cpp — the frame-pointer walk (stackwalk.h) the profilers
// and the tracer unwind with: it follows a chain of frames, stops at the
// chain's end, at a frame outside its bounds, at one that does not move
// towards the stack's top or is misaligned, and at max; and it reads an rbp
// that points at an arbitrary local — as it does when a SIGPROF lands in
// code built without frame pointers — without a sanitizer report (under
// ASan the local's redzone is poisoned memory).
#define BOOST_TEST_MODULE stackwalk_test
#include <boost/test/unit_test.hpp>

#include <cstdint>

#include "runtime/stackwalk.h"

namespace {

// A fake stack: frame i is words [2i, 2i+1] = {saved rbp, return address}.
struct FakeStack {
  alignas(16) uintptr_t w[8] = {};
  uintptr_t fp(int i) const { return reinterpret_cast<uintptr_t>(&w[2 * i]); }
  uintptr_t lo() const { return reinterpret_cast<uintptr_t>(&w[0]); }
  uintptr_t hi() const { return reinterpret_cast<uintptr_t>(&w[8]); }
  void link(int i, uintptr_t next, uintptr_t pc) {
    w[2 * i] = next;
    w[2 * i + 1] = pc;
  }
};

}  // namespace

BOOST_AUTO_TEST_CASE(follows_the_chain_to_its_end) {
  FakeStack s;
  s.link(0, s.fp(1), 0x1111);
  s.link(1, s.fp(2), 0x2222);
  s.link(2, 0, 0x3333);  // the outermost frame: no caller
  uintptr_t pcs[8] = {};
  BOOST_TEST_REQUIRE(gort::walk_frame_pointers(s.fp(0), s.lo(), s.hi(), pcs, 8) == 3);
  BOOST_TEST(pcs[0] == 0x1111u);
  BOOST_TEST(pcs[1] == 0x2222u);
  BOOST_TEST(pcs[2] == 0x3333u);
  BOOST_TEST(gort::walk_frame_pointers(s.fp(0), s.lo(), s.hi(), pcs, 2) == 2);  // max
}

BOOST_AUTO_TEST_CASE(stops_at_frames_it_cannot_trust) {
  FakeStack s;
  uintptr_t pcs[8] = {};
  s.link(0, s.fp(1), 0x1111);
  s.link(1, s.fp(0), 0x2222);  // points back down: a loop
  BOOST_TEST(gort::walk_frame_pointers(s.fp(0), s.lo(), s.hi(), pcs, 8) == 2);
  s.link(1, s.fp(2) + 4, 0x2222);  // misaligned
  BOOST_TEST(gort::walk_frame_pointers(s.fp(0), s.lo(), s.hi(), pcs, 8) == 2);
  s.link(1, s.hi() + 64, 0x2222);  // beyond the stack's top
  BOOST_TEST(gort::walk_frame_pointers(s.fp(0), s.lo(), s.hi(), pcs, 8) == 2);
  s.link(1, s.fp(2), 0);  // no return address
  BOOST_TEST(gort::walk_frame_pointers(s.fp(0), s.lo(), s.hi(), pcs, 8) == 1);
  BOOST_TEST(gort::walk_frame_pointers(s.fp(3), s.lo(), s.fp(3) + 8, pcs, 8) == 0);  // frame straddles hi
  BOOST_TEST(gort::walk_frame_pointers(s.lo() - 16, s.lo(), s.hi(), pcs, 8) == 0);  // below lo
}

// The walk starts at an rbp that a function without frame pointers used as
// a general register: here, a one-byte local, so the walk's first reads
// (the local's word and the word after it) land in the redzone ASan keeps
// around it. What the walk finds there is garbage, so only its bounds are
// checked; in the ASan build the test is that nothing is reported.
__attribute__((noinline)) int walk_from_a_local() {
  volatile char small[1] = {1};
  auto at = reinterpret_cast<uintptr_t>(&small[0]) & ~uintptr_t{7};
  uintptr_t pcs[4] = {};
  int n = gort::walk_frame_pointers(at, at, at + 256, pcs, 4);
  return small[0] == 1 ? n : -1;
}

BOOST_AUTO_TEST_CASE(reads_an_rbp_that_points_at_a_local_without_a_report) {
  int n = walk_from_a_local();
  BOOST_TEST(n >= 0);
  BOOST_TEST(n <= 4);
}
