// trace_events.h — the vocabulary of Go 1.19's execution-trace format
// (shared/reference/go-trace-format.md §2–§6), shared by the tracer that
// writes it (trace_buffer.h) and the reader that converts it
// (trace_reader.h): event type numbers, the "no P" id, the file header.
#pragma once

#include <cstdint>
#include <string_view>

namespace profilers::gotrace {

// Event types, numbered as runtime/trace.go numbers them (traceEv*).
enum EventType : uint8_t {
  kEvBatch = 1,
  kEvFrequency = 2,
  kEvStack = 3,
  kEvGomaxprocs = 4,
  kEvProcStart = 5,
  kEvProcStop = 6,
  kEvGCStart = 7,
  kEvGCDone = 8,
  kEvGCSTWStart = 9,
  kEvGCSTWDone = 10,
  kEvGCSweepStart = 11,
  kEvGCSweepDone = 12,
  kEvGoCreate = 13,
  kEvGoStart = 14,
  kEvGoEnd = 15,
  kEvGoStop = 16,
  kEvGoSched = 17,
  kEvGoPreempt = 18,
  kEvGoSleep = 19,
  kEvGoBlock = 20,
  kEvGoUnblock = 21,
  kEvGoBlockSend = 22,
  kEvGoBlockRecv = 23,
  kEvGoBlockSelect = 24,
  kEvGoBlockSync = 25,
  kEvGoBlockCond = 26,
  kEvGoBlockNet = 27,
  kEvGoSysCall = 28,
  kEvGoSysExit = 29,
  kEvGoSysBlock = 30,
  kEvGoWaiting = 31,
  kEvGoInSyscall = 32,
  kEvHeapAlloc = 33,
  kEvHeapGoal = 34,
  kEvTimerGoroutine = 35,
  kEvFutileWakeup = 36,
  kEvString = 37,
  kEvGoStartLocal = 38,
  kEvGoUnblockLocal = 39,
  kEvGoSysExitLocal = 40,
  kEvGoStartLabel = 41,
  kEvGoBlockGC = 42,
  kEvGCMarkAssistStart = 43,
  kEvGCMarkAssistDone = 44,
  kEvUserTaskCreate = 45,
  kEvUserTaskEnd = 46,
  kEvUserRegion = 47,
  kEvUserLog = 48,
  kEvCPUSample = 49,
  kEvCount = 50,
};

// kNoP is the P id of the "no P" stream (-1 on the wire as 2^64-1).
inline constexpr uint64_t kNoP = ~uint64_t{0};

// kHeader begins every trace: the only version the tracer writes and the
// reader reads.
inline constexpr std::string_view kHeader{"go 1.19 trace\0\0\0", 16};

}  // namespace profilers::gotrace
