// harness.cpp — registration helpers and memory sampling for gort_micro
// (see harness.h).
#include "bench/micro/harness.h"

#include <unistd.h>

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

}  // namespace gort_bench
