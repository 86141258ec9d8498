// netpoll.h — the Asio netpoller: goroutines wait for Asio completions
// without blocking an OS thread.
//
// The runtime owns one boost::asio::io_context. Ms with nothing to run poll
// it (non-blocking); when every P is idle one M blocks in it until the
// earliest timer; sysmon polls it if nobody has for 10 ms. Sockets and Asio
// timers are created on io_context() and their async operations started
// through await_io, which parks the calling goroutine (wait reason "IO wait")
// and starts the operation only after the goroutine is fully switched out —
// so a completion on another thread can never resume a goroutine that is
// still running. The completion handler calls the IoWaker it was given.
//
// Example (the service's read path):
//   boost::system::error_code ec; size_t n = 0;
//   gort::await_io([&](gort::IoWaker wake) {
//     sock.async_read_some(buf, [&, wake](auto e, size_t k) { ec = e; n = k; wake(); });
//   });
#pragma once

#include <boost/asio/io_context.hpp>

#include <utility>

#include "runtime/gort.h"

namespace gort {

// io_context returns the runtime's io_context (valid inside run_main).
boost::asio::io_context& io_context();

namespace detail {
void netpoll_ready(G* g);
void netpoll_waiter_add();
}  // namespace detail

// IoWaker makes the parked goroutine runnable again. Call exactly once, from
// the completion handler.
class IoWaker {
 public:
  explicit IoWaker(G* g) : g_(g) {}
  void operator()() const { detail::netpoll_ready(g_); }

 private:
  G* g_;
};

// await_io parks the calling goroutine until the operation started by
// init(IoWaker) completes. Blocks (parks) the goroutine, never the thread.
template <class Init>
void await_io(Init&& init) {
  detail::netpoll_waiter_add();
  detail::park_current(
      [](G* g, void* arg) {
        (*static_cast<std::remove_reference_t<Init>*>(arg))(IoWaker(g));
        return true;
      },
      &init, WaitReason::IOWait);
}

}  // namespace gort
