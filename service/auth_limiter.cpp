// auth_limiter.cpp — per-client failed-login windows (see auth_limiter.h).
#include "service/auth_limiter.h"

#include <algorithm>
#include <cstring>

namespace gortd {

ClientKey client_key(const boost::asio::ip::address& a) {
  ClientKey k{};
  if (a.is_v4()) {
    auto v4 = a.to_v4().to_bytes();
    k[10] = k[11] = 0xff;  // ::ffff:a.b.c.d
    std::memcpy(&k[12], v4.data(), 4);
    return k;
  }
  boost::asio::ip::address_v6 v6 = a.to_v6();
  if (v6.is_v4_mapped()) return client_key(boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, v6));
  auto b = v6.to_bytes();
  std::memcpy(k.data(), b.data(), 8);  // the /64
  return k;
}

size_t FailedAuthLimiter::KeyHash::operator()(const ClientKey& k) const {
  uint64_t hi, lo;
  std::memcpy(&hi, k.data(), 8);
  std::memcpy(&lo, k.data() + 8, 8);
  uint64_t h = (hi ^ (lo * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
  return static_cast<size_t>(h ^ (h >> 31));
}

int64_t FailedAuthLimiter::refused_for(const ClientKey& client, int64_t now_ns) {
  if (limits_.max_failures <= 0) return 0;
  std::lock_guard<std::mutex> l(mu_);
  auto it = clients_.find(client);
  if (it == clients_.end()) return 0;
  if (expired(it->second, now_ns)) {
    clients_.erase(it);
    return 0;
  }
  if (it->second.failures < limits_.max_failures) return 0;
  return std::max<int64_t>(it->second.window_start_ns + limits_.window_ns - now_ns, 1);
}

void FailedAuthLimiter::record_failure(const ClientKey& client, int64_t now_ns) {
  if (limits_.max_failures <= 0) return;
  std::lock_guard<std::mutex> l(mu_);
  auto it = clients_.find(client);
  if (it != clients_.end() && !expired(it->second, now_ns)) {
    it->second.failures = std::min(it->second.failures + 1, limits_.max_failures);
    return;
  }
  if (it != clients_.end()) {
    it->second = {now_ns, 1};
    return;
  }
  if (clients_.size() >= limits_.max_clients) make_room_locked(now_ns);
  clients_.emplace(client, Entry{now_ns, 1});
}

size_t FailedAuthLimiter::tracked() {
  std::lock_guard<std::mutex> l(mu_);
  return clients_.size();
}

// make_room_locked drops expired entries, and if none was, the entry whose
// window opened first. O(max_clients), only when the table is full.
void FailedAuthLimiter::make_room_locked(int64_t now_ns) {
  size_t before = clients_.size();
  for (auto it = clients_.begin(); it != clients_.end();) it = expired(it->second, now_ns) ? clients_.erase(it) : std::next(it);
  if (clients_.size() < before || clients_.empty()) return;
  auto oldest = std::min_element(clients_.begin(), clients_.end(), [](const auto& a, const auto& b) {
    return a.second.window_start_ns < b.second.window_start_ns;
  });
  clients_.erase(oldest);
}

}  // namespace gortd
