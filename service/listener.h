// listener.h — a listening socket and its acceptor goroutine.
//
// The acceptor goroutine parks on Asio's async_accept (gort::await_io) and
// starts one goroutine per accepted connection (serve_connection). Accepted
// sockets get TCP_NODELAY, as Go's net package sets it, and non-blocking
// mode for NetConn's direct writes. When descriptors run out (EMFILE) it
// backs off from 5 ms up to 1 s, as Go's http.Server does, instead of
// spinning.
//
// stop() wakes the parked acceptor without touching the Asio acceptor from
// a second thread: shutdown(2) on a listening socket makes epoll report it
// and accept fail, and the acceptor goroutine then closes the socket
// itself. fd_mu_ orders that close after any shutdown(2).
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>

#include "service/serve_context.h"

namespace gortd {

class Listener final {
 public:
  // open binds and listens on ep (inside the runtime). On failure returns
  // nullptr and sets *err ("listen tcp 127.0.0.1:80: bind: permission denied").
  static std::unique_ptr<Listener> open(const boost::asio::ip::tcp::endpoint& ep, const ServeContext& ctx,
                                        std::string* err);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  boost::asio::ip::tcp::endpoint local_endpoint() const { return local_; }
  // start spawns the acceptor goroutine.
  void start();
  // stop makes the acceptor goroutine stop accepting and close the socket.
  void stop();
  // exited reports whether the acceptor goroutine has returned (after
  // stop(); a Listener may be destroyed only then).
  bool exited() const { return exited_.load(); }

 private:
  Listener(boost::asio::ip::tcp::acceptor a, const ServeContext& ctx);
  void accept_loop();

  boost::asio::ip::tcp::acceptor acceptor_;  // used only by the acceptor goroutine (and open)
  boost::asio::ip::tcp::endpoint local_;
  const ServeContext& ctx_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> exited_{false};  // set by the acceptor goroutine as its last act
  std::mutex fd_mu_;    // orders stop()'s shutdown(2) before the acceptor's close
  bool closed_ = false;  // guarded by fd_mu_
};

}  // namespace gortd
