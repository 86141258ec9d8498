// flight_recorder.h — Go 1.25's flight recorder (runtime/trace.FlightRecorder)
// for gort: an execution trace that runs all the time into bounded memory
// and keeps only its recent past, so that when something goes wrong — a
// slow request, an operator's hunch — the last few seconds can be written
// out as a trace file `go tool trace` opens.
//
//   auto fr = profilers::FlightRecorder::start({.window_ns = 10'000'000'000}, &why);
//   std::string file = fr->snapshot(&why);   // at least the last 10 s (or all since start)
//
// How. The recorder holds the process's one execution trace (tracer.h) and
// a goroutine that collects its batches every 50 ms. Every window/4 it
// makes a cut (ExecutionTracer::cut: a brief stop-the-world that declares
// the state of every goroutine in a side prologue), so the history is a
// list of segments, each beginning at a cut. A snapshot makes one more cut
// and writes the file from the newest cut at least `window` old
// (trace_window.h), so a snapshot covers between window and 1.25 × window.
// Segments older than that are dropped, and the oldest go too whenever the
// history exceeds max_bytes (then a snapshot covers less than the window).
//
// Go 1.25's recorder works on the generation-based format of Go 1.22, where
// every generation restates the world; Go 1.19's format has no such
// points, hence the cuts. Rejected: keeping whole traces, stopped and
// restarted every window (a snapshot would cover anything from nothing to
// one window back); rewriting state from the events themselves (the
// tracer already knows every goroutine's state at a stop-the-world).
//
// The stack table of the trace only grows, so when it is half full the
// recorder starts a fresh trace (the history so far is dropped).
//
// While the recorder runs, a regular trace (ExecutionTracer::start) is
// refused: record() takes one from the recorder instead.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace profilers {

class FlightRecorder final {
 public:
  struct Options {
    int64_t window_ns = 10'000'000'000;  // Go's MinAge: how far back a snapshot reaches
    uint64_t max_bytes = 64 << 20;       // Go's MaxBytes: bound on the history kept
  };
  // start begins recording; null with *why when an execution trace is
  // already running or the options are out of range. Call on a goroutine.
  static std::unique_ptr<FlightRecorder> start(const Options& opts, std::string* why);

  // snapshot returns a trace file (Go 1.19 format) of the recent past:
  // the last window, or everything since the start if younger. "" with
  // *why on failure. Stops the world briefly; serialized with other
  // snapshots and the recorder's own work (parks the caller meanwhile).
  std::string snapshot(std::string* why);

  // record returns a trace file of the next `ns` nanoseconds, taken from
  // the recorder's trace (the /debug/pprof/trace endpoint while recording).
  // should_stop, polled every 50 ms, ends it early (a client hung up).
  std::string record(int64_t ns, const std::function<bool()>& should_stop, std::string* why);

  // stop ends recording (idempotent; the destructor calls it).
  void stop();

  struct Stats {
    uint64_t segments = 0;       // cuts kept
    uint64_t bytes = 0;          // history kept, in bytes
    uint64_t snapshots = 0;      // files written
    uint64_t restarts = 0;       // fresh traces begun because the stack table filled
    uint64_t cuts = 0;           // cuts made
    uint64_t dropped_bytes = 0;  // history dropped as too old or over max_bytes
    int64_t oldest_ns = 0;       // age of the oldest cut kept
    int64_t last_cut_ns = 0;     // how long the last cut took (the world stopped for most of it)
  };
  Stats stats() const;

  ~FlightRecorder();
  FlightRecorder(const FlightRecorder&) = delete;
  FlightRecorder& operator=(const FlightRecorder&) = delete;

  struct State;  // flight_recorder.cpp

 private:
  explicit FlightRecorder(std::shared_ptr<State> s) : s_(std::move(s)) {}
  std::shared_ptr<State> s_;
};

// active_flight_recorder returns the running recorder, or null.
FlightRecorder* active_flight_recorder();

}  // namespace profilers
