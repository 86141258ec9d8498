// demos.cpp — /leak and /contend (see demos.h).
#include "service/demos.h"

#include <mutex>
#include <string>

#include "runtime/gort.h"
#include "service/duration.h"
#include "service/handlers.h"
#include "service/params.h"

namespace gortd {

namespace {
constexpr int64_t kContendHoldNs = 1000;  // each critical section holds the lock ~1 µs
}

Demos::Demos() : release_(std::make_shared<ReleaseChan>(0)) {}

int64_t Demos::leak(int64_t n) {
  std::lock_guard<gort::Mutex> l(leak_mu_);
  std::shared_ptr<ReleaseChan> ch = release_;
  for (int64_t i = 0; i < n; i++) {
    blocked_.fetch_add(1, std::memory_order_relaxed);
    gort::go([this, ch] {
      ch->recv_ok();  // returns only once release() closes ch
      blocked_.fetch_sub(1, std::memory_order_relaxed);
    });
  }
  generation_ += n;
  return blocked_.load(std::memory_order_relaxed);
}

int64_t Demos::release() {
  std::shared_ptr<ReleaseChan> old;
  int64_t released;
  {
    std::lock_guard<gort::Mutex> l(leak_mu_);
    old = std::exchange(release_, std::make_shared<ReleaseChan>(0));
    released = std::exchange(generation_, 0);
  }
  old->close();
  return released;
}

int64_t Demos::contend(int64_t goroutines, int64_t rounds) {
  int64_t start = gort::nanotime();
  gort::WaitGroup wg;
  for (int64_t i = 0; i < goroutines; i++) {
    wg.add(1);
    gort::go([this, rounds, &wg] {
      for (int64_t j = 0; j < rounds; j++) {
        contend_mu_.lock();
        int64_t t0 = gort::nanotime();
        while (gort::nanotime() - t0 < kContendHoldNs) {
        }
        contend_mu_.unlock();
      }
      wg.done();
    });
  }
  wg.wait();
  return gort::nanotime() - start;
}

void add_demo_routes(Router& r, Demos& demos) {
  r.add("/leak", {http::verb::get}, [&demos](const Request& req, Response& res) {
     std::string_view rel = req.query.get("release");
     if (!rel.empty()) {
       if (rel != "1") return res.error(400, "bad parameter release=" + go_quote(rel) + ": must be 1");
       res.text("leak released=" + std::to_string(demos.release()) + "\n");
       return;
     }
     ParamReader p(req.query);
     int64_t n = p.integer("n", 1000, 0, 1000000);
     if (!p.ok()) return res.error(400, p.error());
     int64_t blocked = demos.leak(n);
     res.text("leak started=" + std::to_string(n) + " blocked=" + std::to_string(blocked) + "\n");
   }).describe("/leak?n=N | ?release=1", "leak N goroutines blocked on a channel (default 1000) | release them");
  r.add("/contend", {http::verb::get}, [&demos](const Request& req, Response& res) {
     ParamReader p(req.query);
     int64_t g = p.integer("g", 8, 1, 10000);
     int64_t n = p.integer("n", 1000, 0, 1000000);
     if (!p.ok()) return res.error(400, p.error());
     int64_t elapsed = demos.contend(g, n);
     res.text("contend g=" + std::to_string(g) + " n=" + std::to_string(n) +
              " elapsed=" + format_go_duration(elapsed) + "\n");
   }).describe("/contend?g=G&n=N", "G goroutines lock one Mutex N times each, ~1 us held (defaults 8, 1000)");
}

}  // namespace gortd
