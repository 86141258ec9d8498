// params.cpp — query parsing and typed parameters (see params.h).
//
// Percent-decoding and the query grammar are Boost.URL's (make_pct_string_view,
// pct_encoded_rule, decode with space_as_plus, grammar::range_rule); what
// is gortd's own is the choice of character sets and the filters that make
// the result Go's url.Values (see kQueryRule).
#include "service/params.h"

#include <boost/url/grammar/delim_rule.hpp>
#include <boost/url/grammar/lut_chars.hpp>
#include <boost/url/grammar/optional_rule.hpp>
#include <boost/url/grammar/parse.hpp>
#include <boost/url/grammar/range_rule.hpp>
#include <boost/url/grammar/token_rule.hpp>
#include <boost/url/grammar/tuple_rule.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/rfc/pct_encoded_rule.hpp>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace gortd {

namespace {

namespace urls = boost::urls;
namespace grammar = boost::urls::grammar;

// format_g formats v like Go's %g for the small bounds used in replies.
std::string format_g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

// The query grammar, as Go's parseQuery cuts it: pairs between '&' (any of
// them empty), each "key" or "key=value" cut at its first '='. Characters
// are Go's, not RFC 3986's: every byte but the separators may appear
// unescaped (Go lets '{', '|', '#', UTF-8 … through; Boost.URL's own
// query_rule would refuse the whole query for one of them), and the escapes
// are checked per pair, because Go drops a pair with a bad escape and keeps
// the rest. pct_encoded_rule(cs) accepts the bytes of cs and valid %XX.
constexpr grammar::lut_chars kPairChars = ~grammar::lut_chars('&');
constexpr grammar::lut_chars kKeyChars = ~grammar::lut_chars("%=");
constexpr grammar::lut_chars kValueChars = ~grammar::lut_chars('%');
constexpr auto kPairRule = grammar::optional_rule(grammar::token_rule(kPairChars));
constexpr auto kQueryRule =
    grammar::range_rule(kPairRule, grammar::tuple_rule(grammar::squelch(grammar::delim_rule('&')), kPairRule));
constexpr auto kKeyValueRule = grammar::tuple_rule(
    urls::pct_encoded_rule(kKeyChars),
    grammar::optional_rule(
        grammar::tuple_rule(grammar::squelch(grammar::delim_rule('=')), urls::pct_encoded_rule(kValueChars))));

}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  // make_pct_string_view checks every '%' is followed by two hex digits
  // (Go's unescape: "invalid URL escape"); other bytes pass as they are.
  auto valid = urls::make_pct_string_view(urls::string_view(s.data(), s.size()));
  if (!valid) return std::nullopt;
  return valid->decode(urls::encoding_opts(plus_is_space));
}

Query Query::parse(std::string_view raw) {
  Query q;
  // kQueryRule matches any input (every pair may be empty): no error case.
  auto pairs = grammar::parse(urls::string_view(raw.data(), raw.size()), kQueryRule);
  if (!pairs) return q;
  const urls::encoding_opts plus_is_space(true);
  for (const auto& pair : *pairs) {
    // Go drops empty pairs, and since 1.17 any pair containing ';' (it
    // was a separator before; Go logs "invalid semicolon separator").
    if (!pair || pair->find(';') != urls::string_view::npos) continue;
    auto kv = grammar::parse(*pair, kKeyValueRule);
    if (!kv) continue;  // a malformed escape in the key or the value
    const auto& value = std::get<1>(*kv);
    q.kv_.emplace_back(std::get<0>(*kv).decode(plus_is_space), value ? value->decode(plus_is_space) : std::string());
  }
  return q;
}

std::string_view Query::get(std::string_view name) const {
  for (const auto& [k, v] : kv_)
    if (k == name) return v;
  return {};
}

bool Query::has(std::string_view name) const {
  for (const auto& kv : kv_)
    if (kv.first == name) return true;
  return false;
}

void ParamReader::fail(std::string message) {
  if (!error_) error_ = std::move(message);
}

int64_t ParamReader::integer(std::string_view name, int64_t def, int64_t min, int64_t max) {
  std::string_view s = q_.get(name);
  if (s.empty() || error_) return def;
  // strconv.ParseInt(s, 10, 64): optional sign, then decimal digits only.
  size_t i = (s[0] == '+' || s[0] == '-') ? 1 : 0;
  bool neg = s[0] == '-';
  bool valid = i < s.size();
  uint64_t mag = 0;
  const uint64_t limit = neg ? (UINT64_C(1) << 63) : (UINT64_C(1) << 63) - 1;
  for (; valid && i < s.size(); i++) {
    if (s[i] < '0' || s[i] > '9') {
      valid = false;
      break;
    }
    uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (mag > (limit - d) / 10) {
      valid = false;  // out of int64 range: ParseInt fails, so "not an integer"
      break;
    }
    mag = mag * 10 + d;
  }
  if (!valid) {
    fail("bad parameter " + std::string(name) + "=" + go_quote(s) + ": not an integer");
    return def;
  }
  int64_t v = neg ? static_cast<int64_t>(0 - mag) : static_cast<int64_t>(mag);
  if (v < min || v > max) {
    fail("bad parameter " + std::string(name) + "=" + std::to_string(v) + ": out of range [" +
         std::to_string(min) + ", " + std::to_string(max) + "]");
    return def;
  }
  return v;
}

double ParamReader::number(std::string_view name, double def, double min, double max) {
  std::string_view s = q_.get(name);
  if (s.empty() || error_) return def;
  std::string text(s);
  // strtod skips leading space and accepts forms ParseFloat rejects (hex
  // without a 'p' exponent); refuse those explicitly. ParseFloat accepts
  // '_' between digits ("1_000.5"); strtod does not, so drop them.
  bool valid = !std::isspace(static_cast<unsigned char>(text[0]));
  if (text.find('_') != std::string::npos) {
    auto digit = [](char c) { return std::isxdigit(static_cast<unsigned char>(c)) != 0; };
    std::string stripped;
    for (size_t i = 0; i < text.size(); i++) {
      if (text[i] != '_') {
        stripped.push_back(text[i]);
        continue;
      }
      if (i == 0 || i + 1 == text.size() || !digit(text[i - 1]) || !digit(text[i + 1])) valid = false;
    }
    text = std::move(stripped);
  }
  std::string lower;
  for (char c : text) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  if (lower.find("0x") != std::string::npos && lower.find('p') == std::string::npos) valid = false;
  double v = 0;
  if (valid) {
    errno = 0;
    char* end = nullptr;
    v = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size()) valid = false;
    if (errno == ERANGE && std::isinf(v)) valid = false;  // ParseFloat reports ErrRange
    if (std::isnan(v)) valid = false;
  }
  if (!valid) {
    fail("bad parameter " + std::string(name) + "=" + go_quote(s) + ": not a number");
    return def;
  }
  if (v < min || v > max) {
    fail("bad parameter " + std::string(name) + "=" + std::string(s) + ": out of range [" + format_g(min) + ", " +
         format_g(max) + "]");
    return def;
  }
  return v;
}

}  // namespace gortd
