// main.cpp — gortd's entry point: parse flags, resolve the listen
// addresses, start the goroutine runtime and run the server on the main
// goroutine. Exit status: 0 after a graceful shutdown, 1 when a listener
// cannot be opened, 2 for bad flags.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "runtime/gort.h"
#include "service/options.h"
#include "service/server.h"

int main(int argc, char** argv) {
  int exit_code = 0;
  auto opts = gortd::parse_options(argc, argv, &exit_code);
  if (!opts) return exit_code;

  std::vector<boost::asio::ip::tcp::endpoint> endpoints;
  for (const std::string* addr : {&opts->addr, &opts->debug_addr}) {
    if (addr->empty()) continue;
    boost::asio::ip::tcp::endpoint ep;
    std::string err;
    if (!gortd::resolve_listen_address(*addr, &ep, &err)) {
      std::fprintf(stderr, "gortd: %s\n", err.c_str());
      return 2;
    }
    endpoints.push_back(ep);
  }
  // Writes to a closed connection must fail with EPIPE, not kill us.
  std::signal(SIGPIPE, SIG_IGN);

  // The server outlives the runtime on purpose (see server.h): goroutines
  // abandoned at shutdown may still point into it. It is reachable from
  // this static until the process exits.
  static gortd::Server* server = new gortd::Server(std::move(*opts));
  int rc = 0;
  gort::run_main([&] {
    rc = server->run(endpoints);
    if (server->abandoned() > 0) {
      // Connections outlived --shutdown-timeout: end the process here, as
      // Go's os.Exit would, rather than tear the runtime down around them.
      std::fflush(stderr);
      std::_Exit(rc);
    }
  });
  std::fflush(stderr);
  return rc;
}
