// params.cpp — query parsing and typed parameters (see params.h).
#include "service/params.h"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace gortd {

namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// format_g formats v like Go's %g for the small bounds used in replies.
std::string format_g(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); i++) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= s.size()) return std::nullopt;
      int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else {
      out.push_back(c);
    }
  }
  return out;
}

Query Query::parse(std::string_view raw) {
  Query q;
  while (!raw.empty()) {
    size_t amp = raw.find('&');
    std::string_view pair = raw.substr(0, amp);
    raw = amp == std::string_view::npos ? std::string_view{} : raw.substr(amp + 1);
    // Go 1.17+ rejects ';' separators; such pairs are dropped.
    if (pair.empty() || pair.find(';') != std::string_view::npos) continue;
    size_t eq = pair.find('=');
    auto key = percent_decode(pair.substr(0, eq), true);
    auto value = percent_decode(eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1), true);
    if (!key || !value) continue;
    q.kv_.emplace_back(std::move(*key), std::move(*value));
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
