// server.h — gortd assembled: route tables, metrics, listeners, the reaper,
// the stats line, and graceful shutdown.
//
// Lifecycle (Server::run, on the main goroutine):
//   1. install the SIGINT/SIGTERM watcher first, so a signal that arrives
//      during start-up is a shutdown, not a kill;
//   2. build the route tables: everything on the main listener, or with
//      --debug-addr the debug routes (/debug/*, /gc) on a second one;
//   3. bind the listeners, print `gortd listening on ADDR:PORT` (the actual
//      port when asked for port 0) to stderr, start their acceptors, the
//      reaper and the stats printer;
//   4. park until a signal; then stop accepting, drain (idle keep-alive
//      connections are closed, in-flight requests finish and their
//      connections close), wait at most --shutdown-timeout, return 0.
//
// Lifetime: connection goroutines still busy when --shutdown-timeout runs
// out are abandoned, parked, and keep pointers into the Server's state, so
// a Server must outlive the runtime (main() never destroys it). Objects tied
// to the runtime's io_context — the listeners, the signal set — are
// destroyed inside run(), while the runtime still exists.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "service/options.h"

namespace gortd {

class Server final {
 public:
  explicit Server(Options opts);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // run serves until SIGINT/SIGTERM and returns the exit code (0 after a
  // graceful shutdown, 1 if a listener could not be opened). Call on a
  // goroutine (the main one).
  int run(const std::vector<boost::asio::ip::tcp::endpoint>& endpoints);
  // abandoned returns how many connections were still busy when run()'s
  // shutdown wait ran out.
  int64_t abandoned() const;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace gortd
