// gort.h — the goroutine runtime's public API: start the runtime, spawn
// goroutines, yield, sleep, preemption safepoints, goroutine identity and
// labels, blocking system calls. Channels, select and sync primitives have
// their own headers (chan.h, select.h, sync.h); the Asio netpoller is in
// netpoll.h; stop-the-world in stw.h. What observers, profilers and the
// collector may see of the runtime is in goroutine.h, observer.h, threads.h
// and scan.h.
//
// Usage:
//   int main() {
//     return gort::run_main([] {
//       gort::WaitGroup wg;
//       wg.add(1);
//       gort::go([&] { work(); wg.done(); });
//       wg.wait();
//     });
//   }
//
// Goroutines are cooperative at safepoints: channel and lock operations,
// allocation, sleep/yield, and preempt_check(), which CPU-bound loops call.
// sysmon asks a goroutine that has run for 10 ms to yield at its next
// safepoint.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <new>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "runtime/base.h"
#include "runtime/goroutine.h"
#include "runtime/time_histogram.h"

namespace gort {

struct Config {
  int gomaxprocs = 0;               // 0: $GOMAXPROCS, else the CPUs we may run on
  size_t stack_bytes = 0;           // 0: $GORT_STACK_KB or 256 KiB per goroutine slot
  int64_t schedtrace_ms = -1;       // -1: from $GODEBUG=schedtrace=MS
  int scheddetail = -1;             // -1: from $GODEBUG=scheddetail=1
};

// run_main starts the runtime on the calling thread (which becomes M0), runs
// main_fn as the main goroutine and returns its exit code (0) once it returns.
// Goroutines still parked at that point are discarded without unwinding, as
// Go discards them when main returns. Not reentrant; may be called again
// after it returns.
int run_main(std::function<void()> main_fn, Config cfg = {});

// godebug_lookup returns N from the last well-formed key=N in godebug, a
// $GODEBUG value — comma-separated settings read as Go's parsedebugvars
// reads them (N an int32: '-'? digits) — or nullopt. See godebug.cpp.
std::optional<int32_t> godebug_lookup(std::string_view godebug, std::string_view key);

// godebug_int returns godebug_lookup($GODEBUG, key) (schedtrace,
// scheddetail, gctrace …), or dflt when unset.
int64_t godebug_int(const char* key, int64_t dflt);

// on_goroutine reports whether the calling code runs on a goroutine.
bool on_goroutine();

namespace detail {
// alloc_g_for_spawn takes a free G record with a stack and reserves
// closure_bytes at the top of that stack for the closure (*closure_mem);
// start_g makes it runnable with entry(closure) and returns its id. The two
// halves of go() below.
G* alloc_g_for_spawn(size_t closure_bytes, size_t closure_align, void** closure_mem);
int64_t start_g(G* g, void (*entry)(void*), uintptr_t startpc, uintptr_t gopc);
// park_current parks the running goroutine; unlockf(g, arg) runs after the
// goroutine is switched out, on whichever stack the scheduler uses for it,
// and may return false to resume it at once. ready makes a parked goroutine
// runnable. The building blocks of every blocking primitive (channels,
// sync, netpoll).
void park_current(bool (*unlockf)(G*, void*), void* arg, WaitReason reason);
void ready(G* g);
template <class F>
void invoke_and_destroy(void* p) {
  F* f = static_cast<F*>(p);
  (*f)();
  f->~F();
}
}  // namespace detail

// go starts f on a new goroutine (Go's `go f()`). The closure is moved onto
// the new goroutine's own stack, so spawning allocates nothing on the heap.
// Returns the new goroutine's id.
template <class F>
__attribute__((noinline)) int64_t go(F&& f) {
  using Fn = std::decay_t<F>;
  void* mem;
  G* g = detail::alloc_g_for_spawn(sizeof(Fn), alignof(Fn), &mem);
  new (mem) Fn(std::forward<F>(f));
  return detail::start_g(g, &detail::invoke_and_destroy<Fn>,
                         reinterpret_cast<uintptr_t>(&detail::invoke_and_destroy<Fn>),
                         reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
}

// yield puts the calling goroutine at the back of its P's local run queue
// and runs something else (Go's runtime.Gosched, which uses the global
// queue instead: the local queue keeps a yield lock-free, ~40 ns; other Ps
// still get the G by stealing, and the global queue is still served every
// 61st scheduling round). Preempted goroutines do go to the global queue.
void yield();

// sleep_for parks the calling goroutine for at least d (Go's time.Sleep).
void sleep_for(std::chrono::nanoseconds d);
inline void sleep_ms(int64_t ms) { sleep_for(std::chrono::milliseconds(ms)); }

// preempt_check is the explicit safepoint for CPU-bound loops: if sysmon or
// a stop-the-world asked this goroutine to yield, it yields. Costs one call,
// two loads and a predictable branch otherwise.
namespace detail {
// curg returns the running G (nullptr off-goroutine). Deliberately out of
// line: a goroutine may resume on another OS thread after any call that
// parks, while compilers treat a thread_local's address as constant within
// a function — an inlined TLS read after a migration would read the old
// thread's slot.
G* curg() noexcept;
void preempt_check();
}  // namespace detail

inline void preempt_check() { detail::preempt_check(); }

// current_g returns the running goroutine (nullptr off-goroutine).
G* current_g();
// goid returns the running goroutine's id (0 off-goroutine).
int64_t goid();
int gomaxprocs();
int64_t num_goroutine();

// LabelSet is a goroutine's profiler labels (pprof.Do / SetGoroutineLabels):
// key/value pairs that the CPU and goroutine profiles attach to samples.
using LabelSet = std::vector<std::pair<std::string, std::string>>;

// set_labels replaces the running goroutine's labels; goroutines it starts
// afterwards inherit them (sharing one immutable copy). An empty set clears
// them. No effect off-goroutine.
void set_labels(LabelSet labels);
// get_labels returns a copy of the running goroutine's labels.
LabelSet get_labels();

struct SharedLabels;
// SharedLabelSet is an immutable label set built once and installed many
// times (a server's per-route labels): set_shared_labels costs one atomic
// increment instead of an allocation and a copy.
class SharedLabelSet final {
 public:
  explicit SharedLabelSet(LabelSet labels);
  ~SharedLabelSet();
  SharedLabelSet(const SharedLabelSet&) = delete;
  SharedLabelSet& operator=(const SharedLabelSet&) = delete;

 private:
  friend void set_shared_labels(const SharedLabelSet& labels);
  SharedLabels* shared_;  // holds one reference for the handle's lifetime
};
// set_shared_labels replaces the running goroutine's labels with a shared set.
void set_shared_labels(const SharedLabelSet& labels);

// BlockingSection marks a region in which the goroutine makes a blocking
// system call (Go's entersyscall/exitsyscall). sysmon hands the P to another
// M if the section lasts long, so other goroutines keep running.
//
// The rule Go has for system calls holds here too: code inside a
// BlockingSection does not touch the collected heap and does not park (no
// channel, lock or sleep operations). The collector may scan the goroutine's
// stack while it sits in the section: entry records the stack pointer and
// the callee-saved registers, and everything above that point is treated as
// frozen (scan.h).
class BlockingSection final {
 public:
  __attribute__((noinline)) BlockingSection();  // out of line: see syscall.cpp
  ~BlockingSection();
  BlockingSection(const BlockingSection&) = delete;
  BlockingSection& operator=(const BlockingSection&) = delete;

 private:
  bool entered_ = false;  // false off-goroutine and inside a stop-the-world function
};

// Scheduler statistics, all monotonically increasing counters or snapshots.
struct SchedStats {
  int gomaxprocs = 0;
  int64_t goroutines = 0;            // live (not dead) goroutines
  int64_t threads = 0;               // Ms created
  int64_t idle_procs = 0;
  int64_t spinning_threads = 0;
  int64_t idle_threads = 0;
  int64_t global_runq = 0;
  std::vector<int64_t> local_runq;   // per P
  uint64_t goroutines_created = 0;
  uint64_t steals = 0;               // successful steal_half operations
  uint64_t stolen_gs = 0;
  uint64_t preempt_requests = 0;     // sysmon/STW requests
  uint64_t preemptions = 0;          // requests honoured at a safepoint
  int64_t preempt_latency_max_ns = 0;
  uint64_t preempt_latency_sum_ns = 0;
  uint64_t handoffs = 0;             // Ps retaken from blocking sections
  uint64_t context_switches = 0;    // times a goroutine was switched in
  uint64_t stw_count = 0;
  int64_t stw_max_ns = 0;            // longest time-to-stop
  uint64_t netpoll_polls = 0;
  int64_t stack_slots = 0;           // stack slots carved (one per G record)
  int64_t stack_slot_bytes = 0;      // size of each slot
};
SchedStats sched_stats();

// Scheduling latency histogram (runnable -> running), buckets in seconds.
// Upper bounds: kLatencyBoundsSeconds; counts has one more slot for +Inf.
// Sampled: one in eight transitions out of running is timed (as Go).
inline constexpr int kLatencyBuckets = 12;
extern const double kLatencyBoundsSeconds[kLatencyBuckets];
struct LatencyHistogram {
  uint64_t counts[kLatencyBuckets + 1] = {};
  double sum_seconds = 0;
  uint64_t total = 0;
};
LatencyHistogram sched_latency();

// sched_latency_distribution returns the same sampled runnable -> running
// latencies in Go's own buckets (time_histogram.h; Go 1.19's
// /sched/latencies:seconds, sched.timeToRun). Lock-free.
TimeHistogramCounts sched_latency_distribution();

}  // namespace gort
