// base.h — small building blocks shared by every runtime file: branch hints,
// the fatal-error macro, monotonic time, a spin lock and a futex-backed Note
// (Go's note: a one-shot sleep/wakeup used to park OS threads).
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#define GORT_LIKELY(x) __builtin_expect(!!(x), 1)
#define GORT_UNLIKELY(x) __builtin_expect(!!(x), 0)

#if defined(__SANITIZE_ADDRESS__)
#define GORT_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define GORT_ASAN 1
#endif
#endif
#ifndef GORT_ASAN
#define GORT_ASAN 0
#endif

namespace gort {

// throw_fatal prints "fatal error: <msg>" like Go's throw and aborts. It is
// used for broken runtime invariants and for misuse Go treats as fatal.
[[noreturn]] void throw_fatal(const char* msg);
[[noreturn]] void throw_fatalf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

#define GORT_THROW(msg) ::gort::throw_fatal(msg)

// nanotime returns CLOCK_MONOTONIC in nanoseconds.
int64_t nanotime();

// cputicks returns the TSC; cheap, used only for fast randomness seeds.
inline uint64_t cputicks() { return __builtin_ia32_rdtsc(); }

inline void cpu_relax() { __builtin_ia32_pause(); }

// SpinLock protects very short critical sections (a few loads and stores).
// It never parks; waiters spin with pause and eventually sched_yield.
class SpinLock final {
 public:
  SpinLock() = default;
  SpinLock(const SpinLock&) = delete;
  SpinLock& operator=(const SpinLock&) = delete;
  void lock() {
    if (GORT_LIKELY(!locked_.exchange(true, std::memory_order_acquire))) return;
    lock_slow();
  }
  bool try_lock() {
    return !locked_.load(std::memory_order_relaxed) &&
           !locked_.exchange(true, std::memory_order_acquire);
  }
  void unlock() { locked_.store(false, std::memory_order_release); }

 private:
  void lock_slow();
  std::atomic<bool> locked_{false};
};

// Note is a one-shot event for OS threads, as Go's note: sleep blocks the
// thread (futex) until wakeup; clear re-arms it. At most one sleeper.
class Note final {
 public:
  void clear() { key_.store(0, std::memory_order_relaxed); }
  void wakeup();
  void sleep();
  // timed_sleep returns true if woken, false on timeout (ns < 0: forever).
  bool timed_sleep(int64_t ns);
  // is_set reports whether wakeup has happened, without blocking.
  bool is_set() const { return key_.load(std::memory_order_acquire) != 0; }

 private:
  std::atomic<uint32_t> key_{0};
};

// FastRand is a per-thread xorshift generator for victim selection and select
// case order (Go's fastrand).
uint32_t fastrand();
inline uint32_t fastrandn(uint32_t n) {
  return static_cast<uint32_t>((static_cast<uint64_t>(fastrand()) * n) >> 32);
}

}  // namespace gort
