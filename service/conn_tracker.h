// conn_tracker.h — every open connection of gortd, for the connection cap,
// the timeouts, and graceful shutdown.
//
// Timeouts without touching Asio objects from two threads: a connection's
// goroutine publishes what it is doing (ConnState::phase) and until when it
// may do it (deadline_ns) with two atomic stores — no timer is armed per
// request. The reaper goroutine scans the tracker a few times a second and,
// for each connection past its deadline, calls shutdown(2) on the raw
// descriptor: SHUT_RD while the connection waits to read (the pending read
// completes with end-of-file, and the owner may still answer 408), SHUT_RDWR
// while it is writing to a client that does not read. shutdown(2) changes
// no Asio state, so the only race to exclude is the owner closing the
// descriptor underneath the reaper: owners unregister (under mu_) before they
// close, and the reaper holds mu_ while it calls shutdown. mu_ is the
// runtime's Mutex, so a connection goroutine that waits for it while the
// reaper walks the list parks instead of blocking its OS thread (and the
// goroutines queued behind it on that P).
//
// Rejected: one Asio steady_timer per connection re-armed per request (a
// timer-queue update, often a timerfd syscall, on every request, and timer
// handlers running concurrently with the owner's next operation), and
// beast::tcp_stream's built-in timeouts (the same cross-thread handler
// race, here with Beast's internal assertions as the failure mode).
//
// Graceful shutdown: drain() marks the tracker draining and shuts down the
// read side of every idle connection (waiting for a next request); busy
// connections notice draining() after their reply and close. The owner
// stores its phase before it loads draining_, drain() stores draining_
// before it loads phases (both seq_cst), so no idle connection is missed.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/sync.h"

namespace gortd {

enum class ConnPhase : uint8_t {
  Idle,      // waiting for the first byte of a request (keep-alive wait)
  Reading,   // reading a request's header or body
  Handling,  // running the handler: no deadline
  Writing,   // writing the reply
};

struct ConnState {
  int fd = -1;                            // constant while registered
  bool counted = true;                    // counts toward the connection cap
  std::atomic<ConnPhase> phase{ConnPhase::Idle};
  std::atomic<int64_t> deadline_ns{0};    // gort::nanotime() limit of the phase; 0 = none
  std::atomic<bool> timed_out{false};     // set by the reaper before shutdown(2)
  uint8_t shut = 0;                       // guarded by ConnTracker::mu_: 0, or the SHUT_RD/SHUT_RDWR done + 1
  ConnState* prev = nullptr;              // guarded by ConnTracker::mu_
  ConnState* next = nullptr;              // guarded by ConnTracker::mu_

  // enter moves to phase with the given deadline (0: none).
  void enter(ConnPhase p, int64_t deadline) {
    deadline_ns.store(deadline, std::memory_order_relaxed);
    phase.store(p, std::memory_order_seq_cst);
  }
};

class ConnTracker final {
 public:
  ConnTracker() = default;
  ConnTracker(const ConnTracker&) = delete;
  ConnTracker& operator=(const ConnTracker&) = delete;

  // admit counts a newly accepted connection toward the cap and returns
  // true, or returns false when max connections are already open (the
  // connection is then served a 503 and registered with counted = false).
  bool admit(int64_t max);
  // add registers c (fd set); remove unregisters it and releases its slot
  // from admit — call remove before closing the descriptor.
  void add(ConnState* c);
  void remove(ConnState* c);
  // open returns the admitted connections; refusing those being refused.
  int64_t open() const { return open_.load(std::memory_order_relaxed); }
  int64_t refusing() const { return refusing_.load(std::memory_order_relaxed); }

  // reap shuts down every connection whose deadline is before now.
  // Returns how many it shut down.
  int reap(int64_t now);
  // drain starts graceful shutdown (see the essay above).
  void drain();
  bool draining() const { return draining_.load(std::memory_order_seq_cst); }

 private:
  gort::Mutex mu_;               // guards the list; held only for list walks and shutdown(2)
  ConnState* head_ = nullptr;    // guarded by mu_
  std::atomic<int64_t> open_{0};      // admitted and not yet removed
  std::atomic<int64_t> refusing_{0};  // registered with counted = false
  std::atomic<bool> draining_{false};
};

}  // namespace gortd
