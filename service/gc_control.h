// gc_control.h — the collector's knobs in gortd: the start-up check of
// GOMEMLIMIT, and the /gc endpoint that reads and changes them at run time and forces
// a collection.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace gortd {

// gc_environment_error returns a one-line reason when $GOMEMLIMIT is
// malformed — gortd then refuses to start, as Go's readGOMEMLIMIT throws —
// and nullopt otherwise. The collector itself reads $GOGC, $GOMEMLIMIT and
// $GODEBUG=gctrace at start (gc/collector.cpp), with Go's meanings.
std::optional<std::string> gc_environment_error();

// gogc_string is "off" for a negative GOGC, else its decimal value;
// memory_limit_string is "off" for no limit, else the byte count.
std::string gogc_string(int64_t gogc);
std::string memory_limit_string(int64_t bytes);

}  // namespace gortd
