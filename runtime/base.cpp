// base.cpp — fatal errors, time, the RuntimeLock slow path, futex Note, fastrand.
#include "runtime/base.h"

#include <linux/futex.h>
#include <sched.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>

namespace gort {

void throw_fatal(const char* msg) {
  std::fprintf(stderr, "fatal error: %s\n", msg);
  std::fflush(stderr);
  std::abort();
}

void throw_fatalf(const char* fmt, ...) {
  std::fputs("fatal error: ", stderr);
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fputc('\n', stderr);
  std::fflush(stderr);
  std::abort();
}

int64_t nanotime() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

namespace {

long futex(std::atomic<uint32_t>* addr, int op, uint32_t val, const timespec* ts) {
  return syscall(SYS_futex, reinterpret_cast<uint32_t*>(addr), op | FUTEX_PRIVATE_FLAG, val, ts, nullptr, 0);
}

// Contended RuntimeLock: spin rounds and pauses per round before yielding
// and sleeping (Go's active_spin = 4, active_spin_cnt = 30, passive_spin = 1).
constexpr int kLockActiveSpinRounds = 4;
constexpr int kLockActiveSpinPauses = 30;
constexpr int kLockPassiveSpinRounds = 1;
// A sleeper re-checks the lock this often: the bound on a missed wake-up
// (see RuntimeLock in base.h).
constexpr int64_t kLockSleepSliceNs = 100'000;

}  // namespace

// lock_slow is Go's lock2 after the first exchange failed; v is what that
// exchange found (kLocked or kSleeping). The state we install on success
// must keep kSleeping if anyone may be asleep, so wake-ups are never lost:
// having exchanged kLocked over kSleeping, we reinstate kSleeping.
void RuntimeLock::lock_slow(uint32_t v) {
  uint32_t wait = v;
  for (;;) {
    for (int i = 0; i < kLockActiveSpinRounds; i++) {
      for (uint32_t k = key_.load(std::memory_order_relaxed); k == kUnlocked; k = key_.load(std::memory_order_relaxed))
        if (key_.compare_exchange_weak(k, wait, std::memory_order_acquire, std::memory_order_relaxed)) return;
      for (int p = 0; p < kLockActiveSpinPauses; p++) cpu_relax();
    }
    for (int i = 0; i < kLockPassiveSpinRounds; i++) {
      for (uint32_t k = key_.load(std::memory_order_relaxed); k == kUnlocked; k = key_.load(std::memory_order_relaxed))
        if (key_.compare_exchange_weak(k, wait, std::memory_order_acquire, std::memory_order_relaxed)) return;
      sched_yield();
    }
    // Sleep; an unlocker that sees kSleeping wakes one sleeper.
    if (key_.exchange(kSleeping, std::memory_order_acquire) == kUnlocked) return;
    wait = kSleeping;
    const timespec slice{0, kLockSleepSliceNs};
    futex(&key_, FUTEX_WAIT, kSleeping, &slice);
  }
}

void RuntimeLock::unlock_and_wake() {
  key_.store(kUnlocked, std::memory_order_release);
  futex(&key_, FUTEX_WAKE, 1, nullptr);
}

void Note::wakeup() {
  if (key_.exchange(1, std::memory_order_release) != 0) GORT_THROW("notewakeup: double wakeup");
  futex(&key_, FUTEX_WAKE, 1, nullptr);
}

void Note::sleep() { timed_sleep(-1); }

bool Note::timed_sleep(int64_t ns) {
  int64_t deadline = ns >= 0 ? nanotime() + ns : 0;
  while (key_.load(std::memory_order_acquire) == 0) {
    if (ns < 0) {
      futex(&key_, FUTEX_WAIT, 0, nullptr);
      continue;
    }
    int64_t left = deadline - nanotime();
    if (left <= 0) return key_.load(std::memory_order_acquire) != 0;
    timespec ts{static_cast<time_t>(left / 1'000'000'000), static_cast<long>(left % 1'000'000'000)};
    futex(&key_, FUTEX_WAIT, 0, &ts);
  }
  return true;
}

// Out of line: its thread-local state must be the calling thread's, and a
// goroutine may move between threads (see GORT_TLS_READER).
__attribute__((noinline)) uint32_t fastrand() {
  thread_local uint64_t s = cputicks() | 1;
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return static_cast<uint32_t>(s >> 32);
}

}  // namespace gort
