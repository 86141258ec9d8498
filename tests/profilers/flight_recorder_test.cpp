// flight_recorder_test.cpp — the flight recorder (profilers/flight_recorder.h),
// judged by Go's own tools: snapshots cut out of a trace that runs while
// goroutines ping-pong, contend, sleep, sit in blocking sections, allocate
// through collections and annotate tasks and regions must pass
// shared/tools/check_go_trace.sh (Go 1.19's parser and every cmd/trace view)
// — including goroutines that were blocked, runnable or in a blocking call
// when the cut was made. Also: the history stays bounded by the window and
// by max_bytes; record() takes a trace while the recorder runs; a regular
// trace is refused while it runs and allowed after it stops.
#define BOOST_TEST_MODULE flight_recorder_test
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

#include "gc/heap.h"
#include "profilers/flight_recorder.h"
#include "profilers/tracer.h"
#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/select.h"
#include "runtime/sync.h"
#include "tests/runtime/test_util.h"
#include "tests/trace_check.h"

using profilers::FlightRecorder;

namespace {

std::string check_trace(const std::string& bytes, const char* tag, bool* ok) {
  std::string path = std::string("/tmp/gort_flight_recorder_test_") + tag + "_" + std::to_string(getpid()) + ".trace";
  std::string verdict = trace_check::check_trace_bytes(bytes, path, ok);
  BOOST_TEST_MESSAGE(tag << ": " << verdict);
  return verdict;
}

struct Node {
  gc::Member<Node> next;
  uint64_t pad[6] = {};
  void trace(gc::Visitor& v) const { v.trace(next); }
};

// Busy runs goroutines that block and wake in every way the tracer writes,
// over and over, until stop() — so that cuts fall in the middle of it.
class Busy final {
 public:
  Busy() {
    wg_.add(6);
    gort::go([this] {  // ping
      for (int i = 0; !stop_.load(); i++) {
        ping_.send(i);
        pong_.recv();
        if (i % 8 == 0) gort::sleep_for(std::chrono::milliseconds(1));  // a trace Go's parser reads in seconds
      }
      ping_.send(-1);
      wg_.done();
    });
    gort::go([this] {  // pong
      while (ping_.recv() >= 0) pong_.send(0);
      wg_.done();
    });
    for (int k = 0; k < 2; k++)
      gort::go([this] {  // mutex contention
        for (int i = 0; !stop_.load(); i++) {
          {
            std::lock_guard<gort::Mutex> l(mu_);
            gort::yield();
          }
          if (i % 8 == 0) gort::sleep_for(std::chrono::milliseconds(1));
        }
        wg_.done();
      });
    gort::go([this] {  // sleeps, selects and blocking sections, in a task
      profilers::TraceTask task("busy");
      gort::Chan<int> a(1), b(1);
      for (int i = 0; !stop_.load(); i++) {
        profilers::TraceRegion region(task.id(), "round");
        gort::sleep_for(std::chrono::microseconds(300));
        if (i % 2 == 0) a.send(i); else b.send(i);
        gort::select(gort::on_recv(a), gort::on_recv(b));
        profilers::trace_log(task.id(), "round", std::to_string(i));
        gort::BlockingSection s;
        usleep(200);
      }
      wg_.done();
    });
    gort::go([this] {  // allocation through collections
      while (!stop_.load()) {
        Node* head = nullptr;
        for (int i = 0; i < 20000; i++) {
          Node* n = gc::make<Node>();
          n->next = i % 100 == 0 ? nullptr : head;
          head = n;
        }
        gc::collect();
        gort::sleep_for(std::chrono::milliseconds(5));
      }
      wg_.done();
    });
  }
  void stop() {
    stop_.store(true);
    wg_.wait();
  }

 private:
  std::atomic<bool> stop_{false};
  gort::WaitGroup wg_;
  gort::Chan<int> ping_{0}, pong_{0};
  gort::Mutex mu_;
};

// wait_for_cuts waits until the recorder has made n more cuts.
void wait_for_cuts(FlightRecorder& fr, uint64_t n) {
  uint64_t target = fr.stats().cuts + n;
  gort_test::wait_until([&] { return fr.stats().cuts >= target; }, "the recorder cuts");
}

}  // namespace

BOOST_AUTO_TEST_CASE(snapshots_of_a_busy_program_pass_go_tool_trace) {
  std::string first, second;
  FlightRecorder::Stats stats;
  gort::run_main(
      [&] {
        // Goroutines blocked since before the recorder began, which every
        // cut must declare: one on a channel, one in a blocking call.
        gort::Chan<int> never(0);
        gort::WaitGroup pre;
        pre.add(2);
        gort::go([&] { never.recv(); pre.done(); });
        std::atomic<bool> leave{false};
        gort::go([&] {
          gort::BlockingSection s;
          while (!leave.load()) usleep(1000);
          pre.done();
        });
        std::string why;
        auto fr = FlightRecorder::start({.window_ns = 200'000'000, .max_bytes = 64 << 20}, &why);
        BOOST_REQUIRE_MESSAGE(fr != nullptr, why);
        Busy busy;
        wait_for_cuts(*fr, 6);
        first = fr->snapshot(&why);
        BOOST_TEST(!first.empty(), why);
        wait_for_cuts(*fr, 2);
        never.send(1);  // woken after the cuts that declared it waiting
        leave.store(true);
        pre.wait();
        second = fr->snapshot(&why);
        BOOST_TEST(!second.empty(), why);
        busy.stop();
        stats = fr->stats();
        fr->stop();
      },
      gort::Config{.gomaxprocs = 2});
  bool ok = false;
  std::string out = check_trace(first, "first", &ok);
  BOOST_TEST(ok, out);
  BOOST_TEST(out.find(", 0 GCs") == std::string::npos, out);
  out = check_trace(second, "second", &ok);
  BOOST_TEST(ok, out);
  BOOST_TEST(stats.snapshots == 2u);
  // The window is 200 ms and cuts come every 50 ms or later: at most five
  // cuts are younger than a window, plus one older.
  BOOST_TEST(stats.segments <= 6u);
  BOOST_TEST(stats.dropped_bytes > 0u);
}

BOOST_AUTO_TEST_CASE(history_stays_within_max_bytes) {
  FlightRecorder::Stats stats;
  std::string snap;
  gort::run_main(
      [&] {
        std::string why;
        auto fr = FlightRecorder::start({.window_ns = 3'600'000'000'000, .max_bytes = 1 << 20}, &why);
        BOOST_REQUIRE_MESSAGE(fr != nullptr, why);
        Busy busy;
        // Until more than twice the bound has been dropped.
        gort_test::wait_until([&] { return fr->stats().dropped_bytes > 2u << 20; }, "history dropped");
        BOOST_TEST_MESSAGE("segments " << fr->stats().segments << ", cuts " << fr->stats().cuts);
        snap = fr->snapshot(&why);
        BOOST_TEST(!snap.empty(), why);
        stats = fr->stats();  // just after the snapshot's cut and trim
        busy.stop();
      },
      gort::Config{.gomaxprocs = 2});
  // Over the bound only the newest whole segment and the new one stay.
  BOOST_TEST((stats.bytes <= (1u << 20) || stats.segments <= 2u), stats.bytes << " bytes in " << stats.segments);
  bool ok = false;
  std::string out = check_trace(snap, "bounded", &ok);
  BOOST_TEST(ok, out);
}

BOOST_AUTO_TEST_CASE(record_takes_a_trace_while_the_recorder_runs) {
  std::string rec;
  std::string refused_why;
  bool refused = false, allowed_after = false;
  gort::run_main(
      [&] {
        std::string why;
        auto fr = FlightRecorder::start({.window_ns = 1'000'000'000}, &why);
        BOOST_REQUIRE_MESSAGE(fr != nullptr, why);
        BOOST_TEST(profilers::active_flight_recorder() == fr.get());
        refused = profilers::ExecutionTracer::start(&refused_why) == nullptr;
        Busy busy;
        rec = fr->record(300'000'000, nullptr, &why);
        BOOST_TEST(!rec.empty(), why);
        busy.stop();
        fr->stop();
        BOOST_TEST(profilers::active_flight_recorder() == nullptr);
        auto t = profilers::ExecutionTracer::start(&why);
        allowed_after = t != nullptr;
      },
      gort::Config{.gomaxprocs = 2});
  BOOST_TEST(refused);
  BOOST_TEST(refused_why.find("in progress") != std::string::npos, refused_why);
  BOOST_TEST(allowed_after);
  bool ok = false;
  std::string out = check_trace(rec, "record", &ok);
  BOOST_TEST(ok, out);
}
