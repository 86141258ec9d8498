// base.h — small building blocks shared by every runtime file: branch hints,
// the fatal-error macro, monotonic time, the runtime lock and a futex-backed Note
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

#if defined(__SANITIZE_THREAD__)
#define GORT_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define GORT_TSAN 1
#endif
#endif
#ifndef GORT_TSAN
#define GORT_TSAN 0
#endif

// GORT_RACY_SNAPSHOT marks a function that reads fields other threads write,
// without synchronizing, on purpose: goroutine dumps and diagnostics take a
// best-effort snapshot of running goroutines, as Go's runtime does (its
// tracebacks and schedtrace read other Gs unsynchronized). ThreadSanitizer
// does not instrument the function's own accesses; each use says why its
// reads are allowed to race.
#define GORT_RACY_SNAPSHOT __attribute__((no_sanitize("thread")))

namespace gort {

// throw_fatal prints "fatal error: <msg>" like Go's throw and aborts. It is
// used for broken runtime invariants and for misuse Go treats as fatal.
[[noreturn]] void throw_fatal(const char* msg);
[[noreturn]] void throw_fatalf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

#define GORT_THROW(msg) ::gort::throw_fatal(msg)

// nanotime returns CLOCK_MONOTONIC in nanoseconds.
int64_t nanotime();

// cputicks returns the TSC: ~10 ns, monotonic per CPU; used for latency
// sampling (converted with the calibration in stats.cpp) and random seeds.
inline uint64_t cputicks() { return __builtin_ia32_rdtsc(); }

inline void cpu_relax() { __builtin_ia32_pause(); }

// RuntimeLock is the runtime's internal mutex (after Go's lock_futex.go): a
// futex word with three states — unlocked, locked, locked with sleepers.
// lock() takes it with one exchange when free; a contended lock spins
// briefly (the holder is usually on another CPU and about to release),
// yields the CPU once, then sleeps on the futex, so a thread waiting behind
// a preempted holder costs no CPU. Critical sections are a few dozen
// instructions; a goroutine never parks while holding one (park's unlock
// function releases them after the switch). Not recursive.
//
// unlock() is a plain release store unless the word says someone sleeps —
// channel operations lock and unlock once each, and a locked instruction on
// every unlock measurably slows the channel hand-off (about a tenth of a
// round trip). The price: a waiter that marks the word "sleeping" just
// after the unlocker read it may miss its wake-up. Sleepers therefore sleep
// at most kLockSleepSliceNs before looking again, so a missed wake-up costs
// one slice in a narrow race, never a hang. Go's exchange-on-unlock was
// rejected for that cost; spinning with sched_yield forever (the previous
// SpinLock) because under CPU oversubscription a waiter whose holder was
// descheduled burns its whole time slice yielding; std::mutex because its
// unlock is an exchange too and it cannot be inlined.
class RuntimeLock final {
 public:
  RuntimeLock() = default;
  RuntimeLock(const RuntimeLock&) = delete;
  RuntimeLock& operator=(const RuntimeLock&) = delete;

  // lock acquires the lock, spinning and then sleeping on a futex while
  // another thread holds it.
  void lock() {
    uint32_t v = key_.exchange(kLocked, std::memory_order_acquire);
    if (GORT_LIKELY(v == kUnlocked)) return;
    lock_slow(v);
  }
  // try_lock acquires the lock if it is free; never waits.
  bool try_lock() {
    uint32_t v = kUnlocked;
    return key_.compare_exchange_strong(v, kLocked, std::memory_order_acquire, std::memory_order_relaxed);
  }
  // unlock releases the lock and wakes one sleeper, if any.
  void unlock() {
    if (GORT_UNLIKELY(key_.load(std::memory_order_relaxed) == kSleeping)) return unlock_and_wake();
    key_.store(kUnlocked, std::memory_order_release);
  }

 private:
  static constexpr uint32_t kUnlocked = 0;
  static constexpr uint32_t kLocked = 1;
  static constexpr uint32_t kSleeping = 2;  // locked, and a thread may sleep on key_
  void lock_slow(uint32_t v);
  void unlock_and_wake();
  std::atomic<uint32_t> key_{kUnlocked};  // atomic: kUnlocked, kLocked or kSleeping
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
