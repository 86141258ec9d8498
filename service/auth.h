// auth.h — HTTP basic authentication for gortd's debug endpoints
// (--debug-auth user:password), as Go's net/http reads it
// (Request.BasicAuth): the header is "Basic " — case-insensitive, one
// space — then base64.StdEncoding of "user:password" (padding required,
// CR and LF ignored, nothing else tolerated).
//
// Two defences against guessing:
//   - the comparison's time depends only on the length of what the client
//     sent, never on where it differs from the expected credentials nor on
//     their length, so timing reveals nothing about them;
//   - failed attempts are limited per client (auth_limiter.h): past
//     --debug-auth-max-failures in --debug-auth-window, 429 with
//     Retry-After until the window ends.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "service/auth_limiter.h"

namespace gortd {

struct Request;
struct Response;

class BasicAuth final {
 public:
  // BasicAuth expects credentials "user:password"; failed attempts are
  // limited by limits.
  explicit BasicAuth(std::string credentials, AuthLimits limits = {})
      : expected_(std::move(credentials)), limiter_(limits) {}
  BasicAuth(const BasicAuth&) = delete;
  BasicAuth& operator=(const BasicAuth&) = delete;

  // check reports whether an Authorization header value carries the
  // expected credentials ("Basic base64(user:password)"). Pure: no limits.
  bool check(std::string_view authorization) const;

  // authorize is the gate in front of a protected route: true when req
  // may proceed; otherwise it fills res with 401 (and the challenge) for
  // missing or wrong credentials, or 429 (and Retry-After) while req's
  // client is refused for too many failures. A wrong Authorization header
  // counts as a failure; a request without one does not (a browser's
  // first request carries none).
  bool authorize(const Request& req, Response& res) const;

  // challenge is the WWW-Authenticate value sent with 401.
  static constexpr std::string_view challenge() { return R"(Basic realm="gortd debug", charset="UTF-8")"; }

  // failures and throttled count 401s for wrong credentials and 429s
  // (gort_debug_auth_failures_total, gort_debug_auth_throttled_total).
  uint64_t failures() const { return failures_.load(std::memory_order_relaxed); }
  uint64_t throttled() const { return throttled_.load(std::memory_order_relaxed); }

 private:
  std::string expected_;
  mutable FailedAuthLimiter limiter_;
  mutable std::atomic<uint64_t> failures_{0}, throttled_{0};
};

// constant_time_equal compares supplied with expected in time that depends
// only on supplied's length: never on where they differ, nor on expected's
// length.
bool constant_time_equal(std::string_view supplied, std::string_view expected);

// base64_decode decodes Go's base64.StdEncoding (DecodeString): padding
// required, '\r' and '\n' skipped anywhere, unused low bits of the last
// quantum ignored; returns false on malformed input.
bool base64_decode(std::string_view in, std::string& out);

// base64_encode encodes as Go's base64.StdEncoding.EncodeToString (padded).
std::string base64_encode(std::string_view in);

}  // namespace gortd
