// ui_handlers.cpp — the live dashboard, /debug/ui (debug routes: on the
// debug listener when there is one, behind --debug-auth):
//
//   /debug/ui                 the page (service/ui/dashboard.html)
//   /debug/ui/dashboard.js    its script; /debug/ui/chart.js: Chart.js 3.9
//   /debug/ui/stream          Server-Sent Events: one dashboard event a second
//   /debug/ui/data?window=S   one event for the next S seconds (default 1)
//
// The files are embedded in the binary (ui/assets.h); the page loads
// nothing from anywhere else, and its Content-Security-Policy says so. The
// figures are dashboard.h's: each event covers the window since the
// previous one.
//
// A stream is one long request on its connection's goroutine. It must
// neither be cut by gortd's timeouts nor outlive its client: the connection
// applies the write timeout to each event's write only (not to the second
// between events, which is handler time with no deadline), and the stream
// checks every kPollSliceMs whether the client has hung up or the server is
// shutting down, and then returns, which ends the request and frees the
// goroutine. A client that stops reading without hanging up is cut by the
// write timeout once the socket's buffers fill.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "runtime/gort.h"
#include "service/conn_tracker.h"
#include "service/dashboard.h"
#include "service/handlers.h"
#include "service/request_metrics.h"
#include "service/ui/assets.h"

namespace gortd {

namespace {

constexpr std::string_view kHtml = "text/html; charset=utf-8";
constexpr std::string_view kJavaScript = "text/javascript; charset=utf-8";
constexpr std::string_view kJson = "application/json; charset=utf-8";
constexpr std::string_view kEventStream = "text/event-stream; charset=utf-8";
// The page may load scripts, data and styles from gortd only (the inline
// style attributes are Chart.js's canvas sizing).
constexpr std::string_view kPagePolicy =
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:";

// One dashboard event a second, as the page plots them.
constexpr int64_t kEventIntervalNs = 1'000'000'000;
// How often a stream (or a snapshot's window) checks that its client is
// still there and the server is not shutting down.
constexpr int64_t kPollSliceNs = 100'000'000;
// EventSource reconnects this long after a stream ends (a restart of gortd).
constexpr std::string_view kRetryField = "retry: 2000\n\n";
// The snapshot's window: seconds, default 1, like the stream's.
constexpr double kMinWindowSeconds = 0.1, kMaxWindowSeconds = 60;

// StreamGuard tells a long request when to give up: its client hung up or
// gortd is shutting down.
struct StreamGuard {
  std::function<bool()> peer_closed;  // null in hand-built requests
  const ConnTracker* tracker = nullptr;

  bool stop() const { return (peer_closed && peer_closed()) || (tracker && tracker->draining()); }

  // wait_until parks until gort::nanotime() reaches deadline_ns, in slices;
  // false if it should stop instead.
  bool wait_until(int64_t deadline_ns) const {
    for (;;) {
      if (stop()) return false;
      int64_t left = deadline_ns - gort::nanotime();
      if (left <= 0) return true;
      gort::sleep_for(std::chrono::nanoseconds(std::min(left, kPollSliceNs)));
    }
  }
};

void serve_file(Response& res, std::string_view content_type, std::string_view bytes) {
  res.content_type = content_type;
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("Cache-Control", "no-cache");
  res.body.assign(bytes);
}

void serve_page(Response& res) {
  serve_file(res, kHtml, ui::kDashboardHtml);
  res.headers.emplace_back("Content-Security-Policy", std::string(kPagePolicy));
}

// serve_stream sends a dashboard event every kEventIntervalNs until the
// client hangs up or gortd shuts down (see the essay above).
void serve_stream(const DebugInfo& info, const Request& req, Response& res) {
  res.content_type = kEventStream;
  res.headers.emplace_back("Cache-Control", "no-cache");
  res.headers.emplace_back("X-Accel-Buffering", "no");  // a proxy in front must not hold events back
  StreamGuard guard{req.peer_closed, info.tracker};
  const RequestMetrics* metrics = info.metrics;
  res.stream = [guard, metrics](const Response::StreamWriter& write) {
    if (!write(kRetryField)) return;
    DashboardSample prev = take_dashboard_sample(*metrics);
    int64_t next_ns = prev.mono_ns;
    for (;;) {
      // Late ticks (an overloaded machine) are skipped, not caught up in a burst.
      next_ns = std::max(next_ns + kEventIntervalNs, gort::nanotime());
      if (!guard.wait_until(next_ns)) return;
      DashboardSample cur = take_dashboard_sample(*metrics);
      if (!write("data: " + dashboard_json(prev, cur) + "\n\n")) return;
      prev = std::move(cur);
    }
  };
}

// serve_data answers one event for a window of ?window= seconds from now.
void serve_data(const DebugInfo& info, const Request& req, Response& res) {
  ParamReader p(req.query);
  double window = p.number("window", 1, kMinWindowSeconds, kMaxWindowSeconds);
  if (!p.ok()) return res.error(400, p.error());
  StreamGuard guard{req.peer_closed, info.tracker};
  DashboardSample prev = take_dashboard_sample(*info.metrics);
  if (!guard.wait_until(prev.mono_ns + static_cast<int64_t>(window * 1e9))) {
    res.error(503, "dashboard snapshot abandoned: client gone or server shutting down");
    res.close = true;
    return;
  }
  res.content_type = kJson;
  res.body = dashboard_json(prev, take_dashboard_sample(*info.metrics)) + "\n";
}

}  // namespace

void add_ui_routes(Router& r, const DebugInfo& info) {
  const std::vector<http::verb> get = {http::verb::get};
  r.add("/debug/ui", get, [](const Request&, Response& res) { serve_page(res); }, true)
      .describe("/debug/ui", "live dashboard: heap, GC, goroutines, scheduler, requests (open in a browser)");
  r.add("/debug/ui/stream", get, [&info](const Request& req, Response& res) { serve_stream(info, req, res); }, true)
      .describe("/debug/ui/stream", "the dashboard's data: Server-Sent Events, one JSON event a second");
  r.add("/debug/ui/data", get, [&info](const Request& req, Response& res) { serve_data(info, req, res); }, true)
      .describe("/debug/ui/data?window=S", "one dashboard event (JSON) for the next S seconds (default 1)");
  r.add("/debug/ui/dashboard.js", get,
        [](const Request&, Response& res) { serve_file(res, kJavaScript, ui::kDashboardJs); }, true);
  r.add("/debug/ui/chart.js", get,
        [](const Request&, Response& res) { serve_file(res, kJavaScript, ui::kChartJs); }, true);
}

}  // namespace gortd
