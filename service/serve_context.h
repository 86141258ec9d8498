// serve_context.h — what every connection of one listener shares: its route
// table, the metrics, the connection tracker, the limits and the debug auth.
// Built once at start-up; read-only while serving (the pointees synchronize
// themselves).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

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

// RequestRecord is one answered request, as a RequestObserver sees it.
// The views point into the connection's buffers: copy what you keep.
struct RequestRecord {
  int64_t start_unix_ns = 0;   // wall clock when its header had arrived
  std::string_view method;     // as sent
  std::string_view route;      // the route pattern ("/work", "/debug/pprof/{profile}"), or "unmatched"
  std::string_view target;     // the raw request target, query included
  unsigned status = 0;
  int64_t duration_ns = 0;     // header arrived → reply written
  uint64_t bytes = 0;          // reply body bytes sent
  int64_t goroutine = 0;       // the connection's goroutine id
};

// RequestObserver is told of every answered request on the connection's
// goroutine, after the reply went out: the access log and the
// slow-request trigger. It must not park for long.
class RequestObserver {
 public:
  virtual ~RequestObserver() = default;
  virtual void on_request(const RequestRecord& r) = 0;
};

struct ServeContext {
  const Router* router = nullptr;
  RequestMetrics* metrics = nullptr;
  ConnTracker* tracker = nullptr;
  const BasicAuth* auth = nullptr;  // nullptr: protected routes need no credentials
  ServeLimits limits;
  std::vector<RequestObserver*> observers;  // fixed at start-up
};

}  // namespace gortd
