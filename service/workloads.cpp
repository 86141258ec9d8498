// workloads.cpp — the load-generating endpoints of SPEC.md: /work (CPU),
// /sleep (timer park), /error (error rates), the index page, and the heap
// endpoints' stand-ins (/alloc, /mixed, /gc validate their parameters and
// answer 501 until the collected heap exists).
#include <algorithm>
#include <string>

#include "runtime/gort.h"
#include "service/handlers.h"
#include "service/params.h"
#include "service/runtime_metrics.h"

namespace gortd {

namespace {

// xorshift64 rounds between two preemption checks: about 10 µs of work, so
// a long /work yields within microseconds of sysmon asking, and the check
// costs nothing measurable.
constexpr int64_t kWorkRoundsPerCheck = 4096;
constexpr uint64_t kWorkSeed = 88172645463325252ULL;

// xorshift_rounds runs n rounds of xorshift64 from the fixed seed (SPEC.md
// /work), calling gort::preempt_check between chunks so that one long
// request cannot starve other connections on its P.
uint64_t xorshift_rounds(int64_t n) {
  uint64_t x = kWorkSeed;
  for (int64_t i = 0; i < n;) {
    int64_t end = std::min(n, i + kWorkRoundsPerCheck);
    for (; i < end; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
    gort::preempt_check();
  }
  return x;
}

// uniform01 returns a uniformly distributed double in [0, 1) (53 bits).
double uniform01() {
  uint64_t r = (static_cast<uint64_t>(gort::fastrand()) << 32) | gort::fastrand();
  return static_cast<double>(r >> 11) * 0x1p-53;
}

struct AllocParams {
  int64_t kb, size, keep;
};

AllocParams read_alloc_params(ParamReader& p) {
  AllocParams a;
  a.kb = p.integer("kb", 1024, 0, 1048576);
  a.size = p.integer("size", 64, 8, 1048576);
  a.keep = p.integer("keep", 0, 0, 4096);
  return a;
}

void handle_work(const Request& req, Response& res) {
  ParamReader p(req.query);
  int64_t n = p.integer("n", 1000000, 0, 10000000000);
  if (!p.ok()) return res.error(400, p.error());
  res.text("work n=" + std::to_string(n) + " result=" + std::to_string(xorshift_rounds(n)) + "\n");
}

void handle_sleep(const Request& req, Response& res) {
  ParamReader p(req.query);
  int64_t ms = p.integer("ms", 100, 0, 600000);
  if (!p.ok()) return res.error(400, p.error());
  gort::sleep_ms(ms);
  res.text("slept ms=" + std::to_string(ms) + "\n");
}

void handle_error(const Request& req, Response& res) {
  ParamReader p(req.query);
  int64_t code = p.integer("code", 500, 400, 599);
  double prob = p.number("p", 1, 0, 1);
  if (!p.ok()) return res.error(400, p.error());
  if (prob > 0 && uniform01() < prob) return res.error(static_cast<unsigned>(code), "error code=" + std::to_string(code));
  res.text("ok\n");
}

void handle_alloc(const Request& req, Response& res) {
  ParamReader p(req.query);
  read_alloc_params(p);
  if (!p.ok()) return res.error(400, p.error());
  res.error(501, kNeedsHeap);
}

void handle_mixed(const Request& req, Response& res) {
  ParamReader p(req.query);
  p.integer("n", 1000000, 0, 10000000000);
  read_alloc_params(p);
  p.integer("ms", 100, 0, 600000);
  if (!p.ok()) return res.error(400, p.error());
  // The alloc step needs the collected heap; doing only /work and /sleep
  // would pass off a different workload under the same name.
  res.error(501, kNeedsHeap);
}

void handle_gc(const Request& req, Response& res) {
  ParamReader p(req.query);
  std::string_view set = p.raw("set"), memlimit = p.raw("memlimit"), run = p.raw("run");
  if (!set.empty() && set != "off") {
    int64_t v = -1;
    bool digits = std::all_of(set.begin(), set.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (digits && set.size() <= 10) v = std::stoll(std::string(set));
    if (v < 0 || v > INT32_MAX)
      p.fail("bad parameter set=" + go_quote(set) + ": must be an integer >= 0 or off");
  }
  if (!memlimit.empty() && !parse_byte_count(memlimit))
    p.fail("bad parameter memlimit=" + go_quote(memlimit) +
           ": must be bytes with optional B/KiB/MiB/GiB/TiB suffix, or off");
  if (!run.empty() && run != "1") p.fail("bad parameter run=" + go_quote(run) + ": must be 1");
  if (!p.ok()) return res.error(400, p.error());
  res.error(501, kNeedsHeap);
}

}  // namespace

void add_workload_routes(Router& r) {
  using V = http::verb;
  r.add("/work", {V::get}, handle_work)
      .describe("/work?n=N", "CPU: N rounds of xorshift64 (default 1000000, max 1e10)");
  r.add("/alloc", {V::get}, handle_alloc)
      .describe("/alloc?kb=K&size=S&keep=R", "GC heap: a linked list of K KiB in S-byte nodes (501: heap not built yet)");
  r.add("/sleep", {V::get}, handle_sleep).describe("/sleep?ms=M", "park on a timer for M ms (default 100)");
  r.add("/mixed", {V::get}, handle_mixed)
      .describe("/mixed?n=&kb=&ms=", "/work, /alloc, /sleep in turn (501: heap not built yet)");
  r.add("/error", {V::get}, handle_error)
      .describe("/error?code=C&p=P", "answer status C (default 500) with probability P (default 1)");
}

void add_gc_route(Router& r) {
  r.add("/gc", {http::verb::get}, handle_gc, true)
      .describe("/gc?set=V|run=1|memlimit=L", "GOGC, forced collection, memory limit (501: heap not built yet)");
}

void add_index_route(Router& r, std::string note) {
  std::string body = std::string(kServiceName) + " " + kServiceVersion +
                     " - Go's execution model and observability in C++ (gort)\nendpoints:\n";
  size_t width = 0;
  for (const Route& rt : r.routes()) width = std::max(width, rt.usage.size());
  body += "  /" + std::string(width + 1, ' ') + "this list\n";
  for (const Route& rt : r.routes()) {
    if (rt.usage.empty()) continue;
    body += "  " + rt.usage + std::string(width + 2 - rt.usage.size(), ' ') + rt.summary + "\n";
  }
  if (!note.empty()) body += note + "\n";
  r.add("/", {http::verb::get}, [body](const Request&, Response& res) { res.text(body); });
}

}  // namespace gortd
