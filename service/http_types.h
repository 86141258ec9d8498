// http_types.h — what a gortd handler sees and produces.
//
// Handlers are plain synchronous functions that run on the connection's
// goroutine: they may park (sleep, lock a gort::Mutex, wait on a channel)
// but never block the OS thread. They read a Request and fill a Response;
// the connection code serializes it with Beast, adds Content-Length, and
// handles HEAD, keep-alive and the metrics. A reply too long or too slow
// to build whole (an execution trace) sets Response::stream instead of a
// body: it is sent with chunked transfer encoding as it is produced.
#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/verb.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "service/params.h"

namespace gortd {

namespace http = boost::beast::http;

using BeastRequest = http::request<http::string_body>;

inline constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";

struct Request {
  http::verb method = http::verb::unknown;
  std::string_view method_name;  // as sent
  std::string path;              // percent-decoded path, no query
  Query query;
  const BeastRequest* msg = nullptr;  // the parsed message (headers, body)
  boost::asio::ip::address peer;      // the client's address (unspecified in hand-built Requests)
  // peer_closed reports whether the client has hung up (or the connection
  // failed) while the handler runs — long handlers (a 30 s profile) poll it
  // to stop early. Never blocks; null in tests that build a Request by hand.
  std::function<bool()> peer_closed;
};

struct Response {
  unsigned status = 200;
  std::string body;
  std::string_view content_type = kTextPlain;  // must point at static text
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  bool close = false;  // close the connection after this reply

  // StreamWriter sends the next piece of a streamed body; false once the
  // client is gone (the producer should stop).
  using StreamWriter = std::function<bool(std::string_view)>;
  // stream, when set, produces the body after the status line and header
  // are sent (body is ignored): the connection calls it on its goroutine
  // with a writer, and ends the body when it returns. Chunked for HTTP/1.1;
  // for HTTP/1.0 the connection is closed to end the body.
  std::function<void(const StreamWriter&)> stream;

  // text sets a 200 reply body.
  void text(std::string b) { body = std::move(b); }
  // error sets status and a one-line body ending in '\n', as Go's http.Error.
  void error(unsigned code, std::string_view line) {
    status = code;
    body.assign(line);
    body.push_back('\n');
    content_type = kTextPlain;
  }
};

using Handler = std::function<void(const Request&, Response&)>;

}  // namespace gortd
