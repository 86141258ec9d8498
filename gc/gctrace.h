// gctrace.h — the GODEBUG=gctrace=1 line, byte for byte as Go 1.19 prints it
// at the end of gcMarkTermination (runtime/mgc.go). The collector fills a
// GcTraceRecord per cycle and writes format_gctrace()'s result to stderr. The
// format, with each field's source, is documented at the top of gctrace.cpp.
#pragma once

#include <cstdint>
#include <string>

namespace gc {

// GcTraceRecord is one cycle as gctrace reports it.
struct GcTraceRecord {
  uint32_t cycle = 0;              // GC number after this cycle (memstats.numgc, starts at 1)
  int64_t start_ns = 0;            // sweep-termination start, ns since process start
  double gc_cpu_fraction = 0;      // GC CPU / total CPU since start (memstats.gc_cpu_fraction)
  int64_t sweep_term_wall_ns = 0;  // wall: stop-the-world sweep termination
  int64_t mark_wall_ns = 0;        // wall: (concurrent) mark and scan
  int64_t mark_term_wall_ns = 0;   // wall: stop-the-world mark termination
  int64_t sweep_term_cpu_ns = 0;   // cpu: sweep termination (wall × procs)
  int64_t assist_cpu_ns = 0;       // cpu: mark assists
  int64_t background_cpu_ns = 0;   // cpu: dedicated + fractional background mark workers
  int64_t idle_cpu_ns = 0;         // cpu: idle-priority mark workers
  int64_t mark_term_cpu_ns = 0;    // cpu: mark termination (wall × procs)
  uint64_t heap_start_bytes = 0;   // heap_live when the cycle started (work.heap0)
  uint64_t heap_end_bytes = 0;     // heap_live at mark termination (work.heap1)
  uint64_t heap_marked_bytes = 0;  // bytes marked live (work.heap2)
  uint64_t heap_goal_bytes = 0;    // goal when the cycle ended (Pacer::last_heap_goal)
  uint64_t stacks_bytes = 0;       // scannable stack space (Go's maxStackScan: allocated stacks)
  uint64_t globals_bytes = 0;      // scannable globals (Go's globalsScan)
  int procs = 0;                   // GOMAXPROCS for the cycle (work.maxprocs)
  bool forced = false;             // started by runtime.GC() (work.userForced)
};

// format_ns_as_ms returns ns as Go's fmtNSAsMS prints it: whole milliseconds
// from 10 ms up, otherwise two significant digits with at most three decimals
// ("0.015", "0.52", "9.9"), and "0" below 1 µs. Negative values print as 0.
std::string format_ns_as_ms(int64_t ns);

// format_gctrace returns the trace line for record, newline included.
std::string format_gctrace(const GcTraceRecord& record);

}  // namespace gc
