// gc_control.cpp — the GOMEMLIMIT check at start and the /gc
// endpoint (see gc_control.h). Reply texts are the Go peer's handleGC:
//
//   GET /gc              GOGC=100 GOMEMLIMIT=off
//   GET /gc?set=200      GOGC set to 200 (previous 100)
//   GET /gc?memlimit=L   GOMEMLIMIT set to 104857600 (previous off)
//   GET /gc?run=1        gc 7 forced: 1.234ms wall, pause 310µs, heap 5120->1024 KB, goal 4096 KB
//
// Several parameters in one request are all validated first, then applied
// in the order set, memlimit, run, one line each.
#include "service/gc_control.h"

#include <algorithm>
#include <cstdlib>
#include <string_view>

#include "gc/heap.h"
#include "gc/stats.h"
#include "profilers/heap_profile.h"
#include "service/duration.h"
#include "service/handlers.h"
#include "service/params.h"

namespace gortd {

namespace {

// parse_gogc_param reads /gc?set=V as the Go peer does: "off" (-1), or
// strconv.ParseInt(V, 10, 32) (an optional sign, digits, int32 range) that
// is not negative.
std::optional<int64_t> parse_gogc_param(std::string_view s) {
  if (s == "off") return -1;
  bool neg = !s.empty() && s[0] == '-';
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return std::nullopt;
  s.remove_prefix(std::min(s.find_first_not_of('0'), s.size() - 1));  // leading zeros do not count toward the range
  if (s.size() > 10) return std::nullopt;
  int64_t v = std::stoll(std::string(s));
  if (v > INT32_MAX || (neg && v != 0)) return std::nullopt;
  return v;
}

// cycle_line is the /gc?run=1 reply for the forced cycle c.
std::string cycle_line(const gc::CycleSummary& c) {
  return "gc " + std::to_string(c.num) + " forced: " + format_go_duration(c.wall_ns) + " wall, pause " +
         format_go_duration(c.pause_ns) + ", heap " + std::to_string(c.heap_start >> 10) + "->" +
         std::to_string(c.heap_marked >> 10) + " KB, goal " + std::to_string(c.next_goal >> 10) + " KB\n";
}

void handle_gc(const Request& req, Response& res) {
  ParamReader p(req.query);
  std::string_view set = p.raw("set"), memlimit = p.raw("memlimit"), run = p.raw("run");
  std::optional<int64_t> new_gogc, new_limit;
  if (!set.empty() && !(new_gogc = parse_gogc_param(set)))
    p.fail("bad parameter set=" + go_quote(set) + ": must be an integer >= 0 or off");
  if (!memlimit.empty() && !(new_limit = gc::parse_memory_limit(memlimit)))
    p.fail("bad parameter memlimit=" + go_quote(memlimit) +
           ": must be bytes with optional B/KiB/MiB/GiB/TiB suffix, or off");
  if (!run.empty() && run != "1") p.fail("bad parameter run=" + go_quote(run) + ": must be 1");
  if (!p.ok()) return res.error(400, p.error());

  std::string body;
  if (new_gogc) {
    int prev = gc::set_gogc(static_cast<int>(*new_gogc));
    body += "GOGC set to " + gogc_string(*new_gogc) + " (previous " + gogc_string(prev) + ")\n";
  }
  if (new_limit) {
    int64_t prev = gc::set_memory_limit(*new_limit);
    body += "GOMEMLIMIT set to " + memory_limit_string(*new_limit) + " (previous " + memory_limit_string(prev) + ")\n";
  }
  // runtime.GC as Go has it: the collection, its sweep, and the heap
  // profile published as of this collection (profilers/heap_profile.h).
  if (run == "1") body += cycle_line(profilers::collect_for_heap_profile());
  if (body.empty()) body = "GOGC=" + gogc_string(gc::gogc()) + " GOMEMLIMIT=" + memory_limit_string(gc::memory_limit()) + "\n";
  res.text(std::move(body));
}

}  // namespace

std::optional<std::string> gc_environment_error() {
  const char* v = std::getenv("GOMEMLIMIT");
  if (v == nullptr || gc::parse_gomemlimit(v)) return std::nullopt;
  return "malformed GOMEMLIMIT=" + go_quote(v) +
         ": want bytes with optional B/KiB/MiB/GiB/TiB suffix, or off (see go doc runtime/debug.SetMemoryLimit)";
}

std::string gogc_string(int64_t gogc) { return gogc < 0 ? "off" : std::to_string(gogc); }

std::string memory_limit_string(int64_t bytes) { return bytes == gc::kNoMemoryLimit ? "off" : std::to_string(bytes); }

void add_gc_route(Router& r) {
  r.add("/gc", {http::verb::get}, handle_gc, true)
      .describe("/gc?set=V|run=1|memlimit=L", "GOGC, forced collection (with its summary), soft memory limit");
}

}  // namespace gortd
