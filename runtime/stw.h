// stw.h — stop-the-world: bring every P to a safepoint, run a function while
// no goroutine runs, restart. The collector (sweep termination, mark
// termination) and the execution tracer (start/stop) use it.
#pragma once

#include <cstdint>
#include <functional>

namespace gort {

// stop_the_world stops every P except the caller's. Call from a goroutine;
// returns the time it took to stop (ns). Goroutines running CPU-bound code
// stop at their next safepoint (preempt_check, channel/lock op, allocation).
int64_t stop_the_world(const char* reason);
// start_the_world restarts the Ps stopped by stop_the_world.
void start_the_world();

// with_world_stopped runs fn between stop_the_world and start_the_world.
inline int64_t with_world_stopped(const char* reason, const std::function<void()>& fn) {
  int64_t t = stop_the_world(reason);
  fn();
  start_the_world();
  return t;
}

// world_stopped reports whether a stop-the-world is in effect.
bool world_stopped();

}  // namespace gort
