// client_fleet.cpp — the fault tests' epoll-driven client connections (see
// client_fleet.h).
#include "client_fleet.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

namespace gortd_test {

using namespace std::chrono;

namespace {

constexpr size_t kMaxEventsPerPump = 1024;
constexpr uint32_t kAlways = EPOLLIN | EPOLLRDHUP;

}  // namespace

size_t whole_reply_length(const std::string& buf) {
  size_t eoh = buf.find("\r\n\r\n");
  if (eoh == std::string::npos) return 0;
  std::string head = buf.substr(0, eoh + 2);
  std::transform(head.begin(), head.end(), head.begin(), [](unsigned char c) { return std::tolower(c); });
  size_t at = head.find("\r\ncontent-length:");
  if (at == std::string::npos) {
    int status = head.size() > 12 ? std::atoi(head.c_str() + 9) : 0;
    return (status / 100 == 1 || status == 204 || status == 304) ? eoh + 4 : 0;
  }
  size_t n = std::strtoul(head.c_str() + at + 17, nullptr, 10);
  return buf.size() >= eoh + 4 + n ? eoh + 4 + n : 0;
}

ClientFleet::ClientFleet() : epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
  if (epoll_fd_ < 0) throw std::runtime_error("epoll_create1 failed");
}

ClientFleet::~ClientFleet() {
  for (Conn& c : conns_)
    if (c.fd >= 0) ::close(c.fd);
  ::close(epoll_fd_);
}

size_t ClientFleet::open(int port) {
  size_t i = conns_.size();
  conns_.emplace_back();
  want_out_.push_back(true);
  live_++;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    end(i, true, errno);
    return i;
  }
  conns_[i].fd = fd;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    end(i, true, errno);
    return i;
  }
  epoll_event ev{};
  ev.events = kAlways | EPOLLOUT;  // EPOLLOUT: the connect finished
  ev.data.u64 = i;
  if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) throw std::runtime_error("epoll_ctl ADD failed");
  return i;
}

void ClientFleet::send(size_t i, const std::string& bytes) {
  if (conns_[i].ended) return;
  conns_[i].out += bytes;
  if (conns_[i].connected) writable(i);
  else arm(i);
}

void ClientFleet::close(size_t i, bool reset) {
  Conn& c = conns_[i];
  if (c.ended) return;
  if (reset) {
    linger l{1, 0};
    setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  }
  ::close(c.fd);
  c.fd = -1;
  c.ended = true;
  live_--;
}

void ClientFleet::arm(size_t i) {
  Conn& c = conns_[i];
  if (c.ended) return;
  bool want = !c.connected || !c.out.empty();
  if (want == want_out_[i]) return;
  want_out_[i] = want;
  epoll_event ev{};
  ev.events = kAlways | (want ? uint32_t{EPOLLOUT} : uint32_t{0});
  ev.data.u64 = i;
  epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, c.fd, &ev);
}

void ClientFleet::end(size_t i, bool by_peer, int err) {
  Conn& c = conns_[i];
  if (c.ended) return;
  if (c.fd >= 0) ::close(c.fd);
  c.fd = -1;
  c.ended = true;
  c.ended_by_peer = by_peer;
  c.error = err;
  c.partial = c.in;
  live_--;
}

void ClientFleet::writable(size_t i) {
  Conn& c = conns_[i];
  if (!c.connected) {
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return end(i, true, err);
    c.connected = true;
  }
  while (!c.out.empty()) {
    ssize_t n = ::send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out.erase(0, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    // The server closed or reset: what it sent before is still to be read,
    // and the read side reports the end.
    c.out.clear();
  }
  arm(i);
}

void ClientFleet::readable(size_t i) {
  char buf[65536];
  for (;;) {
    ssize_t n = recv(conns_[i].fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) return end(i, true, n == 0 ? 0 : errno);
    conns_[i].in.append(buf, static_cast<size_t>(n));
    conns_[i].bytes_in += n;
    while (size_t len = whole_reply_length(conns_[i].in)) {
      Reply r = parse_reply(conns_[i].in.substr(0, len));
      r.raw.clear();
      conns_[i].in.erase(0, len);
      conns_[i].replies.push_back(r);
      if (on_reply) on_reply(i, r);  // may send, close, or open (conns_ may move)
      if (conns_[i].ended) return;
    }
    if (static_cast<size_t>(n) < sizeof buf) return;
  }
}

void ClientFleet::pump(milliseconds timeout) {
  epoll_event evs[kMaxEventsPerPump];
  int n = epoll_wait(epoll_fd_, evs, kMaxEventsPerPump, static_cast<int>(timeout.count()));
  for (int k = 0; k < n; k++) {
    size_t i = evs[k].data.u64;
    uint32_t e = evs[k].events;
    if (conns_[i].ended) continue;
    if (!conns_[i].connected && (e & (EPOLLOUT | EPOLLERR | EPOLLHUP))) writable(i);
    if (!conns_[i].ended && (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) readable(i);
    if (!conns_[i].ended && (e & EPOLLOUT)) writable(i);
  }
}

bool ClientFleet::pump_until(const std::function<bool()>& pred, milliseconds limit) {
  auto deadline = steady_clock::now() + limit;
  for (;;) {
    if (pred()) return true;
    auto left = duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) return false;
    pump(std::min(left, milliseconds(50)));
  }
}

}  // namespace gortd_test
