// trace_writer_fuzz.cpp — fuzzes the execution tracer's writing layer
// (profilers/trace_buffer.h, trace_tables.h, trace_dictionaries.cpp) and
// the window rewriter (trace_window.h) with random but valid event streams,
// reading every trace back with the project's reader (trace_reader.h).
//
// The tracer proper (tracer.cpp) hangs off the live scheduler's observer
// callbacks, so this target drives the layer beneath it as tracer.cpp
// does, without a scheduler: one TraceBuffer per P plus the no-P stream, a
// full buffer queued and replaced by a fresh batch that starts no earlier
// than the old one ended (tracer.cpp's room()), events written with
// TraceBuffer::event, a UserLog's message trimmed to a quarter buffer and
// appended raw (trace_log), stacks interned in a StackTable (small, so it
// also fills up and refuses stacks), strings in a StringTable, and the
// dictionaries from encode_dictionaries.
//
// The stream follows a small model of Go's rules, so every trace is one Go
// could have written: procs start before running goroutines and stop idle;
// goroutines are created, started on a started P with the next sequence
// number, block (every block kind), yield, are unblocked from any stream,
// call syscalls (some block, lose their P and come back with GoSysExit) and
// end; CPU samples go into their own buffer as tracer.cpp writes them; GC cycles numbered from 0; heap sizes; user tasks,
// regions and logs with arbitrary byte strings (empty, invalid UTF-8, up to
// 1.5 MB); strings added to the dictionary and never used; stacks of 0–80
// frames from real functions, unknown addresses and 0; timestamps moving
// forward by random gaps (up to 2^40 ns), except on the no-P stream where
// two threads may take its lock in the other order than they read the
// clock (the writer clamps).
//
// Properties checked (abort() on violation), after feeding the file to
// TraceReader in random chunks:
//   - it parses, and finish() accepts it;
//   - per stream (Batch P), the events come back in order with their types,
//     arguments (goroutine ids, sequence numbers, stack ids, string ids),
//     UserLog messages, and absolute timestamps (batch base + deltas) equal
//     to what was fed, clamped to never go back;
//   - every nonzero stack id an event names has exactly one Stack record,
//     whose frames are the symbolizer's frames of its PCs (the tracer's own
//     leading frames dropped), one PC per distinct (function, file, line),
//     each a PC of some stack or a synthetic one above 2^60;
//   - String ids are unique and nonzero, every string id named is defined
//     with the text fed, and there is one Frequency record of 1e9;
//   - a window cut out of the stream at a random time (write_trace_window)
//     parses too, with timestamps raised to the cut, sequence numbers of the
//     goroutines the cut declares renumbered, GC cycles counted from the
//     cut's and CPU samples from before the cut dropped, and nothing else
//     changed.
#include <algorithm>
#include <cstdint>
#include <fstream>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "profilers/symbolize.h"
#include "profilers/trace_buffer.h"
#include "profilers/trace_reader.h"
#include "profilers/trace_tables.h"
#include "profilers/trace_window.h"
#include "profilers/tracer.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using namespace profilers::trace;  // NOLINT(google-build-using-namespace)
using profilers::gotrace::Record;
using profilers::gotrace::TraceReader;

[[noreturn]] void fail(const char* what, uint64_t a = 0, uint64_t b = 0) {
  std::fprintf(stderr, "trace_writer: %s (%llu, %llu)\n", what, static_cast<unsigned long long>(a),
               static_cast<unsigned long long>(b));
  std::abort();
}
void check(bool ok, const char* what, uint64_t a = 0, uint64_t b = 0) {
  if (!ok) fail(what, a, b);
}

constexpr uint64_t kTicks = 1'000'000'000;
constexpr uint64_t kCpuKey = uint64_t{1} << 62;  // the CPU samples' stream in Writer::fed() and Parsed
constexpr int64_t kAnyTime = -1;                 // a fed event whose stamp is the batch's, not checked
constexpr size_t kMaxEventBytes = kMaxRecordBytes;

// ---- code addresses for the stacks ----

__attribute__((noinline)) int code_a(int x) {
  asm volatile("" : "+r"(x));
  return x * 3 + 1;
}
__attribute__((noinline)) int code_b(int x) {
  asm volatile("" : "+r"(x));
  return code_a(x) ^ 5;
}

uintptr_t code_addr(int which) {
  switch (which) {
    case 0: return reinterpret_cast<uintptr_t>(&code_a);
    case 1: return reinterpret_cast<uintptr_t>(&code_b);
    case 2: return reinterpret_cast<uintptr_t>(&profilers::write_trace_window);  // a tracer frame
    case 3: return reinterpret_cast<uintptr_t>(&std::strtol);
    default: return reinterpret_cast<uintptr_t>(&std::qsort);
  }
}

// random_pc picks a stack entry from a bounded set of addresses (the
// symbolizer caches every PC it is asked about).
uintptr_t random_pc(fuzzin::Input& in) {
  switch (in.below(6)) {
    case 0: return 0;
    case 1: return 1 + in.u8();
    case 2:
    case 3: return code_addr(in.below(5)) + 1 + in.below(64);
    case 4: return 0x400000 + (in.bytes_le(2) << 4);
    default: return ~uintptr_t{0} - in.u8();
  }
}

// ---- what was fed ----

struct Event {
  uint8_t type;
  int64_t ts;  // as the reader must see it (clamped per stream)
  std::vector<uint64_t> args;
  std::string text;  // UserLog message
};

// Writer is tracer.cpp's stream handling without the scheduler.
class Writer final {
 public:
  explicit Writer(int procs) : bufs_(static_cast<size_t>(procs) + 2) {}
  ~Writer() {
    for (TraceBuffer* b : bufs_) delete b;
  }

  // stream index: 0..procs-1 a P, procs the no-P stream, procs+1 the CPU
  // samples' (batch P 0, as Go writes them; the reader tells them apart by
  // their type, so they are filed under kCpuKey).
  size_t cpu_stream() const { return bufs_.size() - 1; }
  uint64_t pid(size_t stream) const {
    return stream == cpu_stream() ? 0 : stream + 2 == bufs_.size() ? kNoP : stream;
  }
  uint64_t key(size_t stream) const { return stream == cpu_stream() ? kCpuKey : pid(stream); }

  // cpu_sample writes a CPU sample as tracer.cpp's cpu_sample does: stamped
  // with the batch's last time, the sample's own time an argument.
  void cpu_sample(int64_t ts, uint64_t p, uint64_t goid, uint32_t stk) {
    TraceBuffer& b = room(cpu_stream(), ts, 4 * kMaxVarintBytes + 8);
    b.event(kEvCPUSample, b.last_ts(), {static_cast<uint64_t>(ts), p, goid, stk});
    fed_[kCpuKey].push_back(Event{kEvCPUSample, kAnyTime, {static_cast<uint64_t>(ts), p, goid, stk}, {}});
  }

  void event(size_t stream, uint8_t type, int64_t ts, std::initializer_list<uint64_t> args,
             std::string_view log = {}, bool is_log = false) {
    const size_t need = 2 * kMaxEventBytes + (is_log ? kMaxVarintBytes + log.size() : 0);
    TraceBuffer& b = room(stream, ts, need);
    b.event(type, ts, args);
    if (is_log) {
      b.varint(log.size());
      b.raw(log.data(), log.size());
    }
    // What the reader must see: ts, or the stream's last time if that is
    // later (a batch never goes back, nor does a stream's next batch).
    std::vector<Event>& fed = fed_[key(stream)];
    const int64_t want = fed.empty() ? ts : std::max(ts, fed.back().ts);
    fed.push_back(Event{type, want, std::vector<uint64_t>(args), std::string(log)});
  }

  void flush() {
    for (TraceBuffer*& b : bufs_)
      if (b != nullptr && !b->empty_batch()) chunks_.emplace_back(b->bytes());
  }

  const std::vector<std::string>& chunks() const { return chunks_; }
  const std::map<uint64_t, std::vector<Event>>& fed() const { return fed_; }  // by key()

 private:
  TraceBuffer& room(size_t stream, int64_t ts, size_t need) {
    TraceBuffer*& buf = bufs_[stream];
    if (buf != nullptr && buf->has_room(need)) return *buf;
    int64_t start = ts;
    if (buf != nullptr) {
      start = std::max(start, buf->last_ts());
      if (!buf->empty_batch()) chunks_.emplace_back(buf->bytes());
    } else {
      buf = new TraceBuffer;
    }
    buf->reset(pid(stream), start);
    return *buf;
  }

  std::vector<TraceBuffer*> bufs_;
  std::vector<std::string> chunks_;               // whole batches, in the order they filled
  std::map<uint64_t, std::vector<Event>> fed_;  // by key()
};

// The model of goroutines and procs that keeps the stream valid.
enum class GState { kRunnable, kRunning, kWaiting, kSysBlocked, kDead };
struct Goroutine {
  uint64_t id;
  GState state;
  uint64_t seq = 0;
};
struct Proc {
  bool started = false;
  size_t cur = SIZE_MAX;  // index in gs of the goroutine running on it
};

struct Trace {
  std::unique_ptr<StackTable> stacks;
  StringTable strings;
  std::map<uint32_t, std::vector<uintptr_t>> stack_pcs;  // id → PCs (truncated as the table does)
  std::map<uint64_t, std::string> string_text;          // id → text
  std::vector<Goroutine> gs;
  std::vector<Proc> ps;
  uint64_t gc_seq = 0;
  bool in_gc = false;
  std::vector<uint64_t> tasks;
  std::string file;                    // header + batches + dictionaries
  std::string dictionaries;
};

uint32_t random_stack(fuzzin::Input& in, Trace& t) {
  std::vector<uintptr_t> pcs;
  for (uint32_t i = 0, n = in.below(8) == 0 ? in.below(81) : in.below(6); i < n; i++) pcs.push_back(random_pc(in));
  uint32_t id = t.stacks->put(pcs.data(), static_cast<int>(pcs.size()));
  if (id != 0) {
    pcs.resize(std::min<size_t>(pcs.size(), StackTable::kMaxDepth));
    auto [it, fresh] = t.stack_pcs.emplace(id, pcs);
    check(fresh || it->second == pcs, "stack table gave one id to two stacks", id);
  } else {
    check(pcs.empty() || t.stacks->full_misses() > 0, "stack refused without a miss");
  }
  return id;
}

uint64_t random_string(fuzzin::Input& in, Trace& t) {
  std::string s = in.text(in.below(16) == 0 ? 1'500'000 : 64);
  uint64_t id = t.strings.id(s);
  s.resize(std::min(s.size(), StringTable::kMaxBytes));  // what the trace can hold
  if (id != 0) {
    auto [it, fresh] = t.string_text.emplace(id, s);
    check(fresh || it->second == s, "string table gave one id to two strings", id);
  } else {
    check(s.empty(), "string id 0 for a non-empty string");
  }
  return id;
}

// generate writes a random valid stream into w.
void generate(fuzzin::Input& in, Trace& t, Writer& w, int procs) {
  int64_t ts = static_cast<int64_t>(in.bytes_le(4));
  int64_t nop_clock = ts;
  t.ps.resize(static_cast<size_t>(procs));
  uint64_t next_goid = 1 + in.u8();
  auto running = [&](size_t p) { return t.ps[p].cur != SIZE_MAX; };
  auto pick = [&](GState s) -> size_t {
    std::vector<size_t> c;
    for (size_t i = 0; i < t.gs.size(); i++)
      if (t.gs[i].state == s) c.push_back(i);
    return c.empty() ? SIZE_MAX : c[in.below(static_cast<uint32_t>(c.size()))];
  };
  for (int op = 0; op < 400 && !in.empty(); op++) {
    ts += in.below(6) == 0 ? static_cast<int64_t>(in.bytes_le(5)) : 1 + in.u8();
    if (ts > (int64_t{1} << 61)) break;
    const size_t p = in.below(static_cast<uint32_t>(procs));
    Proc& pr = t.ps[p];
    switch (in.below(16)) {
      case 0:
        if (!pr.started) {
          w.event(p, kEvProcStart, ts, {in.wide()});
          pr.started = true;
        }
        break;
      case 1:
        if (pr.started && !running(p)) {
          w.event(p, kEvProcStop, ts, {});
          pr.started = false;
        }
        break;
      case 2:
        if (pr.started) {
          uint64_t id = next_goid;
          next_goid += 1 + (in.below(8) == 0 ? in.wide() % (uint64_t{1} << 40) : 0);
          uint32_t entry = random_stack(in, t), stk = random_stack(in, t);
          w.event(p, kEvGoCreate, ts, {id, entry, stk});
          t.gs.push_back({id, GState::kRunnable});
        }
        break;
      case 3:
        if (pr.started && !running(p)) {
          size_t g = pick(GState::kRunnable);
          if (g == SIZE_MAX) break;
          Goroutine& gr = t.gs[g];
          if (in.below(4) == 0)
            w.event(p, kEvGoStartLabel, ts, {gr.id, ++gr.seq, random_string(in, t)});
          else
            w.event(p, kEvGoStart, ts, {gr.id, ++gr.seq});
          gr.state = GState::kRunning;
          pr.cur = g;
        }
        break;
      case 4:
      case 5:
        if (running(p)) {
          static constexpr uint8_t kBlocks[] = {kEvGoBlock,       kEvGoBlockSend, kEvGoBlockRecv, kEvGoBlockSelect,
                                                kEvGoBlockSync,   kEvGoBlockCond, kEvGoBlockNet,  kEvGoSleep,
                                                kEvGoBlockGC,     kEvGoStop,      kEvGoSched,     kEvGoPreempt};
          uint8_t ev = kBlocks[in.below(sizeof kBlocks)];
          w.event(p, ev, ts, {random_stack(in, t)});
          t.gs[pr.cur].state = ev == kEvGoSched || ev == kEvGoPreempt ? GState::kRunnable : GState::kWaiting;
          pr.cur = SIZE_MAX;
        }
        break;
      case 6:
        if (running(p)) {
          w.event(p, kEvGoEnd, ts, {});
          t.gs[pr.cur].state = GState::kDead;
          pr.cur = SIZE_MAX;
        }
        break;
      case 7: {
        if (size_t g = pick(GState::kSysBlocked); g != SIZE_MAX && in.flag()) {
          // Back from a blocking syscall (on a P that has no goroutine running).
          if (!pr.started || running(p)) break;
          Goroutine& gr = t.gs[g];
          w.event(p, kEvGoSysExit, ts, {gr.id, ++gr.seq, static_cast<uint64_t>(ts - in.u8())});
          gr.state = GState::kRunnable;
          break;
        }
        size_t g = pick(GState::kWaiting);
        if (g == SIZE_MAX) break;
        Goroutine& gr = t.gs[g];
        if (in.flag() || !pr.started) {  // a P-less thread: the no-P stream, its clock read a little earlier
          int64_t at = std::max(nop_clock, ts - static_cast<int64_t>(in.u8()));
          w.event(static_cast<size_t>(procs), kEvGoUnblock, at, {gr.id, ++gr.seq, random_stack(in, t)});
          nop_clock = at;
        } else {
          w.event(p, kEvGoUnblock, ts, {gr.id, ++gr.seq, random_stack(in, t)});
        }
        gr.state = GState::kRunnable;
        break;
      }
      case 8:
        if (!pr.started) break;
        if (!t.in_gc)
          w.event(p, kEvGCStart, ts, {t.gc_seq++, random_stack(in, t)});
        else
          w.event(p, kEvGCDone, ts, {});
        t.in_gc = !t.in_gc;
        break;
      case 9:
        w.event(pr.started ? p : static_cast<size_t>(procs), in.flag() ? kEvHeapAlloc : kEvHeapGoal,
                std::max(ts, nop_clock), {in.wide()});
        nop_clock = std::max(ts, nop_clock);
        break;
      case 10:
        if (!running(p)) break;
        if (t.tasks.empty() || in.flag()) {
          uint64_t id = 1 + in.wide() % (uint64_t{1} << 50);
          uint64_t parent = t.tasks.empty() || in.flag() ? 0 : t.tasks[in.below(static_cast<uint32_t>(t.tasks.size()))];
          w.event(p, kEvUserTaskCreate, ts, {id, parent, random_string(in, t), random_stack(in, t)});
          t.tasks.push_back(id);
        } else {
          w.event(p, kEvUserTaskEnd, ts, {t.tasks[in.below(static_cast<uint32_t>(t.tasks.size()))], random_stack(in, t)});
        }
        break;
      case 11:
        if (running(p)) {
          uint64_t task = t.tasks.empty() || in.flag() ? 0 : t.tasks[in.below(static_cast<uint32_t>(t.tasks.size()))];
          w.event(p, kEvUserRegion, ts, {task, uint64_t{in.u8() & 1u}, random_string(in, t), random_stack(in, t)});
        }
        break;
      case 12:
        if (running(p)) {
          uint64_t task = t.tasks.empty() || in.flag() ? 0 : t.tasks[in.below(static_cast<uint32_t>(t.tasks.size()))];
          uint64_t key = random_string(in, t);
          uint32_t stk = random_stack(in, t);
          std::string msg = in.text(in.below(8) == 0 ? 200'000 : 64);
          if (msg.size() > TraceBuffer::kBytes / 4) msg.resize(TraceBuffer::kBytes / 4);  // as trace_log trims it
          w.event(p, kEvUserLog, ts, {task, key, stk}, msg, true);
        }
        break;
      case 13:
        if (in.flag()) {
          random_string(in, t);  // dictionary churn: defined, never used
        } else {  // a CPU sample, taken a little earlier, of whatever runs on p (or nothing)
          uint64_t goid = running(p) ? t.gs[pr.cur].id : 0;
          w.cpu_sample(ts - in.u8(), in.flag() ? kNoP : p, goid, random_stack(in, t));
        }
        break;
      case 14:
        if (!running(p)) break;
        w.event(p, kEvGoSysCall, ts, {random_stack(in, t)});
        if (in.flag()) {  // the syscall blocks: the goroutine loses its P
          ts += 1 + in.u8();
          w.event(p, kEvGoSysBlock, ts, {});
          t.gs[pr.cur].state = GState::kSysBlocked;
          pr.cur = SIZE_MAX;
        }
        break;
      default:
        if (!pr.started) break;
        if (in.flag())
          w.event(p, kEvGCSweepStart, ts, {random_stack(in, t)});
        else
          w.event(p, kEvGCSweepDone, ts, {in.wide(), in.wide()});
        break;
    }
  }
  w.flush();
}

// ---- reading back ----

struct Read {
  uint8_t type;
  int64_t ts;
  std::vector<uint64_t> values;  // without the delta
  std::string text;
};

struct Parsed {
  std::map<uint64_t, std::vector<Read>> events;  // by P id; CPU samples under kCpuKey
  std::map<uint64_t, std::vector<uint64_t>> stacks;  // id → values after the count
  std::map<uint64_t, std::string> strings;
  std::vector<uint64_t> frequencies;
};

Parsed parse(std::string_view file, uint64_t split_seed) {
  Parsed out;
  TraceReader reader;
  uint64_t p = 0;
  int64_t ts = 0;
  bool in_batch = false;
  auto visit = [&](const Record& r) {
    switch (r.type) {
      case kEvBatch:
        p = r.values[0];
        ts = static_cast<int64_t>(r.values[1]);
        in_batch = true;
        return true;
      case kEvStack: {
        check(r.values[0] != 0, "Stack id 0");
        auto [it, fresh] = out.stacks.emplace(r.values[0], std::vector<uint64_t>(r.values.begin() + 2, r.values.end()));
        check(fresh, "Stack record twice", r.values[0]);
        in_batch = false;
        return true;
      }
      case kEvString:
        check(out.strings.emplace(r.values[0], std::string(r.text)).second, "String record twice", r.values[0]);
        in_batch = false;
        return true;
      case kEvFrequency:
        out.frequencies.push_back(r.values[0]);
        in_batch = false;
        return true;
      default:
        check(in_batch, "event outside a batch", r.type);
        ts += static_cast<int64_t>(r.values[0]);
        out.events[r.type == kEvCPUSample ? kCpuKey : p].push_back(
            {r.type, ts, std::vector<uint64_t>(r.values.begin() + 1, r.values.end()), std::string(r.text)});
        return true;
    }
  };
  // Random chunking: the reader must not care where the bytes are split.
  uint64_t x = split_seed | 1;
  size_t at = 0;
  while (at < file.size()) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    size_t n = std::min<size_t>(file.size() - at, 1 + x % (x & 1 ? 7 : 70'000));
    if (!reader.feed(file.substr(at, n), visit)) fail(("reader: " + reader.error()).c_str());
    at += n;
  }
  if (!reader.finish()) fail(("reader finish: " + reader.error()).c_str());
  return out;
}

bool tracer_frame(const std::string& fn) {  // as trace_dictionaries.cpp decides
  return fn.rfind("profilers::", 0) == 0 || fn.find("gort::emit_event") != std::string::npos ||
         fn.find("gort::detail::observers_") != std::string::npos;
}

void check_dictionaries(const Trace& t, const Parsed& got) {
  check(got.frequencies.size() == 1 && got.frequencies[0] == kTicks, "Frequency record", got.frequencies.size());
  for (const auto& [id, text] : got.strings) {
    check(id != 0 && !text.empty() && text.size() <= TraceReader::kMaxString, "bad String record", id);
    auto it = t.string_text.find(id);
    if (it != t.string_text.end()) check(it->second == text, "String text differs from what was fed", id);
  }
  for (const auto& [id, text] : t.string_text) check(got.strings.count(id) == 1, "a fed string is not defined", id);
  check(got.stacks.size() == t.stack_pcs.size(), "Stack record count", got.stacks.size(), t.stack_pcs.size());
  auto text_of = [&](uint64_t id) -> std::string {
    if (id == 0) return {};
    auto it = got.strings.find(id);
    check(it != got.strings.end(), "a frame's string is not defined", id);
    return it->second;
  };
  std::map<std::tuple<std::string, std::string, uint64_t>, uint64_t> pc_of;
  std::map<uint64_t, std::tuple<std::string, std::string, uint64_t>> key_of;
  std::set<uint64_t> fed_pcs;
  for (const auto& [id, pcs] : t.stack_pcs) fed_pcs.insert(pcs.begin(), pcs.end());
  for (const auto& [id, pcs] : t.stack_pcs) {
    auto it = got.stacks.find(id);
    check(it != got.stacks.end(), "a stack has no Stack record", id);
    const std::vector<uint64_t>& v = it->second;
    // The frames the symbolizer gives, the tracer's leading ones dropped.
    std::vector<std::tuple<std::string, std::string, int64_t, uintptr_t>> want;
    bool leading = true;
    for (uintptr_t pc : pcs) {
      for (const profilers::Frame& f : profilers::Symbolizer::global().frames(pc - 1)) {
        if (leading && tracer_frame(f.function)) continue;
        leading = false;
        want.emplace_back(f.function.substr(0, 1'000'000), f.file.substr(0, 1'000'000), std::max<int64_t>(f.line, 0), pc);
      }
    }
    if (want.empty()) {
      const profilers::Frame& f = profilers::Symbolizer::global().frames(pcs.back() - 1).back();
      want.emplace_back(f.function.substr(0, 1'000'000), f.file.substr(0, 1'000'000), 0, pcs.back());
    }
    if (want.size() > 1000) want.resize(1000);
    check(v.size() == 4 * want.size(), "Stack frame count", id, v.size() / 4);
    for (size_t i = 0; i < want.size(); i++) {
      const auto& [fn, file, line, pc] = want[i];
      uint64_t wpc = v[4 * i];
      auto key = std::make_tuple(text_of(v[4 * i + 1]), text_of(v[4 * i + 2]), v[4 * i + 3]);
      check(std::get<0>(key) == fn, "frame function differs", id, i);
      check(std::get<1>(key) == file, "frame file differs", id, i);
      check(std::get<2>(key) == static_cast<uint64_t>(line), "frame line differs", id, i);
      check(fed_pcs.count(wpc) == 1 || wpc >= (uint64_t{1} << 60), "frame PC neither a stack's nor synthetic", wpc, pc);
      auto [pit, pfresh] = pc_of.emplace(key, wpc);
      check(pit->second == wpc, "one frame, two PCs", wpc, pit->second);
      auto [kit, kfresh] = key_of.emplace(wpc, key);
      check(kit->second == key, "one PC, two frames", wpc);
    }
  }
}

void check_events(const Writer& w, const Parsed& got) {
  for (const auto& [p, evs] : w.fed()) {
    auto it = got.events.find(p);
    check(it != got.events.end(), "a stream is missing", p);
    const std::vector<Read>& rd = it->second;
    check(rd.size() == evs.size(), "event count differs", p, rd.size());
    for (size_t i = 0; i < evs.size(); i++) {
      check(rd[i].type == evs[i].type, "event type differs", i, rd[i].type);
      check(evs[i].ts == kAnyTime || rd[i].ts == evs[i].ts, "timestamp differs", static_cast<uint64_t>(rd[i].ts),
            static_cast<uint64_t>(evs[i].ts));
      check(rd[i].values == evs[i].args, "event arguments differ", i, rd[i].type);
      check(rd[i].text == evs[i].text, "UserLog message differs", i);
      check(i == 0 || rd[i].ts >= rd[i - 1].ts, "time goes back in a stream", i);
    }
  }
  check(got.events.size() == w.fed().size(), "a stream too many", got.events.size(), w.fed().size());
}

bool carries_seq(uint8_t type) {
  return type == kEvGoStart || type == kEvGoStartLabel || type == kEvGoUnblock || type == kEvGoSysExit;
}

// check_window cuts the stream at a random time and checks the rewrite.
void check_window(fuzzin::Input& in, const Trace& t, const Writer& w, const Parsed& whole) {
  profilers::ExecutionTracer::Cut from, to;
  int64_t last = 0;
  for (const auto& [p, evs] : w.fed())
    if (!evs.empty()) last = std::max(last, evs.back().ts);
  from.ts = last == 0 ? 0 : static_cast<int64_t>(in.wide() % static_cast<uint64_t>(last + 1));
  from.gc_seq = t.gc_seq == 0 ? 0 : in.below(static_cast<uint32_t>(t.gc_seq) + 1);
  for (const Goroutine& g : t.gs)
    if (in.flag()) from.seqs.push_back({g.id, g.seq == 0 ? 0 : in.wide() % (g.seq + 1), in.below(3)});
  from.prologue = "";  // declarations come from a running tracer; the rewrite does not read them
  std::vector<std::string_view> stream(w.chunks().begin(), w.chunks().end());
  std::string why;
  std::string file = profilers::write_trace_window(from, stream, to, t.dictionaries, &why);
  check(!file.empty(), ("window: " + why).c_str());
  const Parsed got = parse(file, in.wide());
  check_dictionaries(t, got);
  auto renumber = [&](uint64_t goid, uint64_t seq) {
    for (const auto& s : from.seqs)
      if (s.goid == goid) return seq - s.base + s.decl;
    return seq;
  };
  for (const auto& [p, evs] : whole.events) {
    auto it = got.events.find(p);
    if (p == kCpuKey && it == got.events.end()) continue;  // every sample before the cut
    check(it != got.events.end(), "window lost a stream", p);
    std::vector<Read> kept;  // CPU samples taken before the cut are dropped
    for (const Read& e : evs)
      if (e.type != kEvCPUSample || static_cast<int64_t>(e.values[0]) >= from.ts) kept.push_back(e);
    const std::vector<Read>& rd = it->second;
    check(rd.size() == kept.size(), "window event count differs", p, rd.size());
    for (size_t i = 0; i < kept.size(); i++) {
      Read want = kept[i];
      want.ts = std::max(want.ts, from.ts);
      if (carries_seq(want.type)) want.values[1] = renumber(want.values[0], want.values[1]);
      if (want.type == kEvGCStart) want.values[0] -= from.gc_seq;
      check(rd[i].type == want.type, "window event type differs", i, rd[i].type);
      check(rd[i].ts == want.ts, "window timestamp differs", static_cast<uint64_t>(rd[i].ts), static_cast<uint64_t>(want.ts));
      check(rd[i].values == want.values, "window arguments differ", i, rd[i].type);
      check(rd[i].text == want.text, "window UserLog message differs", i);
    }
  }
}

// dump writes what the writer produced to $GORT_FUZZ_DUMP, if set, for a
// look with Go's own tools (`go tool pprof`, shared/tools/check_go_trace.sh)
// at what a corpus input makes: GORT_FUZZ_DUMP=/tmp/x NAME_replay INPUT.
void dump(const std::string& bytes) {
  static const char* const path = std::getenv("GORT_FUZZ_DUMP");
  if (path != nullptr) std::ofstream(path, std::ios::binary) << bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzzin::Input in(data, size);
  const int procs = 1 + static_cast<int>(in.below(4));
  Trace t;
  t.stacks = std::make_unique<StackTable>(size_t{16} << in.below(6));
  Writer w(procs);
  generate(in, t, w, procs);
  t.dictionaries = encode_dictionaries(*t.stacks, t.strings, kTicks);
  // The dictionaries name the frames' functions and files too: learn those
  // ids from the parse, and the fed ones must agree.
  std::string file(profilers::gotrace::kHeader);
  for (const std::string& c : w.chunks()) file += c;
  file += t.dictionaries;
  dump(file);
  const Parsed got = parse(file, size);
  check_events(w, got);
  check_dictionaries(t, got);
  check_window(in, t, w, got);
  return 0;
}
