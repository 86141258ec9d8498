// trace_json.cpp — TraceJsonConverter: Go 1.19 execution trace in, Chrome
// trace-event JSON out, while the trace streams (trace_json.h).
//
// Pipeline. Bytes go through three stages:
//   1. lookahead: the first kLookaheadBytes are kept raw and scanned
//      (gotrace::TraceReader) for the Frequency record, the earliest
//      timestamp and the String/Stack dictionaries; nothing is written.
//   2. decode, in file order: Batch records switch the current P and reset
//      the timestamp base; each event becomes a Pending {ticks, P, type,
//      values} in a min-heap by (ticks, file position).
//   3. convert, in time order: once the heap holds kReorderEvents, the
//      earliest event is popped and turned into JSON; finish() drains it.
// The lookahead exists because a trace's time scale is only known from its
// Frequency record, which Go and gort write at the very end, and its time
// origin is the earliest event, which need not be in the first batch (Go
// flushes per-P buffers when they fill, so an idle P's early events come
// last). Both are found exactly for any trace that fits in the lookahead
// (the common ?seconds=N request). Past it the converter assumes 1e9
// ticks per second (gort's nanosecond clock; Go's ticks are cputicks/64,
// so a long Go trace's times come out scaled, and the document's
// "otherData" says so) and clamps an event earlier than the origin to 0.
//
// Why reorder. Go's reader merges the per-P streams with the goroutines'
// sequence numbers; here a bounded heap sorted by timestamp does that job
// for events within kReorderEvents of each other in the file (one clock
// for all Ps, spec section 4). Within a P the order is kept (ties broken by
// file position), so the implicit-goroutine rule — an event belongs to the
// goroutine last started on its P, none after it left — holds in time
// order just as in file order. What the window cannot reorder is handled
// without damage: a goroutine's state is only advanced by events that fit
// its current state, and no slice on a goroutine's track starts before the
// previous one ended.
//
// Tracks (pid / tid; tids are unique across processes, goroutines use
// their id):
//   Proc <p>   — "goroutines": one slice per running interval, named
//                "G<id> <entry function>" ("G<id> <label>" for GoStartLabel,
//                "G<id>" while the entry function is unknown), args
//                goroutine and end reason ("chan receive", "preempted", …);
//                inside it, zero-length markers "unblock G<n>", "create
//                G<n>", "syscall exit G<n>" where wake-ups happen, instants
//                for syscalls and user logs. "M (thread)": ProcStart..
//                ProcStop as slices "M<thread id>". "CPU samples": instants.
//   No P       — the same lanes for the P −1 stream (wake-ups from threads
//                without a P).
//   GC         — "GC cycles" (GCStart..GCDone), "STW" (GCSTWStart..Done,
//                named after the kind), per P "sweep (Proc p)" and "mark
//                assist (Proc p)" (an assist is cut where its goroutine
//                leaves the P and resumes where it runs again); counters
//                HeapAlloc, HeapGoal and Goroutines (live goroutines: the
//                snapshot's GoCreates plus GoCreate minus GoEnd/GoStop; per
//                kLiveSampleNs window of trace time the first and the last
//                state, plus the final value).
//   User annotations — tasks as async slices (cat "task", id = task id);
//                regions as async slices (cat "region", id = goroutine id,
//                so a goroutine's regions nest on one track).
//   Goroutines — one thread per goroutine: "running", "runnable",
//                "waiting (<reason>)" slices; thread names "G<id> <entry
//                function>" are (re)written at finish, when the Stack
//                records at the end of the trace have named the functions.
//
// Flow arrows (v1 "s"/"f", cat "flow", names "unblock" and "create"). A
// GoUnblock/GoSysExit (or GoCreate) records a wake-up on the goroutine; its
// next GoStart draws the arrow: "s" at the wake-up, bound to the marker
// slice written there (so it has an enclosing slice even when g0 or the "No
// P" stream woke it, as Perfetto requires), and "f" with "bp":"e" at the
// start, bound to the running slice that begins there. Both are written
// together, so no arrow dangles; ids come from one counter. The start-up
// snapshot's GoCreates (before the P ran anything) get no arrow.
//
// Output order is not time order (a slice is written when it ends);
// Perfetto and catapult sort. Metadata (names) may come anywhere.
#include "profilers/trace_json.h"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "profilers/chrome_trace_writer.h"
#include "profilers/trace_reader.h"

namespace profilers {

namespace {

namespace gt = gotrace;
using detail::ChromeTraceWriter;

// kAssumedTicksPerSecond: gort's trace clock (steady_clock nanoseconds).
constexpr uint64_t kAssumedTicksPerSecond = 1'000'000'000;
// kMaxP bounds P ids (Go caps GOMAXPROCS at 1024); larger ones are garbage.
constexpr uint64_t kMaxP = 1 << 16;
// kLiveSampleNs: the live-goroutine counter changes with every go
// statement and exit; one sample per 100 µs keeps it readable and small.
constexpr uint64_t kLiveSampleNs = 100'000;

// Process ids and sort order.
constexpr uint32_t kPidGc = 1, kPidUser = 2, kPidNoP = 3, kPidGoroutines = 4, kPidProcBase = 10;
constexpr uint64_t kSortGoroutines = 1 << 30;

// Lanes: the threads of a P's process (and the GC process's per-P ones).
enum Lane : uint32_t {
  kLaneGoroutines,
  kLaneThread,
  kLaneSamples,
  kLaneSweep,
  kLaneAssist,
  kLaneGcCycles,
  kLaneStw,
  kLaneCount = 8
};
// kTidBase: tids of non-goroutine tracks, kTidBase + pid*kLaneCount + lane:
// above any goroutine id (goroutine g's track is tid g, 31 bits).
constexpr uint32_t kTidBase = 1u << 31;

// Pending is an event decoded in file order, waiting in the reorder window.
struct Pending {
  uint64_t ticks;
  uint64_t order;     // file position, for ties
  uint64_t p;         // the P of its batch (CPUSample: the sampled P)
  uint64_t a[4];      // values after the timestamp delta, stack id last
  std::string text;   // UserLog message
  uint8_t type;
};
struct Later {
  bool operator()(const Pending& x, const Pending& y) const {
    return x.ticks != y.ticks ? x.ticks > y.ticks : x.order > y.order;
  }
};

struct PState {
  uint32_t pid = 0;
  uint64_t id = 0;         // P id (gt::kNoP for the no-P stream)
  uint64_t g = 0;          // the running goroutine, 0 for none
  uint64_t run_since = 0;  // when g started
  uint64_t run_label = 0;  // GoStartLabel's label string id
  bool started = false;    // ran something: later GoCreates are not the snapshot
  bool proc_running = false, sweeping = false, assisting = false;
  uint64_t proc_since = 0, proc_thread = 0, sweep_since = 0, assist_since = 0;
};

enum class GStatus : uint8_t { kUnknown, kRunnable, kRunning, kWaiting };

struct GState {
  uint64_t entry_stack = 0;
  uint64_t since = 0;        // when status began
  uint64_t track_until = 0;  // end of the last slice on its Goroutines track
  uint64_t wake_ticks = 0;   // pending wake-up (has_wake): when, and where
  uint32_t wake_pid = 0;
  const char* reason = "";   // why it waits
  GStatus status = GStatus::kUnknown;
  bool counted = false;      // in the live count
  bool has_track = false, named = false, assisting = false;
  bool has_wake = false, wake_is_create = false;
};

// DeadG is what stays of an exited goroutine: enough to name its track.
struct DeadG {
  uint64_t entry_stack = 0;
  bool has_track = false, named = false;
};

const char* end_reason(uint8_t type) {
  switch (type) {
    case gt::kEvGoEnd: return "exited";
    case gt::kEvGoStop: return "stopped forever";
    case gt::kEvGoSched: return "yield";
    case gt::kEvGoPreempt: return "preempted";
    case gt::kEvGoSleep: return "sleep";
    case gt::kEvGoBlock: return "blocked";
    case gt::kEvGoBlockSend: return "chan send";
    case gt::kEvGoBlockRecv: return "chan receive";
    case gt::kEvGoBlockSelect: return "select";
    case gt::kEvGoBlockSync: return "sync";
    case gt::kEvGoBlockCond: return "sync.Cond";
    case gt::kEvGoBlockNet: return "IO wait";
    case gt::kEvGoBlockGC: return "GC assist wait";
    case gt::kEvGoSysBlock: return "syscall";
    default: return "?";
  }
}

bool is_stop(uint8_t type) {
  switch (type) {
    case gt::kEvGoEnd: case gt::kEvGoStop: case gt::kEvGoSched: case gt::kEvGoPreempt:
    case gt::kEvGoSleep: case gt::kEvGoBlock: case gt::kEvGoBlockSend: case gt::kEvGoBlockRecv:
    case gt::kEvGoBlockSelect: case gt::kEvGoBlockSync: case gt::kEvGoBlockCond:
    case gt::kEvGoBlockNet: case gt::kEvGoBlockGC: case gt::kEvGoSysBlock:
      return true;
    default:
      return false;
  }
}

uint32_t goroutine_tid(uint64_t g) { return static_cast<uint32_t>(g & 0x7fffffff); }

}  // namespace

struct TraceJsonConverter::Impl {
  explicit Impl(Sink sink) : out(std::move(sink)) {}

  ChromeTraceWriter out;
  gt::TraceReader scan, reader;
  std::string lookahead;  // input held until commit()
  bool committed = false, finished = false;
  std::string error;

  // Dictionaries, filled in file order by both passes.
  std::unordered_map<uint64_t, std::string> strings;
  std::unordered_map<uint64_t, uint64_t> stack_fn;  // stack id -> first frame's function string id
  uint64_t freq_in_trace = 0;                       // the last Frequency record's value

  // Scan pass.
  bool scan_batch = false, scan_event = false;
  uint64_t scan_ticks = 0, min_ticks = ~uint64_t{0};  // min_ticks: the earliest event seen

  // Decode pass (file order).
  bool have_batch = false;
  uint64_t dec_p = 0, dec_ticks = 0, order = 0;
  std::vector<Pending> window;  // heap, Later

  // Conversion (time order).
  uint64_t ticks_per_second = kAssumedTicksPerSecond;
  uint64_t base = 0, end_ticks = 0;
  std::unordered_map<uint64_t, PState> procs;
  std::unordered_map<uint64_t, GState> gs;
  std::unordered_map<uint64_t, DeadG> dead;
  std::unordered_map<uint64_t, std::string> tasks;  // open task id -> name
  std::unordered_set<uint32_t> named_tids;
  bool gc_open = false, stw_open = false;
  uint64_t gc_since = 0, gc_seq = 0, stw_since = 0, stw_kind = 0;
  int64_t live = 0, live_shown = 0, live_pending_value = 0;  // live goroutines; sampled; to sample
  uint64_t live_at = 0, live_pending_at = 0, live_window_ns = 0;  // last change; its sample; window
  bool live_changed = false, live_pending = false, live_window = false;
  uint64_t next_flow = 1;

  bool fail(std::string why) {
    if (error.empty()) error = std::move(why);
    return false;
  }

  // ---- time and names ----

  uint64_t ns(uint64_t ticks) const {
    if (ticks <= base) return 0;
    unsigned __int128 d = ticks - base;
    if (ticks_per_second == 1'000'000'000) return static_cast<uint64_t>(d);
    return static_cast<uint64_t>(d * 1'000'000'000 / ticks_per_second);
  }

  std::string_view str(uint64_t id) const {
    auto it = strings.find(id);
    return it == strings.end() ? std::string_view() : std::string_view(it->second);
  }

  std::string_view function_of_stack(uint64_t stack) const {
    auto it = stack_fn.find(stack);
    return it == stack_fn.end() ? std::string_view() : str(it->second);
  }

  // goroutine_name: "G<id> <entry function>", or "G<id>" while unknown.
  std::string goroutine_name(uint64_t g, uint64_t entry_stack) const {
    std::string name = "G" + std::to_string(g);
    std::string_view fn = function_of_stack(entry_stack);
    if (!fn.empty()) name.append(" ").append(fn);
    return name;
  }

  // ---- tracks ----

  void process(uint32_t pid, std::string_view name, uint64_t sort) {
    uint32_t tid = kTidBase + pid * kLaneCount + kLaneCount - 1;
    out.event('M', "process_name", pid, tid).ts(0).arg("name", name).done();
    out.event('M', "process_sort_index", pid, tid).ts(0).arg("sort_index", sort).done();
  }

  void thread(uint32_t pid, uint32_t tid, std::string_view name, uint64_t sort) {
    out.event('M', "thread_name", pid, tid).ts(0).arg("name", name).done();
    out.event('M', "thread_sort_index", pid, tid).ts(0).arg("sort_index", sort).done();
  }

  // lane returns the tid of a lane belonging to the P with process owner
  // (the lane may sit in the GC process), naming it on first use.
  uint32_t lane(uint32_t pid, const PState& owner, Lane l) {
    uint32_t tid = kTidBase + owner.pid * kLaneCount + l;
    if (!named_tids.insert(tid).second) return tid;
    std::string proc = owner.id == gt::kNoP ? "No P" : "Proc " + std::to_string(owner.id);
    static constexpr const char* kNames[] = {"goroutines", "M (thread)", "CPU samples", "sweep", "mark assist"};
    std::string name = l == kLaneSweep || l == kLaneAssist ? std::string(kNames[l]) + " (" + proc + ")" : kNames[l];
    thread(pid, tid, name, l == kLaneSweep || l == kLaneAssist ? owner.pid * kLaneCount + l : l);
    return tid;
  }

  uint32_t gc_lane(Lane l) {
    uint32_t tid = kTidBase + kPidGc * kLaneCount + l;
    if (named_tids.insert(tid).second) thread(kPidGc, tid, l == kLaneGcCycles ? "GC cycles" : "STW", l);
    return tid;
  }

  PState& proc(uint64_t p) {
    auto [it, fresh] = procs.try_emplace(p);
    if (fresh) {
      it->second.id = p;
      it->second.pid = p == gt::kNoP ? kPidNoP : kPidProcBase + static_cast<uint32_t>(p);
      if (p == gt::kNoP) {
        process(kPidNoP, "No P", 2);
      } else {
        process(it->second.pid, "Proc " + std::to_string(p), kPidProcBase + p);
      }
    }
    return it->second;
  }

  // ---- events ----

  ChromeTraceWriter& slice(uint32_t pid, uint32_t tid, std::string_view name, uint64_t from, uint64_t to) {
    uint64_t a = ns(from), b = std::max(a, ns(to));
    return out.event('X', name, pid, tid).ts(a).dur(b - a);
  }

  ChromeTraceWriter& instant(uint32_t pid, uint32_t tid, std::string_view name, uint64_t at) {
    return out.event('i', name, pid, tid).ts(ns(at)).field("s", "t");
  }

  void counter(std::string_view name, uint64_t at, std::string_view key, uint64_t value) {
    out.event('C', name, kPidGc, gc_lane(kLaneGcCycles)).ts(ns(at)).arg(key, value).done();
  }

  // goroutine_slice puts [from, to] on g's Goroutines track, clipped so it
  // never overlaps the previous one.
  void goroutine_slice(GState& G, uint64_t g, std::string_view name, uint64_t from, uint64_t to) {
    from = std::max(from, G.track_until);
    if (to <= from) return;  // empty, or hidden by the previous slice
    if (!G.has_track) {
      G.has_track = true;
      std::string_view fn = function_of_stack(G.entry_stack);
      thread(kPidGoroutines, goroutine_tid(g), goroutine_name(g, G.entry_stack), g);
      G.named = !fn.empty();
    }
    slice(kPidGoroutines, goroutine_tid(g), name, from, to).done();
    G.track_until = to;
  }

  void waiting_slice(GState& G, uint64_t g, uint64_t to) {
    goroutine_slice(G, g, std::string("waiting (") + G.reason + ")", G.since, to);
  }

  // live_change applies a change of the live-goroutine count at `at`.
  // The count is sampled per window of kLiveSampleNs: as it stood after
  // the window's first instant and after its last one, each at its time —
  // a burst of go statements at one tick is one step, and a window of
  // churn is two samples, not hundreds.
  void live_change(uint64_t at, int delta) {
    if (live_changed && at != live_at) instant_done();
    live_changed = true;
    live_at = at;
    live += delta;
  }

  // instant_done takes the count settled at live_at into its window.
  void instant_done() {
    uint64_t t = ns(live_at);
    bool new_window = !live_window || t < live_window_ns || t >= live_window_ns + kLiveSampleNs;
    if (new_window) flush_live();  // the previous window's last state
    live_pending = true;
    live_pending_value = live;
    live_pending_at = live_at;
    if (new_window) {  // this window's first state
      live_window = true;
      live_window_ns = t;
      flush_live();
    }
  }

  void flush_live() {
    if (!live_pending) return;
    live_pending = false;
    if (live_pending_value == live_shown) return;
    counter("Goroutines", live_pending_at, "live", static_cast<uint64_t>(std::max<int64_t>(live_pending_value, 0)));
    live_shown = live_pending_value;
  }

  // marker writes a zero-length slice on P's goroutines lane: something
  // happened there (a wake-up, a go statement) and a flow may start on it.
  void marker(PState& P, const char* what, uint64_t g, uint64_t at) {
    std::string name = std::string(what) + " G" + std::to_string(g);
    slice(P.pid, lane(P.pid, P, kLaneGoroutines), name, at, at).arg("goroutine", g).done();
  }

  void go_create(PState& P, uint64_t at, uint64_t g, uint64_t entry) {
    if (auto d = dead.find(g); d != dead.end()) {
      if (d->second.entry_stack == 0) d->second.entry_stack = entry;
      return;
    }
    GState& G = gs[g];
    if (G.entry_stack == 0) G.entry_stack = entry;
    if (!G.counted) {
      G.counted = true;
      live_change(at, +1);
    }
    if (G.status != GStatus::kUnknown) return;
    G.status = GStatus::kRunnable;
    G.since = at;
    if (P.g == 0 && !P.started) return;  // the start-up snapshot: no arrow
    marker(P, "create", g, at);
    G.has_wake = true;
    G.wake_is_create = true;
    G.wake_ticks = at;
    G.wake_pid = P.pid;
  }

  void go_start(PState& P, uint64_t at, uint64_t g, uint64_t label) {
    if (P.g != 0) go_stop(P, at, 0);  // malformed: the previous one never left
    P.g = g;
    P.run_since = at;
    P.run_label = label;
    P.started = true;
    auto it = gs.find(g);
    if (it == gs.end()) {
      if (dead.count(g)) return;
      it = gs.try_emplace(g).first;
    }
    GState& G = it->second;
    if (G.status == GStatus::kRunnable) goroutine_slice(G, g, "runnable", G.since, at);
    if (G.status == GStatus::kWaiting) waiting_slice(G, g, at);
    if (G.has_wake && G.wake_ticks <= at) {
      const char* kind = G.wake_is_create ? "create" : "unblock";
      uint64_t id = next_flow++;
      out.event('s', kind, G.wake_pid, kTidBase + G.wake_pid * kLaneCount + kLaneGoroutines)
          .ts(ns(G.wake_ticks)).field("cat", "flow").field("id", id).done();
      out.event('f', kind, P.pid, lane(P.pid, P, kLaneGoroutines))
          .ts(ns(at)).field("cat", "flow").field("id", id).field("bp", "e").done();
    }
    G.has_wake = false;
    G.status = GStatus::kRunning;
    G.since = at;
    if (G.assisting) {
      P.assisting = true;
      P.assist_since = at;
    }
  }

  // go_stop ends P's running goroutine (type 0: replaced by another start).
  void go_stop(PState& P, uint64_t at, uint8_t type) {
    uint64_t g = P.g;
    if (g == 0) return;  // nothing runs: Go's parser rejects this; skip it
    const char* reason = type == 0 ? "unknown" : end_reason(type);
    auto it = gs.find(g);
    GState* G = it == gs.end() ? nullptr : &it->second;
    std::string name = P.run_label != 0 ? "G" + std::to_string(g) + " " + std::string(str(P.run_label))
                                        : goroutine_name(g, G ? G->entry_stack : 0);
    slice(P.pid, lane(P.pid, P, kLaneGoroutines), name, P.run_since, at)
        .arg("goroutine", g).arg("end", reason).done();
    if (P.assisting) {
      slice(kPidGc, lane(kPidGc, P, kLaneAssist), "mark assist", P.assist_since, at).arg("goroutine", g).done();
      P.assisting = false;
    }
    P.g = 0;
    P.run_label = 0;
    if (G == nullptr) return;
    goroutine_slice(*G, g, "running", P.run_since, at);
    G->since = at;
    switch (type) {
      case gt::kEvGoEnd:
      case gt::kEvGoStop:
        if (G->counted) live_change(at, -1);
        dead[g] = DeadG{G->entry_stack, G->has_track, G->named};
        gs.erase(it);
        return;
      case gt::kEvGoSched:
      case gt::kEvGoPreempt:
        G->status = GStatus::kRunnable;
        return;
      case 0:
        G->status = GStatus::kUnknown;
        return;
      default:
        G->status = GStatus::kWaiting;
        G->reason = reason;
    }
  }

  void go_unblock(PState& P, uint64_t at, uint64_t g, const char* what) {
    marker(P, what, g, at);
    if (dead.count(g)) return;
    GState& G = gs[g];
    if (G.status == GStatus::kWaiting) waiting_slice(G, g, at);
    if (G.status != GStatus::kWaiting && G.status != GStatus::kUnknown) return;  // out of order
    G.status = GStatus::kRunnable;
    G.since = at;
    G.has_wake = true;
    G.wake_is_create = false;
    G.wake_ticks = at;
    G.wake_pid = P.pid;
  }

  void convert(const Pending& e);
  bool dictionary(const gt::Record& r);
  bool scan_record(const gt::Record& r);
  bool decode_record(const gt::Record& r);
  void commit();
  void close_out();
  std::string trailing() const;
  bool sink_ok() { return out.ok() || fail("the sink refused the output (client gone)"); }
};

void TraceJsonConverter::Impl::convert(const Pending& e) {
  const uint64_t at = e.ticks;
  end_ticks = std::max(end_ticks, at);
  if (e.type == gt::kEvCPUSample) {
    PState& S = proc(e.a[1]);
    std::string_view fn = function_of_stack(e.a[3]);
    auto& ev = instant(S.pid, lane(S.pid, S, kLaneSamples), "CPU sample", at).arg("goroutine", e.a[2]);
    if (!fn.empty()) ev.arg("function", fn);
    ev.done();
    return;
  }
  PState& P = proc(e.p);
  if (is_stop(e.type)) return go_stop(P, at, e.type);
  switch (e.type) {
    case gt::kEvGomaxprocs:
      for (uint64_t p = 0; p < std::min(e.a[0], kMaxP); p++) proc(p);
      break;
    case gt::kEvProcStart:
      P.proc_running = true;
      P.proc_since = at;
      P.proc_thread = e.a[0];
      P.started = true;
      break;
    case gt::kEvProcStop:
      if (P.g != 0) go_stop(P, at, 0);
      if (P.proc_running) {
        slice(P.pid, lane(P.pid, P, kLaneThread), "M" + std::to_string(P.proc_thread), P.proc_since, at)
            .arg("thread", P.proc_thread).done();
      }
      P.proc_running = false;
      break;
    case gt::kEvGCStart:
      gc_open = true;
      gc_since = at;
      gc_seq = e.a[0];
      break;
    case gt::kEvGCDone:
      if (gc_open) {
        slice(kPidGc, gc_lane(kLaneGcCycles), "GC " + std::to_string(gc_seq), gc_since, at)
            .arg("seq", gc_seq).done();
      }
      gc_open = false;
      break;
    case gt::kEvGCSTWStart:
      stw_open = true;
      stw_since = at;
      stw_kind = e.a[0];
      break;
    case gt::kEvGCSTWDone:
      if (stw_open) {
        const char* name = stw_kind == 0   ? "STW (mark termination)"
                           : stw_kind == 1 ? "STW (sweep termination)"
                                           : "STW (unknown kind)";
        slice(kPidGc, gc_lane(kLaneStw), name, stw_since, at).arg("kind", stw_kind).done();
      }
      stw_open = false;
      break;
    case gt::kEvGCSweepStart:
      P.sweeping = true;
      P.sweep_since = at;
      break;
    case gt::kEvGCSweepDone:
      if (P.sweeping) {
        slice(kPidGc, lane(kPidGc, P, kLaneSweep), "sweep", P.sweep_since, at)
            .arg("swept bytes", e.a[0]).arg("reclaimed bytes", e.a[1]).done();
      }
      P.sweeping = false;
      break;
    case gt::kEvGoCreate:
      go_create(P, at, e.a[0], e.a[1]);
      break;
    case gt::kEvGoStart:
    case gt::kEvGoStartLocal:
      go_start(P, at, e.a[0], 0);
      break;
    case gt::kEvGoStartLabel:
      go_start(P, at, e.a[0], e.a[2]);
      break;
    case gt::kEvGoUnblock:
    case gt::kEvGoUnblockLocal:
      go_unblock(P, at, e.a[0], "unblock");
      break;
    case gt::kEvGoSysExit:
    case gt::kEvGoSysExitLocal:
      go_unblock(P, at, e.a[0], "syscall exit");
      break;
    case gt::kEvGoWaiting:
    case gt::kEvGoInSyscall:
      if (!dead.count(e.a[0])) {
        GState& G = gs[e.a[0]];
        G.status = GStatus::kWaiting;
        G.since = at;
        G.reason = e.type == gt::kEvGoWaiting ? "blocked" : "syscall";
      }
      break;
    case gt::kEvGoSysCall:
      instant(P.pid, lane(P.pid, P, kLaneGoroutines), "syscall", at).arg("goroutine", P.g).done();
      break;
    case gt::kEvHeapAlloc:
      counter("HeapAlloc", at, "bytes", e.a[0]);
      break;
    case gt::kEvHeapGoal:
      counter("HeapGoal", at, "bytes", e.a[0]);
      break;
    case gt::kEvGCMarkAssistStart:
      if (P.g != 0) {
        P.assisting = true;
        P.assist_since = at;
        if (auto it = gs.find(P.g); it != gs.end()) it->second.assisting = true;
      }
      break;
    case gt::kEvGCMarkAssistDone:
      if (P.assisting) {
        slice(kPidGc, lane(kPidGc, P, kLaneAssist), "mark assist", P.assist_since, at).arg("goroutine", P.g).done();
      }
      P.assisting = false;
      if (auto it = gs.find(P.g); it != gs.end()) it->second.assisting = false;
      break;
    case gt::kEvUserTaskCreate: {
      std::string name(str(e.a[2]));
      if (name.empty()) name = "task " + std::to_string(e.a[0]);
      out.event('b', name, kPidUser, kTidBase + kPidUser * kLaneCount).ts(ns(at)).field("cat", "task")
          .field("id", e.a[0]).arg("task", e.a[0]).arg("parent", e.a[1]).arg("goroutine", P.g).done();
      tasks[e.a[0]] = std::move(name);
      break;
    }
    case gt::kEvUserTaskEnd: {
      auto it = tasks.find(e.a[0]);
      std::string name = it != tasks.end() ? it->second : "task " + std::to_string(e.a[0]);
      if (it == tasks.end()) {  // created before the trace began: show it from the start
        out.event('b', name, kPidUser, kTidBase + kPidUser * kLaneCount).ts(0).field("cat", "task")
            .field("id", e.a[0]).arg("task", e.a[0]).done();
      } else {
        tasks.erase(it);
      }
      out.event('e', name, kPidUser, kTidBase + kPidUser * kLaneCount).ts(ns(at)).field("cat", "task")
          .field("id", e.a[0]).done();
      break;
    }
    case gt::kEvUserRegion: {
      std::string_view name = str(e.a[2]);
      auto& ev = out.event(e.a[1] == 0 ? 'b' : 'e', name.empty() ? "region" : name, kPidUser,
                           kTidBase + kPidUser * kLaneCount)
                     .ts(ns(at)).field("cat", "region").field("id", P.g);
      if (e.a[1] == 0) ev.arg("goroutine", P.g).arg("task", e.a[0]);
      ev.done();
      break;
    }
    case gt::kEvUserLog: {
      std::string_view key = str(e.a[1]);
      instant(P.pid, lane(P.pid, P, kLaneGoroutines), key.empty() ? "log" : key, at)
          .arg("message", e.text).arg("category", key).arg("task", e.a[0]).arg("goroutine", P.g).done();
      break;
    }
    default:  // FutileWakeup: Go's reader drops it with its wake-up; so do we
      break;
  }
}

// dictionary records String, Stack and Frequency records (both passes).
bool TraceJsonConverter::Impl::dictionary(const gt::Record& r) {
  switch (r.type) {
    case gt::kEvString:
      strings[r.values[0]] = std::string(r.text);
      break;
    case gt::kEvStack:
      if (r.values[0] != 0 && r.values[1] > 0) stack_fn[r.values[0]] = r.values[3];
      break;
    case gt::kEvFrequency:
      if (r.values[0] == 0) return fail("Frequency record with 0 ticks per second");
      freq_in_trace = r.values[0];
      break;
    case gt::kEvBatch:
      if (r.values[0] != gt::kNoP && r.values[0] >= kMaxP) {
        return fail("Batch for P " + std::to_string(r.values[0]) + " out of range");
      }
      break;
    default:
      break;
  }
  return true;
}

bool TraceJsonConverter::Impl::scan_record(const gt::Record& r) {
  if (!dictionary(r)) return false;
  if (r.type == gt::kEvBatch) {
    scan_batch = true;
    scan_ticks = r.values[1];
    return true;
  }
  if (!gt::has_timestamp(r.type)) return true;
  if (!scan_batch) return fail(std::string(gt::event_name(r.type)) + " before the first Batch record");
  scan_ticks += r.values[0];
  scan_event = true;
  min_ticks = std::min(min_ticks, r.type == gt::kEvCPUSample ? r.values[1] : scan_ticks);
  return true;
}

bool TraceJsonConverter::Impl::decode_record(const gt::Record& r) {
  if (!dictionary(r)) return false;
  if (r.type == gt::kEvBatch) {
    have_batch = true;
    dec_p = r.values[0];
    dec_ticks = r.values[1];
    return true;
  }
  if (!gt::has_timestamp(r.type)) return true;
  if (!have_batch) return fail(std::string(gt::event_name(r.type)) + " before the first Batch record");
  dec_ticks += r.values[0];
  Pending e{};
  e.ticks = dec_ticks;
  e.order = order++;
  e.p = dec_p;
  e.type = r.type;
  for (size_t i = 1; i < r.values.size() && i <= 4; i++) e.a[i - 1] = r.values[i];
  if (r.type == gt::kEvCPUSample) {
    e.ticks = e.a[0];
    if (e.a[1] != gt::kNoP && e.a[1] >= kMaxP) return fail("CPUSample for P " + std::to_string(e.a[1]));
  }
  if (r.type == gt::kEvUserLog) e.text = std::string(r.text);
  window.push_back(std::move(e));
  std::push_heap(window.begin(), window.end(), Later());
  if (window.size() > kReorderEvents) {
    std::pop_heap(window.begin(), window.end(), Later());
    Pending next = std::move(window.back());
    window.pop_back();
    convert(next);
  }
  return out.ok();
}

// commit fixes the time scale and origin from what the lookahead saw,
// opens the document and converts the held input.
void TraceJsonConverter::Impl::commit() {
  committed = true;
  if (freq_in_trace != 0) ticks_per_second = freq_in_trace;
  base = scan_event ? min_ticks : 0;
  out.begin();
  process(kPidGc, "GC", 0);
  process(kPidUser, "User annotations", 1);
  process(kPidGoroutines, "Goroutines", kSortGoroutines);
  std::string held;
  held.swap(lookahead);
  if (!reader.feed(held, [this](const gt::Record& r) { return decode_record(r); }) && error.empty()) {
    fail(reader.error());
  }
}

// close_out converts what the window still holds, ends everything still
// open at the last timestamp, names the goroutines' tracks.
void TraceJsonConverter::Impl::close_out() {
  while (!window.empty()) {
    std::pop_heap(window.begin(), window.end(), Later());
    Pending next = std::move(window.back());
    window.pop_back();
    convert(next);
  }
  const uint64_t end = end_ticks;
  auto sorted_keys = [](const auto& map) {
    std::vector<uint64_t> keys;
    keys.reserve(map.size());
    for (const auto& kv : map) keys.push_back(kv.first);
    std::sort(keys.begin(), keys.end());
    return keys;
  };
  for (uint64_t p : sorted_keys(procs)) {
    PState& P = procs[p];
    if (P.g != 0) go_stop(P, end, 0);
    if (P.sweeping) slice(kPidGc, lane(kPidGc, P, kLaneSweep), "sweep", P.sweep_since, end).done();
    if (P.proc_running) {
      slice(P.pid, lane(P.pid, P, kLaneThread), "M" + std::to_string(P.proc_thread), P.proc_since, end)
          .arg("thread", P.proc_thread).done();
    }
  }
  if (gc_open) slice(kPidGc, gc_lane(kLaneGcCycles), "GC " + std::to_string(gc_seq), gc_since, end).done();
  if (stw_open) slice(kPidGc, gc_lane(kLaneStw), "STW", stw_since, end).done();
  for (uint64_t id : sorted_keys(tasks)) {
    out.event('e', tasks[id], kPidUser, kTidBase + kPidUser * kLaneCount).ts(ns(end)).field("cat", "task")
        .field("id", id).done();
  }
  for (uint64_t g : sorted_keys(gs)) {
    GState& G = gs[g];
    if (G.status == GStatus::kRunnable) goroutine_slice(G, g, "runnable", G.since, end);
    if (G.status == GStatus::kWaiting) waiting_slice(G, g, end);
    if (G.has_track && !G.named && !function_of_stack(G.entry_stack).empty()) {
      thread(kPidGoroutines, goroutine_tid(g), goroutine_name(g, G.entry_stack), g);
    }
  }
  for (uint64_t g : sorted_keys(dead)) {
    const DeadG& D = dead[g];
    if (D.has_track && !D.named && !function_of_stack(D.entry_stack).empty()) {
      thread(kPidGoroutines, goroutine_tid(g), goroutine_name(g, D.entry_stack), g);
    }
  }
  if (live_changed) {
    instant_done();
    flush_live();
    if (end > live_pending_at) counter("Goroutines", end, "live", static_cast<uint64_t>(std::max<int64_t>(live, 0)));
  }
}

// trailing returns the document's members after traceEvents.
std::string TraceJsonConverter::Impl::trailing() const {
  std::string t = "\"displayTimeUnit\":\"ns\",\"otherData\":{\"source\":\"Go 1.19 execution trace\"";
  t += ",\"ticks_per_second\":" + std::to_string(ticks_per_second);
  if (freq_in_trace != ticks_per_second && freq_in_trace != 0) {
    t += ",\"ticks_per_second_in_trace\":" + std::to_string(freq_in_trace);
    t += ",\"note\":\"the Frequency record came after the lookahead; times assume 1e9 ticks per second\"";
  }
  if (!error.empty()) {
    t += ",\"error\":";
    ChromeTraceWriter::append_string(t, error);
  }
  t += '}';
  return t;
}

TraceJsonConverter::TraceJsonConverter(Sink sink) : impl_(std::make_unique<Impl>(std::move(sink))) {}
TraceJsonConverter::~TraceJsonConverter() = default;

const std::string& TraceJsonConverter::error() const { return impl_->error; }

bool TraceJsonConverter::feed(std::string_view bytes) {
  Impl& m = *impl_;
  if (!m.error.empty() || m.finished) return m.fail("feed after finish");
  if (!m.committed) {
    // Only the first kLookaheadBytes are scanned, whatever the chunking,
    // so that every split of the same trace gives the same document.
    size_t take = std::min(bytes.size(), kLookaheadBytes - m.lookahead.size());
    std::string_view head = bytes.substr(0, take);
    m.lookahead.append(head);
    if (!m.scan.feed(head, [&m](const gotrace::Record& r) { return m.scan_record(r); })) {
      return m.fail(m.scan.error());
    }
    if (m.lookahead.size() < kLookaheadBytes) return true;
    m.commit();
    bytes.remove_prefix(take);
  }
  if (m.error.empty() && !bytes.empty() &&
      !m.reader.feed(bytes, [&m](const gotrace::Record& r) { return m.decode_record(r); })) {
    m.fail(m.reader.error());
  }
  m.out.flush(false);
  return m.sink_ok() && m.error.empty();
}

bool TraceJsonConverter::finish() {
  Impl& m = *impl_;
  if (m.finished) return false;
  m.finished = true;
  if (!m.out.ok()) return m.sink_ok();
  if (!m.committed) {
    if (m.error.empty() && !m.scan.finish()) m.fail(m.scan.error());
    m.commit();  // after an error too: what came before the bad record is still shown
  }
  if (m.error.empty() && !m.reader.finish()) m.fail(m.reader.error());
  m.close_out();
  m.out.end(m.trailing());
  return m.sink_ok() && m.error.empty();
}

}  // namespace profilers
