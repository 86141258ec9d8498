// chan_bench.cpp — unbuffered channel hand-off between two goroutines,
// against Go's BenchmarkChanPingPong.
//
//   BM_ChanPingPong  one iteration = main sends i on `ping`, a partner
//                    goroutine receives it and sends it back on `pong`, main
//                    receives: a full round trip, two parks and two wakeups.
#include "bench/micro/harness.h"
#include "runtime/chan.h"

namespace {

void BM_ChanPingPong(benchmark::State& state) {
  gort_bench::run_on_runtime(state, [&] {
    gort::Chan<int> ping, pong;
    gort::go([&] {
      for (int v : ping) pong.send(v);
      pong.close();
    });
    int i = 0;
    for (auto _ : state) {
      ping.send(i++);
      benchmark::DoNotOptimize(pong.recv());
    }
    ping.close();
    pong.recv();  // the partner's close: it has left the channels alone
  });
}

}  // namespace

BENCHMARK(BM_ChanPingPong)->Apply(gort_bench::procs_1_2);
