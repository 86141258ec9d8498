// duration.cpp — Go duration parsing and formatting (see duration.h); a port
// of time.ParseDuration and Duration.String from Go 1.19's time package.
#include "service/duration.h"

#include <cstring>

namespace gortd {

namespace {

constexpr uint64_t kNs = 1, kUs = 1000 * kNs, kMs = 1000 * kUs, kSec = 1000 * kMs, kMin = 60 * kSec,
                   kHour = 60 * kMin;

// unit_ns returns the length of the unit spelled u, 0 if unknown.
uint64_t unit_ns(std::string_view u) {
  if (u == "ns") return kNs;
  if (u == "us" || u == "\xC2\xB5s" || u == "\xCE\xBCs") return kUs;  // µ (U+00B5), μ (U+03BC)
  if (u == "ms") return kMs;
  if (u == "s") return kSec;
  if (u == "m") return kMin;
  if (u == "h") return kHour;
  return 0;
}

// fmt_frac writes v's low prec digits as a fraction (trailing zeros and the
// point omitted when all zero) ending at buf[w]; returns the new start and v
// without those digits.
int fmt_frac(char* buf, int w, uint64_t& v, int prec) {
  bool print = false;
  for (int i = 0; i < prec; i++) {
    uint64_t digit = v % 10;
    print = print || digit != 0;
    if (print) buf[--w] = static_cast<char>('0' + digit);
    v /= 10;
  }
  if (print) buf[--w] = '.';
  return w;
}

int fmt_int(char* buf, int w, uint64_t v) {
  if (v == 0) {
    buf[--w] = '0';
    return w;
  }
  while (v > 0) {
    buf[--w] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  return w;
}

}  // namespace

std::optional<int64_t> parse_go_duration(std::string_view s) {
  bool neg = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return 0;
  if (s.empty()) return std::nullopt;
  uint64_t total = 0;
  while (!s.empty()) {
    // The leading number: integer part, optional fraction.
    if (!(s[0] == '.' || (s[0] >= '0' && s[0] <= '9'))) return std::nullopt;
    uint64_t whole = 0;
    size_t i = 0;
    bool any_digits = false;
    for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; i++) {
      if (whole > (UINT64_C(1) << 63) / 10) return std::nullopt;
      whole = whole * 10 + static_cast<uint64_t>(s[i] - '0');
      if (whole > (UINT64_C(1) << 63)) return std::nullopt;
      any_digits = true;
    }
    uint64_t frac = 0, scale = 1;
    if (i < s.size() && s[i] == '.') {
      i++;
      for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; i++) {
        any_digits = true;
        if (scale > UINT64_MAX / 100) continue;  // further digits are below a nanosecond's reach
        frac = frac * 10 + static_cast<uint64_t>(s[i] - '0');
        scale *= 10;
      }
    }
    if (!any_digits) return std::nullopt;
    s.remove_prefix(i);
    size_t j = 0;
    while (j < s.size() && s[j] != '.' && !(s[j] >= '0' && s[j] <= '9')) j++;
    uint64_t unit = unit_ns(s.substr(0, j));
    if (unit == 0) return std::nullopt;
    s.remove_prefix(j);
    if (whole > (UINT64_C(1) << 63) / unit) return std::nullopt;
    uint64_t v = whole * unit;
    if (frac > 0) v += static_cast<uint64_t>(static_cast<long double>(frac) * unit / scale);
    total += v;
    if (total > (UINT64_C(1) << 63)) return std::nullopt;
  }
  if (!neg && total == (UINT64_C(1) << 63)) return std::nullopt;
  // total may be 2^63 when negative: negate in uint64_t, where that is
  // defined, and convert (INT64_MIN, as Go's int64(-v) gives).
  return static_cast<int64_t>(neg ? 0 - total : total);
}

std::string format_go_duration(int64_t ns) {
  char buf[32];
  int w = sizeof buf;
  uint64_t u = static_cast<uint64_t>(ns);
  bool neg = ns < 0;
  if (neg) u = -u;
  if (u < kSec) {
    int prec = 0;
    buf[--w] = 's';
    if (u == 0) return "0s";
    if (u < kUs) {
      buf[--w] = 'n';
    } else if (u < kMs) {
      prec = 3;
      w -= 2;
      std::memcpy(buf + w, "\xC2\xB5", 2);  // µ
    } else {
      prec = 6;
      buf[--w] = 'm';
    }
    w = fmt_frac(buf, w, u, prec);
    w = fmt_int(buf, w, u);
  } else {
    buf[--w] = 's';
    w = fmt_frac(buf, w, u, 9);
    w = fmt_int(buf, w, u % 60);
    u /= 60;
    if (u > 0) {
      buf[--w] = 'm';
      w = fmt_int(buf, w, u % 60);
      u /= 60;
      if (u > 0) {
        buf[--w] = 'h';
        w = fmt_int(buf, w, u);
      }
    }
  }
  if (neg) buf[--w] = '-';
  return std::string(buf + w, sizeof buf - static_cast<size_t>(w));
}

}  // namespace gortd
