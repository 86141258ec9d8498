// workloads.cpp — the load-generating endpoints of SPEC.md: /work (CPU),
// /alloc (collected heap; its heap code is alloc_workload.cpp), /sleep
// (timer park), /mixed (the three in turn), /error (error rates), and the
// index page.
#include <algorithm>
#include <string>

#include "runtime/gort.h"
#include "service/alloc_workload.h"
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
  int64_t kb, size, keep, pool;
};

// read_alloc_params reads /alloc's parameters in the Go peer's order (so the
// first bad one is the one both name).
AllocParams read_alloc_params(ParamReader& p) {
  AllocParams a;
  a.kb = p.integer("kb", 1024, 0, 1048576);
  a.size = p.integer("size", 64, 8, 1048576);
  a.keep = p.integer("keep", 0, 0, 4096);
  a.pool = p.integer("pool", 0, 0, 1);
  return a;
}

// alloc_line runs /alloc and returns its reply line.
std::string alloc_line(const AllocParams& a) {
  AllocResult r = run_alloc(a.kb, a.size, a.keep, a.pool == 1);
  return "alloc objects=" + std::to_string(r.objects) + " bytes=" + std::to_string(r.bytes) +
         " sum=" + std::to_string(r.sum) + "\n";
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
  AllocParams a = read_alloc_params(p);
  if (!p.ok()) return res.error(400, p.error());
  res.text(alloc_line(a));
}

void handle_mixed(const Request& req, Response& res) {
  ParamReader p(req.query);
  int64_t n = p.integer("n", 1000000, 0, 10000000000);
  AllocParams a = read_alloc_params(p);
  int64_t ms = p.integer("ms", 100, 0, 600000);
  if (!p.ok()) return res.error(400, p.error());
  std::string body = "work n=" + std::to_string(n) + " result=" + std::to_string(xorshift_rounds(n)) + "\n";
  body += alloc_line(a);
  gort::sleep_ms(ms);
  res.text(body + "slept ms=" + std::to_string(ms) + "\n");
}

}  // namespace

void add_workload_routes(Router& r) {
  using V = http::verb;
  r.add("/work", {V::get}, handle_work)
      .describe("/work?n=N", "CPU: N rounds of xorshift64 (default 1000000, max 1e10)");
  r.add("/alloc", {V::get}, handle_alloc)
      .describe("/alloc?kb=K&size=S&keep=R&pool=P",
                "GC heap: a linked list of K KiB in S-byte nodes (default 1024, 64); keep R lists; pool=1 reuses nodes");
  r.add("/sleep", {V::get}, handle_sleep).describe("/sleep?ms=M", "park on a timer for M ms (default 100)");
  r.add("/mixed", {V::get}, handle_mixed)
      .describe("/mixed?n=&kb=&ms=", "/work, /alloc, /sleep in turn");
  r.add("/error", {V::get}, handle_error)
      .describe("/error?code=C&p=P", "answer status C (default 500) with probability P (default 1)");
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
