// memory_limit_fuzz.cpp — fuzzes the collector's knobs as Go spells them
// (gc/knobs.h): GOMEMLIMIT byte counts, both the runtime's grammar
// (parse_gomemlimit, for the environment) and the Go peer's /gc?memlimit=L
// (parse_memory_limit), and GOGC (parse_gogc).
//
// Each parser is checked against a line-by-line transliteration of the Go
// code it follows, written here independently of gc/knobs.cpp:
//   - parse_gomemlimit  == readGOMEMLIMIT: parseByteCount and atoi64
//                          (runtime/mgcpacer.go, runtime/string.go);
//   - parse_memory_limit == the peer's parseByteCount: a suffix loop and
//                          strconv.ParseInt(s, 10, 64);
//   - parse_gogc        == readGOGC: atoi32.
// and against properties that hold whatever the transliterations say:
//   - an accepted limit is >= 0, and kNoMemoryLimit only for "off" (or
//     the number 2^63-1 itself);
//   - a byte count printed with each suffix parses to count * factor when
//     that fits an int64, and is refused when it does not;
//   - GOGC is -1 (off) or in [0, 2^31-1].
// The first 8 bytes, read as an int64, also go through the suffix round
// trip, so large counts near the overflow edge are reached directly.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "gc/knobs.h"

namespace {

constexpr int64_t kMaxInt64 = std::numeric_limits<int64_t>::max();
constexpr uint64_t kMaxUint64 = std::numeric_limits<uint64_t>::max();

struct Suffix {
  const char* text;
  uint64_t factor;
};
constexpr Suffix kSuffixes[] = {{"B", 1}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20}, {"GiB", 1ull << 30}, {"TiB", 1ull << 40}};

[[noreturn]] void fail(const char* what, std::string_view in, std::optional<int64_t> got, std::optional<int64_t> want) {
  std::fprintf(stderr, "%s: input \"%.*s\": got %s, want %s\n", what, static_cast<int>(in.size()), in.data(),
               got ? std::to_string(*got).c_str() : "error", want ? std::to_string(*want).c_str() : "error");
  std::abort();
}

// go_atoi64 is runtime.atoi64.
std::optional<int64_t> go_atoi64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    s.remove_prefix(1);
  }
  uint64_t un = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (un > kMaxUint64 / 10) return std::nullopt;
    un *= 10;
    uint64_t un1 = un + static_cast<uint64_t>(c - '0');
    if (un1 < un) return std::nullopt;
    un = un1;
  }
  if (!neg && un > static_cast<uint64_t>(kMaxInt64)) return std::nullopt;
  if (neg && un > static_cast<uint64_t>(kMaxInt64) + 1) return std::nullopt;
  return neg ? static_cast<int64_t>(0 - un) : static_cast<int64_t>(un);
}

// go_atoi32 is runtime.atoi32.
std::optional<int32_t> go_atoi32(std::string_view s) {
  auto n = go_atoi64(s);
  if (n && *n == static_cast<int64_t>(static_cast<int32_t>(*n))) return static_cast<int32_t>(*n);
  return std::nullopt;
}

// go_parse_byte_count is runtime.parseByteCount.
std::optional<int64_t> go_parse_byte_count(std::string_view s) {
  if (s.empty()) return std::nullopt;
  char last = s.back();
  if (last >= '0' && last <= '9') {
    auto n = go_atoi64(s);
    if (!n || *n < 0) return std::nullopt;
    return n;
  }
  if (last != 'B' || s.size() < 2) return std::nullopt;
  char c = s[s.size() - 2];
  if (c >= '0' && c <= '9') {
    auto n = go_atoi64(s.substr(0, s.size() - 1));
    if (!n || *n < 0) return std::nullopt;
    return n;
  }
  if (c != 'i') return std::nullopt;
  if (s.size() < 4) return std::nullopt;
  int power = 0;
  switch (s[s.size() - 3]) {
    case 'K': power = 1; break;
    case 'M': power = 2; break;
    case 'G': power = 3; break;
    case 'T': power = 4; break;
    default: return std::nullopt;
  }
  uint64_t m = 1;
  for (int i = 0; i < power; i++) m *= 1024;
  auto n = go_atoi64(s.substr(0, s.size() - 3));
  if (!n || *n < 0) return std::nullopt;
  uint64_t un = static_cast<uint64_t>(*n);
  if (un > kMaxUint64 / m) return std::nullopt;
  un *= m;
  if (un > static_cast<uint64_t>(kMaxInt64)) return std::nullopt;
  return static_cast<int64_t>(un);
}

// go_read_gomemlimit is runtime.readGOMEMLIMIT (nullopt where Go throws).
std::optional<int64_t> go_read_gomemlimit(std::string_view p) {
  if (p.empty() || p == "off") return kMaxInt64;
  return go_parse_byte_count(p);
}

// go_parse_int64 is strconv.ParseInt(s, 10, 64) (nullopt on any error).
std::optional<int64_t> go_parse_int64(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  // strconv.ParseUint(s, 10, 64)
  if (s.empty()) return std::nullopt;
  uint64_t n = 0;
  const uint64_t cutoff = kMaxUint64 / 10 + 1;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (n >= cutoff) return std::nullopt;
    n *= 10;
    uint64_t n1 = n + static_cast<uint64_t>(c - '0');
    if (n1 < n) return std::nullopt;
    n = n1;
  }
  const uint64_t cut = uint64_t{1} << 63;
  if (!neg && n >= cut) return std::nullopt;
  if (neg && n > cut) return std::nullopt;
  return neg ? static_cast<int64_t>(0 - n) : static_cast<int64_t>(n);
}

// peer_parse_byte_count is the Go peer's parseByteCount (/gc?memlimit=).
std::optional<int64_t> peer_parse_byte_count(std::string_view s) {
  if (s == "off") return kMaxInt64;
  int64_t mult = 1;
  static constexpr std::pair<std::string_view, int64_t> kUnits[] = {
      {"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", int64_t{1} << 40}, {"B", 1}};
  for (auto [suf, m] : kUnits) {
    if (s.size() >= suf.size() && s.substr(s.size() - suf.size()) == suf) {
      s.remove_suffix(suf.size());
      mult = m;
      break;
    }
  }
  auto v = go_parse_int64(s);
  if (!v || *v < 0 || *v > kMaxInt64 / mult) return std::nullopt;
  return *v * mult;
}

// go_read_gogc is runtime.readGOGC, negative values mapped to -1 (off) as
// setGCPercent does.
int go_read_gogc(std::string_view p) {
  if (p == "off") return -1;
  if (auto n = go_atoi32(p)) return *n < 0 ? -1 : *n;
  return 100;
}

void check_equal(const char* what, std::string_view in, std::optional<int64_t> got, std::optional<int64_t> want) {
  if (got != want) fail(what, in, got, want);
}

// check_suffixes: count printed with each suffix parses to count * factor,
// or is refused when that overflows an int64.
void check_suffixes(uint64_t count) {
  std::string digits = std::to_string(count);
  for (const Suffix& s : kSuffixes) {
    std::string text = digits + s.text;
    std::optional<int64_t> want;
    if (count <= static_cast<uint64_t>(kMaxInt64) / s.factor) want = static_cast<int64_t>(count * s.factor);
    check_equal("suffix round trip (parse_memory_limit)", text, gc::parse_memory_limit(text), want);
    check_equal("suffix round trip (parse_gomemlimit)", text, gc::parse_gomemlimit(text), want);
  }
  std::optional<int64_t> plain;
  if (count <= static_cast<uint64_t>(kMaxInt64)) plain = static_cast<int64_t>(count);
  check_equal("plain round trip", digits, gc::parse_memory_limit(digits), plain);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);

  std::optional<int64_t> peer = gc::parse_memory_limit(s), env = gc::parse_gomemlimit(s);
  check_equal("parse_memory_limit vs the Go peer's parseByteCount", s, peer, peer_parse_byte_count(s));
  check_equal("parse_gomemlimit vs runtime.readGOMEMLIMIT", s, env, go_read_gomemlimit(s));
  for (std::optional<int64_t> v : {peer, env}) {
    if (v && *v < 0) fail("negative limit accepted", s, v, std::nullopt);
    // 2^63-1 is odd: only "off", "" (environment) or that number of bytes
    // ("9223372036854775807", "+09223372036854775807B" …) can mean it.
    if (v && *v == gc::kNoMemoryLimit && s != "off" && !s.empty()) {
      std::string_view n = s.back() == 'B' ? s.substr(0, s.size() - 1) : s;
      if (go_parse_int64(n) != kMaxInt64) fail("kNoMemoryLimit from something other than off", s, v, std::nullopt);
    }
  }
  // Whatever the peer grammar accepts as a plain count keeps its value with
  // every suffix (times the factor) when printed back.
  if (peer && s != "off") check_suffixes(static_cast<uint64_t>(*peer));

  int gogc = gc::parse_gogc(s);
  if (gogc != go_read_gogc(s) || gogc < -1) {
    std::fprintf(stderr, "parse_gogc(\"%.*s\") = %d, runtime.readGOGC: %d\n", static_cast<int>(size),
                 reinterpret_cast<const char*>(data), gogc, go_read_gogc(s));
    std::abort();
  }

  if (size >= 8) {
    uint64_t count;
    std::memcpy(&count, data, sizeof count);
    check_suffixes(count);
    check_suffixes(count >> (count & 63));  // small counts too
  }
  return 0;
}
