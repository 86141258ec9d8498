// trace_json.h — TraceJsonConverter: a Go 1.19 execution trace (the
// binary format of /debug/pprof/trace, shared/reference/go-trace-format.md)
// converted while it streams into Chrome trace-event JSON
// ({"traceEvents":[…],"displayTimeUnit":"ns",…}), which Perfetto's UI and
// chrome://tracing open. gortd serves it as /debug/pprof/trace?format=json:
// the tracer's chunks go into feed(), JSON chunks come out of the sink.
//
// What the JSON shows (trace_json.cpp's essay has the details and the
// reasons): a process per P ("Proc 0", …, and "No P" for wake-ups from
// threads without one) with each goroutine's running intervals as slices
// "G<id> <entry function>", its OS thread (M) and CPU samples; a process
// "GC" with GC cycles, stop-the-world phases, sweeps and mark assists per
// P, and the HeapAlloc, HeapGoal and live-goroutine counters; a process
// "User annotations" with tasks and regions as async slices; a process
// "Goroutines" with one thread per goroutine showing it running, runnable
// and waiting (with the reason); flow arrows from each wake-up or go
// statement to the start it enabled; logs, syscalls and wake-ups as small
// markers on the P that emitted them.
//
// Memory is bounded, not proportional to the trace: the first
// kLookaheadBytes of input are held to find the tick frequency and the
// earliest timestamp before anything is written (both are known exactly
// for traces that fit; see trace_json.cpp), then decoded events pass
// through a reorder window of kReorderEvents events that restores time
// order across Ps; per-goroutine and per-P state stays for the whole
// conversion.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace profilers {

// TraceJsonConverter turns a Go 1.19 execution trace, fed in arbitrary chunks, into Chrome trace-event JSON.
class TraceJsonConverter final {
 public:
  using Sink = std::function<bool(std::string_view)>;  // returns false when the client is gone

  // kLookaheadBytes: input held before the first event is written — a
  // few seconds of a busy Go trace, all of a typical one.
  static constexpr size_t kLookaheadBytes = 4 << 20;
  // kReorderEvents: decoded events held to sort them by time across Ps —
  // about four of Go's 64 KiB per-P buffers, about 6 MB.
  static constexpr size_t kReorderEvents = 1 << 16;

  explicit TraceJsonConverter(Sink sink);
  ~TraceJsonConverter();
  TraceJsonConverter(const TraceJsonConverter&) = delete;
  TraceJsonConverter& operator=(const TraceJsonConverter&) = delete;

  // feed consumes the next bytes of the binary trace (any split, even mid-record); returns false on a sink
  // failure or malformed input (error() says why).
  bool feed(std::string_view bytes);
  // finish flushes everything (metadata such as goroutine names known only once Stack records arrived at the
  // end), closes the JSON; false on sink failure or a truncated trace.
  //
  // After malformed input, finish still writes what came before the bad
  // record and closes the document (with the error under "otherData"),
  // so a client receives parseable JSON; it returns false. Call it once.
  bool finish();
  const std::string& error() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace profilers
