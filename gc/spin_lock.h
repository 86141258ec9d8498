// spin_lock.h — the lock gc/ uses for critical sections of a few
// instructions that goroutines on different Ps enter at once: the central
// span lists, the page heap, gc::Pool's shared lists. A std::mutex there
// sent the loser to sleep in the kernel — and took its P out of service —
// for longer than the wait (measured: a fifth of gortd's time under /alloc
// with a large live heap went to futex sleeps and wake-ups). Holders never
// park, yield or reach a safepoint while holding it, so a stop-the-world
// never finds it held by a stopped goroutine; a waiter spins with `pause`,
// then yields the thread in case the holder's thread was descheduled.
#pragma once

#include <sched.h>

#include <atomic>

namespace gc::detail {

class SpinLock final {
 public:
  void lock() {
    for (int i = 0;; i++) {
      if (!locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire)) return;
      if (i < kSpinRounds)
        __builtin_ia32_pause();
      else
        sched_yield();
    }
  }
  bool try_lock() { return !locked_.load(std::memory_order_relaxed) && !locked_.exchange(true, std::memory_order_acquire); }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  static constexpr int kSpinRounds = 200;  // ~ a few microseconds of pause before yielding
  std::atomic<bool> locked_{false};
};

}  // namespace gc::detail
