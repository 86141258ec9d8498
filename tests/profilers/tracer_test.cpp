// tracer_test.cpp — the execution tracer, checked by Go's own tools: traces
// of goroutines that ping-pong over channels, contend on mutexes, sleep,
// select, sit in blocking sections, allocate through collections, annotate
// tasks and regions, and exist in every state when the trace starts, must
// pass shared/tools/check_go_trace.sh (Go 1.19's parser and every view of
// cmd/trace). Also: one trace at a time, traces started and stopped while
// collections run back to back, CPU samples inside the trace and none from
// before it.
#define BOOST_TEST_MODULE tracer_test
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "gc/heap.h"
#include "profilers/cpu_profiler.h"
#include "profilers/tracer.h"
#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/select.h"
#include "runtime/sync.h"
#include "tests/runtime/test_util.h"
#include "tests/trace_check.h"

using profilers::ExecutionTracer;

namespace {

std::string temp_path(const char* tag) {
  return std::string("/tmp/gort_tracer_test_") + tag + "_" + std::to_string(getpid()) + ".trace";
}

// check_trace writes bytes to a file and judges it with Go's tools;
// returns the verdict line.
std::string check_trace(const std::string& bytes, const char* tag, bool* ok) {
  std::string verdict = trace_check::check_trace_bytes(bytes, temp_path(tag), ok);
  BOOST_TEST_MESSAGE(tag << ": " << verdict);
  return verdict;
}

// take_trace starts a trace, reads it while body runs, stops it, reads the rest.
std::string take_trace(const std::function<void()>& body, ExecutionTracer::Stats* stats = nullptr) {
  std::string why;
  auto t = ExecutionTracer::start(&why);
  BOOST_REQUIRE_MESSAGE(t != nullptr, why);
  std::string bytes;
  std::atomic<bool> done{false};
  gort::WaitGroup wg;
  wg.add(1);
  gort::go([&] {
    body();
    done.store(true);
    wg.done();
  });
  while (!done.load()) {
    t->read(&bytes);
    gort::sleep_for(std::chrono::milliseconds(5));
  }
  wg.wait();
  t->stop();
  while (t->read(&bytes)) {
  }
  if (stats != nullptr) *stats = t->stats();
  return bytes;
}

struct Node {
  gc::Member<Node> next;
  uint64_t pad[6] = {};
  void trace(gc::Visitor& v) const { v.trace(next); }
};

// A mixed workload: every kind of block and wake-up the tracer writes.
void mixed_workload() {
  gort::WaitGroup wg;
  // Channel ping-pong.
  gort::Chan<int> ping(0), pong(0);
  wg.add(2);
  gort::go([&] {
    for (int i = 0; i < 200; i++) {
      ping.send(i);
      pong.recv();
    }
    wg.done();
  });
  gort::go([&] {
    for (int i = 0; i < 200; i++) {
      ping.recv();
      pong.send(i);
    }
    wg.done();
  });
  // Mutex contention.
  gort::Mutex mu;
  int64_t counter = 0;
  for (int k = 0; k < 4; k++) {
    wg.add(1);
    gort::go([&] {
      for (int i = 0; i < 300; i++) {
        mu.lock();
        counter++;
        gort::yield();
        mu.unlock();
      }
      wg.done();
    });
  }
  // Sleep, select, blocking sections.
  wg.add(2);
  gort::go([&] {
    for (int i = 0; i < 20; i++) gort::sleep_for(std::chrono::microseconds(200));
    wg.done();
  });
  gort::go([&] {
    gort::Chan<int> a(1), b(1);
    for (int i = 0; i < 50; i++) {
      if (i % 2 == 0) a.send(i); else b.send(i);
      gort::select(gort::on_recv(a), gort::on_recv(b));
      gort::BlockingSection s;
      usleep(100);
    }
    wg.done();
  });
  // Allocation through collections; the last one is forced.
  wg.add(1);
  gort::go([&] {
    for (int round = 0; round < 3; round++) {
      Node* head = nullptr;
      for (int i = 0; i < 20000; i++) {
        Node* n = gc::make<Node>();
        n->next = i % 100 == 0 ? nullptr : head;
        head = n;
      }
      gc::collect();
    }
    wg.done();
  });
  // User annotations.
  {
    profilers::TraceTask task("mixed");
    profilers::TraceRegion region(task.id(), "spawn-and-wait");
    profilers::trace_log(task.id(), "phase", "waiting for workers");
    wg.wait();
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(trace_of_mixed_workload_passes_go_tool_trace) {
  std::string bytes;
  ExecutionTracer::Stats stats;
  gort::run_main(
      [&] {
        // Goroutines in every state before the trace starts.
        gort::Chan<int> never(0);
        gort::Mutex held;
        held.lock();
        std::atomic<bool> stop_spin{false};
        gort::WaitGroup pre;
        pre.add(4);
        gort::go([&] { never.recv(); pre.done(); });                       // blocked on a channel
        gort::go([&] { held.lock(); held.unlock(); pre.done(); });          // blocked on a mutex
        gort::go([&] { gort::BlockingSection s; usleep(50'000); pre.done(); });  // in a blocking call
        gort::go([&] {                                                       // runnable / running
          while (!stop_spin.load()) gort::yield();
          pre.done();
        });
        gort_test::wait_until([] { return gort::num_goroutine() >= 5; }, "pre-trace goroutines exist");
        bytes = take_trace(
            [&] {
              mixed_workload();
              never.send(1);
              held.unlock();
              stop_spin.store(true);
              pre.wait();
            },
            &stats);
      },
      gort::Config{.gomaxprocs = 2});
  BOOST_TEST(stats.inconsistent == 0u);
  BOOST_TEST(stats.dropped == 0u);
  BOOST_TEST(stats.events > 1000u);
  bool ok = false;
  std::string out = check_trace(bytes, "mixed", &ok);
  BOOST_TEST(ok, out);
  BOOST_TEST(out.find(" GCs") != std::string::npos);
  BOOST_TEST(out.find("0 GCs") == std::string::npos, out);
  BOOST_TEST(out.find("1 tasks") != std::string::npos, out);
}

BOOST_AUTO_TEST_CASE(a_second_trace_is_refused_while_one_runs) {
  gort::run_main([&] {
    std::string why;
    auto first = ExecutionTracer::start(&why);
    BOOST_REQUIRE(first != nullptr);
    BOOST_TEST(ExecutionTracer::running());
    auto second = ExecutionTracer::start(&why);
    BOOST_TEST(second == nullptr);
    BOOST_TEST(why == "execution trace already in progress");
    first.reset();
    BOOST_TEST(!ExecutionTracer::running());
    auto third = ExecutionTracer::start(&why);
    BOOST_TEST(third != nullptr);
  });
}

// Traces started and stopped while collections run back to back (and
// sweepers sweep): each must be valid on its own.
BOOST_AUTO_TEST_CASE(traces_taken_while_collections_run_are_valid) {
  std::vector<std::string> traces;
  gort::run_main(
      [&] {
        std::atomic<bool> stop{false};
        gort::WaitGroup wg;
        wg.add(2);
        for (int k = 0; k < 2; k++) {
          gort::go([&] {
            while (!stop.load()) {
              Node* head = nullptr;
              for (int i = 0; i < 5000; i++) {
                Node* n = gc::make<Node>();
                n->next = head;
                head = n;
              }
              gc::collect();
            }
            wg.done();
          });
        }
        for (int i = 0; i < 4; i++)
          traces.push_back(take_trace([] { gort::sleep_for(std::chrono::milliseconds(30)); }));
        stop.store(true);
        wg.wait();
      },
      gort::Config{.gomaxprocs = 2});
  for (size_t i = 0; i < traces.size(); i++) {
    bool ok = false;
    std::string out = check_trace(traces[i], ("gc" + std::to_string(i)).c_str(), &ok);
    BOOST_TEST(ok, "trace " << i << ": " << out);
  }
}

__attribute__((noinline)) void burn_for_trace(std::atomic<bool>* stop) {
  uint64_t x = 88172645463325252ull;
  while (!stop->load(std::memory_order_relaxed)) {
    for (int i = 0; i < 10000; i++) {
      x ^= x << 13;
      x ^= x >> 7;
      x ^= x << 17;
    }
    gort::preempt_check();
  }
  asm volatile("" ::"r"(x));
}

BOOST_AUTO_TEST_CASE(cpu_samples_appear_in_the_trace_while_a_cpu_profile_runs) {
  std::string bytes;
  gort::run_main(
      [&] {
        std::string why;
        auto prof = profilers::CpuProfiler::start(1000, &why);
        BOOST_REQUIRE_MESSAGE(prof != nullptr, why);
        bytes = take_trace([&] {
          std::atomic<bool> stop{false};
          gort::WaitGroup wg;
          wg.add(1);
          gort::go([&] {
            burn_for_trace(&stop);
            wg.done();
          });
          int64_t until = gort::nanotime() + 300'000'000;
          while (gort::nanotime() < until) {
            gort::sleep_for(std::chrono::milliseconds(20));
            prof->drain();
          }
          stop.store(true);
          wg.wait();
          prof->drain();
        });
        prof->stop();
      },
      gort::Config{.gomaxprocs = 2});
  bool ok = false;
  std::string out = check_trace(bytes, "cpu", &ok);
  BOOST_TEST(ok, out);
  BOOST_TEST(out.find(" 0 CPU samples") == std::string::npos, out);
}

// A CPU sample taken before the trace started but drained during it (the
// profiler's ring is drained every 20 ms) is not part of the trace: stamped
// at the start it could sort ahead of its goroutine's GoCreate and Go's
// parser rejected the trace ("g 1 already exists"). One sample names the
// tracing goroutine (declared at the start; which sorts first depends on
// Go's map order, so take several traces), one the goroutine the trace runs
// its body on (created after the start: the sample always sorted first).
BOOST_AUTO_TEST_CASE(cpu_samples_from_before_the_trace_are_left_out) {
  constexpr int kTraces = 4;
  std::vector<std::string> traces;
  gort::run_main(
      [&] {
        for (int i = 0; i < kTraces; i++) {
          int64_t before = gort::nanotime();
          int64_t tracing = gort::goid();
          uintptr_t pc = reinterpret_cast<uintptr_t>(&burn_for_trace) + 1;
          traces.push_back(take_trace([&] {
            profilers::detail::trace_cpu_sample(before, 0, tracing, &pc, 1);
            profilers::detail::trace_cpu_sample(before, 1, gort::goid(), &pc, 1);
          }));
        }
      },
      gort::Config{.gomaxprocs = 2});
  for (int i = 0; i < kTraces; i++) {
    bool ok = false;
    std::string out = check_trace(traces[static_cast<size_t>(i)], "stale_cpu", &ok);
    BOOST_TEST(ok, out);
    BOOST_TEST(out.find(" 0 CPU samples") != std::string::npos, out);
  }
}

// A concurrent collection shows in the trace as Go's does: a mark worker
// starting with GoStartLabel "GC (…)" (what cmd/trace's MMU view counts as
// GC time), assists by allocating goroutines, and both stop-the-world
// pauses — sweep termination (kind 0) and mark termination (kind 1).
BOOST_AUTO_TEST_CASE(gc_workers_assists_and_both_pauses_are_in_the_trace) {
  std::string bytes;
  gort::run_main(
      [&] {
        bytes = take_trace([] {
          std::atomic<bool> stop{false};
          gort::WaitGroup wg;
          wg.add(2);
          gort::go([&] {  // keeps both Ps busy without allocating: workers must mark
            while (!stop.load()) gort::detail::preempt_check();
            wg.done();
          });
          gort::go([&] {  // allocates through several cycles: assists
            Node* keep = nullptr;
            for (int i = 0; i < 400'000; i++) {
              Node* n = gc::make<Node>();
              n->next = i % 1000 == 0 ? nullptr : keep;
              keep = n;
            }
            gc::collect();
            stop.store(true);
            wg.done();
          });
          wg.wait();
        });
      },
      gort::Config{.gomaxprocs = 2});
  std::string path = temp_path("gcmark");
  std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  std::string dump;
  BOOST_REQUIRE(trace_check::run(trace_check::go_tool("trace") + " -d " + path, &dump) == 0);
  auto count = [&](const std::string& what) {
    size_t n = 0;
    for (size_t at = dump.find(what); at != std::string::npos; at = dump.find(what, at + 1)) n++;
    return n;
  };
  BOOST_TEST_MESSAGE("GoStartLabel " << count("GoStartLabel") << ", assists " << count("GCMarkAssistStart")
                                     << ", STW " << count("GCSTWStart") << ", GC " << count(" GCStart "));
  BOOST_TEST(count("GoStartLabel") > 0u);
  BOOST_TEST(count("label=GC (") + count("GC (fractional)") + count("GC (dedicated)") + count("GC (idle)") > 0u);
  BOOST_TEST(count("GCMarkAssistStart") > 0u);
  BOOST_TEST(count("GCSTWStart") >= 2 * count(" GCStart "));
  BOOST_TEST(count(" GCStart ") > 0u);
  bool ok = false;
  std::string verdict = trace_check::check_go_trace(path, &ok);
  BOOST_TEST(ok, verdict);
  if (ok) std::remove(path.c_str());
}
