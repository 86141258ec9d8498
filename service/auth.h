// auth.h — HTTP basic authentication for gortd's debug endpoints
// (--debug-auth user:password). The comparison takes the same time whatever
// the supplied credentials are, so response timing reveals nothing about
// how much of a guess was right.
#pragma once

#include <string>
#include <string_view>

namespace gortd {

class BasicAuth final {
 public:
  // BasicAuth expects credentials "user:password".
  explicit BasicAuth(std::string credentials) : expected_(std::move(credentials)) {}
  // check reports whether an Authorization header value carries the
  // expected credentials ("Basic base64(user:password)").
  bool check(std::string_view authorization) const;
  // challenge is the WWW-Authenticate value sent with 401.
  static constexpr std::string_view challenge() { return R"(Basic realm="gortd debug", charset="UTF-8")"; }

 private:
  std::string expected_;
};

// constant_time_equal compares a and b in time that depends only on their
// lengths, never on where they differ.
bool constant_time_equal(std::string_view a, std::string_view b);

// base64_decode decodes standard base64 (padding optional); returns false on
// malformed input.
bool base64_decode(std::string_view in, std::string& out);

}  // namespace gortd
