// timer.h — runtime timers: per-P 4-ary min-heaps run by the scheduler.
//
// Each P owns a TimerHeap. A goroutine that sleeps puts a Timer (on its own
// stack) into its P's heap after it has parked; the scheduler runs expired
// timers of every P whenever it looks for work (checking one atomic word per
// P, when0), and the M that blocks in the netpoller sleeps only until the
// earliest deadline, so a sleeper wakes within ~1 ms on an idle system.
//
// Firing protocol (as Go's timerRunning): the firing thread marks the timer
// Running under the heap lock, drops the lock and calls fn; remove() and
// modify() wait while a timer is Running, so once remove() returns, or
// modify() returns false, the owner may free the Timer or add it again.
#pragma once

#include <atomic>
#include <climits>
#include <cstdint>
#include <vector>

#include "runtime/base.h"

namespace gort {

struct GQueue;
class TimerHeap;

struct Timer {
  enum State : uint32_t { Idle = 0, Waiting = 1, Running = 2 };
  int64_t when = 0;
  // fn runs on whichever M fires the timer with no runtime locks held; it
  // must not block and must not ready a G itself: Gs it wakes are appended
  // to ready, which the caller makes runnable after it is done with t.
  void (*fn)(Timer* t, GQueue* ready) = nullptr;
  void* arg = nullptr;
  int32_t index = -1;                     // heap position (heap lock)
  std::atomic<TimerHeap*> heap{nullptr};  // owning heap while Waiting
  std::atomic<uint32_t> state{Idle};
};

class TimerHeap final {
 public:
  // add inserts t (state must be Idle). Returns true if t is the new earliest.
  bool add(Timer* t);
  // run fires every timer with when <= now; returns the number fired.
  int run(int64_t now, GQueue* ready);
  // next returns the earliest deadline or INT64_MAX (racy snapshot).
  int64_t next() const { return when0_.load(std::memory_order_acquire); }
  size_t size();

  // remove takes t out of whatever heap holds it. Returns true if it was
  // pending (so fn will never run), false if it already fired or was never
  // added. Waits for a concurrently running fn to finish.
  static bool remove(Timer* t);

  // modify moves pending t's deadline to when, re-sifting it in whatever
  // heap holds it and publishing that heap's new earliest deadline. Returns
  // true if t was pending, false (t untouched) if it already fired or was
  // never added — then, as after remove, a running fn has finished and the
  // caller may add t again. Takes the heap's lock; waits for a concurrently
  // running fn to finish.
  static bool modify(Timer* t, int64_t when);

 private:
  void siftup(int i);
  void siftdown(int i);
  void remove_at(int i);
  // lock_holder returns the heap holding pending t, locked, or nullptr
  // (after waiting out a running fn) when t is not pending.
  static TimerHeap* lock_holder(Timer* t);
  void publish();
  RuntimeLock lock_;
  std::vector<Timer*> heap_;  // guarded by lock_
  std::atomic<int64_t> when0_{INT64_MAX};
};

}  // namespace gort
