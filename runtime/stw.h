// stw.h — stop-the-world: bring every P to a safepoint, run code while no
// other goroutine runs, restart. The collector (sweep termination, mark
// termination) and the execution tracer (start/stop) use it.
//
// The code run with the world stopped runs on the stopping goroutine and
// must not park or yield — no channel, lock, sleep or I/O operation: every
// other goroutine is stopped, so nothing could wake it. Doing so is a fatal
// error naming the operation and the stop's reason. Preemption requests are
// ignored meanwhile. A goroutine that keeps a P from stopping for a second
// (a loop without safepoints) is reported on stderr with its id and state;
// the stop keeps waiting.
#pragma once

#include <cstdint>
#include <functional>

namespace gort {

// stop_the_world stops every P except the caller's and returns the time it
// took to stop them (ns). Call from a goroutine; blocks (parks) while
// another stop-the-world is in progress. reason — a string literal — is
// reported to observers (on_stw_start) and in diagnostics. Goroutines
// running CPU-bound code stop at their next safepoint (preempt_check,
// channel or lock operation, allocation).
int64_t stop_the_world(const char* reason);
// start_the_world restarts the Ps stopped by stop_the_world. Must be called
// by the goroutine that stopped the world.
void start_the_world();

// with_world_stopped runs fn between stop_the_world and start_the_world and
// returns the time it took to stop.
inline int64_t with_world_stopped(const char* reason, const std::function<void()>& fn) {
  int64_t t = stop_the_world(reason);
  fn();
  start_the_world();
  return t;
}

// world_stopped reports whether a stop-the-world is in progress or in effect.
bool world_stopped();

}  // namespace gort
