// conn_tracker.cpp — connection registry, reaper and drain (see
// conn_tracker.h).
#include "service/conn_tracker.h"

#include <sys/socket.h>

#include <mutex>

namespace gortd {

bool ConnTracker::admit(int64_t max) {
  if (open_.fetch_add(1, std::memory_order_relaxed) < max) return true;
  open_.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

void ConnTracker::add(ConnState* c) {
  std::lock_guard<gort::Mutex> l(mu_);
  c->prev = nullptr;
  c->next = head_;
  if (head_) head_->prev = c;
  head_ = c;
  if (!c->counted) refusing_.fetch_add(1, std::memory_order_relaxed);
}

void ConnTracker::remove(ConnState* c) {
  std::lock_guard<gort::Mutex> l(mu_);
  if (c->prev) c->prev->next = c->next;
  else head_ = c->next;
  if (c->next) c->next->prev = c->prev;
  c->prev = c->next = nullptr;
  (c->counted ? open_ : refusing_).fetch_sub(1, std::memory_order_relaxed);
}

int ConnTracker::reap(int64_t now) {
  int n = 0;
  std::lock_guard<gort::Mutex> l(mu_);
  for (ConnState* c = head_; c; c = c->next) {
    int64_t d = c->deadline_ns.load(std::memory_order_relaxed);
    if (d == 0 || d > now) continue;
    ConnPhase p = c->phase.load(std::memory_order_seq_cst);
    if (p == ConnPhase::Handling) continue;
    // A read side already shut down can still block in a write (a 408 to a
    // client that does not read), so a write deadline escalates to SHUT_RDWR.
    int how = p == ConnPhase::Writing ? SHUT_RDWR : SHUT_RD;
    if (c->shut > how) continue;  // already done
    c->timed_out.store(true, std::memory_order_seq_cst);
    ::shutdown(c->fd, how);
    c->shut = static_cast<uint8_t>(how + 1);
    n++;
  }
  return n;
}

void ConnTracker::drain() {
  draining_.store(true, std::memory_order_seq_cst);
  std::lock_guard<gort::Mutex> l(mu_);
  for (ConnState* c = head_; c; c = c->next)
    if (c->phase.load(std::memory_order_seq_cst) == ConnPhase::Idle && c->shut == 0) {
      ::shutdown(c->fd, SHUT_RD);
      c->shut = SHUT_RD + 1;
    }
}

}  // namespace gortd
