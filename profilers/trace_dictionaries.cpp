// trace_dictionaries.cpp — the end of a trace: the Stack records, the
// String records they and the user annotations refer to, and the tick
// frequency (go-trace-format.md §5, §9).
//
// Stacks are symbolized once per PC here, after the trace stopped, never in
// an event callback. A return address stands for the call before it, so
// the symbolizer is asked about pc − 1 (profile.h's convention, which the
// CPU profiler follows by storing its interrupted PC + 1). Inlined calls
// expand into several frames at one address, but cmd/trace keys frames by
// PC (it groups goroutines by their entry frame's PC and builds pprof
// locations from PCs), so every distinct (function, file, line) gets a PC
// of its own: the real one the first time an address is used, a synthetic
// one above any code address for the other frames at that address.
//
// The innermost frames of a stack captured inside the tracer — its own
// callback and the event dispatch — are dropped, so a stack begins where
// the runtime was entered (gort::Chan<…>::send, gort::detail::park_current),
// as Go's begin at runtime.chansend1.
#include <algorithm>
#include <map>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "profilers/symbolize.h"
#include "profilers/trace_buffer.h"
#include "profilers/trace_tables.h"
#include "runtime/gort.h"

namespace profilers::trace {

namespace {

constexpr size_t kMaxStringBytes = StringTable::kMaxBytes;       // the reader's limit
constexpr uint64_t kSyntheticPcBase = uint64_t{1} << 60;        // above every code address

void append_varint(std::string& out, uint64_t v) {
  uint8_t b[kMaxVarintBytes];
  out.append(reinterpret_cast<const char*>(b), put_varint(b, v));
}

// tracer_frame reports frames that belong to the tracer's own recording
// rather than to the code that caused the event.
bool tracer_frame(const std::string& fn) {
  return fn.rfind("profilers::", 0) == 0 || fn.find("gort::emit_event") != std::string::npos ||
         fn.find("gort::detail::observers_") != std::string::npos;
}

// display_name is how a function appears in the trace. Every goroutine
// begins in gort::detail::invoke_and_destroy<F>, instantiated per closure
// type, so its entry frame names the closure: show the closure itself
// (`gortd::Listener::accept_loop()::<lambda()>`). Goroutines the runtime
// and the collector start for themselves get Go's `runtime.` prefix, which
// cmd/trace uses to tell system goroutines from the program's.
// GCC's debug info names the instance `gort::detail::invoke_and_destroy<F>`;
// clang's has the demangled signature, `void gort::detail::…<F>(void*)`.
std::string display_name(const std::string& fn) {
  static constexpr std::string_view kTrampoline = "gort::detail::invoke_and_destroy<";
  std::string_view name(fn);
  if (name.rfind("void ", 0) == 0) name.remove_prefix(5);
  if (name.size() > 7 && name.substr(name.size() - 7) == "(void*)") name.remove_suffix(7);
  if (name.rfind(kTrampoline, 0) != 0 || name.back() != '>') return fn;
  std::string inner(name.substr(kTrampoline.size(), name.size() - kTrampoline.size() - 1));
  while (!inner.empty() && inner.back() == ' ') inner.pop_back();
  if (inner.rfind("gort::", 0) == 0 || inner.rfind("gc::", 0) == 0) inner = "runtime." + inner;
  return inner;
}

struct FrameKey {
  std::string function, file;
  int64_t line;
  bool operator<(const FrameKey& o) const {
    return std::tie(function, file, line) < std::tie(o.function, o.file, o.line);
  }
};

}  // namespace

std::string encode_dictionaries(const StackTable& stacks, StringTable& strings, uint64_t ticks_per_second) {
  std::string out;
  std::map<FrameKey, uint64_t> pc_of;           // distinct frame → its PC in the trace
  std::unordered_map<uint64_t, bool> pc_taken;  // PCs handed out
  uint64_t next_synthetic = kSyntheticPcBase;
  std::string body;
  stacks.for_each([&](uint32_t id, const uintptr_t* pcs, int n) {
    gort::preempt_check();  // symbolizing thousands of stacks takes a while
    struct Out {
      uint64_t pc, fn, file, line;
    };
    std::vector<Out> frames;
    // add appends frame f found at return address pc, under the PC that
    // stands for its (function, file, line) in the whole trace.
    auto add = [&](const Frame& f, uintptr_t pc, int64_t line) {
      FrameKey key{display_name(f.function).substr(0, kMaxStringBytes), f.file.substr(0, kMaxStringBytes), line};
      auto it = pc_of.find(key);
      if (it == pc_of.end()) {
        uint64_t out_pc = pc;
        if (pc_taken.count(out_pc) != 0) out_pc = next_synthetic++;
        pc_taken[out_pc] = true;
        it = pc_of.emplace(std::move(key), out_pc).first;
      }
      frames.push_back({it->second, strings.id(it->first.function), strings.id(it->first.file),
                        static_cast<uint64_t>(std::max<int64_t>(it->first.line, 0))});
    };
    bool leading = true;
    for (int i = 0; i < n; i++) {
      uintptr_t addr = pcs[i] - 1;
      const std::vector<Frame>& fs = Symbolizer::global().frames(addr);
      for (const Frame& f : fs) {
        if (leading && tracer_frame(f.function)) continue;
        leading = false;
        add(f, pcs[i], f.line);
      }
    }
    // Only tracer frames: keep the last so the id is defined (line 0). It
    // goes through the same PC assignment: its PC may already stand for
    // another frame (the same function at its real line, in a stack where
    // it was not leading), and cmd/trace keys frames by PC.
    if (frames.empty()) add(Symbolizer::global().frames(pcs[n - 1] - 1).back(), pcs[n - 1], 0);
    if (frames.size() > 1000) frames.resize(1000);  // the reader's limit
    body.clear();
    append_varint(body, id);
    append_varint(body, frames.size());
    for (const Out& f : frames) {
      append_varint(body, f.pc);
      append_varint(body, f.fn);
      append_varint(body, f.file);
      append_varint(body, f.line);
    }
    out.push_back(static_cast<char>(kEvStack | 3 << 6));
    append_varint(out, body.size());
    out += body;
  });
  // Strings after the stacks that named them: a dictionary record may sit
  // anywhere in the file.
  std::string dict;
  strings.for_each([&](uint64_t id, const std::string& text) {
    dict.push_back(static_cast<char>(kEvString));
    append_varint(dict, id);
    append_varint(dict, text.size());
    dict += text;
  });
  out += dict;
  out.push_back(static_cast<char>(kEvFrequency));
  append_varint(out, ticks_per_second);
  return out;
}

}  // namespace profilers::trace
