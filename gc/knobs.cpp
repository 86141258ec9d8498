// knobs.cpp — the GOGC and GOMEMLIMIT parsers (knobs.h).
#include "gc/knobs.h"

namespace gc {

namespace {

// parse_decimal reads strconv.ParseInt's syntax — an optional sign and
// decimal digits, no spaces — into *v; false when malformed or beyond
// ±limit.
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

// runtime_atoi64 is Go's runtime.atoi64 (runtime/string.go), quirks
// included: an optional '-' and decimal digits, no '+'; "-" alone is 0
// (the digit loop runs zero times), so GOGC=- means 0, as in Go.
std::optional<int64_t> runtime_atoi64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = s[0] == '-';
  if (neg) s.remove_prefix(1);
  uint64_t un = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (un > (std::numeric_limits<uint64_t>::max() - d) / 10) return std::nullopt;
    un = un * 10 + d;
  }
  const uint64_t limit = static_cast<uint64_t>(kNoMemoryLimit) + (neg ? 1 : 0);
  if (un > limit) return std::nullopt;
  return neg ? static_cast<int64_t>(0 - un) : static_cast<int64_t>(un);
}

}  // namespace

int parse_gogc(std::string_view s) {
  if (s == "off") return kGcOff;
  std::optional<int64_t> n = runtime_atoi64(s);
  if (!n || *n != static_cast<int32_t>(*n)) return 100;  // atoi32 failed: the default
  return *n < 0 ? kGcOff : static_cast<int>(*n);      // setGCPercent: negative is off
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
  if (s.empty() || s == "off") return kNoMemoryLimit;
  // parseByteCount: ^[0-9]+(([KMGT]i)?B)?$, each count through atoi64.
  char last = s.back();
  int power = 0;
  if (last < '0' || last > '9') {
    if (last != 'B' || s.size() < 2) return std::nullopt;
    s.remove_suffix(1);
    char c = s.back();
    if (c < '0' || c > '9') {
      if (c != 'i' || s.size() < 3) return std::nullopt;
      switch (s[s.size() - 2]) {
        case 'K': power = 1; break;
        case 'M': power = 2; break;
        case 'G': power = 3; break;
        case 'T': power = 4; break;
        default: return std::nullopt;
      }
      s.remove_suffix(2);
    }
  }
  std::optional<int64_t> n = runtime_atoi64(s);
  if (!n || *n < 0) return std::nullopt;
  if (*n > (kNoMemoryLimit >> (10 * power))) return std::nullopt;  // the product overflows an int64
  return *n << (10 * power);
}

}  // namespace gc
