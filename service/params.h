// params.h — query strings and handler parameters for gortd.
//
// Query mirrors Go's url.Values as net/http fills it (url.ParseQuery, Go
// 1.17+): pairs split on '&'; empty pairs and pairs containing ';' dropped;
// each pair cut at its first '=' ("k" alone is k=""); key and value
// percent-decoded with '+' meaning space, a pair with a malformed escape
// (a '%' not followed by two hex digits) dropped and the rest kept; get()
// returning the first value or "" when absent. Parsed with Boost.URL's
// grammar and decoder (params.cpp).
//
// ParamReader reads typed parameters with the exact 400 reply texts the Go
// peer (strconv + fmt %q) produces, and remembers only the first error:
//
//   ParamReader p(req.query);
//   int64_t n = p.integer("n", 1000000, 0, 10000000000);
//   if (!p.ok()) return res.error(400, p.error());
//   // p.error() == R"(bad parameter n="abc": not an integer)"
//
// Absent or empty means the default; never a silent clamp.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "profilers/go_quote.h"

namespace gortd {

// percent_decode decodes %XX escapes (and '+' as space when plus_is_space);
// returns nullopt on a malformed escape, as Go's url.QueryUnescape.
std::optional<std::string> percent_decode(std::string_view s, bool plus_is_space);

// go_quote quotes as Go's strconv.Quote (fmt's %q) does.
using profilers::go_quote;


class Query final {
 public:
  Query() = default;
  // parse splits a raw query string (the part after '?').
  static Query parse(std::string_view raw);
  // get returns the first value for name, "" when absent.
  std::string_view get(std::string_view name) const;
  bool has(std::string_view name) const;
  bool empty() const { return kv_.empty(); }
  // pairs returns every decoded pair, in the order sent.
  const std::vector<std::pair<std::string, std::string>>& pairs() const { return kv_; }
  // add appends a decoded pair.
  void add(std::string key, std::string value) { kv_.emplace_back(std::move(key), std::move(value)); }

 private:
  std::vector<std::pair<std::string, std::string>> kv_;
};

class ParamReader final {
 public:
  explicit ParamReader(const Query& q) : q_(q) {}
  // integer reads a base-10 int64 in [min, max] (Go's strconv.ParseInt).
  int64_t integer(std::string_view name, int64_t def, int64_t min, int64_t max);
  // number reads a float64 in [min, max] (Go's strconv.ParseFloat).
  double number(std::string_view name, double def, double min, double max);
  // raw returns the parameter's text ("" when absent) without checking it.
  std::string_view raw(std::string_view name) const { return q_.get(name); }
  // fail records a caller-detected error (first one wins).
  void fail(std::string message);

  bool ok() const { return !error_.has_value(); }
  const std::string& error() const { return *error_; }

 private:
  const Query& q_;
  std::optional<std::string> error_;
};

}  // namespace gortd
