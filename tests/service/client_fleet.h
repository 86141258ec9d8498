// client_fleet.h — many non-blocking HTTP/1.1 client connections to gortd
// driven by one epoll loop in the test's thread: the fault tests' clients
// (thousands of idle keep-alive connections, a crowd of clients under
// SIGTERM, more connections than gortd has descriptors) without a thread per
// connection.
//
// Each connection records what a careful HTTP client would see: the replies
// that arrived whole (Content-Length framed: every reply the fault tests ask
// for is), and how the connection ended — closed by the server (EOF), reset
// or refused (errno), or by the test — with the bytes of a reply it was in
// the middle of, if any. `partial` non-empty is a half-written reply, the
// one outcome a graceful server must never produce.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "gortd_harness.h"

namespace gortd_test {

class ClientFleet final {
 public:
  struct Conn {
    int fd = -1;                 // -1 once closed
    bool connected = false;      // the TCP handshake completed
    bool ended = false;          // closed, by either side
    bool ended_by_peer = false;  // EOF or an error, not close()
    int error = 0;               // errno that ended it (ECONNREFUSED, ECONNRESET …); 0 for EOF
    std::string out;             // bytes queued, not yet sent
    std::string in;              // bytes received that do not yet make a whole reply
    std::vector<Reply> replies;  // whole replies, in order (raw dropped to save memory)
    std::string partial;         // when it ended inside a reply: that reply's bytes
    int64_t bytes_in = 0;        // every byte received
  };
  // ReplyHook runs for each whole reply as it is parsed (to send the next
  // request, close, …); Conn::replies already holds it.
  using ReplyHook = std::function<void(size_t index, const Reply&)>;

  ClientFleet();
  ~ClientFleet();  // closes what is still open
  ClientFleet(const ClientFleet&) = delete;
  ClientFleet& operator=(const ClientFleet&) = delete;

  // open starts a non-blocking connect to 127.0.0.1:port and returns the
  // connection's index; a connect that fails at once ends it with its errno.
  size_t open(int port);
  // send queues bytes on connection i (sent as the socket allows).
  void send(size_t i, const std::string& bytes);
  // close closes connection i; reset sends RST (SO_LINGER 0) instead of FIN.
  void close(size_t i, bool reset = false);
  Conn& operator[](size_t i) { return conns_[i]; }
  const Conn& operator[](size_t i) const { return conns_[i]; }
  size_t size() const { return conns_.size(); }
  // live counts connections not yet ended.
  size_t live() const { return live_; }

  // pump waits at most timeout for socket events and handles them: finishes
  // connects, sends queued bytes, reads and parses replies, notes ends.
  void pump(std::chrono::milliseconds timeout);
  // pump_until pumps until pred holds (true) or limit passes (false).
  bool pump_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = kPatience);

  ReplyHook on_reply;

 private:
  void arm(size_t i);
  void end(size_t i, bool by_peer, int err);
  void readable(size_t i);
  void writable(size_t i);

  int epoll_fd_ = -1;
  std::vector<Conn> conns_;
  std::vector<bool> want_out_;  // EPOLLOUT registered for conns_[i]
  size_t live_ = 0;
};

// whole_reply_length returns the length of the whole Content-Length framed
// reply at the front of buf, or 0 while it is incomplete (a reply without
// Content-Length is complete only at the close, so also 0).
size_t whole_reply_length(const std::string& buf);

}  // namespace gortd_test
