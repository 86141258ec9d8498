// auth_limiter.h — the failed-login limiter behind --debug-auth: a client
// that sends wrong credentials too often is refused (429 Too Many Requests
// with Retry-After) for the rest of its window, even with the right ones.
//
// Why: basic auth over plain HTTP invites password guessing; the
// constant-time compare (auth.h) hides how close a guess was, this bounds
// how many guesses there are — --debug-auth-max-failures per
// --debug-auth-window per client (default 10 a minute).
//
// The policy, per client:
//   - a client is one IPv4 address, or one IPv6 /64 (a single host
//     usually owns a whole /64 and could otherwise rotate through it);
//   - its first failure opens a window of window_ns; failures inside the
//     window are counted; once there are max_failures, every request from
//     the client to a protected route is refused until the window ends
//     (a fixed window, not sliding: Retry-After is exact, and a client
//     that keeps trying while refused does not extend it — refused
//     attempts are not checked, so they are not guesses);
//   - after the window the client starts afresh.
// Memory is bounded: at most max_clients are tracked (32 bytes each plus
// the hash table's overhead, ~200 KiB at the default 4096). When the table
// is full, expired entries are dropped first, then the one whose window
// opened earliest: an attacker with more addresses than that can free a
// slot, but has as many guesses from its own addresses anyway.
//
// Thread-safe: one mutex, held for a table probe (no parking under it).
#pragma once

#include <boost/asio/ip/address.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>

namespace gortd {

struct AuthLimits {
  int64_t max_failures = 10;         // failures per window before refusing; 0: no limit
  int64_t window_ns = 60'000'000'000;  // the window, from a client's first failure
  size_t max_clients = 4096;         // clients tracked at once (bounded memory)
};

// ClientKey is the client an attempt is counted against: the IPv4 address
// (as v4-mapped IPv6) or the IPv6 address with its low 64 bits cleared.
using ClientKey = std::array<uint8_t, 16>;
ClientKey client_key(const boost::asio::ip::address& a);

class FailedAuthLimiter final {
 public:
  explicit FailedAuthLimiter(AuthLimits limits) : limits_(limits) {}
  FailedAuthLimiter(const FailedAuthLimiter&) = delete;
  FailedAuthLimiter& operator=(const FailedAuthLimiter&) = delete;

  // refused_for returns how long (ns, > 0) client stays refused at now_ns,
  // or 0 when its attempts are admitted. Takes mu_.
  int64_t refused_for(const ClientKey& client, int64_t now_ns);
  // record_failure counts a failed attempt by client at now_ns. Takes mu_.
  void record_failure(const ClientKey& client, int64_t now_ns);
  // tracked returns how many clients the table holds. Takes mu_.
  size_t tracked();

 private:
  struct Entry {
    int64_t window_start_ns = 0;
    int64_t failures = 0;
  };
  struct KeyHash {
    size_t operator()(const ClientKey& k) const;
  };
  bool expired(const Entry& e, int64_t now_ns) const { return now_ns - e.window_start_ns >= limits_.window_ns; }
  void make_room_locked(int64_t now_ns);

  const AuthLimits limits_;
  std::mutex mu_;
  std::unordered_map<ClientKey, Entry, KeyHash> clients_;  // guarded by mu_; size <= limits_.max_clients
};

}  // namespace gortd
