// connection.cpp — the per-connection goroutine (see connection.h).
//
// One request, in order (what happens between the socket operations is
// request_pipeline.h's, shared with the http_request fuzz target):
//   1. Idle: wait for the first byte (idle timeout), then Reading (read
//      timeout); Beast's parser reads the header (header_limit 8 KiB).
//   2. route_request: target, Host, query, route. A body is read only for
//      a matched route (body_limit 1 MiB), after "100 Continue" if the
//      client asked.
//   3. Handling: answer runs the handler on this goroutine; no deadline.
//   4. Writing: the reply (format_reply_header, then the body) goes out in
//      one write (write timeout), or piece by piece for a stream.
//   5. Observe: http_requests_total / duration with the route's label.
// A refusal (malformed, too large, timed out, over the connection cap)
// answers with "Connection: close" and then closes gently: shut down our
// sending side and discard what the client still sends for a moment, so the
// kernel does not reset the connection before the client reads the reply
// (Go's closeWriteAndWait).
#include "service/connection.h"

#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>

#include <array>
#include <cstdio>
#include <exception>
#include <optional>
#include <string>

#include "runtime/goroutine.h"
#include "runtime/gort.h"
#include "service/net_conn.h"
#include "service/request_metrics.h"
#include "service/request_pipeline.h"
#include "service/router.h"

namespace gortd {

namespace beast = boost::beast;

namespace {

// How long a refused connection may keep sending before we close it.
constexpr int64_t kLingerNs = 500'000'000;
// ... and how much of it we read and discard.
constexpr size_t kLingerMaxBytes = 4 << 20;
// A refused (over-cap) connection gets this long to send its request.
constexpr int64_t kRefusalReadNs = 1'000'000'000;

using Parser = RequestParser;

class Session final {
 public:
  Session(const ServeContext& ctx, NetConn& conn, ConnState& st) : ctx_(ctx), conn_(conn), st_(st) {}

  // run serves requests until the connection should close.
  void run(bool admitted) {
    if (!admitted) {
      refuse_over_capacity();
      return;
    }
    while (serve_one()) {
    }
  }

  // linger reports whether the client may still be sending request bytes we
  // will never read.
  bool linger() const { return linger_; }

 private:
  bool serve_one();
  // read_header applies the request limits to parser and reads a header
  // into it, parking the goroutine until it has arrived.
  void read_header(Parser& parser, error_code& ec) {
    apply_request_limits(parser);
    http::read_header(conn_, buf_, parser, ec);
  }
  bool read_failed(const error_code& ec, Parser& parser, int64_t t0);
  void refuse_over_capacity();
  // write sends res; false if the write failed. *keep_alive (in: what the
  // request asked) is set to whether the connection may stay open.
  bool write(Response& res, unsigned version, bool head, bool* keep_alive);
  bool write_stream(Response& res, unsigned version, bool head, const std::string& h);
  Labels labels_of(const Parser& parser) const {
    return gortd::labels_of(ctx_, parser, {static_cast<const char*>(buf_.data().data()), buf_.size()});
  }
  void refuse(unsigned status, std::string_view line, const Labels& l, int64_t t0);

  const ServeContext& ctx_;
  NetConn& conn_;
  ConnState& st_;
  beast::flat_buffer buf_;
  std::string header_;  // reply header being written; reused across requests
  bool linger_ = false;
  uint64_t body_bytes_ = 0;  // body bytes of the last reply written
};

bool Session::serve_one() {
  const ServeLimits& lim = ctx_.limits;
  // Pipelined bytes already buffered mean the next request has begun.
  if (buf_.size() > 0)
    st_.enter(ConnPhase::Reading, gort::nanotime() + lim.read_timeout_ns);
  else
    st_.enter(ConnPhase::Idle, gort::nanotime() + lim.idle_timeout_ns);
  if (ctx_.tracker->draining()) return false;

  Parser parser;
  error_code ec;
  read_header(parser, ec);
  int64_t t0 = gort::nanotime();
  if (ec) return read_failed(ec, parser, t0);

  const BeastRequest& msg = parser.get();
  RoutedRequest routed = route_request(ctx_, msg);
  routed.req.peer = conn_.peer_address();
  routed.req.peer_closed = [this] { return conn_.peer_closed(); };
  const Request& req = routed.req;
  const RouteMatch& m = routed.match;
  const Labels& labels = routed.labels;
  if (routed.refusal) {
    refuse(routed.refusal->status, routed.refusal->line, labels, t0);
    return false;
  }

  bool keep_alive = msg.keep_alive();
  if (!parser.is_done()) {
    if (m.kind != RouteMatch::Found) {
      // We will not read the body: answer, then close.
      keep_alive = false;
      linger_ = true;
    } else {
      if (beast::iequals(msg[http::field::expect], "100-continue")) {
        static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
        int64_t read_deadline = st_.deadline_ns.load(std::memory_order_relaxed);
        st_.enter(ConnPhase::Writing, gort::nanotime() + lim.write_timeout_ns);
        boost::asio::write(conn_, boost::asio::buffer(kContinue.data(), kContinue.size()), ec);
        if (ec) return false;
        st_.enter(ConnPhase::Reading, read_deadline);
      }
      http::read(conn_, buf_, parser, ec);
      if (ec) return read_failed(ec, parser, t0);
    }
  }

  st_.enter(ConnPhase::Handling, 0);
  ctx_.metrics->in_flight_add(1);
  Response res;
  answer(ctx_, routed, res);
  keep_alive = keep_alive && !ctx_.tracker->draining();
  unsigned status = res.status;
  bool ok = write(res, msg.version(), req.method == http::verb::head, &keep_alive);
  ctx_.metrics->in_flight_add(-1);
  const int64_t elapsed = gort::nanotime() - t0;
  ctx_.metrics->observe(labels.path, labels.method, status, double(elapsed) * 1e-9);
  if (!ctx_.observers.empty()) {
    RequestRecord r;
    r.start_unix_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count() - elapsed;
    r.method = req.method_name;
    r.route = m.route ? std::string_view(m.route->pattern) : std::string_view("unmatched");
    r.target = std::string_view(msg.target().data(), msg.target().size());
    r.status = status;
    r.duration_ns = elapsed;
    r.bytes = body_bytes_;
    r.goroutine = gort::goroutine_id(gort::current_g());
    for (RequestObserver* o : ctx_.observers) o->on_request(r);
  }
  return ok && keep_alive;
}

bool Session::read_failed(const error_code& ec, Parser& parser, int64_t t0) {
  bool got_some = parser.got_some() || buf_.size() > 0;
  if (ec == http::error::end_of_stream) return false;  // closed between requests
  if (st_.timed_out.load()) {
    // Idle too long: just close. Mid-request: tell the client (408).
    if (got_some) refuse(408, "request timeout", labels_of(parser), t0);
    return false;
  }
  std::optional<Refusal> refusal = refusal_for_parse_error(ec);
  if (!refusal) return false;  // the client went away or the socket failed
  refuse(refusal->status, refusal->line, labels_of(parser), t0);
  return false;
}

void Session::refuse(unsigned status, std::string_view line, const Labels& l, int64_t t0) {
  linger_ = true;
  Response res;
  res.error(status, line);
  bool keep_alive = false;
  write(res, 11, false, &keep_alive);
  ctx_.metrics->observe(l.path, l.method, status, double(gort::nanotime() - t0) * 1e-9);
}

void Session::refuse_over_capacity() {
  st_.enter(ConnPhase::Reading, gort::nanotime() + kRefusalReadNs);
  Parser parser;
  error_code ec;
  read_header(parser, ec);
  int64_t t0 = gort::nanotime();
  if (ec && !parser.got_some() && buf_.size() == 0) return;
  Labels l = labels_of(parser);
  refuse(503, "too many open connections (limit " + std::to_string(ctx_.limits.max_conns) + ")", l, t0);
}

bool Session::write(Response& res, unsigned version, bool head, bool* keep_alive) {
  std::string& h = header_;  // reused across requests
  *keep_alive = format_reply_header(res, version, *keep_alive, h);
  if (res.stream) return write_stream(res, version, head, h);
  body_bytes_ = head ? 0 : res.body.size();
  std::array<boost::asio::const_buffer, 2> bufs = {boost::asio::buffer(h),
                                                   boost::asio::buffer(res.body.data(), head ? 0 : res.body.size())};
  st_.enter(ConnPhase::Writing, gort::nanotime() + ctx_.limits.write_timeout_ns);
  error_code ec;
  boost::asio::write(conn_, bufs, ec);
  return !ec;
}

// write_stream sends the header h, then the body res.stream produces: one
// chunk per piece (HTTP/1.1) or the raw bytes (HTTP/1.0, ended by the
// close). Each piece gets a fresh write deadline, so a long stream is not
// cut by the write timeout while each write still is; between pieces the
// producer runs as a handler, with no deadline (a dashboard stream waits a
// second between events, longer than a short --write-timeout).
bool Session::write_stream(Response& res, unsigned version, bool head, const std::string& h) {
  error_code ec;
  st_.enter(ConnPhase::Writing, gort::nanotime() + ctx_.limits.write_timeout_ns);
  boost::asio::write(conn_, boost::asio::buffer(h), ec);
  if (ec) return false;
  body_bytes_ = 0;
  if (head) return true;
  st_.enter(ConnPhase::Handling, 0);
  const bool chunked = version >= 11;
  bool failed = false;
  std::string size_line;
  res.stream([&](std::string_view piece) {
    if (failed) return false;
    if (piece.empty()) return true;  // an empty chunk would end the body
    st_.enter(ConnPhase::Writing, gort::nanotime() + ctx_.limits.write_timeout_ns);
    char hex[24];
    size_line.assign(hex, static_cast<size_t>(std::snprintf(hex, sizeof hex, "%zx\r\n", piece.size())));
    std::array<boost::asio::const_buffer, 3> bufs = {boost::asio::buffer(size_line),
                                                     boost::asio::buffer(piece.data(), piece.size()),
                                                     boost::asio::buffer("\r\n", 2)};
    if (chunked) {
      boost::asio::write(conn_, bufs, ec);
    } else {
      boost::asio::write(conn_, boost::asio::buffer(piece.data(), piece.size()), ec);
    }
    failed = static_cast<bool>(ec);
    if (!failed) body_bytes_ += piece.size();
    st_.enter(ConnPhase::Handling, 0);
    return !failed;
  });
  if (failed) return false;
  if (chunked) {
    st_.enter(ConnPhase::Writing, gort::nanotime() + ctx_.limits.write_timeout_ns);
    boost::asio::write(conn_, boost::asio::buffer("0\r\n\r\n", 5), ec);
  }
  return !ec;
}

// close_gently shuts down our sending side, then discards what the client
// still sends until it closes, kLingerNs pass or kLingerMaxBytes arrive.
void close_gently(NetConn& conn, ConnState& st) {
  error_code ec;
  conn.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return;
  st.enter(ConnPhase::Reading, gort::nanotime() + kLingerNs);
  char scratch[2048];
  size_t total = 0;
  while (total < kLingerMaxBytes) {
    size_t n = conn.read_some(boost::asio::buffer(scratch), ec);
    if (ec) break;
    total += n;
  }
}

}  // namespace

void serve_connection(const ServeContext& ctx, tcp::socket sock, bool admitted) {
  ConnState st;
  st.fd = sock.native_handle();
  st.counted = admitted;
  ctx.tracker->add(&st);
  NetConn conn(std::move(sock), st, ctx.limits.read_timeout_ns);
  bool linger = false;
  try {
    Session s(ctx, conn, st);
    s.run(admitted);
    linger = s.linger();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "gortd: connection: %s\n", e.what());
  }
  try {
    if (linger) close_gently(conn, st);
  } catch (const std::exception&) {
  }
  ctx.tracker->remove(&st);
  error_code ec;
  conn.socket().close(ec);
}

}  // namespace gortd
