// pprof_handlers.cpp — /debug/pprof/*: Go's net/http/pprof on gort's
// profilers (profilers/), with Go's replies, headers and error texts.
//
//   /debug/pprof/                 the HTML index with live counts
//   /debug/pprof/profile          CPU profile, ?seconds=N (default 30)
//                                 ?seconds= (profile, trace, deltas) at
//                                 most --max-profile-duration (else 400)
//   /debug/pprof/{heap,allocs,goroutine,block,mutex,threadcreate}
//                                 ?debug=N text forms, ?seconds=N deltas,
//                                 heap's ?gc=1
//   /debug/pprof/cmdline          argv joined by NUL
//   /debug/pprof/symbol           pprof's remote symbolization
//   /debug/pprof/trace            execution trace, ?seconds=N (default 1),
//                                 streamed; ?format=json for Perfetto
//   /debug/pprof/flightrecorder   the flight recorder's window (--flight-recorder),
//                                 a Go 1.19 trace file; 404 when it is off
//
// While the flight recorder runs it owns the process's execution trace, so
// /debug/pprof/trace is cut from its stream (FlightRecorder::record) instead
// of streamed from a trace of its own.
//
// Where Go answers a bad parameter by silently using the default (seconds,
// debug, gc), gortd answers 400 with the parameter named: gort's rule is
// never to do something other than what was asked. Where Go answers 500
// for a second CPU profile, gortd answers 409 (SPEC.md).
//
// Long requests (a CPU profile, a delta profile) wait in slices of
// kPollSliceMs and stop early when the client hangs up (Go's
// r.Context().Done()): the profile is abandoned and the connection closed.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>

#include "gc/heap.h"
#include "profilers/contention_profile.h"
#include "profilers/flight_recorder.h"
#include "profilers/cpu_profiler.h"
#include "profilers/goroutine_profile.h"
#include "profilers/heap_profile.h"
#include "profilers/profile.h"
#include "profilers/symbolize.h"
#include "profilers/threadcreate_profile.h"
#include "profilers/trace_json.h"
#include "profilers/tracer.h"
#include "runtime/gort.h"
#include "service/duration.h"
#include "service/handlers.h"
#include "service/params.h"

namespace gortd {

namespace {

constexpr std::string_view kOctetStream = "application/octet-stream";
constexpr std::string_view kJson = "application/json";
constexpr std::string_view kHtml = "text/html; charset=utf-8";
// How often a waiting profile request checks whether its client is still
// there (and drains the CPU profiler's buffer).
constexpr int64_t kPollSliceMs = 100;
// A CPU profile's length when the request does not say (Go's default),
// unless --max-profile-duration is shorter.
constexpr int64_t kDefaultCpuProfileSeconds = 30;

// too_long is the 400 line for ?seconds=N beyond --max-profile-duration
// (max_ns): a typo (seconds=30000) or a request to keep the profiler
// running for hours is refused, not obeyed.
std::string too_long(std::string_view seconds, int64_t max_ns) {
  return "bad parameter seconds=" + std::string(seconds) + ": longer than --max-profile-duration=" +
         format_go_duration(max_ns);
}

// serve_error is Go's serveError: a one-line text reply with X-Go-Pprof.
void serve_error(Response& res, unsigned status, std::string_view line) {
  res.headers.clear();
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("X-Go-Pprof", "1");
  res.error(status, line);
}

void serve_binary(Response& res, const std::string& filename, std::string body) {
  res.content_type = kOctetStream;
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("Content-Disposition", "attachment; filename=\"" + filename + "\"");
  res.body = std::move(body);
}

void serve_text(Response& res, std::string body) {
  res.content_type = kTextPlain;
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.body = std::move(body);
}

// wait_or_hangup parks the handler for ns, calling tick every slice;
// returns false if the client hung up first.
template <class Tick>
bool wait_or_hangup(const Request& req, int64_t ns, Tick&& tick) {
  int64_t deadline = gort::nanotime() + ns;
  for (;;) {
    int64_t left = deadline - gort::nanotime();
    if (left <= 0) return true;
    gort::sleep_for(std::chrono::nanoseconds(std::min(left, kPollSliceMs * 1'000'000)));
    tick();
    if (req.peer_closed && req.peer_closed()) return false;
  }
}

// Named profiles: how to collect each one, as a Profile and as text.
struct NamedProfile {
  const char* name;
  const char* description;  // Go's profileDescriptions
  profilers::Profile (*collect)();
  std::string (*text)(int debug);
  int64_t (*count)();
};

int64_t sample_count(const profilers::Profile& p) { return static_cast<int64_t>(p.samples.size()); }

const NamedProfile kProfiles[] = {
    {"allocs", "A sampling of all past memory allocations", [] { return profilers::heap_profile(true); },
     [](int) { return profilers::heap_profile_text(); }, [] { return sample_count(profilers::heap_profile(true)); }},
    {"block", "Stack traces that led to blocking on synchronization primitives", &profilers::block_profile,
     [](int) { return profilers::block_profile_text(); }, [] { return sample_count(profilers::block_profile()); }},
    {"goroutine", "Stack traces of all current goroutines", &profilers::goroutine_profile,
     &profilers::goroutine_profile_text, [] { return gort::num_goroutine(); }},
    {"heap",
     "A sampling of memory allocations of live objects. You can specify the gc GET parameter to run GC before "
     "taking the heap sample.",
     [] { return profilers::heap_profile(false); }, [](int) { return profilers::heap_profile_text(); },
     [] { return sample_count(profilers::heap_profile(false)); }},
    {"mutex", "Stack traces of holders of contended mutexes", &profilers::mutex_profile,
     [](int) { return profilers::mutex_profile_text(); }, [] { return sample_count(profilers::mutex_profile()); }},
    {"threadcreate", "Stack traces that led to the creation of new OS threads", &profilers::threadcreate_profile,
     [](int) { return profilers::threadcreate_profile_text(); }, [] { return sample_count(profilers::threadcreate_profile()); }},
};

const NamedProfile* find_profile(std::string_view name) {
  for (const NamedProfile& p : kProfiles)
    if (name == p.name) return &p;
  return nullptr;
}

constexpr const char* kCmdlineDescription = "The command line invocation of the current program";
constexpr const char* kProfileDescription =
    "CPU profile. You can specify the duration in the seconds GET parameter. After you get the profile file, use "
    "the go tool pprof command to investigate the profile.";
constexpr const char* kFlightDescription =
    "The last seconds of execution trace, kept by the flight recorder (--flight-recorder). "
    "After you get the trace file, use the go tool trace command to investigate the trace.";
constexpr const char* kTraceDescription =
    "A trace of execution of the current program. You can specify the duration in the seconds GET parameter. "
    "After you get the trace file, use the go tool trace command to investigate the trace.";

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '\'': out += "&#39;"; break;
      case '"': out += "&#34;"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

// index_page renders Go's /debug/pprof/ page (net/http/pprof
// indexTmplExecute) with each profile's current count.
std::string index_page() {
  struct Entry {
    std::string name;
    std::string desc;
    int64_t count;
  };
  std::vector<Entry> entries;
  for (const NamedProfile& p : kProfiles) entries.push_back({p.name, p.description, p.count()});
  entries.push_back({"cmdline", kCmdlineDescription, 0});
  entries.push_back({"profile", kProfileDescription, 0});
  entries.push_back({"trace", kTraceDescription, 0});
  if (profilers::active_flight_recorder() != nullptr) entries.push_back({"flightrecorder", kFlightDescription, 0});
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.name < b.name; });
  std::string b = R"(<html>
<head>
<title>/debug/pprof/</title>
<style>
.profile-name{
	display:inline-block;
	width:6rem;
}
</style>
</head>
<body>
/debug/pprof/<br>
<br>
Types of profiles available:
<table>
<thead><td>Count</td><td>Profile</td></thead>
)";
  for (const Entry& e : entries)
    b += "<tr><td>" + std::to_string(e.count) + "</td><td><a href='" + e.name + "?debug=1'>" + html_escape(e.name) +
         "</a></td></tr>\n";
  b += R"(</table>
<a href="goroutine?debug=2">full goroutine stack dump</a>
<br>
<p>
Profile Descriptions:
<ul>
)";
  for (const Entry& e : entries)
    b += "<li><div class=profile-name>" + html_escape(e.name) + ": </div> " + html_escape(e.desc) + "</li>\n";
  b += R"(</ul>
</p>
</body>
</html>)";
  return b;
}

// serve_cpu_profile is Go's pprof.Profile handler, for at most max_ns.
void serve_cpu_profile(const Request& req, Response& res, int64_t max_ns) {
  ParamReader p(req.query);
  const int64_t max_seconds = max_ns / 1'000'000'000;  // >= 1 (options.cpp)
  int64_t seconds = p.integer("seconds", std::min(kDefaultCpuProfileSeconds, max_seconds), INT64_MIN, INT64_MAX);
  if (!p.ok()) return serve_error(res, 400, p.error());
  if (seconds > max_seconds) return serve_error(res, 400, too_long(p.raw("seconds"), max_ns));
  if (seconds < 1)
    return serve_error(res, 400, "bad parameter seconds=" + std::to_string(seconds) + ": out of range [1, " +
                                     std::to_string(max_seconds) + "]");
  std::string why;
  auto prof = profilers::CpuProfiler::start(profilers::CpuProfiler::kDefaultHz, &why);
  if (!prof) return serve_error(res, 409, "Could not enable CPU profiling: " + why);
  bool stayed = wait_or_hangup(req, seconds * 1'000'000'000, [&] { prof->drain(); });
  profilers::Profile profile = prof->stop();
  if (!stayed) {
    res.close = true;  // nobody is listening; the profile is dropped
    return serve_error(res, 499, "client closed the connection");
  }
  serve_binary(res, "profile", profilers::encode_pprof(profile));
}

// How often a streaming trace hands its finished batches to the client and
// checks whether the client is still there.
constexpr int64_t kTraceFlushMs = 50;

// serve_trace is Go's pprof.Trace handler: an execution trace of the next
// `seconds` (a positive number, default 1), streamed while it is taken —
// binary for `go tool trace`, or format=json for Perfetto / chrome://tracing.
// A client that hangs up stops the trace; a second concurrent trace gets
// 409 (Go: 500); one longer than max_ns gets 400.
void serve_trace(const Request& req, Response& res, int64_t max_ns) {
  ParamReader p(req.query);
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double seconds = p.number("seconds", 1, -kInf, kInf);
  if (!p.ok()) return serve_error(res, 400, p.error());
  if (!(seconds > 0)) return serve_error(res, 400, "bad parameter seconds=" + std::string(p.raw("seconds")) + ": must be positive");
  if (seconds * 1e9 > static_cast<double>(max_ns)) return serve_error(res, 400, too_long(p.raw("seconds"), max_ns));
  std::string_view format = req.query.get("format");
  if (!format.empty() && format != "binary" && format != "json")
    return serve_error(res, 400, "bad parameter format=" + go_quote(format) + ": want binary or json");
  const bool json = format == "json";
  std::string why;
  if (profilers::FlightRecorder* fr = profilers::active_flight_recorder()) {
    // The recorder owns the trace: cut this one from its stream.
    std::string bytes = fr->record(static_cast<int64_t>(seconds * 1e9), req.peer_closed, &why);
    if (bytes.empty()) return serve_error(res, 500, "Could not take the trace from the flight recorder: " + why);
    if (!json) return serve_binary(res, "trace", std::move(bytes));
    res.content_type = kJson;
    res.headers.emplace_back("X-Content-Type-Options", "nosniff");
    res.headers.emplace_back("Content-Disposition", "attachment; filename=\"trace.json\"");
    res.stream = [bytes = std::move(bytes)](const Response::StreamWriter& write) {
      profilers::TraceJsonConverter converter(write);
      if (converter.feed(bytes)) converter.finish();
    };
    return;
  }
  std::shared_ptr<profilers::ExecutionTracer> tracer = profilers::ExecutionTracer::start(&why);
  if (!tracer) return serve_error(res, 409, "Could not enable tracing: " + why);
  res.content_type = json ? kJson : kOctetStream;
  res.headers.emplace_back("X-Content-Type-Options", "nosniff");
  res.headers.emplace_back("Content-Disposition", json ? "attachment; filename=\"trace.json\"" : "attachment; filename=\"trace\"");
  auto peer_closed = req.peer_closed;
  const int64_t ns = static_cast<int64_t>(seconds * 1e9);
  res.stream = [tracer, peer_closed, ns, json](const Response::StreamWriter& write) {
    // The binary trace goes out as it is; JSON is converted on the way.
    std::unique_ptr<profilers::TraceJsonConverter> converter;
    if (json) converter = std::make_unique<profilers::TraceJsonConverter>(write);
    auto send = [&](const std::string& bytes) { return converter ? converter->feed(bytes) : write(bytes); };
    std::string chunk;
    bool alive = true;
    const int64_t deadline = gort::nanotime() + ns;
    for (;;) {
      chunk.clear();
      tracer->read(&chunk);
      if (!chunk.empty() && !send(chunk)) alive = false;
      if (peer_closed && peer_closed()) alive = false;
      int64_t left = deadline - gort::nanotime();
      if (!alive || left <= 0) break;
      gort::sleep_for(std::chrono::nanoseconds(std::min(left, kTraceFlushMs * 1'000'000)));
    }
    tracer->stop();
    while (alive) {
      chunk.clear();
      if (!tracer->read(&chunk)) break;
      if (!chunk.empty() && !send(chunk)) alive = false;
    }
    if (alive && converter) converter->finish();
  };
}

// serve_flight_recorder writes the flight recorder's window (Go 1.25's
// FlightRecorder.WriteTo) as a file for `go tool trace`.
void serve_flight_recorder(const Request&, Response& res) {
  profilers::FlightRecorder* fr = profilers::active_flight_recorder();
  if (fr == nullptr) return serve_error(res, 404, "the flight recorder is off: start gortd with --flight-recorder D");
  std::string why;
  std::string bytes = fr->snapshot(&why);
  if (bytes.empty()) return serve_error(res, 500, "Could not snapshot the flight recorder: " + why);
  serve_binary(res, "flightrecorder", std::move(bytes));
}

// serve_named_profile is Go's pprof handler.ServeHTTP for one profile;
// a delta profile (?seconds=N) is at most max_ns long.
void serve_named_profile(const NamedProfile& np, const Request& req, Response& res, int64_t max_ns) {
  ParamReader p(req.query);
  if (req.query.has("seconds")) {
    // Go's serveDeltaProfile, with its texts.
    int64_t seconds = p.integer("seconds", 0, 1, INT64_MAX);
    if (!p.ok()) return serve_error(res, 400, R"(invalid value for "seconds" - must be a positive integer)");
    if (seconds > max_ns / 1'000'000'000) return serve_error(res, 400, too_long(p.raw("seconds"), max_ns));
    int64_t debug = p.integer("debug", 0, 0, 2);
    if (!p.ok()) return serve_error(res, 400, p.error());
    if (debug != 0) return serve_error(res, 400, "seconds and debug params are incompatible");
    profilers::Profile before = np.collect();
    if (!wait_or_hangup(req, seconds * 1'000'000'000, [] {})) {
      res.close = true;
      return serve_error(res, 499, "client closed the connection");
    }
    profilers::Profile after = np.collect();
    serve_binary(res, std::string(np.name) + "-delta",
                 profilers::encode_pprof(profilers::subtract_profiles(after, before)));
    return;
  }
  int64_t gc = p.integer("gc", 0, 0, 1);
  int64_t debug = p.integer("debug", 0, 0, 2);
  if (!p.ok()) return serve_error(res, 400, p.error());
  if (std::string_view(np.name) == "heap" && gc > 0) profilers::collect_for_heap_profile();
  if (debug != 0) return serve_text(res, np.text(static_cast<int>(debug)));
  serve_binary(res, np.name, profilers::encode_pprof(np.collect()));
}

// raw_query returns the request target's query text (after '?').
std::string raw_query(const Request& req) {
  std::string_view t = req.msg ? std::string_view(req.msg->target()) : std::string_view();
  size_t q = t.find('?');
  return q == std::string_view::npos ? std::string() : std::string(t.substr(q + 1));
}

}  // namespace

void add_pprof_routes(Router& r, const DebugInfo& info) {
  r.add("/debug/pprof/", {http::verb::get}, [](const Request&, Response& res) {
     res.content_type = kHtml;
     res.headers.emplace_back("X-Content-Type-Options", "nosniff");
     res.body = index_page();
   }, true).describe("/debug/pprof/", "profiles: CPU, heap, allocs, goroutine, block, mutex, threadcreate (go tool pprof)");
  r.add("/debug/pprof/symbol", {http::verb::get, http::verb::post}, [](const Request& req, Response& res) {
     std::string addrs = req.method == http::verb::post && req.msg ? req.msg->body() : raw_query(req);
     serve_text(res, profilers::symbol_lookup(addrs));
   }, true);
  r.add("/debug/pprof/{profile}", {http::verb::get}, [&info](const Request& req, Response& res) {
     std::string_view name = std::string_view(req.path).substr(std::string_view("/debug/pprof/").size());
     if (name == "profile") return serve_cpu_profile(req, res, info.max_profile_ns);
     if (name == "cmdline") {
       std::string out;
       for (size_t i = 0; i < info.cmdline.size(); i++) out += (i ? std::string(1, '\0') : "") + info.cmdline[i];
       return serve_text(res, std::move(out));
     }
     if (name == "trace") return serve_trace(req, res, info.max_profile_ns);
     if (name == "flightrecorder") return serve_flight_recorder(req, res);
     const NamedProfile* np = find_profile(name);
     if (np == nullptr) return serve_error(res, 404, "Unknown profile");
     serve_named_profile(*np, req, res, info.max_profile_ns);
   }, true);
}

}  // namespace gortd
