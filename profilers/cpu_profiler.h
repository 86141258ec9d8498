// cpu_profiler.h — the CPU profiler (Go's runtime/pprof StartCPUProfile /
// StopCPUProfile): SIGPROF samples of every runtime thread, by the CPU time
// each thread uses, with the running goroutine's labels.
//
// Usage (one profile at a time, from a goroutine):
//   std::string why;
//   auto prof = profilers::CpuProfiler::start(100, &why);  // null + why if one runs
//   while (!done) { gort::sleep_ms(100); prof->drain(); }
//   profilers::Profile p = prof->stop();                    // samples/count, cpu/nanoseconds
//
// How it works is in cpu_profiler.cpp's opening comment.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "profilers/profile.h"

namespace profilers {

class CpuProfiler final {
 public:
  // kDefaultHz is Go's default sampling rate (runtime/pprof: 100 Hz).
  static constexpr int kDefaultHz = 100;
  // kMaxHz bounds a requested rate: beyond a few kHz the signal handler's
  // own cost dominates what it measures.
  static constexpr int kMaxHz = 10000;

  // start begins profiling every runtime thread at hz samples per second of
  // its CPU time and returns the session, or nullptr with *why set when a
  // profile is already running (or hz is out of range).
  static std::unique_ptr<CpuProfiler> start(int hz, std::string* why);

  // running reports whether a CPU profile is being taken.
  static bool running();

  // drain moves the samples the signal handler has buffered into this
  // session's aggregate. Call it every few hundred milliseconds while the
  // profile runs, so that the fixed-size buffer never fills (samples that
  // find it full are counted as lost, as Go's profBuf does).
  void drain();

  // snapshot returns the profile drained so far, as stop would, without
  // stopping it.
  Profile snapshot() const;

  // stop ends the profile (timers deleted, signals after this are ignored)
  // and returns it: sample types samples/count and cpu/nanoseconds, period
  // cpu/nanoseconds of 1e9/hz, one sample per distinct stack and label set.
  // Samples lost to a full buffer appear as one sample whose stack is the
  // frame `runtime::_LostProfileData()`.
  Profile stop();

  ~CpuProfiler();  // stops the profile if stop() was not called
  CpuProfiler(const CpuProfiler&) = delete;
  CpuProfiler& operator=(const CpuProfiler&) = delete;

 private:
  explicit CpuProfiler(int hz);
  struct Aggregate;
  int hz_;
  int64_t start_wall_ns_;
  int64_t start_mono_ns_;
  int64_t stop_mono_ns_ = 0;
  bool stopped_ = false;
  std::unique_ptr<Aggregate> agg_;
};

}  // namespace profilers
