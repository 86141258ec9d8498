// workloads.cpp — the load-generating endpoints of SPEC.md: /work (CPU),
// /alloc (collected heap; its heap code is alloc_workload.cpp), /sleep
// (timer park), /mixed (the three in turn), /fanout (/work's rounds
// scattered over goroutines and gathered from one channel), /error (error
// rates), and the index page.
#include <algorithm>
#include <string>

#include "runtime/chan.h"
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

// xorshift_rounds runs n rounds of xorshift64 from x (SPEC.md /work: from
// the fixed seed; /fanout: from the seed XOR the part's index) and returns
// the final x, calling gort::preempt_check between chunks so that one long
// request cannot starve other connections on its P.
uint64_t xorshift_rounds(int64_t n, uint64_t x = kWorkSeed) {
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

// fanout is SPEC.md's scatter-gather: it spawns g goroutines, part i running
// n/g rounds of xorshift_rounds (one more if i < n%g) from kWorkSeed ^ i,
// each sending its final x on one channel, and returns the sum of the g
// values modulo 2^64 (unsigned wrap-around). A sum, not an XOR: xorshift is
// linear over GF(2), so an XOR of equal shares would collapse to 0 for the
// defaults. Blocks until every part has sent.
//
// The goroutines are spawned per request and really meet on the channel
// because this is the pattern people look for in the execution-trace
// viewer: one fan of goroutine creations, then a gather. The channel is
// unbuffered on purpose: a part that finishes before the handler is ready
// parks in chan send, and the handler parks in chan receive between
// arrivals, so the trace shows each send unblocking the handler (and each
// receive unblocking a waiting sender) — with a buffer of g most sends would
// complete without anyone blocking and the timeline would show no arrows.
// The channel may live on this stack: a send on it returns only once its
// value has been handed to the handler, the handler receives all g before
// returning, and a part touches nothing of the channel after its send, so
// no part uses the channel once the frame is gone.
uint64_t fanout(int64_t g, int64_t n) {
  gort::Chan<uint64_t> results(0);
  for (int64_t i = 0; i < g; i++) {
    int64_t rounds = n / g + (i < n % g ? 1 : 0);
    uint64_t seed = kWorkSeed ^ static_cast<uint64_t>(i);
    gort::go([&results, rounds, seed] { results.send(xorshift_rounds(rounds, seed)); });
  }
  uint64_t sum = 0;
  for (int64_t i = 0; i < g; i++) sum += results.recv();
  return sum;
}

void handle_fanout(const Request& req, Response& res) {
  ParamReader p(req.query);
  int64_t g = p.integer("g", 8, 1, 1000);
  int64_t n = p.integer("n", 1000000, 0, 10000000000);
  if (!p.ok()) return res.error(400, p.error());
  res.text("fanout g=" + std::to_string(g) + " n=" + std::to_string(n) +
           " result=" + std::to_string(fanout(g, n)) + "\n");
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
  r.add("/fanout", {V::get}, handle_fanout)
      .describe("/fanout?g=G&n=N",
                "scatter-gather: N xorshift64 rounds over G goroutines (defaults 8, 1000000)");
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
