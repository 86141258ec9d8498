// main.cpp — gort_micro's entry point: Google Benchmark's main, plus context
// lines saying how the figures are to be read next to Go's (bench/README.md).
#include <benchmark/benchmark.h>


int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("gort_micro",
                              "loops run on the main goroutine of a fresh runtime per run; "
                              "procs:N = GOMAXPROCS; CPU = whole-process CPU time");
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
