// context_bench.cpp — the floor under every goroutine switch: raw
// Boost.Context fcontext jumps on a plain thread, no scheduler.
//
//   BM_RawContextSwitch  one jump_fcontext; a loop iteration is a round trip
//                        (there and back = 2 switches), ns_per_switch = half.
//   BM_RawContextCreate  make_fcontext on a reused stack + run to completion
//                        + switch back: the least a spawn can cost.
//
// A gort goroutine switch is two of these jumps (G -> g0 -> next G, Go's
// mcall), plus run-queue work; compare BM_YieldPair.
#include <boost/context/detail/fcontext.hpp>

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>

namespace ctx = boost::context::detail;

namespace {

constexpr size_t kRawStackBytes = 64 * 1024;  // plenty for a loop of jumps

// ping_partner bounces every jump straight back to whoever jumped in.
void ping_partner(ctx::transfer_t t) {
  for (;;) t = ctx::jump_fcontext(t.fctx, nullptr);
}

void BM_RawContextSwitch(benchmark::State& state) {
  void* stack = std::malloc(kRawStackBytes);
  char* top = static_cast<char*>(stack) + kRawStackBytes;
  ctx::fcontext_t partner = ctx::make_fcontext(top, kRawStackBytes, &ping_partner);
  ctx::transfer_t t = ctx::jump_fcontext(partner, nullptr);  // start it
  auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    t = ctx::jump_fcontext(t.fctx, nullptr);
  }
  auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - t0).count();
  // The partner stays suspended in its loop; it owns nothing, so its stack
  // can simply be freed.
  std::free(stack);
  state.counters["ns_per_switch"] = ns / (2.0 * static_cast<double>(state.iterations()));
}

// one_shot runs once and returns to its creator.
void one_shot(ctx::transfer_t t) {
  benchmark::DoNotOptimize(t.data);
  ctx::jump_fcontext(t.fctx, nullptr);
}

void BM_RawContextCreate(benchmark::State& state) {
  void* stack = std::malloc(kRawStackBytes);
  char* top = static_cast<char*>(stack) + kRawStackBytes;
  for (auto _ : state) {
    ctx::fcontext_t c = ctx::make_fcontext(top, kRawStackBytes, &one_shot);
    ctx::transfer_t t = ctx::jump_fcontext(c, nullptr);
    benchmark::DoNotOptimize(t.fctx);
  }
  std::free(stack);
}

}  // namespace

BENCHMARK(BM_RawContextSwitch);
BENCHMARK(BM_RawContextCreate);
