// test_util.h — waiting helpers for the runtime suites. Tests wait for
// conditions, never for time: "until the goroutine is parked" is a loop on
// its state under a generous deadline, not a sleep_ms(2). A deadline that
// expires is a test failure naming what was awaited.
#pragma once

#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <string>
#include <unordered_set>
#include <vector>

#include "runtime/goroutine.h"
#include "runtime/gort.h"

namespace gort_test {

// kDeadlineNs bounds every wait: far beyond anything a healthy run needs,
// even on a loaded 2-core machine, so a timeout means a real bug.
inline constexpr int64_t kDeadlineNs = 60'000'000'000;

// wait_until polls pred until it holds, yielding between polls on a
// goroutine (so the awaited goroutines can run even at GOMAXPROCS=1) and
// sleeping 50 µs off-goroutine. Fails the test (and returns false) if
// kDeadlineNs passes first; what names the condition in that message.
template <class Pred>
bool wait_until(Pred&& pred, const std::string& what) {
  const int64_t deadline = gort::nanotime() + kDeadlineNs;
  while (!pred()) {
    if (gort::nanotime() > deadline) {
      BOOST_ERROR("timed out waiting until " << what);
      return false;
    }
    if (gort::on_goroutine()) {
      gort::yield();
    } else {
      gort::sleep_for(std::chrono::microseconds(50));
    }
  }
  return true;
}

// goroutine_state returns the status and wait reason of the goroutine with
// the given id (status Dead if there is none).
inline gort::GoroutineInfo goroutine_state(int64_t id) {
  gort::GoroutineInfo found;
  found.status = gort::GStatus::Dead;
  gort::for_each_goroutine([&](gort::G* g) {
    gort::GoroutineInfo info = gort::goroutine_info(g);
    if (info.id == id && info.status != gort::GStatus::Dead) found = info;
  });
  return found;
}

// wait_parked waits until goroutine id is parked with the given reason.
inline bool wait_parked(int64_t id, gort::WaitReason reason) {
  return wait_until(
      [&] {
        gort::GoroutineInfo i = goroutine_state(id);
        return i.status == gort::GStatus::Waiting && i.wait_reason == reason;
      },
      "goroutine " + std::to_string(id) + " is parked in " + gort::wait_reason_string(reason));
}

// count_parked returns how many goroutines are parked with reason.
inline int64_t count_parked(gort::WaitReason reason) {
  int64_t n = 0;
  gort::for_each_goroutine([&](gort::G* g) {
    gort::GoroutineInfo i = gort::goroutine_info(g);
    if (i.status == gort::GStatus::Waiting && i.wait_reason == reason) n++;
  });
  return n;
}

// count_parked_among returns how many of the goroutines ids are parked with
// reason (ids that name no live goroutine count as not parked).
inline int64_t count_parked_among(const std::vector<int64_t>& ids, gort::WaitReason reason) {
  const std::unordered_set<int64_t> want(ids.begin(), ids.end());
  int64_t n = 0;
  gort::for_each_goroutine([&](gort::G* g) {
    gort::GoroutineInfo i = gort::goroutine_info(g);
    if (i.status == gort::GStatus::Waiting && i.wait_reason == reason && want.count(i.id) != 0) n++;
  });
  return n;
}

// wait_all_parked waits until every goroutine in ids is parked with reason.
inline bool wait_all_parked(const std::vector<int64_t>& ids, gort::WaitReason reason) {
  return wait_until([&] { return count_parked_among(ids, reason) == static_cast<int64_t>(ids.size()); },
                    "all " + std::to_string(ids.size()) + " goroutines are parked in " +
                        gort::wait_reason_string(reason));
}

}  // namespace gort_test
