// profile.h — a profile as the profilers build it, before it is encoded:
// sample types, samples (a stack of program counters, one value per sample
// type, labels), the period, and when it was taken. Every profile gort serves
// (cpu, heap, allocs, goroutine, block, mutex, threadcreate) is built as a
// Profile and written by encode_pprof (pprof_proto.cpp) as the gzipped
// profile.proto that `go tool pprof` reads; deltas (`seconds=N`) are
// computed on this model (subtract_profiles), not on the wire form.
//
// Stacks hold return addresses, innermost first, as a frame-pointer walk
// finds them: each is symbolized at pc-1 (inside the call instruction), as
// Go's CallersFrames does. A leaf that is not a return address (the PC a
// SIGPROF interrupted) is stored as pc+1, so every entry means the same.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace profilers {

using Labels = std::vector<std::pair<std::string, std::string>>;
using NumLabels = std::vector<std::pair<std::string, int64_t>>;

struct ValueType {
  std::string type;  // "samples", "cpu", "alloc_space" …
  std::string unit;  // "count", "nanoseconds", "bytes" …
};

struct Sample {
  std::vector<uintptr_t> stack;  // return addresses, innermost first
  std::vector<int64_t> values;   // one per Profile::sample_types
  Labels labels;                 // string labels (goroutine labels)
  NumLabels num_labels;          // numeric labels (the heap's "bytes")
};

struct Profile {
  std::vector<ValueType> sample_types;
  std::string default_sample_type;  // empty: pprof's default (the last type)
  ValueType period_type;
  int64_t period = 0;
  int64_t time_nanos = 0;      // wall clock (Unix ns) when collection started
  int64_t duration_nanos = 0;  // 0 for instantaneous profiles
  std::vector<std::string> comments;
  std::vector<Sample> samples;
};

// encode_pprof returns p as a gzipped profile.proto: string table, sample
// types, samples with labels, locations (one per distinct PC, with its
// inlined frames as lines), functions (demangled names, file, start line),
// and mappings from /proc/self/maps with GNU build IDs. Symbolizes through
// Symbolizer::global() (symbolize.h). Call from a goroutine or a plain
// thread, never from a signal handler.
std::string encode_pprof(const Profile& p);

// subtract_profiles returns `after - before` for two profiles of the same
// kind (Go's net/http/pprof delta profiles, `seconds=N`): samples are
// matched by stack and labels, values subtracted, samples whose values all
// become zero dropped; time and period come from `after`, duration is the
// time between the two.
Profile subtract_profiles(const Profile& after, const Profile& before);

}  // namespace profilers
