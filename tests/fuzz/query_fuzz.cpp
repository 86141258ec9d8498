// query_fuzz.cpp — fuzzes gortd's query and parameter reading (params.h):
// Query::parse and percent_decode (Boost.URL's grammar and decoder, with
// Go's character sets), split_target's path decoding, and ParamReader's
// integer and number.
//
// The reference is Go itself, transcribed below from Go 1.19's net/url
// (unescape, parseQuery) and strconv.ParseInt — deliberately the plain
// loops gortd had before Boost.URL, so the fuzzer compares the library
// path with Go's algorithm on every input. Properties (abort() on
// violation):
//   - Query::parse(s) yields exactly go_parse_query(s)'s pairs, in order;
//   - percent_decode(s, plus) == go_unescape(s, plus), errors included;
//   - a value (and a key) percent-encoded as Go's url.QueryEscape does
//     comes back byte for byte from Query::parse, and a path encoded as
//     url.PathEscape comes back from split_target;
//   - ParamReader::integer accepts exactly what ParseInt accepts within
//     [min, max], returns that value, and words its errors as SPEC.md
//     says ("not an integer" / "out of range [min, max]");
//   - ParamReader::number never accepts NaN or a value outside [min, max];
//   - every error message is one line.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "service/params.h"
#include "service/request_target.h"

namespace {

using gortd::go_quote;
using gortd::ParamReader;
using gortd::Query;
using Pairs = std::vector<std::pair<std::string, std::string>>;

[[noreturn]] void fail(const char* what, std::string_view input, const std::string& detail = "") {
  std::fprintf(stderr, "query: %s\ninput: %s\n%s\n", what, go_quote(input).c_str(), detail.c_str());
  std::abort();
}

int go_unhex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// go_unescape is net/url's unescape for encodeQueryComponent (plus) and
// encodePath (no plus).
std::optional<std::string> go_unescape(std::string_view s, bool plus) {
  std::string out;
  for (size_t i = 0; i < s.size(); i++) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || go_unhex(s[i + 1]) < 0 || go_unhex(s[i + 2]) < 0) return std::nullopt;
      out.push_back(static_cast<char>(go_unhex(s[i + 1]) * 16 + go_unhex(s[i + 2])));
      i += 2;
    } else if (s[i] == '+' && plus) {
      out.push_back(' ');
    } else {
      out.push_back(s[i]);
    }
  }
  return out;
}

// go_parse_query is net/url's parseQuery, keeping every value in order.
Pairs go_parse_query(std::string_view query) {
  Pairs m;
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view key = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (key.find(';') != std::string_view::npos) continue;  // "invalid semicolon separator in query"
    if (key.empty()) continue;
    size_t eq = key.find('=');
    std::string_view value = eq == std::string_view::npos ? std::string_view() : key.substr(eq + 1);
    key = key.substr(0, eq);
    auto k = go_unescape(key, true), v = go_unescape(value, true);
    if (!k || !v) continue;
    m.emplace_back(std::move(*k), std::move(*v));
  }
  return m;
}

// go_escape is url.QueryEscape (plus) or url.PathEscape-like (no plus):
// unreserved bytes as they are, everything else %XX.
std::string go_escape(std::string_view s, bool plus) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if ((u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      out.push_back(c);
    } else if (c == ' ' && plus) {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

// go_parse_int is strconv.ParseInt(s, 10, 64).
std::optional<int64_t> go_parse_int(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = false;
  if (s[0] == '+' || s[0] == '-') {
    neg = s[0] == '-';
    s.remove_prefix(1);
  }
  if (s.empty()) return std::nullopt;
  __int128 v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
    if (v > (__int128(1) << 64)) return std::nullopt;
  }
  if (neg) v = -v;
  if (v < INT64_MIN || v > INT64_MAX) return std::nullopt;
  return static_cast<int64_t>(v);
}

void check_one_line(std::string_view input, const std::string& message) {
  if (message.empty() || message.find_first_of("\r\n") != std::string::npos) fail("error is not one line", input, message);
}

void check_query(std::string_view s) {
  Pairs want = go_parse_query(s);
  const Query parsed = Query::parse(s);
  const Pairs& got = parsed.pairs();
  if (got != want) {
    std::string detail = "want:";
    for (const auto& [k, v] : want) detail += " " + go_quote(k) + "=" + go_quote(v);
    detail += "\ngot: ";
    for (const auto& [k, v] : got) detail += " " + go_quote(k) + "=" + go_quote(v);
    fail("Query::parse differs from Go's url.ParseQuery", s, detail);
  }
  for (bool plus : {false, true}) {
    auto a = gortd::percent_decode(s, plus), b = go_unescape(s, plus);
    if (a != b) fail(plus ? "percent_decode(plus) differs from Go" : "percent_decode differs from Go", s);
  }
}

void check_round_trips(std::string_view v) {
  Query q = Query::parse("k=" + go_escape(v, true) + "&k=second&" + go_escape(v, true) + "=key");
  if (q.get("k") != v) fail("query value round trip", v, go_quote(q.get("k")));
  if (v != "k" && q.get(v) != "key") fail("query key round trip", v);
  std::string path;
  std::string_view raw_query;
  std::string target = "/" + go_escape(v, false) + "?n=1";
  if (!gortd::split_target(target, path, raw_query) || path != "/" + std::string(v) || raw_query != "n=1")
    fail("path round trip", v, target);
}

void check_integer(std::string_view s) {
  const std::pair<int64_t, int64_t> ranges[] = {
      {0, 10000000000}, {1, 1000}, {INT64_MIN, INT64_MAX}, {-5, 5}, {400, 599}};
  Query q;
  q.add("n", std::string(s));
  for (auto [min, max] : ranges) {
    ParamReader p(q);
    int64_t got = p.integer("n", 7, min, max);
    if (s.empty()) {
      if (!p.ok() || got != 7) fail("empty integer is not the default", s);
      continue;
    }
    std::optional<int64_t> want = go_parse_int(s);
    if (!want) {
      if (p.ok()) fail("integer accepted what ParseInt rejects", s, std::to_string(got));
      if (p.error() != "bad parameter n=" + go_quote(s) + ": not an integer") fail("integer error text", s, p.error());
    } else if (*want < min || *want > max) {
      if (p.ok()) fail("integer accepted a value out of range", s, std::to_string(got));
      if (p.error() != "bad parameter n=" + std::to_string(*want) + ": out of range [" + std::to_string(min) + ", " +
                           std::to_string(max) + "]")
        fail("integer range error text", s, p.error());
    } else if (!p.ok() || got != *want) {
      fail("integer rejected or changed a valid value", s, p.ok() ? std::to_string(got) : p.error());
    }
    if (!p.ok()) check_one_line(s, p.error());
  }
}

void check_number(std::string_view s) {
  const std::pair<double, double> ranges[] = {{0, 1}, {0, 3600}, {0.1, 60}};
  Query q;
  q.add("p", std::string(s));
  for (auto [min, max] : ranges) {
    ParamReader p(q);
    double got = p.number("p", 0.5, min, max);
    if (p.ok()) {
      if (std::isnan(got) || got < min || got > max) fail("number accepted a value out of range", s);
      if (s.empty() && got != 0.5) fail("empty number is not the default", s);
    } else {
      check_one_line(s, p.error());
      if (p.error().rfind("bad parameter p=", 0) != 0) fail("number error text", s, p.error());
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  check_query(s);
  check_round_trips(s);
  check_integer(s);
  check_number(s);
  // The value as it would arrive in a query: decoded first.
  if (auto v = go_unescape(s, true)) {
    check_integer(*v);
    check_number(*v);
  }
  return 0;
}
