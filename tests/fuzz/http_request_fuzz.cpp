// http_request_fuzz.cpp — fuzzes gortd's request path from raw bytes to the
// reply, in process: Beast's request parser with the connection's limits
// (header 8 KiB, body 1 MiB), then request_pipeline.h — target split,
// Host check, query, route, debug-auth check, the real handler from the
// real route table (build_route_tables, as Server builds it), and the
// reply's status line and header. The connection goroutine calls the same
// functions between its socket reads and writes (connection.cpp); only the
// socket is replaced, by the input's bytes. Pipelined requests are served
// in turn while the replies keep the connection open, as a Session does.
//
// Handlers run on goroutines: LLVMFuzzerInitialize starts the gort runtime
// on a thread of its own, whose main goroutine serves the inputs the
// fuzzer thread hands over (a mutex/condvar hand-off; the goroutine parks
// in await_io and is woken through the runtime's io_context, so no OS
// thread of the runtime ever blocks). An atexit hook ends the main
// goroutine and joins that thread, so the runtime shuts down cleanly.
//
// The harness is gortd with --debug-auth user:pass on one listener, so the
// debug routes sit behind the auth check (the seeds carry the header).
//
// Bounded handlers. A request whose cost is its parameter would stall the
// fuzzer (/work?n=1e10, /sleep?ms=600000, a 30 s CPU profile), so for the
// routes in cost_of() the harness first reads the cost parameters itself,
// with ParamReader and the handler's own ranges and defaults, and skips the
// handler when they are valid and above the budget below; invalid ones
// still reach the handler, which answers 400 at once. Everything else runs
// for real. State handlers change globally is put back after each input:
// /gc's GOGC and memory limit are restored, /leak's goroutines released.
//
// Properties checked (abort() on violation):
//   - no crash, no sanitizer report, no exception out of the pipeline;
//   - every reply has a status in [100, 599];
//   - a 4xx reply's body is one line ending in '\n';
//   - a request for an exact route (not a {template}, which may answer 404
//     for a name it does not know; not /error, which answers the status it
//     is asked for) that was parsed whole and matched never gets 404;
//   - the formatted reply (header + body) parses back with Beast's
//     response parser to the same status and body, and no header value
//     carries a line break.
#include <boost/asio/post.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <prometheus/registry.h>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "gc/heap.h"
#include "runtime/gort.h"
#include "runtime/netpoll.h"
#include "service/auth.h"
#include "service/conn_tracker.h"
#include "service/demos.h"
#include "service/gc_metrics.h"
#include "service/go_runtime_metrics.h"
#include "service/handlers.h"
#include "service/metrics_exporter.h"
#include "service/request_metrics.h"
#include "service/request_pipeline.h"
#include "service/runtime_metrics.h"

namespace {

using namespace gortd;
namespace beast = boost::beast;
using boost::system::error_code;

// At most this many pipelined requests are served per input.
constexpr int kMaxRequestsPerInput = 8;
// A streamed reply is collected up to this many bytes, then the writer
// reports the client gone (the producer stops).
constexpr size_t kMaxStreamBytes = 16 << 20;

// Budgets for the bounded handlers: what one input may cost.
constexpr int64_t kMaxWorkRounds = 100'000;  // /work, /mixed, /fanout n: ~1 ms under ASan
constexpr int64_t kMaxFanoutGoroutines = 16;
constexpr int64_t kMaxAllocKb = 64;          // /alloc, /mixed kb
constexpr int64_t kMaxAllocKeep = 8;         // ... and keep: at most 8 × 64 KiB live
constexpr int64_t kMaxSleepMs = 2;           // /sleep, /mixed ms
constexpr int64_t kMaxLeakGoroutines = 16;   // /leak n (released after the input)
constexpr int64_t kMaxContendGoroutines = 8, kMaxContendRounds = 100;
constexpr double kMaxTraceSeconds = 0.005;   // /debug/pprof/trace seconds

// MemStream is the socket: a SyncReadStream over the input's bytes, then EOF.
class MemStream {
 public:
  explicit MemStream(std::string_view data) : data_(data) {}
  template <class Buffers>
  size_t read_some(const Buffers& buffers, error_code& ec) {
    if (data_.empty()) {
      ec = boost::asio::error::eof;
      return 0;
    }
    ec = {};
    size_t n = boost::asio::buffer_copy(buffers, boost::asio::buffer(data_.data(), data_.size()));
    data_.remove_prefix(n);
    return n;
  }
  template <class Buffers>
  size_t read_some(const Buffers& buffers) {
    error_code ec;
    size_t n = read_some(buffers, ec);
    if (ec) throw boost::system::system_error(ec);
    return n;
  }

 private:
  std::string_view data_;
};

// GORT_FUZZ_VERBOSE=1 prints each reply's status line (to check seeds).
const bool g_verbose = std::getenv("GORT_FUZZ_VERBOSE") != nullptr;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "http_request: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// Harness is gortd's serving state, built on the main goroutine.
struct Harness {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  RequestMetrics metrics{*registry};
  MetricsExporter exporter;
  ConnTracker tracker;
  Demos demos;
  DebugInfo info;
  // No failed-login limit: every input comes from the same (unspecified)
  // peer, so a limit would make an input's reply depend on the ones before
  // it (the limiter has its own unit tests and gortd_security_test).
  BasicAuth auth{"user:pass", AuthLimits{.max_failures = 0}};
  Router main_router, debug_router;
  ServeContext ctx;

  Harness() {
    info.cmdline = {"gortd", "--debug-auth", "user:pass"};
    info.tracker = &tracker;
    info.metrics = &metrics;
    build_route_tables({&demos, &exporter, &info, &metrics}, false, "", true, main_router, debug_router);
    exporter.add_collectable(registry);
    exporter.add_source(collect_go_metrics);
    exporter.add_source(collect_process_metrics);
    exporter.add_source(collect_sched_metrics);
    exporter.add_source(collect_gc_metrics);
    exporter.add_source(collect_go_runtime_metrics);
    ctx = {&main_router, &metrics, &tracker, &auth, ServeLimits{}, {}};
  }
};

// over reports whether parameter name, read as the handler reads it, is
// valid and above budget (false when invalid: the handler answers 400).
bool over(const Query& q, std::string_view name, int64_t def, int64_t min, int64_t max, int64_t budget) {
  ParamReader p(q);
  int64_t v = p.integer(name, def, min, max);
  return p.ok() && v > budget;
}

// too_costly reports whether the harness skips r's handler (see the essay).
bool too_costly(const RoutedRequest& r) {
  if (r.refusal || r.match.kind != RouteMatch::Found) return false;
  const std::string& route = r.match.route->pattern;
  const Query& q = r.req.query;
  const std::string& path = r.req.path;
  if (route == "/work") return over(q, "n", 1000000, 0, 10000000000, kMaxWorkRounds);
  if (route == "/sleep") return over(q, "ms", 100, 0, 600000, kMaxSleepMs);
  if (route == "/alloc" || route == "/mixed") {
    bool costly = over(q, "kb", 1024, 0, 1048576, kMaxAllocKb) || over(q, "keep", 0, 0, 4096, kMaxAllocKeep);
    if (route == "/mixed")
      costly = costly || over(q, "n", 1000000, 0, 10000000000, kMaxWorkRounds) || over(q, "ms", 100, 0, 600000, kMaxSleepMs);
    return costly;
  }
  if (route == "/fanout")
    return over(q, "g", 8, 1, 1000, kMaxFanoutGoroutines) || over(q, "n", 1000000, 0, 10000000000, kMaxWorkRounds);
  if (route == "/leak") return q.get("release").empty() && over(q, "n", 1000, 0, 1000000, kMaxLeakGoroutines);
  if (route == "/contend")
    return over(q, "g", 8, 1, 10000, kMaxContendGoroutines) || over(q, "n", 1000, 0, 1000000, kMaxContendRounds);
  if (route == "/debug/ui/stream") return true;  // endless until the client leaves, by design
  if (route == "/debug/ui/data") {
    ParamReader p(q);
    p.number("window", 1, 0.1, 60);
    return p.ok();  // at least 0.1 s
  }
  if (route == "/debug/pprof/{profile}") {
    if (path == "/debug/pprof/profile") {
      ParamReader p(q);
      p.integer("seconds", 30, 1, 3600);
      return p.ok();  // at least 1 s
    }
    if (path == "/debug/pprof/trace") {
      ParamReader p(q);
      double s = p.number("seconds", 1, 0, 3600);
      return p.ok() && s > kMaxTraceSeconds;
    }
    if (q.has("seconds")) {  // a delta profile: at least 1 s
      ParamReader p(q);
      p.integer("seconds", 0, 1, 3600);
      return p.ok();
    }
  }
  return false;
}

// check_reply checks the properties of one reply (see the essay).
void check_reply(const RoutedRequest* r, const Response& res, const std::string& header, const std::string& body,
                 bool head) {
  if (res.status < 100 || res.status > 599) fail("status out of range", header);
  if (res.status >= 400 && res.status < 500 &&
      (res.body.empty() || res.body.back() != '\n' || res.body.find('\n') != res.body.size() - 1))
    fail("4xx reply body is not one line", header + res.body);
  if (r && !r->refusal && r->match.kind == RouteMatch::Found && r->match.route->prefix.empty() &&
      r->match.route->pattern != "/error" && res.status == 404)
    fail("a known route answered 404", std::string(r->req.msg->target()) + "\n" + res.body);
  for (const auto& [name, value] : res.headers)
    if (name.find_first_of("\r\n:") != std::string::npos || value.find_first_of("\r\n") != std::string::npos)
      fail("line break in a header field", name + ": " + value);
  // The reply as a client reads it.
  http::response_parser<http::string_body> parser;
  parser.body_limit(boost::none);
  parser.eager(true);
  if (head || res.stream) parser.skip(true);  // no body follows (HEAD), or chunks we did not frame
  std::string wire = header + (head || res.stream ? std::string() : body);
  error_code ec;
  parser.put(boost::asio::buffer(wire), ec);
  if (!ec && !parser.is_done() && !res.stream) parser.put_eof(ec);
  if (ec) fail("reply does not parse", ec.message() + "\n" + header);
  if (parser.get().result_int() != res.status) fail("reply status differs", header);
  if (g_verbose)
    std::fprintf(stderr, "  %.*s | %.*s\n", static_cast<int>(header.find('\r')), header.c_str(),
                 static_cast<int>(std::min<size_t>(body.find('\n'), 80)), body.c_str());
  if (!head && !res.stream && parser.get().body() != res.body) fail("reply body differs", header);
}

// serve_input serves the pipelined requests in bytes, as Session::serve_one
// does on a connection.
void serve_input(Harness& h, std::string_view bytes) {
  MemStream stream(bytes);
  beast::flat_buffer buf;
  const int saved_gogc = gc::gogc();
  const int64_t saved_limit = gc::memory_limit();
  bool leaked = false;
  for (int i = 0; i < kMaxRequestsPerInput; i++) {
    RequestParser parser;
    apply_request_limits(parser);
    error_code ec;
    http::read_header(stream, buf, parser, ec);
    std::string header;
    if (ec) {
      // The connection answers a refusal (version 1.1, then closes), or
      // just closes when the client sent nothing more (or half a request,
      // which a socket would time out with 408).
      if (std::optional<Refusal> refusal = refusal_for_parse_error(ec)) {
        (void)labels_of(h.ctx, parser, {static_cast<const char*>(buf.data().data()), buf.size()});
        Response res;
        res.error(refusal->status, refusal->line);
        format_reply_header(res, 11, false, header);
        check_reply(nullptr, res, header, res.body, false);
      }
      break;
    }
    const BeastRequest& msg = parser.get();
    RoutedRequest routed = route_request(h.ctx, msg);
    routed.req.peer_closed = [] { return false; };
    bool keep_alive = msg.keep_alive();
    if (!routed.refusal && !parser.is_done()) {
      if (routed.match.kind != RouteMatch::Found) {
        keep_alive = false;  // the body is not read: answer, then close
      } else {
        http::read(stream, buf, parser, ec);
        if (ec) {
          if (std::optional<Refusal> refusal = refusal_for_parse_error(ec)) {
            Response res;
            res.error(refusal->status, refusal->line);
            format_reply_header(res, 11, false, header);
            check_reply(nullptr, res, header, res.body, false);
          }
          break;
        }
      }
    }
    if (too_costly(routed)) break;  // skipped: see the essay
    Response res;
    answer(h.ctx, routed, res);
    if (routed.match.route && routed.match.route->pattern == "/leak") leaked = true;
    unsigned version = routed.refusal ? 11 : msg.version();
    const bool head = !routed.refusal && routed.req.method == http::verb::head;
    keep_alive = format_reply_header(res, version, keep_alive && !routed.refusal, header);
    std::string body = res.body;
    if (res.stream && !head) {
      body.clear();
      res.stream([&body](std::string_view piece) {
        body.append(piece);
        return body.size() < kMaxStreamBytes;
      });
    }
    check_reply(&routed, res, header, body, head);
    if (!keep_alive) break;
  }
  if (gc::gogc() != saved_gogc) gc::set_gogc(saved_gogc);
  if (gc::memory_limit() != saved_limit) gc::set_memory_limit(saved_limit);
  if (leaked) {
    // Release the /leak goroutines and wait until they have returned: a
    // parked goroutine's stack is invisible to LeakSanitizer, so what only
    // it still points to would be reported as leaked after this input.
    h.demos.release();
    while (h.demos.leak(0) > 0) gort::sleep_ms(1);
    gort::sleep_ms(1);  // ... and until their closures are destroyed
  }
}

// The hand-off between the fuzzer's thread and the main goroutine.
struct HandOff {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<gort::IoWaker> waiter;  // guarded by mu: the parked main goroutine
  std::string_view input;               // guarded by mu
  bool pending = false, done = false, stop = false, ready = false;  // guarded by mu
};
HandOff g_handoff;
std::thread g_runtime;

// wake_main makes the main goroutine runnable, through the runtime's
// io_context (a completion like any socket's). Called with mu held.
void wake_main() {
  if (!g_handoff.waiter) return;
  gort::IoWaker w = *g_handoff.waiter;
  g_handoff.waiter.reset();
  boost::asio::post(gort::io_context(), [w] { w(); });
}

// The harness, reachable from a global: LeakSanitizer scans globals, not
// goroutine stacks.
Harness* g_harness = nullptr;

void main_goroutine() {
  g_harness = new Harness;
  Harness& h = *g_harness;
  {
    std::lock_guard<std::mutex> lock(g_handoff.mu);
    g_handoff.ready = true;
  }
  g_handoff.cv.notify_all();
  for (;;) {
    std::string_view input;
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(g_handoff.mu);
      if (!g_handoff.pending && !g_handoff.stop) {
        lock.unlock();
        gort::await_io([](gort::IoWaker wake) {
          std::lock_guard<std::mutex> relock(g_handoff.mu);
          g_handoff.waiter = wake;
          if (g_handoff.pending || g_handoff.stop) wake_main();
        });
        lock.lock();
      }
      if (!g_handoff.pending && !g_handoff.stop) continue;
      input = g_handoff.input;
      stop = g_handoff.stop;
    }
    if (stop) {
      delete g_harness;
      g_harness = nullptr;
      return;
    }
    serve_input(h, input);
    {
      std::lock_guard<std::mutex> lock(g_handoff.mu);
      g_handoff.pending = false;
      g_handoff.done = true;
    }
    g_handoff.cv.notify_all();
  }
}

void stop_runtime() {
  {
    std::lock_guard<std::mutex> lock(g_handoff.mu);
    g_handoff.stop = true;
    wake_main();
  }
  g_runtime.join();
}

}  // namespace

// OpenSSL, which libdw's debuginfod client loads through libcurl when a
// handler symbolizes (/debug/pprof/symbol, profiles), keeps one allocation
// from its initialization until exit: not gortd's, and reported by the
// leak check at exit only.
extern "C" const char* __lsan_default_suppressions() { return "leak:libcrypto.so\n"; }

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g_runtime = std::thread([] { gort::run_main(main_goroutine, gort::Config{.gomaxprocs = 2}); });
  std::unique_lock<std::mutex> lock(g_handoff.mu);
  g_handoff.cv.wait(lock, [] { return g_handoff.ready; });
  std::atexit(stop_runtime);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::unique_lock<std::mutex> lock(g_handoff.mu);
  g_handoff.input = std::string_view(reinterpret_cast<const char*>(data), size);
  g_handoff.pending = true;
  g_handoff.done = false;
  wake_main();
  g_handoff.cv.wait(lock, [] { return g_handoff.done; });
  return 0;
}
