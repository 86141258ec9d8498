// access_log.h — gortd's access log (--access-log PATH|-): one structured
// line per answered request — time, method, route, raw target, status,
// duration, body bytes, goroutine id — in logfmt (default) or JSON:
//
//   time=2026-12-04T19:07:00.123456Z method=GET route=/work target="/work?n=10" status=200 duration=0.000412 bytes=41 goroutine=17
//   {"time":"2026-12-04T19:07:00.123456Z","method":"GET","route":"/work","target":"/work?n=10","status":200,"duration":0.000412,"bytes":41,"goroutine":17}
//
// Written through spdlog's asynchronous logger: the request's goroutine
// formats the line and queues it (no I/O, no lock held across a write);
// one spdlog thread writes. The queue is bounded (kQueueLines) and drops
// its oldest lines when the disk cannot keep up — counted in
// gort_access_log_dropped_lines_total — so a slow disk never slows
// requests. reopen() (SIGHUP) closes and reopens the file, so logrotate's
// rename-then-HUP works.
#pragma once

#include <memory>
#include <string>

#include "service/serve_context.h"

namespace spdlog {
class logger;
namespace details {
class thread_pool;
}
}  // namespace spdlog

namespace gortd {

class ReopenableFileSink;

class AccessLog final : public RequestObserver {
 public:
  // open starts the log at path ("-": standard output); null with *why if
  // the file cannot be opened for appending.
  static std::unique_ptr<AccessLog> open(const std::string& path, bool json, std::string* why);
  ~AccessLog() override;

  void on_request(const RequestRecord& r) override;
  // reopen closes and reopens the file (no-op for standard output).
  void reopen();
  // close writes out every queued line and stops the writer thread; call it
  // only when no request can be logged any more (graceful shutdown, after
  // the last connection closed).
  void close();
  // dropped is how many lines the full queue dropped.
  uint64_t dropped() const;

  // format is the line for r, without the newline (exposed for tests).
  static std::string format(const RequestRecord& r, bool json);

 private:
  AccessLog() = default;
  bool json_ = false;
  std::shared_ptr<ReopenableFileSink> file_;  // null for standard output
  std::shared_ptr<spdlog::details::thread_pool> pool_;  // the writer thread (the logger holds it weakly)
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace gortd
