// auth.cpp — basic-auth check with constant-time comparison, and the 401 /
// 429 gate in front of protected routes (see auth.h).
#include "service/auth.h"

#include <cstdint>

#include "runtime/gort.h"
#include "service/http_types.h"

namespace gortd {

namespace {

// value_barrier hides v's value from the optimizer, so a mask computed
// without branches is not turned back into a branch.
inline size_t value_barrier(size_t v) {
  __asm__("" : "+r"(v));
  return v;
}

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// ascii_lower is net/http/internal/ascii's lower.
char ascii_lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + ('a' - 'A')) : c; }

}  // namespace

bool constant_time_equal(std::string_view supplied, std::string_view expected) {
  // The loop runs over the supplied bytes, which the client knows anyway.
  // Byte i is compared with expected[i] while i < expected.size() and with
  // expected[0] masked to 0 after that — a mask, not a branch, so neither
  // the number of iterations nor the memory accesses depend on expected's
  // length; the length difference is folded in separately.
  static const unsigned char kNone = 0;
  const size_t n = expected.size();
  const auto* e = n != 0 ? reinterpret_cast<const unsigned char*>(expected.data()) : &kNone;
  const auto* s = reinterpret_cast<const unsigned char*>(supplied.data());
  uint64_t diff = static_cast<uint64_t>(supplied.size() ^ n);
  for (size_t i = 0; i < supplied.size(); i++) {
    // all ones when i < n: i - n wraps around to a value with its top bit set
    size_t in_range = value_barrier(0 - ((i - n) >> (sizeof(size_t) * 8 - 1)));
    unsigned char want = static_cast<unsigned char>(e[i & in_range] & in_range);
    diff |= static_cast<uint64_t>(s[i] ^ want);
  }
  volatile uint64_t sink = diff;  // keep the loop from being turned into an early exit
  return sink == 0;
}

// base64_decode follows encoding/base64's decodeQuantum (Go 1.19) for
// StdEncoding, one 4-character quantum at a time.
bool base64_decode(std::string_view src, std::string& out) {
  out.clear();
  size_t si = 0;
  auto skip_newlines = [&] {
    while (si < src.size() && (src[si] == '\n' || src[si] == '\r')) si++;
  };
  for (;;) {
    uint32_t d[4] = {0, 0, 0, 0};
    int dlen = 4;
    bool last = false;
    for (int j = 0; j < 4; j++) {
      if (si == src.size()) {
        if (j == 0) return true;  // the input ended on a quantum boundary
        return false;             // a partial quantum: StdEncoding wants padding
      }
      char in = src[si++];
      int v = base64_value(in);
      if (v >= 0) {
        d[j] = static_cast<uint32_t>(v);
        continue;
      }
      if (in == '\n' || in == '\r') {
        j--;
        continue;
      }
      if (in != '=' || j < 2) return false;  // not base64, or padding too early
      if (j == 2) {
        // "==" is expected; the first '=' is consumed.
        skip_newlines();
        if (si == src.size() || src[si] != '=') return false;
        si++;
      }
      skip_newlines();
      if (si < src.size()) return false;  // trailing garbage after the padding
      dlen = j;
      last = true;
      break;
    }
    uint32_t val = d[0] << 18 | d[1] << 12 | d[2] << 6 | d[3];
    out.push_back(static_cast<char>(val >> 16));
    if (dlen >= 3) out.push_back(static_cast<char>(val >> 8));
    if (dlen == 4) out.push_back(static_cast<char>(val));
    if (last) return true;
  }
}

std::string base64_encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out.push_back(kAlphabet[(v >> k) & 63]);
  }
  size_t rest = in.size() - i;
  if (rest > 0) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | (rest == 2 ? uint32_t(uint8_t(in[i + 1])) << 8 : 0);
    out.push_back(kAlphabet[(v >> 18) & 63]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(rest == 2 ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

bool BasicAuth::check(std::string_view authorization) const {
  // net/http's parseBasicAuth: "Basic " compared case-insensitively (Go
  // issue 22736), the rest StdEncoding; then strings.Cut(cs, ":") — which
  // the expected credentials always pass, so equality with them suffices.
  constexpr std::string_view kPrefix = "Basic ";
  if (authorization.size() < kPrefix.size()) return false;
  for (size_t i = 0; i < kPrefix.size(); i++)
    if (ascii_lower(authorization[i]) != ascii_lower(kPrefix[i])) return false;
  std::string supplied;
  if (!base64_decode(authorization.substr(kPrefix.size()), supplied)) return false;
  return constant_time_equal(supplied, expected_);
}

bool BasicAuth::authorize(const Request& req, Response& res) const {
  const int64_t now = gort::nanotime();
  const ClientKey client = client_key(req.peer);
  if (int64_t wait_ns = limiter_.refused_for(client, now); wait_ns > 0) {
    throttled_.fetch_add(1, std::memory_order_relaxed);
    std::string seconds = std::to_string((wait_ns + 999'999'999) / 1'000'000'000);
    res.headers.emplace_back("Retry-After", seconds);
    res.error(429, "too many failed authentication attempts: retry in " + seconds + "s");
    return false;
  }
  std::string_view header;
  if (req.msg) header = (*req.msg)[http::field::authorization];
  if (check(header)) return true;
  if (!header.empty()) {
    failures_.fetch_add(1, std::memory_order_relaxed);
    limiter_.record_failure(client, now);
  }
  res.headers.emplace_back("WWW-Authenticate", std::string(challenge()));
  res.error(401, "unauthorized");
  return false;
}

}  // namespace gortd
