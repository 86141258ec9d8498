// knobs.h — the collector's two knobs as Go spells them: GOGC (a percent
// or "off") and GOMEMLIMIT (bytes with an optional IEC suffix, or "off"),
// the values that mean "off", and their parsers. The collector reads both
// from the environment at start (collector.cpp), as Go's runtime does;
// gortd's /gc endpoint and its start-up check parse with the same
// functions.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string_view>

namespace gc {

// kNoMemoryLimit is GOMEMLIMIT=off (Go's math.MaxInt64).
inline constexpr int64_t kNoMemoryLimit = std::numeric_limits<int64_t>::max();
// kGcOff is GOGC=off.
inline constexpr int kGcOff = -1;

// parse_gogc reads $GOGC as Go's readGOGC: "off" is kGcOff; an int32
// (runtime.atoi32: optional '-', decimal digits; "-" alone is 0) is
// itself, a negative one off; anything else leaves the default, 100.
int parse_gogc(std::string_view s);

// parse_memory_limit reads a memory limit as the Go peer's /gc?memlimit=L
// does: "off" (kNoMemoryLimit), or a byte count — strconv.ParseInt's
// syntax (optional sign, decimal digits), not negative — with an optional
// B, KiB, MiB, GiB or TiB suffix, whose product fits an int64. nullopt when
// malformed.
std::optional<int64_t> parse_memory_limit(std::string_view s);

// parse_gomemlimit reads $GOMEMLIMIT as Go's runtime does (readGOMEMLIMIT
// and parseByteCount in runtime/mgcpacer.go and string.go): "" and "off"
// are kNoMemoryLimit; otherwise a count with an optional B, KiB, MiB, GiB
// or TiB suffix through runtime.atoi64 — no '+' (unlike the peer's
// strconv.ParseInt), "-0" is 0 and so, a quirk kept, is "-" before a
// KiB/MiB/GiB/TiB suffix ("-KiB"). nullopt where Go throws.
std::optional<int64_t> parse_gomemlimit(std::string_view s);

}  // namespace gc
