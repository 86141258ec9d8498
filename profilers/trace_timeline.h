// trace_timeline.h — TraceTimeline: the second half of TraceJsonConverter
// (trace_json.h). It receives a Go 1.19 trace's events already decoded and
// in time order and writes them as Chrome trace-event tracks: Ps,
// goroutines, GC, user annotations, flow arrows. trace_timeline.cpp's
// essay describes the tracks. Internal to the profilers layer.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include "profilers/chrome_trace_writer.h"

namespace profilers::detail {

// TimedEvent is one timestamped trace event, decoded.
struct TimedEvent {
  uint64_t ticks = 0;  // absolute time (CPUSample: its own timestamp)
  uint64_t p = 0;      // the P of its batch (gotrace::kNoP for none)
  uint64_t a[4] = {};  // the values after the timestamp delta; the stack id, if any, last
  std::string text;    // a UserLog's message
  uint8_t type = 0;    // gotrace::EventType
};

// TraceDictionary holds the trace's String and Stack records as far as
// they have been read (Go and gort write stacks at the end of the trace).
struct TraceDictionary {
  std::unordered_map<uint64_t, std::string> strings;
  std::unordered_map<uint64_t, uint64_t> stack_fn;  // stack id -> its first frame's function string id

  std::string_view str(uint64_t id) const {
    auto it = strings.find(id);
    return it == strings.end() ? std::string_view() : std::string_view(it->second);
  }
  // function_of_stack returns the function of the stack's first frame
  // (for an entry stack: the goroutine's entry function), "" if unknown.
  std::string_view function_of_stack(uint64_t stack) const {
    auto it = stack_fn.find(stack);
    return it == stack_fn.end() ? std::string_view() : str(it->second);
  }
};

class TraceTimeline final {
 public:
  // kMaxP bounds P ids (Go caps GOMAXPROCS at 1024); beyond it a trace is
  // malformed.
  static constexpr uint64_t kMaxP = 1 << 16;

  // The timeline writes into out and reads names from dict, both owned by
  // the caller and outliving it.
  TraceTimeline(ChromeTraceWriter& out, const TraceDictionary& dict);
  ~TraceTimeline();
  TraceTimeline(const TraceTimeline&) = delete;
  TraceTimeline& operator=(const TraceTimeline&) = delete;

  // begin fixes the time scale (ticks_per_second > 0) and origin (ticks
  // shown as 0; earlier ones are clamped to it) and writes the
  // document's opening and the fixed processes' names.
  void begin(uint64_t ticks_per_second, uint64_t origin_ticks);
  // event adds the next event in time order (ties: in file order).
  void event(const TimedEvent& e);
  // close ends what is still open (running goroutines, GC phases, tasks)
  // at the last timestamp seen and names the goroutines' tracks with the
  // functions known by now. The caller then ends the document.
  void close();

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace profilers::detail
