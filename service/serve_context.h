// serve_context.h — what every connection of one listener shares: its route
// table, the metrics, the connection tracker, the limits and the debug auth.
// Built once at start-up; read-only while serving (the pointees synchronize
// themselves).
#pragma once

#include <cstddef>
#include <cstdint>

namespace gortd {

class Router;
class RequestMetrics;
class ConnTracker;
class BasicAuth;

// Request size limits from SPEC.md ("Bad input and limits").
inline constexpr size_t kMaxHeaderBytes = 8 * 1024;    // larger header -> 431
inline constexpr uint64_t kMaxBodyBytes = 1024 * 1024;  // larger body -> 413

struct ServeLimits {
  int64_t read_timeout_ns = 10'000'000'000;    // one request, from its first byte (-> 408)
  int64_t idle_timeout_ns = 120'000'000'000;   // keep-alive wait for the next request
  int64_t write_timeout_ns = 30'000'000'000;   // writing one reply to a client that does not read
  int64_t max_conns = 10000;                   // connections beyond this get 503
};

struct ServeContext {
  const Router* router = nullptr;
  RequestMetrics* metrics = nullptr;
  ConnTracker* tracker = nullptr;
  const BasicAuth* auth = nullptr;  // nullptr: protected routes need no credentials
  ServeLimits limits;
};

}  // namespace gortd
