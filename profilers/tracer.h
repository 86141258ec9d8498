// tracer.h — the execution tracer: Go 1.19's `runtime/trace` for gort. It
// records what the scheduler and the collector do (every goroutine
// transition, procs, syscalls, GC phases, sweeps, heap size and goal, user
// tasks, regions and logs, CPU samples when a CPU profile runs too) in the
// binary format `go tool trace` reads (shared/reference/go-trace-format.md).
//
//   std::string why;
//   auto t = profilers::ExecutionTracer::start(&why);  // null + why if one runs
//   std::string chunk;
//   while (!done) { t->read(&chunk); send(chunk); chunk.clear(); gort::sleep_for(50ms); }
//   t->stop();
//   while (t->read(&chunk)) { send(chunk); chunk.clear(); }
//
// The trace streams: read hands out the header and every full 64 KiB batch
// as soon as it is written, so a long trace never sits in memory; after
// stop it hands out the rest (the last batches, the stack and string
// dictionaries, the tick frequency). One trace at a time, process-wide.
// start and stop stop the world briefly and wait for a running GC cycle to
// end; call both on a goroutine.
//
// User annotations (Go's trace.NewTask, trace.WithRegion, trace.Log) cost a
// relaxed load and a branch when no trace runs.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace profilers {

class ExecutionTracer final {
 public:
  // start begins a trace; returns null and sets *why if one is running.
  static std::unique_ptr<ExecutionTracer> start(std::string* why);
  // running reports whether a trace is being taken.
  static bool running();

  // read appends the trace bytes ready so far to *out without blocking;
  // returns false once stop has been called and every byte has been read.
  bool read(std::string* out);
  // stop ends the trace: every goroutine still running is shown as
  // yielding, open sweeps are closed, and the dictionaries are written.
  // Idempotent; the destructor calls it.
  void stop();

  // ---- Cuts: for trace files taken out of a running trace (flight_recorder.h) ----

  // Cut is a point of the running trace where a trace file may begin or
  // end. A file from cut A to cut B is: the header, A.prologue, every
  // batch written between A and B (the bytes take_batches handed out after
  // A, then B.before) rewritten by trace_window.h with A.seqs, B.epilogue,
  // and the dictionaries.
  struct Cut {
    struct Seq {
      uint64_t goid;  // a goroutine the prologue declares
      uint64_t base;  // its last sequence number in the stream at the cut
      uint64_t decl;  // its sequence number after the prologue's declaration
    };
    int64_t ts = 0;        // when (event clock)
    std::string before;    // batches written before the cut and not yet taken
    std::string prologue;  // batches declaring every goroutine and P, as a start would
    std::string epilogue;  // batches closing what is open, as a stop would
    std::vector<Seq> seqs; // sorted by goid
    uint64_t gc_seq = 0;   // GCStart's sequence number for the next cycle (a file's first is 0)
  };
  // cut makes a Cut (empty once stopped). Stops the world briefly, waits
  // for a running GC cycle to end, and holds P-less threads that wake
  // goroutines for as long as it walks the goroutines; call on a goroutine.
  void cut(Cut* out);
  // take_batches appends the whole batches written so far and not yet
  // taken (no header, no dictionaries). Use either it or read, not both.
  void take_batches(std::string* out);
  // dictionaries_so_far returns the Stack and String records and the
  // frequency for every id the trace has used so far, while it runs.
  std::string dictionaries_so_far() const;

  // Statistics of the trace so far.
  struct Stats {
    uint64_t events = 0;          // events written
    uint64_t bytes = 0;           // bytes handed to read (so far)
    uint64_t stacks = 0;          // distinct stacks
    uint64_t dropped = 0;         // events left out because the stack table was full
    uint64_t inconsistent = 0;    // transitions that contradicted the tracer's state (a runtime bug)
    uint64_t peak_queued_bytes = 0;  // most bytes ever waiting for read
  };
  Stats stats() const;

  ~ExecutionTracer();
  ExecutionTracer(const ExecutionTracer&) = delete;
  ExecutionTracer& operator=(const ExecutionTracer&) = delete;

 private:
  ExecutionTracer() = default;
  bool stopped_ = false;
  bool header_sent_ = false;
  bool drained_ = false;
};

// ---- User annotations (runtime/trace's NewTask, WithRegion, Log) ----

// TraceTask is a task (trace.NewTask … task.End()): created at construction,
// ended at destruction, on the calling goroutine. Goroutines it creates
// while a region of it is open join it in `go tool trace`'s task views.
class TraceTask final {
 public:
  explicit TraceTask(std::string_view name, uint64_t parent = 0);
  ~TraceTask();
  uint64_t id() const { return id_; }  // 0 when no trace was running at creation
  TraceTask(const TraceTask&) = delete;
  TraceTask& operator=(const TraceTask&) = delete;

 private:
  uint64_t id_ = 0;
  uint64_t trace_ = 0;  // the trace it was created in
};

// TraceRegion is a region of the calling goroutine (trace.StartRegion …
// region.End()) inside task `task` (0 for none). Regions nest per goroutine.
class TraceRegion final {
 public:
  TraceRegion(uint64_t task, std::string_view name);
  ~TraceRegion();
  TraceRegion(const TraceRegion&) = delete;
  TraceRegion& operator=(const TraceRegion&) = delete;

 private:
  uint64_t task_;
  uint64_t name_ = 0;   // string id in trace_
  uint64_t trace_ = 0;  // the trace it was opened in; 0 if none
};

// trace_log records a log message (trace.Log) under task (0 for none).
void trace_log(uint64_t task, std::string_view key, std::string_view message);

namespace detail {
// CPU samples from the CPU profiler reach a running trace here: ts in
// nanotime, p −1 if none, goid 0 if none, pcs innermost first as the
// profiler captured them.
void trace_cpu_sample(int64_t ts, int p, int64_t goid, const uintptr_t* pcs, int n);
}  // namespace detail

}  // namespace profilers
