// listener.cpp — the acceptor goroutine (see listener.h).
#include "service/listener.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "runtime/netpoll.h"
#include "service/conn_tracker.h"
#include "service/connection.h"

namespace gortd {

namespace {
// Connections being refused (503) at once, beyond which new ones are closed
// unanswered: refusing is itself work a flood must not be able to multiply.
constexpr int64_t kMaxRefusing = 256;
constexpr int64_t kMinAcceptBackoffMs = 5, kMaxAcceptBackoffMs = 1000;  // Go's http.Server values
}  // namespace

using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

Listener::Listener(tcp::acceptor a, const ServeContext& ctx) : acceptor_(std::move(a)), ctx_(ctx) {
  local_ = acceptor_.local_endpoint();
}

std::unique_ptr<Listener> Listener::open(const tcp::endpoint& ep, const ServeContext& ctx, std::string* err) {
  tcp::acceptor a(gort::io_context());
  error_code ec;
  const char* step = "socket";
  a.open(ep.protocol(), ec);
  if (!ec) {
    step = "setsockopt";
    a.set_option(tcp::acceptor::reuse_address(true), ec);
  }
  if (!ec) {
    step = "bind";
    a.bind(ep, ec);
  }
  if (!ec) {
    step = "listen";
    a.listen(tcp::socket::max_listen_connections, ec);
  }
  if (ec) {
    std::string where = ep.address().to_string() + ":" + std::to_string(ep.port());
    *err = "listen tcp " + where + ": " + step + ": " + ec.message();
    return nullptr;
  }
  return std::unique_ptr<Listener>(new Listener(std::move(a), ctx));
}

void Listener::start() {
  gort::go([this] { accept_loop(); });
}

void Listener::stop() {
  stopping_.store(true);
  std::lock_guard<std::mutex> l(fd_mu_);
  if (!closed_) ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
}

void Listener::accept_loop() {
  int64_t backoff_ms = 0;
  while (!stopping_.load()) {
    tcp::socket sock(gort::io_context());
    error_code ec;
    gort::await_io([&](gort::IoWaker wake) {
      acceptor_.async_accept(sock, [&ec, wake](const error_code& e) {
        ec = e;
        wake();
      });
    });
    if (stopping_.load()) break;
    if (ec) {
      // Out of descriptors or memory: wait for connections to close. Other
      // errors (a connection reset while queued) concern one connection.
      if (ec == boost::asio::error::no_descriptors || ec == boost::asio::error::no_buffer_space ||
          ec == boost::asio::error::no_memory || ec.value() == ENFILE) {
        backoff_ms = backoff_ms ? std::min(backoff_ms * 2, kMaxAcceptBackoffMs) : kMinAcceptBackoffMs;
        std::fprintf(stderr, "gortd: accept: %s; retrying in %lld ms\n", ec.message().c_str(),
                     static_cast<long long>(backoff_ms));
        gort::sleep_ms(backoff_ms);
      }
      continue;
    }
    backoff_ms = 0;
    sock.set_option(tcp::no_delay(true), ec);
    sock.non_blocking(true, ec);
    bool admitted = ctx_.tracker->admit(ctx_.limits.max_conns);
    if (!admitted && ctx_.tracker->refusing() >= kMaxRefusing) continue;  // sock closes here
    gort::go([ctx = &ctx_, s = std::move(sock), admitted]() mutable { serve_connection(*ctx, std::move(s), admitted); });
  }
  {
    std::lock_guard<std::mutex> l(fd_mu_);
    error_code ec;
    acceptor_.close(ec);
    closed_ = true;
  }
  exited_.store(true);
}

}  // namespace gortd
