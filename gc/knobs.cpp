// knobs.cpp — the GOGC and GOMEMLIMIT parsers (knobs.h).
#include "gc/knobs.h"

namespace gc {

namespace {

// parse_decimal reads an optional sign and decimal digits (no spaces) into
// *v; false when malformed or beyond ±limit.
bool parse_decimal(std::string_view s, bool allow_plus, uint64_t limit, bool* neg, uint64_t* v) {
  *neg = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || (allow_plus && s[0] == '+'))) s.remove_prefix(1);
  if (s.empty()) return false;
  uint64_t mag = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (mag > (limit - d) / 10) return false;
    mag = mag * 10 + d;
  }
  *v = mag;
  return true;
}

}  // namespace

int parse_gogc(std::string_view s) {
  if (s == "off") return kGcOff;
  bool neg;
  uint64_t v;
  if (!parse_decimal(s, false, uint64_t{1} << 31, &neg, &v)) return 100;  // |INT32_MIN|
  if (neg) return v == 0 ? 0 : kGcOff;
  return v > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()) ? 100 : static_cast<int>(v);
}

std::optional<int64_t> parse_memory_limit(std::string_view s) {
  if (s == "off") return kNoMemoryLimit;
  struct Unit {
    std::string_view suffix;
    int64_t mult;
  };
  static constexpr Unit kUnits[] = {{"KiB", int64_t{1} << 10}, {"MiB", int64_t{1} << 20}, {"GiB", int64_t{1} << 30},
                                    {"TiB", int64_t{1} << 40}, {"B", 1}};
  int64_t mult = 1;
  for (const Unit& u : kUnits) {
    if (s.size() >= u.suffix.size() && s.substr(s.size() - u.suffix.size()) == u.suffix) {
      s.remove_suffix(u.suffix.size());
      mult = u.mult;
      break;
    }
  }
  bool neg;
  uint64_t v;
  if (!parse_decimal(s, true, static_cast<uint64_t>(kNoMemoryLimit), &neg, &v)) return std::nullopt;
  if (neg && v != 0) return std::nullopt;
  if (v > static_cast<uint64_t>(kNoMemoryLimit / mult)) return std::nullopt;
  return static_cast<int64_t>(v) * mult;
}

std::optional<int64_t> parse_gomemlimit(std::string_view s) {
  if (s.empty()) return kNoMemoryLimit;
  if (s[0] == '+') return std::nullopt;
  return parse_memory_limit(s);
}

}  // namespace gc
