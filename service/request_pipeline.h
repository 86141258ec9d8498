// request_pipeline.h — one HTTP request from Beast's parsed message to the
// reply's bytes, with no socket: the target and Host checks, the query, the
// route, the debug-auth check, the handler, and the reply's status line and
// header. The connection goroutine (connection.cpp) calls it between its
// reads and writes; the http_request fuzz target (tests/fuzz/) calls the
// same functions on bytes from memory, so what the fuzzer explores is what
// gortd serves.
//
// Order, for a message whose header Beast has parsed:
//   route_request     split the target (request_target.h), require Host on
//                     HTTP/1.1, parse the query, match the route; a refusal
//                     (400) instead when the header is unusable
//   (the connection reads the body now, for a matched route only)
//   answer            404 / 405 / 401, or the route's handler under its
//                     profiler labels and trace task; an exception is a 500
//   format_reply_header   the status line and header fields of the reply
// A header or body Beast could not parse is refusal_for_parse_error's.
#pragma once

#include <boost/beast/http/parser.hpp>
#include <boost/system/error_code.hpp>

#include <optional>
#include <string>
#include <string_view>

#include "service/http_types.h"
#include "service/request_metrics.h"
#include "service/router.h"
#include "service/serve_context.h"

namespace gortd {

using RequestParser = http::request_parser<http::string_body>;

// apply_request_limits sets SPEC.md's limits on a fresh parser: header
// kMaxHeaderBytes (-> 431), body kMaxBodyBytes (-> 413).
void apply_request_limits(RequestParser& parser);

// Labels names a request's metrics series.
struct Labels {
  int path = 0;  // RequestMetrics::unmatched_id() until routed
  MethodLabel method = MethodLabel::Other;
};

// Refusal is a request answered without a handler: its status and one-line
// reason. The connection closes after it.
struct Refusal {
  unsigned status = 0;
  std::string line;
};

// RoutedRequest is a parsed request header, checked and routed.
struct RoutedRequest {
  Request req;          // path, query, method; req.msg points at the message
  std::string_view raw_path;  // the path as sent (still percent-encoded), for 404/405 texts
  RouteMatch match;
  Labels labels;
  std::optional<Refusal> refusal;  // set: answer it (answer does) and close
};

// route_request checks msg's target and Host header, parses its query and
// routes it through ctx.router. Never throws for any message Beast parsed.
RoutedRequest route_request(const ServeContext& ctx, const BeastRequest& msg);

// refusal_for_parse_error returns the reply to a request Beast's parser
// rejected with ec (431, 413 or 400 "malformed request: …"), or nullopt
// when ec is not about the request's bytes (the stream ended or failed).
std::optional<Refusal> refusal_for_parse_error(const boost::system::error_code& ec);

// answer fills res for r: its refusal, 404, 405, 401 (debug auth), or the
// route handler's reply; a handler's exception becomes 500 "internal
// error: …". Runs the handler on the calling goroutine (it may park).
void answer(const ServeContext& ctx, const RoutedRequest& r, Response& res);

// format_reply_header writes res's status line and header fields into h
// (cleared first), ending with the blank line: Content-Length for a body,
// chunked transfer encoding for a stream (HTTP/1.1), and the Connection
// field keep_alive asks for. Returns whether the connection may stay open
// after this reply (false also when an HTTP/1.0 stream is ended by closing).
bool format_reply_header(const Response& res, unsigned version, bool keep_alive, std::string& h);

// labels_for labels a request by method and raw target (route or
// "unmatched").
Labels labels_for(const ServeContext& ctx, http::verb method, std::string_view target);

// labels_of labels a request that may have been parsed only partly;
// buffered is what the connection had read but the parser not consumed.
Labels labels_of(const ServeContext& ctx, const RequestParser& parser, std::string_view buffered);

}  // namespace gortd
