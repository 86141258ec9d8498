// auth.cpp — basic-auth check with constant-time comparison (see auth.h).
#include "service/auth.h"

#include <cstdint>

namespace gortd {

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Walk the expected length always; fold the length difference in too.
  uint64_t diff = a.size() ^ b.size();
  size_t n = b.size();
  for (size_t i = 0; i < n; i++) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    diff |= static_cast<uint64_t>(x ^ static_cast<unsigned char>(b[i]));
  }
  volatile uint64_t sink = diff;  // keep the loop from being turned into an early exit
  return sink == 0;
}

bool base64_decode(std::string_view in, std::string& out) {
  auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  out.clear();
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = value(c);
    if (v < 0) return false;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  return bits < 6;  // a single leftover sextet cannot come from whole bytes
}

bool BasicAuth::check(std::string_view authorization) const {
  // The scheme is case-insensitive (RFC 7617); then one or more spaces.
  constexpr std::string_view kScheme = "basic";
  if (authorization.size() < kScheme.size() + 1) return false;
  for (size_t i = 0; i < kScheme.size(); i++)
    if ((authorization[i] | 0x20) != kScheme[i]) return false;
  authorization.remove_prefix(kScheme.size());
  if (authorization.front() != ' ') return false;
  while (!authorization.empty() && authorization.front() == ' ') authorization.remove_prefix(1);
  std::string supplied;
  if (!base64_decode(authorization, supplied)) return false;
  return constant_time_equal(supplied, expected_);
}

}  // namespace gortd
