// gc_control.h — the collector's knobs in gortd: GOGC, GOMEMLIMIT and
// GODEBUG=gctrace read from the environment at start with Go's meanings,
// and the /gc endpoint that reads and changes them at run time and forces
// a collection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gortd {

struct GcEnvironment {
  int gogc = 100;                   // -1: off
  int64_t memory_limit = INT64_MAX; // gc::kNoMemoryLimit: off
  bool gctrace = false;
};

// read_gc_environment reads $GOGC (integer, negative or "off" = off,
// anything else 100: Go's readGOGC), $GOMEMLIMIT (bytes with an optional
// B/KiB/MiB/GiB/TiB suffix, or "off"; malformed is fatal, as Go's
// readGOMEMLIMIT throws) and gctrace=N from $GODEBUG. On a malformed
// GOMEMLIMIT returns nullopt with a one-line reason in *err.
std::optional<GcEnvironment> read_gc_environment(std::string* err);

// apply_gc_environment hands env to the collector (gc::set_gogc,
// set_memory_limit, set_gctrace). Call before the first allocation.
void apply_gc_environment(const GcEnvironment& env);

// gogc_string is "off" for a negative GOGC, else its decimal value;
// memory_limit_string is "off" for no limit, else the byte count.
std::string gogc_string(int64_t gogc);
std::string memory_limit_string(int64_t bytes);

}  // namespace gortd
