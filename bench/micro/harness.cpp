// harness.cpp — registration helpers and memory sampling for gort_micro
// (see harness.h).
#include "bench/micro/harness.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace gort_bench {

void procs_1_2(benchmark::internal::Benchmark* b) {
  b->ArgName("procs")->Arg(1)->Arg(2)->UseRealTime()->MeasureProcessCPUTime();
}

void procs_1(benchmark::internal::Benchmark* b) {
  b->ArgName("procs")->Arg(1)->UseRealTime()->MeasureProcessCPUTime();
}

MemSample sample_memory() {
  MemSample m;
  const int64_t page = sysconf(_SC_PAGESIZE);
  if (FILE* f = fopen("/proc/self/statm", "r")) {
    long long size = 0, resident = 0;
    if (fscanf(f, "%lld %lld", &size, &resident) == 2) {
      m.vm_bytes = size * page;
      m.rss_bytes = resident * page;
    }
    fclose(f);
  }
  if (FILE* f = fopen("/proc/self/status", "r")) {
    char line[256];
    while (fgets(line, sizeof line, f)) {
      long long kb = 0;
      if (strncmp(line, "VmPTE:", 6) == 0 && sscanf(line + 6, "%lld", &kb) == 1) {
        m.pte_bytes = kb * 1024;
        break;
      }
    }
    fclose(f);
  }
  return m;
}

int64_t count_parked(gort::WaitReason reason) {
  int64_t n = 0;
  gort::for_each_goroutine([&](gort::G* g) {
    gort::GoroutineInfo i = gort::goroutine_info(g);
    if (i.status == gort::GStatus::Waiting && i.wait_reason == reason) n++;
  });
  return n;
}

namespace {
// quantile returns the q-quantile of sorted samples (nearest rank).
double quantile(const std::vector<int64_t>& sorted, double q) {
  if (sorted.empty()) return 0;
  size_t i = static_cast<size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
  return static_cast<double>(sorted[std::min(i, sorted.size() - 1)]);
}
}  // namespace

void report_lateness(benchmark::State& state, std::vector<int64_t>& late) {
  std::sort(late.begin(), late.end());
  state.counters["lateness_p50_ns"] = quantile(late, 0.50);
  state.counters["lateness_p99_ns"] = quantile(late, 0.99);
  state.counters["lateness_max_ns"] = late.empty() ? 0 : static_cast<double>(late.back());
}

}  // namespace gort_bench
