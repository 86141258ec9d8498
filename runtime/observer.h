// observer.h — how the execution tracer, the profilers and metrics watch the
// scheduler: event callbacks (SchedObserver), one clock for every event, and
// goroutine labels read without locks.
//
// Events. Any number of observers may be attached at once (the tracer and a
// profiler run together); add_observer and remove_observer are safe at any
// moment, from any thread or goroutine, while events fire on other threads.
// After remove_observer returns, no thread is inside, or will enter, one of
// that observer's callbacks, so it may be destroyed. With no observer
// attached an event site costs one relaxed load and a predictable branch.
//
// Callbacks run on the thread where the event happens — a goroutine's
// stack, an M's scheduler stack (g0) or sysmon's thread — sometimes with no
// P, and never with sched.lock held except for on_proc_stop when an M idles
// its P (so that the stop precedes the next holder's on_proc_start; events
// about P p fire only on the thread that holds p or has just taken it). on_go_block runs while the parking
// goroutine's wait-queue lock (a channel's, a semaphore root's — leaf locks)
// is still held, so that no wake-up event can precede the block event, as
// in Go's park_m. Callbacks must not block, park, spawn, ready goroutines,
// attach or detach observers, or allocate from the collected heap; they may
// take their own leaf locks and allocate with malloc. Every event carries `ts`, event_clock_ns() read once when the
// event happened: one monotonic clock shared by all Ms, so events from
// different threads order correctly.
//
// The event vocabulary is Go 1.19's execution-trace events (trace.go),
// which is what the tracer writes:
//   on_go_create     GoCreate      g created by parent (parent may be null)
//   on_go_start      GoStart       g starts running on P p
//   on_go_block      GoBlock*      g parked with reason r; it is switched out,
//                                  so its saved frame (goroutine.h) is valid
//   on_go_unblock    GoUnblock     g made runnable by `by` (null: by the
//                                  runtime — a timer, the netpoller)
//   on_go_sched      GoSched       g yielded
//   on_go_preempt    GoPreempt     g preempted at a safepoint
//   on_go_end        GoEnd         g exited
//   on_go_syscall_enter  GoSysCall  g entered a BlockingSection
//   on_go_syscall_block  GoSysBlock the goroutine in a blocking section on
//                                  P p lost p — sysmon retook it or a
//                                  stop-the-world stopped it — fired by the
//                                  taker, followed by on_proc_stop(p); the
//                                  goroutine's own later events wait for it
//   on_go_syscall_exit   GoSysExit  g left its BlockingSection; lost_p: it
//                                  found no P and was queued runnable (the
//                                  event fires when it is on the run queue)
//   on_proc_start / on_proc_stop   ProcStart / ProcStop: an M takes / drops P p
//   on_stw_start / on_stw_done     STWStart / STWDone, with the reason
//   on_thread_start / on_thread_exit  run *on* the thread that starts or
//                                  exits (threads.h), so per-thread resources
//                                  such as a CPU timer can be created there
// and the collector's (gc/ emits them through emit_gc_event below; the
// runtime itself knows nothing of the heap):
//   on_gc_start / on_gc_done       GCStart / GCDone: cycle seq begins / ends
//   on_gc_stw_start / _done        GCSTWStart / GCSTWDone: the collector's
//                                  stop-the-world phases, kind 1 = sweep
//                                  termination, 0 = mark termination (the
//                                  generic on_stw_* above fire as well)
//   on_gc_sweep_start / _done      GCSweepStart / GCSweepDone, around one
//                                  uninterrupted run of span sweeping by one
//                                  goroutine (it never parks or yields in
//                                  between, so it stays on one P)
//   on_gc_assist_start / _done     GCMarkAssistStart / Done: the running
//                                  goroutine does mark work it owes
//   on_heap_alloc                  HeapAlloc: live heap bytes (heap_live) at
//                                  each span refill and cycle end
//   on_heap_goal                   HeapGoal: the next cycle's goal changed
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

#include "runtime/goroutine.h"
#include "runtime/gort.h"

namespace gort {

struct ThreadInfo;

class SchedObserver {
 public:
  virtual ~SchedObserver() = default;
  virtual void on_go_create(int64_t /*ts*/, G* /*g*/, G* /*parent*/) {}
  virtual void on_go_start(int64_t /*ts*/, G* /*g*/, int32_t /*p*/) {}
  virtual void on_go_block(int64_t /*ts*/, G* /*g*/, WaitReason /*r*/) {}
  virtual void on_go_unblock(int64_t /*ts*/, G* /*g*/, G* /*by*/) {}
  virtual void on_go_sched(int64_t /*ts*/, G* /*g*/) {}
  virtual void on_go_preempt(int64_t /*ts*/, G* /*g*/) {}
  virtual void on_go_end(int64_t /*ts*/, G* /*g*/) {}
  virtual void on_go_syscall_enter(int64_t /*ts*/, G* /*g*/) {}
  virtual void on_go_syscall_block(int64_t /*ts*/, int32_t /*p*/) {}
  virtual void on_go_syscall_exit(int64_t /*ts*/, G* /*g*/, bool /*lost_p*/) {}
  virtual void on_proc_start(int64_t /*ts*/, int32_t /*p*/, int64_t /*m*/) {}
  virtual void on_proc_stop(int64_t /*ts*/, int32_t /*p*/) {}
  virtual void on_stw_start(int64_t /*ts*/, const char* /*reason*/) {}
  virtual void on_stw_done(int64_t /*ts*/) {}
  virtual void on_thread_start(int64_t /*ts*/, const ThreadInfo& /*t*/) {}
  virtual void on_thread_exit(int64_t /*ts*/, const ThreadInfo& /*t*/) {}
  virtual void on_gc_start(int64_t /*ts*/, uint32_t /*seq*/) {}
  virtual void on_gc_done(int64_t /*ts*/) {}
  virtual void on_gc_stw_start(int64_t /*ts*/, int /*kind*/) {}
  virtual void on_gc_stw_done(int64_t /*ts*/) {}
  virtual void on_gc_assist_start(int64_t /*ts*/) {}
  virtual void on_gc_assist_done(int64_t /*ts*/) {}
  virtual void on_gc_sweep_start(int64_t /*ts*/) {}
  virtual void on_gc_sweep_done(int64_t /*ts*/, uint64_t /*swept_bytes*/, uint64_t /*reclaimed_bytes*/) {}
  virtual void on_heap_alloc(int64_t /*ts*/, uint64_t /*bytes*/) {}
  virtual void on_heap_goal(int64_t /*ts*/, uint64_t /*bytes*/) {}
};

// GcEvent names the collector's events for emit_gc_event.
enum class GcEvent : uint8_t {
  Start, Done, StwStart, StwDone, AssistStart, AssistDone, SweepStart, SweepDone, HeapAlloc, HeapGoal
};
// Kinds of GcEvent::StwStart (Go's trace.go: traceGCSTWStart).
inline constexpr uint64_t kGcStwMarkTermination = 0;
inline constexpr uint64_t kGcStwSweepTermination = 1;

// emit_gc_event delivers one collector event to every observer (a, b: the
// event's arguments in the order of its callback). One relaxed load and a
// branch when nobody observes.
void emit_gc_event(GcEvent e, uint64_t a = 0, uint64_t b = 0);
// observers_attached reports whether any observer is attached (so an
// emitter can skip computing arguments).
bool observers_attached();

// add_observer attaches o; events that start after it returns reach o.
// Attaching the same observer twice is a fatal error.
void add_observer(SchedObserver* o);
// remove_observer detaches o and waits until no thread is inside one of its
// callbacks. Must not be called from inside a callback. Removing an observer
// that is not attached is a no-op.
void remove_observer(SchedObserver* o);

// observer_p returns, inside a callback, the id of the P the calling thread
// holds (a goroutine's, or g0's between goroutines), or -1 when it holds
// none (sysmon, the netpoller, an M inside a BlockingSection, a plain
// thread). Events about a P that the thread does not hold carry that P as
// an argument. No lock.
int observer_p();

// event_clock_ns is the clock of every event's ts: CLOCK_MONOTONIC in ns,
// the same as nanotime().
inline int64_t event_clock_ns() { return nanotime(); }

// ---- Contention hooks (the block and mutex profiles) ----

// BlockHook receives one contention event: how long, and why.
using BlockHook = void (*)(int64_t delay_ns, WaitReason reason);

// set_block_hook installs h (nullptr removes it) for the block profile (Go's
// blockevent): it is called on the goroutine that resumes after blocking in
// a channel send or receive, a select, a netpoll wait or a sync primitive,
// with the nanoseconds from the moment it queued to the moment a waker
// readied it. Runs on the resumed goroutine, so the profiler can take its
// stack; filter by reason (Go's block profile leaves out IO wait). Waits of
// plain OS threads in sync primitives are not reported. nanotime() is read
// only while a hook is set. Returns the previous hook.
BlockHook set_block_hook(BlockHook h);

// set_mutex_hook installs h for the mutex profile (Go's mutexevent): called
// from the unlocking side of Mutex and RWMutex when it wakes a waiter that
// queued while the hook was set, with the delay that waiter accumulated
// since it queued or since the previous wake-up of the same lock, whichever
// is later, so no delay is charged twice. Runs on the unlocker. Returns the
// previous hook.
BlockHook set_mutex_hook(BlockHook h);

namespace detail {
extern std::atomic<BlockHook> g_block_hook;  // atomic
extern std::atomic<BlockHook> g_mutex_hook;  // atomic
}  // namespace detail

// ---- Labels for profilers ----

// current_labels_for_signal returns the labels of the goroutine running on
// the calling thread, or nullptr when there are none or the thread is not on
// a goroutine stack. For a signal handler (SIGPROF): no lock, no allocation,
// no reference count. The set stays valid until the handler returns — a
// goroutine replaces its own labels only from its own thread, which the
// handler has interrupted.
const LabelSet* current_labels_for_signal();

// read_labels calls fn with g's current labels (empty if none) from any
// thread, without stopping g. The set is protected from reclamation for the
// duration of fn (a hazard pointer; foreign readers are serialized, so fn
// must be short and must not call read_labels).
void read_labels(const G* g, const std::function<void(const LabelSet&)>& fn);

}  // namespace gort
