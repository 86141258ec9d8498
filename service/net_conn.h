// net_conn.h — a TCP connection that reads and writes like blocking code but
// parks only the calling goroutine: Go's netFD on gort's netpoller.
//
// NetConn models Beast's SyncReadStream and SyncWriteStream, so the
// connection goroutine uses Beast's synchronous http::read / http::write —
// plain sequential code — while no OS thread ever blocks on the socket:
//
//   read_some   starts an Asio async_read_some and parks the goroutine on it
//               (gort::await_io). Asio reads speculatively when the socket is
//               known to be readable, so a read costs no extra syscall.
//   write_some  writes directly (the socket is non-blocking); only when the
//               kernel buffer is full does it park on async_write_some.
//               Replies almost always fit, so a request costs one park.
//
// Only one goroutine uses a NetConn, so there is never more than one
// outstanding operation per socket. Deadlines are not enforced here but by
// the reaper (conn_tracker.h); read_some only moves the connection from Idle
// to Reading when a request's first bytes arrive, starting its read timeout.
#pragma once

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/system_error.hpp>

#include <poll.h>

#include <cstdint>
#include <utility>

#include "runtime/netpoll.h"
#include "service/conn_tracker.h"

namespace gortd {

using tcp = boost::asio::ip::tcp;
using error_code = boost::system::error_code;

class NetConn final {
 public:
  NetConn(tcp::socket sock, ConnState& state, int64_t read_timeout_ns)
      : sock_(std::move(sock)), state_(state), read_timeout_ns_(read_timeout_ns) {
    error_code ec;
    tcp::endpoint peer = sock_.remote_endpoint(ec);
    if (!ec) peer_ = peer.address();
  }
  NetConn(const NetConn&) = delete;
  NetConn& operator=(const NetConn&) = delete;

  tcp::socket& socket() { return sock_; }
  // peer_address is the client's address (unspecified if the socket had
  // already failed when the connection began).
  const boost::asio::ip::address& peer_address() const { return peer_; }

  // peer_closed reports, without blocking, whether the client has shut
  // down its side or the connection has failed (poll's POLLRDHUP, POLLHUP,
  // POLLERR). Bytes of a pipelined next request do not count.
  bool peer_closed() {
    pollfd p{sock_.native_handle(), POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    return (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

  // read_some reads at least one byte into b, parking until some arrive.
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& b, error_code& ec) {
    ec = {};
    if (boost::asio::buffer_size(b) == 0) return 0;
    size_t n = 0;
    gort::await_io([&](gort::IoWaker wake) {
      sock_.async_read_some(b, [&ec, &n, wake](const error_code& e, size_t k) {
        ec = e;
        n = k;
        wake();
      });
    });
    if (n > 0 && state_.phase.load(std::memory_order_relaxed) == ConnPhase::Idle)
      state_.enter(ConnPhase::Reading, gort::nanotime() + read_timeout_ns_);
    return n;
  }

  // write_some writes at least one byte of b, parking only if the socket's
  // send buffer is full.
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& b, error_code& ec) {
    size_t n = sock_.write_some(b, ec);
    if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) return n;
    ec = {};
    n = 0;
    gort::await_io([&](gort::IoWaker wake) {
      sock_.async_write_some(b, [&ec, &n, wake](const error_code& e, size_t k) {
        ec = e;
        n = k;
        wake();
      });
    });
    return n;
  }

  // Throwing forms, required by Beast's stream concepts; gortd uses the
  // error_code forms.
  template <class MutableBufferSequence>
  size_t read_some(const MutableBufferSequence& b) {
    error_code ec;
    size_t n = read_some(b, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }
  template <class ConstBufferSequence>
  size_t write_some(const ConstBufferSequence& b) {
    error_code ec;
    size_t n = write_some(b, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  tcp::socket sock_;
  ConnState& state_;
  int64_t read_timeout_ns_;
  boost::asio::ip::address peer_;
};

}  // namespace gortd
