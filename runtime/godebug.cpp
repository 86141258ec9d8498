// godebug.cpp — $GODEBUG as Go's runtime reads it (parsedebugvars in Go
// 1.19's runtime/runtime1.go): the settings gort knows (gctrace,
// schedtrace, scheddetail) are looked up here, once, at start.
//
// Go's grammar, which godebug_lookup follows byte for byte:
//   - the value is split on ',' into fields; a field without '=' is
//     ignored; a field's key is the text before its first '=', its value
//     everything after (so "gctrace==1" has the value "=1");
//   - keys compare exactly (case-sensitive, no trimming of spaces);
//   - a value is read with the runtime's atoi32: an optional '-' and decimal
//     digits in int32 range, nothing else — no '+', no spaces, no suffix
//     ("-" alone reads as 0, as in Go);
//     a malformed value is ignored, leaving what an earlier field set;
//   - fields apply in order, so the last well-formed one wins
//     (GODEBUG=gctrace=1,gctrace=0 is off).
// Keeping values in int32 range also bounds what callers compute from
// them (schedtrace=MS becomes MS * 1e6 ns without overflowing).
#include <cstdlib>
#include <limits>

#include "runtime/gort.h"

namespace gort {

namespace {

// atoi32 is Go's runtime.atoi32: '-'? digits, within int32 — and, a
// quirk of its atoi64 kept here, "-" alone is 0 (the emptiness check comes
// before the sign is taken off).
std::optional<int32_t> atoi32(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = s[0] == '-';
  if (neg) s.remove_prefix(1);
  int64_t mag = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    mag = mag * 10 + (c - '0');
    if (mag > int64_t{1} << 31) return std::nullopt;  // beyond any int32 (and safe from overflow)
  }
  int64_t v = neg ? -mag : mag;
  if (v < std::numeric_limits<int32_t>::min() || v > std::numeric_limits<int32_t>::max()) return std::nullopt;
  return static_cast<int32_t>(v);
}

}  // namespace

std::optional<int32_t> godebug_lookup(std::string_view godebug, std::string_view key) {
  std::optional<int32_t> found;
  while (!godebug.empty()) {
    size_t comma = godebug.find(',');
    std::string_view field = godebug.substr(0, comma);
    godebug.remove_prefix(comma == std::string_view::npos ? godebug.size() : comma + 1);
    size_t eq = field.find('=');
    if (eq == std::string_view::npos || field.substr(0, eq) != key) continue;
    if (auto v = atoi32(field.substr(eq + 1))) found = v;
  }
  return found;
}

int64_t godebug_int(const char* key, int64_t dflt) {
  const char* v = std::getenv("GODEBUG");
  if (v == nullptr) return dflt;
  return godebug_lookup(v, key).value_or(dflt);
}

}  // namespace gort
