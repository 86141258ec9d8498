// request_target.cpp — request targets through Boost.URL (see request_target.h).
//
// Why not boost::urls::parse_origin_form / parse_absolute_uri whole: they
// implement RFC 3986 strictly, and Go's net/http (url.ParseRequestURI), the
// reference for gortd's behaviour, is lenient where clients rely on it:
//   - any byte Beast's parser lets into a target (visible ASCII and bytes
//     >= 0x80) may appear unescaped in the path and the query: browsers send
//     '{', '|', '^', '`' and raw UTF-8 in queries, and '#' is not a fragment
//     in a request line (ParseRequestURI does not cut it off);
//   - a bad escape in the query drops only its pair (url.ParseQuery), where
//     the strict query grammar would refuse the whole target.
// So the target is cut with Boost.URL's own pieces over Go's character
// sets: authority_rule for an absolute form's authority (RFC 3986, which is
// also what Go checks there: host characters and a numeric port),
// pct_encoded_rule for the path (every byte but '%' and '?', plus valid
// %XX escapes: a bad escape in the path is a malformed target, as Go's
// unescape(encodePath) has it), and pct_string_view::decode for the bytes.
// The query is left raw here; Query::parse (params.cpp) splits it.
//
// Only the schemes http and https, lower case, are taken in absolute form
// (Go takes any scheme), and an absolute form with a query but no path
// ("http://host?x") is refused: gortd's behaviour before Boost.URL, kept.
#include "service/request_target.h"

#include <boost/url/grammar/lut_chars.hpp>
#include <boost/url/grammar/parse.hpp>
#include <boost/url/pct_string_view.hpp>
#include <boost/url/rfc/authority_rule.hpp>
#include <boost/url/rfc/pct_encoded_rule.hpp>

namespace gortd {

namespace {

namespace urls = boost::urls;
namespace grammar = boost::urls::grammar;

// The path: everything up to the first '?', escapes checked.
constexpr grammar::lut_chars kPathChars = ~grammar::lut_chars("%?");

bool starts_with(const char* it, const char* end, std::string_view prefix) {
  return static_cast<size_t>(end - it) >= prefix.size() && std::string_view(it, prefix.size()) == prefix;
}

}  // namespace

bool split_target(std::string_view target, std::string& path, std::string_view& raw_query,
                  std::string_view* raw_path) {
  const char* it = target.data();
  const char* const end = it + target.size();
  for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
    if (!starts_with(it, end, scheme)) continue;
    it += scheme.size();
    // The authority ends where its grammar does; a path must follow, or
    // nothing ("http://host" is the root).
    if (!grammar::parse(it, end, urls::authority_rule)) return false;
    if (it == end) {
      path = "/";
      raw_query = {};
      if (raw_path) *raw_path = "/";
      return true;
    }
    break;
  }
  if (it == end || *it != '/') return false;
  const char* const path_begin = it;
  auto encoded = grammar::parse(it, end, urls::pct_encoded_rule(kPathChars));
  if (!encoded) return false;  // a '%' without two hex digits
  if (raw_path) *raw_path = std::string_view(path_begin, static_cast<size_t>(it - path_begin));
  raw_query = it == end ? std::string_view() : std::string_view(it + 1, static_cast<size_t>(end - it - 1));
  path = encoded->decode();
  return true;
}

}  // namespace gortd
