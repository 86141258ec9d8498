// demos.h — state of the two profiling demos of SPEC.md:
//
//   /leak?n=N       starts N goroutines blocked forever on a channel receive
//                   (what a goroutine leak looks like in /debug/pprof/goroutine)
//   /leak?release=1 closes that channel: every leaked goroutine returns
//   /contend?g=G&n=N G goroutines each take one shared gort::Mutex N times,
//                   holding it ~1 µs (what contention looks like in the
//                   mutex and block profiles)
//
// Both use the runtime's own primitives (gort::Chan, gort::Mutex,
// gort::WaitGroup), so the profilers and the tracer see them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "runtime/chan.h"
#include "runtime/sync.h"

namespace gortd {

class Demos final {
 public:
  Demos();
  Demos(const Demos&) = delete;
  Demos& operator=(const Demos&) = delete;

  // leak starts n goroutines parked on the current release channel and
  // returns how many /leak goroutines are blocked now.
  int64_t leak(int64_t n);
  // release closes the current release channel (waking its goroutines) and
  // returns how many goroutines it released.
  int64_t release();
  // contend runs the contention demo and returns its wall time in ns.
  int64_t contend(int64_t goroutines, int64_t rounds);

 private:
  using ReleaseChan = gort::Chan<bool>;  // never sent on: only closed

  gort::Mutex leak_mu_;                  // guards release_ and generation_
  std::shared_ptr<ReleaseChan> release_;  // the channel new leaks wait on
  int64_t generation_ = 0;                // goroutines started on release_
  std::atomic<int64_t> blocked_{0};       // leaked goroutines not yet returned

  gort::Mutex contend_mu_;  // the contended lock
};

}  // namespace gortd
