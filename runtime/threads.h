// threads.h — the thread registry: every OS thread the runtime runs (its Ms
// and sysmon), with its kernel thread id and stack bounds, for profilers (a
// per-thread CPU timer, telling which stack a SIGPROF interrupted, the
// threadcreate profile) and the collector.
//
// Threads appear here when they start and leave when they exit; observers
// (observer.h) get on_thread_start / on_thread_exit on the thread itself.
// M0, the thread that called run_main, is registered for the duration of
// run_main.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>

namespace gort {

enum class ThreadKind : uint8_t {
  M,       // runs goroutines and the scheduler (g0)
  Sysmon,  // the system monitor; runs no goroutines
};

struct ThreadInfo {
  ThreadKind kind = ThreadKind::M;
  int64_t m_id = -1;           // the M's id; -1 for sysmon
  pid_t tid = 0;               // kernel thread id (gettid)
  pthread_t handle{};          // for pthread_getcpuclockid and friends
  uintptr_t stack_lo = 0;      // the thread's own stack — an M's g0 stack
  uintptr_t stack_hi = 0;
  uintptr_t sigstack_lo = 0;   // alternate signal stack (0, 0: none)
  uintptr_t sigstack_hi = 0;
  int64_t start_ns = 0;        // nanotime() when it registered
  // The call stack that created the thread (return addresses, innermost
  // first), for the threadcreate profile. Captured by frame-pointer walk on
  // the creating thread.
  static constexpr int kMaxCreatorPcs = 32;
  int ncreator_pcs = 0;
  uintptr_t creator_pcs[kMaxCreatorPcs] = {};
};

// current_thread returns the calling thread's record, or nullptr for a
// thread the runtime does not run. Async-signal-safe.
const ThreadInfo* current_thread();

// for_each_thread calls fn for every registered thread while holding the
// registry lock (threads cannot start or exit meanwhile); fn must not start
// goroutines or block.
void for_each_thread(const std::function<void(const ThreadInfo&)>& fn);

// threads_created returns how many threads the runtime has started since
// run_main began, M0 and sysmon included.
int64_t threads_created();

}  // namespace gort
