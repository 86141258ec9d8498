// request_target.h — the request target (the URL in "GET /work?n=1 HTTP/1.1")
// split into gortd's decoded path and raw query, with Boost.URL.
//
// Two forms are served, as Go's net/http serves them:
//   origin form     "/work?n=1"                    (what clients send)
//   absolute form   "http://host:8080/work?n=1"    (what proxies send; RFC
//                                                   9112 §3.2.2: the server
//                                                   must accept it)
// Anything else ("*", "work", "ftp://…", a bad %XX escape in the path) is
// refused; the connection answers 400 "malformed request target".
#pragma once

#include <string>
#include <string_view>

namespace gortd {

// split_target splits a request target into its percent-decoded path ('+'
// stays '+': plus-as-space is for queries only) and its raw query (after
// the first '?', "" when absent), and sets *raw_path (when given) to the
// path as sent, still percent-encoded. Returns false for a target gortd
// refuses.
bool split_target(std::string_view target, std::string& path, std::string_view& raw_query,
                  std::string_view* raw_path = nullptr);

}  // namespace gortd
