// netpoll.cpp — the runtime side of the Asio netpoller (see netpoll.h).
//
// Completion handlers run inside netpoll() on whichever thread polls; they
// call IoWaker, which appends the G to that thread's collecting list; the
// scheduler then makes the batch runnable (inject_glist) or runs the first
// G directly. A handler run outside netpoll (never expected) readies the G
// directly.
//
// Blocking until a deadline: the M that sleeps in the netpoller must wake
// at the earliest goroutine timer. io_context::run_one_for rounds its
// timeout up to whole milliseconds (epoll_wait's unit), which made every
// sleep on an otherwise idle runtime up to 1 ms late; instead the deadline
// is an Asio steady_timer, which Asio arms through a timerfd with
// nanosecond precision, and the M blocks in run_one until it or any I/O
// completes. Only one M blocks here at a time (sched.lastpoll), so one
// timer suffices.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <optional>

#include "runtime/netpoll.h"
#include "runtime/sched_internal.h"

namespace gort {

namespace {
using WorkGuard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
std::unique_ptr<boost::asio::io_context> g_io;
std::unique_ptr<WorkGuard> g_work;
std::unique_ptr<boost::asio::steady_timer> g_deadline;  // the blocked M's wake-up (one blocker at a time)
std::atomic<int64_t> g_waiters{0};
std::atomic<bool> g_break_pending{false};
thread_local GQueue* tls_collect = nullptr;
}  // namespace

void netpoll_init() {
  g_io = std::make_unique<boost::asio::io_context>();
  g_work = std::make_unique<WorkGuard>(g_io->get_executor());
  g_deadline = std::make_unique<boost::asio::steady_timer>(*g_io);
  g_waiters = 0;
  g_break_pending = false;
}

void netpoll_shutdown() {
  g_deadline.reset();
  g_work.reset();
  g_io.reset();
}

boost::asio::io_context& io_context() { return *g_io; }

bool netpoll_has_waiters() { return g_waiters.load(std::memory_order_relaxed) > 0; }

void detail::netpoll_waiter_add() { g_waiters.fetch_add(1, std::memory_order_relaxed); }

void detail::netpoll_ready(G* g) {
  g_waiters.fetch_sub(1, std::memory_order_relaxed);
  if (tls_collect) {
    tls_collect->push_back(g);
  } else {
    ready_g(g, false);
  }
}

GQueue netpoll(int64_t block_until_ns) {
  GQueue ready;
  if (!g_io) return ready;
  GQueue* saved = tls_collect;
  tls_collect = &ready;
  sched.netpoll_polls.fetch_add(1, std::memory_order_relaxed);
  if (block_until_ns == 0) {
    g_io->poll();
  } else {
    // steady_clock is CLOCK_MONOTONIC, nanotime()'s clock.
    const bool timed = block_until_ns > 0;
    if (timed) {
      g_deadline->expires_at(std::chrono::steady_clock::time_point(std::chrono::nanoseconds(block_until_ns)));
      g_deadline->async_wait([](const boost::system::error_code&) {});
    }
    if (!timed || block_until_ns > nanotime()) g_io->run_one();
    if (timed) g_deadline->cancel();  // its aborted handler runs in the poll below
    g_break_pending.store(false);
    g_io->poll();
  }
  tls_collect = saved;
  return ready;
}

// netpoll_break wakes an M blocked in netpoll (new earlier timer, shutdown).
void netpoll_break() {
  if (!g_io) return;
  if (g_break_pending.exchange(true)) return;
  boost::asio::post(*g_io, [] {});
}

}  // namespace gort
