// basic_auth_fuzz.cpp — fuzzes gortd's basic-auth check (service/auth.h):
// BasicAuth::check, base64_decode / base64_encode and constant_time_equal,
// which see every Authorization header sent to /debug/* and /gc.
//
// Properties checked, with Go's net/http Request.BasicAuth (parseBasicAuth
// in net/http/request.go, encoding/base64's StdEncoding) as the reference:
//   - check(header) for credentials "admin:s3cret" agrees with a reference
//     written here from Go's rules as a whole-string description (prefix
//     "Basic " in any case; after dropping CR and LF, a length that is a
//     multiple of 4, alphabet characters only, '=' only as the last one or
//     two; the decoded bytes equal the credentials) — so no header is ever
//     accepted unless it decodes to exactly the credentials;
//   - base64_decode agrees with that description on any input, and with
//     Go's decoding of the accepted ones (3 bytes per quantum, unused low
//     bits ignored);
//   - base64_decode(base64_encode(b)) == b for any bytes b, also with CR LF
//     inserted; the encoding is 4*ceil(n/3) alphabet or '=' characters;
//   - check("Basic " + base64(creds)) holds for credentials taken from the
//     input (the scheme in any case), and fails for the same with one byte
//     of the credentials changed, or one more or one fewer;
//   - constant_time_equal(a, b) == (a == b) for any split of the input.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "service/auth.h"

namespace {

constexpr std::string_view kCreds = "admin:s3cret";
constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

[[noreturn]] void fail(const char* what, std::string_view in) {
  std::fprintf(stderr, "%s; input (%zu bytes):", what, in.size());
  for (unsigned char c : in) std::fprintf(stderr, " %02x", c);
  std::fprintf(stderr, "\n");
  std::abort();
}

// reference_decode describes base64.StdEncoding.DecodeString as a whole:
// CR and LF are ignored; what is left is whole quanta of 4 alphabet
// characters, the last of which may end in "=" or "==".
std::optional<std::string> reference_decode(std::string_view in) {
  std::string s;
  for (char c : in)
    if (c != '\r' && c != '\n') s.push_back(c);
  if (s.size() % 4 != 0) return std::nullopt;
  size_t pad = 0;
  if (!s.empty() && s.back() == '=') pad = s.size() >= 2 && s[s.size() - 2] == '=' ? 2 : 1;
  for (size_t i = 0; i < s.size() - pad; i++)
    if (kAlphabet.find(s[i]) == std::string_view::npos) return std::nullopt;
  std::string out;
  for (size_t q = 0; q < s.size(); q += 4) {
    uint32_t v = 0;
    for (size_t k = 0; k < 4; k++) {
      size_t at = kAlphabet.find(s[q + k]);
      v = v << 6 | static_cast<uint32_t>(at == std::string_view::npos ? 0 : at);
    }
    size_t bytes = q + 4 == s.size() ? 3 - pad : 3;
    for (size_t k = 0; k < bytes; k++) out.push_back(static_cast<char>(v >> (16 - 8 * k)));
  }
  return out;
}

// reference_check is parseBasicAuth + an exact comparison with creds.
bool reference_check(std::string_view header, std::string_view creds) {
  if (header.size() < 6) return false;
  std::string prefix(header.substr(0, 6));
  for (char& c : prefix)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  if (prefix != "basic ") return false;
  auto decoded = reference_decode(header.substr(6));
  return decoded && decoded->find(':') != std::string::npos && *decoded == creds;
}

void check_round_trip(std::string_view bytes) {
  std::string enc = gortd::base64_encode(bytes);
  if (enc.size() != (bytes.size() + 2) / 3 * 4) fail("base64_encode length", bytes);
  for (char c : enc)
    if (c != '=' && kAlphabet.find(c) == std::string_view::npos) fail("base64_encode alphabet", bytes);
  std::string dec;
  if (!gortd::base64_decode(enc, dec) || dec != bytes) fail("base64 round trip", bytes);
  // Go's decoder skips CR and LF anywhere, as in MIME-wrapped base64.
  std::string wrapped;
  for (size_t i = 0; i < enc.size(); i++) {
    wrapped.push_back(enc[i]);
    if (i % 3 == 1) wrapped += "\r\n";
  }
  if (!gortd::base64_decode(wrapped, dec) || dec != bytes) fail("base64 round trip with CR LF", bytes);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);

  static const gortd::BasicAuth fixed{std::string(kCreds)};
  if (fixed.check(in) != reference_check(in, kCreds)) fail("check differs from Go's parseBasicAuth", in);

  std::string dec;
  bool ok = gortd::base64_decode(in, dec);
  auto want = reference_decode(in);
  if (ok != want.has_value() || (ok && dec != *want)) fail("base64_decode differs from StdEncoding", in);

  check_round_trip(in);

  // The input as credentials: its own Basic header passes, near misses fail.
  if (in.find(':') != std::string_view::npos) {
    gortd::BasicAuth auth{std::string(in)};
    std::string enc = gortd::base64_encode(in);
    for (const char* scheme : {"Basic ", "basic ", "BASIC ", "bAsIc "})
      if (!auth.check(scheme + enc)) fail("check refused the right credentials", in);
    if (auth.check("Basic  " + enc) || auth.check("Basic" + enc) || auth.check(enc))
      fail("check accepted a malformed scheme", in);
    std::string changed(in);
    changed[size / 2] = static_cast<char>(changed[size / 2] ^ 1);
    std::string longer = std::string(in) + "x", shorter(in.substr(0, size - 1));
    for (const std::string& wrong : {changed, longer, shorter})
      if (auth.check("Basic " + gortd::base64_encode(wrong))) fail("check accepted wrong credentials", in);
  }

  for (size_t cut : {size / 2, size / 3}) {
    std::string_view a = in.substr(0, cut), b = in.substr(cut);
    if (gortd::constant_time_equal(a, b) != (a == b)) fail("constant_time_equal", in);
    if (!gortd::constant_time_equal(a, a) || !gortd::constant_time_equal(b, b)) fail("constant_time_equal(x, x)", in);
  }
  return 0;
}
