// request_pipeline.cpp — one request between parser and socket (see
// request_pipeline.h).
#include "service/request_pipeline.h"

#include <boost/beast/http/error.hpp>

#include <exception>

#include "profilers/tracer.h"
#include "runtime/gort.h"
#include "service/auth.h"
#include "service/request_target.h"

namespace gortd {

void apply_request_limits(RequestParser& parser) {
  parser.header_limit(kMaxHeaderBytes);
  parser.body_limit(kMaxBodyBytes);
}

RoutedRequest route_request(const ServeContext& ctx, const BeastRequest& msg) {
  RoutedRequest r;
  Request& req = r.req;
  req.method = msg.method();
  req.method_name = msg.method_string();
  req.msg = &msg;
  r.labels = {ctx.metrics->unmatched_id(), method_label(req.method)};
  std::string_view raw_query;
  if (!split_target(msg.target(), req.path, raw_query, &r.raw_path)) {
    r.refusal = Refusal{400, "malformed request target"};
    return r;
  }
  r.match = ctx.router->match(req.path, req.method);
  if (r.match.route) r.labels.path = r.match.route->metric_path;
  if (msg.version() >= 11 && msg.find(http::field::host) == msg.end()) {
    r.refusal = Refusal{400, "missing required Host header"};
    return r;
  }
  req.query = Query::parse(raw_query);
  return r;
}

std::optional<Refusal> refusal_for_parse_error(const boost::system::error_code& ec) {
  if (ec.category() != http::make_error_code(http::error::bad_method).category() ||
      ec == http::error::end_of_stream || ec == http::error::partial_message)
    return std::nullopt;  // the client went away or the socket failed
  if (ec == http::error::header_limit)
    return Refusal{431, "request header fields too large (limit " + std::to_string(kMaxHeaderBytes) + " bytes)"};
  if (ec == http::error::body_limit)
    return Refusal{413, "request body too large (limit " + std::to_string(kMaxBodyBytes) + " bytes)"};
  return Refusal{400, "malformed request: " + ec.message()};
}

namespace {

// run_route runs m's handler, or answers 404 / 405 / 401 for it.
void run_route(const ServeContext& ctx, const RoutedRequest& r, Response& res) {
  const RouteMatch& m = r.match;
  const Request& req = r.req;
  // The texts name the path as sent (percent-encoded): the decoded one may
  // hold a line break (%0A), and a 4xx reason is one line.
  switch (m.kind) {
    case RouteMatch::NotFound:
      res.error(404, "404 page not found: " + std::string(r.raw_path));
      return;
    case RouteMatch::MethodNotAllowed:
      res.headers.emplace_back("Allow", m.route->allow);
      res.error(405, "method " + std::string(req.method_name) + " not allowed on " + std::string(r.raw_path));
      return;
    case RouteMatch::Found:
      break;
  }
  if (m.route->protected_ && ctx.auth && !ctx.auth->authorize(req, res)) return;  // 401 or 429
  // The handler runs under its route's profiler labels (endpoint=/work …),
  // so CPU and goroutine profiles can be split by endpoint (-tagfocus).
  gort::set_shared_labels(*m.route->labels);
  struct ClearLabels {
    ~ClearLabels() { gort::set_labels(gort::LabelSet{}); }
  } clear_labels;
  // In an execution trace, each request is a task named after its route,
  // so `go tool trace`'s user-task view shows per-endpoint latencies.
  profilers::TraceTask task(m.route->pattern);
  m.route->handler(req, res);
}

}  // namespace

void answer(const ServeContext& ctx, const RoutedRequest& r, Response& res) {
  if (r.refusal) {
    res.error(r.refusal->status, r.refusal->line);
    res.close = true;
    return;
  }
  try {
    run_route(ctx, r, res);
  } catch (const std::exception& e) {
    res = Response{};
    res.error(500, std::string("internal error: ") + e.what());
  }
}

bool format_reply_header(const Response& res, unsigned version, bool keep_alive, std::string& h) {
  // Formatted directly: Beast's generic serializer walks its buffer-sequence
  // view several times per write, which cost ~9% of CPU at 60k req/s of
  // small replies.
  h.clear();
  h += version == 10 ? "HTTP/1.0 " : "HTTP/1.1 ";
  h += std::to_string(res.status);
  h += ' ';
  http::status known = http::int_to_status(res.status);
  if (known == http::status::unknown)
    h += "status code " + std::to_string(res.status);  // as Go writes unknown codes
  else
    h += http::obsolete_reason(known);
  h += "\r\nContent-Type: ";
  h += res.content_type;
  for (const auto& [name, value] : res.headers) {
    h += "\r\n";
    h += name;
    h += ": ";
    h += value;
  }
  keep_alive = keep_alive && !res.close;
  if (res.stream && version < 11) keep_alive = false;  // the close ends the body
  if (!keep_alive && version >= 11) h += "\r\nConnection: close";
  if (keep_alive && version < 11) h += "\r\nConnection: keep-alive";
  if (res.stream) {
    if (version >= 11) h += "\r\nTransfer-Encoding: chunked";
  } else {
    h += "\r\nContent-Length: ";
    h += std::to_string(res.body.size());
  }
  h += "\r\n\r\n";
  return keep_alive;
}

Labels labels_for(const ServeContext& ctx, http::verb method, std::string_view target) {
  std::string path;
  std::string_view query;
  Labels l{ctx.metrics->unmatched_id(), method_label(method)};
  if (split_target(target, path, query)) {
    RouteMatch m = ctx.router->match(path, method);
    if (m.route) l.path = m.route->metric_path;
  }
  return l;
}

// labels_of: Beast's parser consumes the request line as soon as it is
// complete, even while the rest of the header is missing (or too large);
// before that the request line is still at the front of the buffer, and is
// labelled from there if the bytes begin with a plausible one.
Labels labels_of(const ServeContext& ctx, const RequestParser& parser, std::string_view buffered) {
  const BeastRequest& m = parser.get();
  if (m.method() != http::verb::unknown || !m.method_string().empty()) return labels_for(ctx, m.method(), m.target());
  size_t sp1 = buffered.find(' ');
  if (sp1 == std::string_view::npos || sp1 > 16) return {ctx.metrics->unmatched_id(), MethodLabel::Other};
  size_t sp2 = buffered.find(' ', sp1 + 1);
  size_t eol = buffered.find('\r');
  if (sp2 == std::string_view::npos || (eol != std::string_view::npos && eol < sp2))
    return {ctx.metrics->unmatched_id(), method_label(http::string_to_verb(buffered.substr(0, sp1)))};
  return labels_for(ctx, http::string_to_verb(buffered.substr(0, sp1)), buffered.substr(sp1 + 1, sp2 - sp1 - 1));
}

}  // namespace gortd
