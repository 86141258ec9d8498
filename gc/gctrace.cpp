// gctrace.cpp — formats the GODEBUG=gctrace=1 line as Go 1.19 does
// (runtime/mgc.go, gcMarkTermination; helpers itoaDiv and fmtNSAsMS).
//
// The format, verbatim from Go's print calls:
//
//   print("gc ", memstats.numgc,
//         " @", string(itoaDiv(sbuf[:], uint64(work.tSweepTerm-runtimeInitTime)/1e6, 3)), "s ",
//         util, "%: ")                                   // util = int(gc_cpu_fraction*100)
//   <sweep-term wall>+<mark wall>+<mark-term wall>       // each fmtNSAsMS
//   print(" ms clock, ")
//   <sweep-term cpu>+<assist cpu>/<background cpu>/<idle cpu>+<mark-term cpu>
//   print(" ms cpu, ",
//         work.heap0>>20, "->", work.heap1>>20, "->", work.heap2>>20, " MB, ",
//         gcController.lastHeapGoal>>20, " MB goal, ",
//         atomic.Load64(&gcController.maxStackScan)>>20, " MB stacks, ",
//         gcController.globalsScan>>20, " MB globals, ",
//         work.maxprocs, " P")
//   if work.userForced { print(" (forced)") }
//   print("\n")
//
// which reads, for example:
//
//   gc 12 @3.104s 2%: 0.015+0.52+0.013 ms clock, 0.12+0.21/0.36/0+0.10 ms cpu, 4->4->1 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P
//
// Numbers: the start time is whole milliseconds printed with three decimals
// (itoaDiv(ms, 3): 3104 → "3.104", 5 → "0.005"); MB figures are bytes >> 20
// (truncated); util truncates toward zero; background CPU is dedicated plus
// fractional workers. fmtNSAsMS: ns ≥ 10 ms prints whole ms; otherwise
// x = ns/1000 (µs), "0" if x is 0, else x is divided by 10 until below 100,
// one decimal fewer each time, starting from three: 15 µs → "0.015",
// 520 µs → "0.52", 1234 µs → "1.2", 9999 µs → "9.9".
#include "gc/gctrace.h"

namespace gc {

namespace {

// itoa_div returns val with a decimal point dec digits from the right (Go's
// itoaDiv): itoa_div(3104, 3) = "3.104", itoa_div(5, 3) = "0.005".
std::string itoa_div(uint64_t val, int dec) {
  char buf[32];
  int i = sizeof(buf) - 1;
  int idec = i - dec;
  while (val >= 10 || i >= idec) {
    buf[i--] = static_cast<char>('0' + val % 10);
    if (i == idec) buf[i--] = '.';
    val /= 10;
  }
  buf[i] = static_cast<char>('0' + val);
  return std::string(buf + i, sizeof(buf) - i);
}

uint64_t non_negative(int64_t v) { return v < 0 ? 0 : static_cast<uint64_t>(v); }

}  // namespace

std::string format_ns_as_ms(int64_t signed_ns) {
  uint64_t ns = non_negative(signed_ns);
  if (ns >= 10'000'000) return itoa_div(ns / 1'000'000, 0);
  uint64_t x = ns / 1000;
  if (x == 0) return "0";
  int dec = 3;
  while (x >= 100) {
    x /= 10;
    dec--;
  }
  return itoa_div(x, dec);
}

std::string format_gctrace(const GcTraceRecord& r) {
  std::string s;
  s.reserve(160);
  s += "gc ";
  s += std::to_string(r.cycle);
  s += " @";
  s += itoa_div(non_negative(r.start_ns) / 1'000'000, 3);
  s += "s ";
  s += std::to_string(static_cast<int64_t>(r.gc_cpu_fraction * 100));
  s += "%: ";
  s += format_ns_as_ms(r.sweep_term_wall_ns);
  s += '+';
  s += format_ns_as_ms(r.mark_wall_ns);
  s += '+';
  s += format_ns_as_ms(r.mark_term_wall_ns);
  s += " ms clock, ";
  s += format_ns_as_ms(r.sweep_term_cpu_ns);
  s += '+';
  s += format_ns_as_ms(r.assist_cpu_ns);
  s += '/';
  s += format_ns_as_ms(r.background_cpu_ns);
  s += '/';
  s += format_ns_as_ms(r.idle_cpu_ns);
  s += '+';
  s += format_ns_as_ms(r.mark_term_cpu_ns);
  s += " ms cpu, ";
  s += std::to_string(r.heap_start_bytes >> 20);
  s += "->";
  s += std::to_string(r.heap_end_bytes >> 20);
  s += "->";
  s += std::to_string(r.heap_marked_bytes >> 20);
  s += " MB, ";
  s += std::to_string(r.heap_goal_bytes >> 20);
  s += " MB goal, ";
  s += std::to_string(r.stacks_bytes >> 20);
  s += " MB stacks, ";
  s += std::to_string(r.globals_bytes >> 20);
  s += " MB globals, ";
  s += std::to_string(r.procs);
  s += " P";
  if (r.forced) s += " (forced)";
  s += '\n';
  return s;
}

}  // namespace gc
