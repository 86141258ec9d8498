// connection.h — one goroutine per connection: HTTP/1.1 with keep-alive.
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "service/serve_context.h"

namespace gortd {

// serve_connection runs on the connection's own goroutine: it reads requests
// with Beast's parser (header 8 KiB, body 1 MiB), routes them, runs the
// handler, writes the reply and repeats while the client keeps the
// connection alive. Refusals (400/408/413/431, and 503 when admitted is
// false) are answered and counted like any other reply. Returns after the
// socket is closed; never throws.
void serve_connection(const ServeContext& ctx, boost::asio::ip::tcp::socket sock, bool admitted);

}  // namespace gortd
