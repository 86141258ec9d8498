// trace_timeline.cpp — TraceTimeline (trace_timeline.h): a Go 1.19 trace's
// events, in time order, as Chrome trace-event tracks.
//
// Tracks (pid / tid; tids are unique across processes; a goroutine's
// track is tid = its id, modulo 2^31):
//   Proc <p>   — "goroutines": one slice per running interval, named
//                "G<id> <entry function>" ("G<id> <label>" for GoStartLabel,
//                "G<id>" while the entry function is unknown — Stack records
//                come at the end of a trace, so only a trace that fits in
//                the converter's lookahead has them in time), args
//                goroutine and end reason ("chan receive", "preempted", …);
//                inside it, zero-length markers "unblock G<n>", "create
//                G<n>", "syscall exit G<n>" where wake-ups happen, and
//                instants for syscalls and user logs (named after the log's
//                key, message in args). "M (thread)": ProcStart..ProcStop
//                as slices "M<thread id>". "CPU samples": one instant per
//                sample, with its goroutine and leaf function.
//   No P       — the same lanes for the P −1 stream (wake-ups from threads
//                without a P).
//   GC         — "GC cycles" (GCStart..GCDone), "STW" (GCSTWStart..Done,
//                named after the kind), per P "sweep (Proc p)" and "mark
//                assist (Proc p)" (an assist is cut where its goroutine
//                leaves the P and resumes where it runs again: per P they
//                never overlap, so they are plain slices); counters
//                HeapAlloc, HeapGoal and Goroutines (live goroutines: the
//                snapshot's GoCreates plus GoCreate minus GoEnd/GoStop; per
//                kLiveSampleNs window of trace time the first and the last
//                state, plus the final value).
//   User annotations — tasks as async slices (cat "task", id = task id,
//                ended at the trace's end if still open, begun at its start
//                if created before it); regions as async slices (cat
//                "region", id = goroutine id, so a goroutine's regions nest
//                on one track).
//   Goroutines — one thread per goroutine: "running", "runnable",
//                "waiting (<reason>)" slices; thread names "G<id> <entry
//                function>", written again at close() once the Stack records
//                have named the functions (the last name wins).
//
// Flow arrows (v1 "s"/"f", cat "flow", names "unblock" and "create"). A
// GoUnblock/GoSysExit (or GoCreate) records a pending wake-up on the
// goroutine; its next GoStart draws the arrow: "s" at the wake-up, bound
// to the marker slice written there (so it has an enclosing slice even
// when g0 or the "No P" stream woke it — Perfetto drops a flow start
// without one), and "f" with "bp":"e" at the start, bound to the running
// slice that begins there (Perfetto orders a longer slice before
// zero-length events of the same timestamp). Both ends are written
// together, so no arrow dangles; ids come from one counter. The start-up
// snapshot's GoCreates (before the P ran anything) get neither marker nor
// arrow: they are the goroutines that existed before the trace.
//
// Robustness. Time order is what the converter's reorder window gives, and
// a long trace may still bring an event later than its time (an idle P's
// buffer flushed at the end). Nothing here trusts the order: a goroutine's
// state only advances on events that fit it (an unblock of a goroutine
// that is not waiting changes nothing and draws no arrow), a slice on a
// goroutine's track never starts before the previous one ended, a stop
// with nothing running is ignored, and whatever is open at close() ends at
// the last timestamp seen.
//
// Output order is not time order (a slice is written when it ends);
// Perfetto and catapult sort. Metadata (names) may come anywhere.
#include "profilers/trace_timeline.h"

#include <algorithm>
#include <unordered_set>
#include <vector>

#include "profilers/trace_reader.h"

namespace profilers::detail {

namespace {

namespace gt = gotrace;

// kLiveSampleNs: the live-goroutine count changes with every go statement
// and exit; two samples per 100 µs window keep the counter readable and
// the output small on a server that starts a goroutine per request.
constexpr uint64_t kLiveSampleNs = 100'000;

// kMaxGomaxprocs is Go's _MaxGomaxprocs: a larger Gomaxprocs is garbage
// and creates no processes.
constexpr uint64_t kMaxGomaxprocs = 1024;

// Process ids and sort order (catapult sorts by process_sort_index;
// Perfetto ignores it and keeps pid order, which is the same).
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

// PState is a P's timeline: what runs on it and what it has open.
struct PState {
  uint32_t pid = 0;        // its process
  uint64_t id = 0;         // P id (gt::kNoP for the no-P stream)
  uint64_t g = 0;          // the running goroutine, 0 for none
  uint64_t run_since = 0;  // when g started
  uint64_t run_label = 0;  // GoStartLabel's label string id
  bool started = false;    // ran something: later GoCreates are not the snapshot
  bool proc_running = false, sweeping = false, assisting = false;
  uint64_t proc_since = 0, proc_thread = 0, sweep_since = 0, assist_since = 0;
};

enum class GStatus : uint8_t { kUnknown, kRunnable, kRunning, kWaiting };

// GState is a live goroutine's timeline.
struct GState {
  uint64_t entry_stack = 0;  // GoCreate's entry stack: names the goroutine
  uint64_t since = 0;        // when status began
  uint64_t track_until = 0;  // end of the last slice on its Goroutines track
  uint64_t wake_ticks = 0;   // pending wake-up (has_wake): when, and where
  uint32_t wake_pid = 0;
  const char* reason = "";  // why it waits
  GStatus status = GStatus::kUnknown;
  bool counted = false;  // in the live count
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
    case gt::kEvGoEnd:
      return "exited";
    case gt::kEvGoStop:
      return "stopped forever";
    case gt::kEvGoSched:
      return "yield";
    case gt::kEvGoPreempt:
      return "preempted";
    case gt::kEvGoSleep:
      return "sleep";
    case gt::kEvGoBlock:
      return "blocked";
    case gt::kEvGoBlockSend:
      return "chan send";
    case gt::kEvGoBlockRecv:
      return "chan receive";
    case gt::kEvGoBlockSelect:
      return "select";
    case gt::kEvGoBlockSync:
      return "sync";
    case gt::kEvGoBlockCond:
      return "sync.Cond";
    case gt::kEvGoBlockNet:
      return "IO wait";
    case gt::kEvGoBlockGC:
      return "GC assist wait";
    case gt::kEvGoSysBlock:
      return "syscall";
    default:
      return "?";
  }
}

bool is_stop(uint8_t type) {
  switch (type) {
    case gt::kEvGoEnd:
    case gt::kEvGoStop:
    case gt::kEvGoSched:
    case gt::kEvGoPreempt:
    case gt::kEvGoSleep:
    case gt::kEvGoBlock:
    case gt::kEvGoBlockSend:
    case gt::kEvGoBlockRecv:
    case gt::kEvGoBlockSelect:
    case gt::kEvGoBlockSync:
    case gt::kEvGoBlockCond:
    case gt::kEvGoBlockNet:
    case gt::kEvGoBlockGC:
    case gt::kEvGoSysBlock:
      return true;
    default:
      return false;
  }
}

uint32_t goroutine_tid(uint64_t g) {
  return static_cast<uint32_t>(g & 0x7fffffff);
}

}  // namespace

struct TraceTimeline::State {
  State(ChromeTraceWriter& o, const TraceDictionary& d) : out(o), dict(d) {}

  ChromeTraceWriter& out;
  const TraceDictionary& dict;
  uint64_t ticks_per_second = 1'000'000'000;
  uint64_t base = 0;       // ticks shown as time 0
  uint64_t end_ticks = 0;  // the latest event so far
  std::unordered_map<uint64_t, PState> procs;
  std::unordered_map<uint64_t, GState> gs;
  std::unordered_map<uint64_t, DeadG> dead;
  std::unordered_map<uint64_t, std::string> tasks;  // open task id -> name
  std::unordered_set<uint32_t> named_tids;
  bool gc_open = false, stw_open = false;
  uint64_t gc_since = 0, gc_seq = 0, stw_since = 0, stw_kind = 0;
  int64_t live = 0, live_shown = 0, live_pending_value = 0;       // live goroutines; sampled; to sample
  uint64_t live_at = 0, live_pending_at = 0, live_window_ns = 0;  // last change; its sample; window
  bool live_changed = false, live_pending = false, live_window = false;
  uint64_t next_flow = 1;

  // ---- time and names ----

  uint64_t ns(uint64_t ticks) const {
    if (ticks <= base) return 0;
    unsigned __int128 d = ticks - base;
    if (ticks_per_second == 1'000'000'000) return static_cast<uint64_t>(d);
    return static_cast<uint64_t>(d * 1'000'000'000 / ticks_per_second);
  }

  // goroutine_name: "G<id> <entry function>", or "G<id>" while unknown.
  std::string goroutine_name(uint64_t g, uint64_t entry_stack) const {
    std::string name = "G" + std::to_string(g);
    std::string_view fn = dict.function_of_stack(entry_stack);
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
    static constexpr const char* kNames[] = {"goroutines", "M (thread)", "CPU samples", "sweep",
                                             "mark assist"};
    std::string name =
        l == kLaneSweep || l == kLaneAssist ? std::string(kNames[l]) + " (" + proc + ")" : kNames[l];
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
      std::string_view fn = dict.function_of_stack(G.entry_stack);
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
    counter("Goroutines", live_pending_at, "live",
            static_cast<uint64_t>(std::max<int64_t>(live_pending_value, 0)));
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
    if (P.g != 0) go_stop(P, at, 0, "replaced");  // malformed: the previous one never left
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
          .ts(ns(G.wake_ticks))
          .field("cat", "flow")
          .field("id", id)
          .done();
      out.event('f', kind, P.pid, lane(P.pid, P, kLaneGoroutines))
          .ts(ns(at))
          .field("cat", "flow")
          .field("id", id)
          .field("bp", "e")
          .done();
    }
    G.has_wake = false;
    G.status = GStatus::kRunning;
    G.since = at;
    if (G.assisting) {
      P.assisting = true;
      P.assist_since = at;
    }
  }

  // go_stop ends P's running goroutine because of an event of this type,
  // or (type 0) for the reason given, its state then unknown.
  void go_stop(PState& P, uint64_t at, uint8_t type, const char* why = nullptr) {
    uint64_t g = P.g;
    if (g == 0) return;  // nothing runs: Go's parser rejects this; skip it
    const char* reason = type == 0 ? why : end_reason(type);
    auto it = gs.find(g);
    GState* G = it == gs.end() ? nullptr : &it->second;
    std::string_view label = dict.str(P.run_label);
    std::string name = !label.empty() ? "G" + std::to_string(g) + " " + std::string(label)
                                      : goroutine_name(g, G ? G->entry_stack : 0);
    slice(P.pid, lane(P.pid, P, kLaneGoroutines), name, P.run_since, at)
        .arg("goroutine", g)
        .arg("end", reason)
        .done();
    if (P.assisting) {
      slice(kPidGc, lane(kPidGc, P, kLaneAssist), "mark assist", P.assist_since, at)
          .arg("goroutine", g)
          .done();
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

  // go_unblock makes g runnable at `at` (a GoSysExit's real_ts, if any, is
  // when its syscall returned: the wait ends there, the marker stays where
  // the event was written, as Go's reader does).
  void go_unblock(PState& P, uint64_t at, uint64_t g, const char* what, uint64_t real_ts = 0) {
    marker(P, what, g, at);
    if (dead.count(g)) return;
    GState& G = gs[g];
    uint64_t woke = real_ts != 0 && real_ts <= at && real_ts >= G.since ? real_ts : at;
    if (G.status == GStatus::kWaiting) waiting_slice(G, g, woke);
    if (G.status != GStatus::kWaiting && G.status != GStatus::kUnknown) return;  // out of order
    G.status = GStatus::kRunnable;
    G.since = woke;
    G.has_wake = true;
    G.wake_is_create = false;
    G.wake_ticks = at;
    G.wake_pid = P.pid;
  }

  void event(const TimedEvent& e);
  void close();
};

void TraceTimeline::State::event(const TimedEvent& e) {
  const uint64_t at = e.ticks;
  end_ticks = std::max(end_ticks, at);
  if (e.type == gt::kEvCPUSample) {
    PState& S = proc(e.a[1]);
    std::string_view fn = dict.function_of_stack(e.a[3]);
    auto& ev = instant(S.pid, lane(S.pid, S, kLaneSamples), "CPU sample", at).arg("goroutine", e.a[2]);
    if (!fn.empty()) ev.arg("function", fn);
    ev.done();
    return;
  }
  PState& P = proc(e.p);
  if (is_stop(e.type)) return go_stop(P, at, e.type);
  switch (e.type) {
    case gt::kEvGomaxprocs:
      if (e.a[0] <= kMaxGomaxprocs) {
        for (uint64_t p = 0; p < e.a[0]; p++) proc(p);  // idle Ps get their (empty) process too
      }
      break;
    case gt::kEvProcStart:
      P.proc_running = true;
      P.proc_since = at;
      P.proc_thread = e.a[0];
      P.started = true;
      break;
    case gt::kEvProcStop:
      if (P.g != 0) go_stop(P, at, 0, "ProcStop");
      if (P.proc_running) {
        slice(P.pid, lane(P.pid, P, kLaneThread), "M" + std::to_string(P.proc_thread), P.proc_since, at)
            .arg("thread", P.proc_thread)
            .done();
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
            .arg("seq", gc_seq)
            .done();
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
            .arg("swept bytes", e.a[0])
            .arg("reclaimed bytes", e.a[1])
            .done();
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
      go_unblock(P, at, e.a[0], "syscall exit", e.a[2]);
      break;
    case gt::kEvGoSysExitLocal:
      go_unblock(P, at, e.a[0], "syscall exit", e.a[1]);
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
        slice(kPidGc, lane(kPidGc, P, kLaneAssist), "mark assist", P.assist_since, at)
            .arg("goroutine", P.g)
            .done();
      }
      P.assisting = false;
      if (auto it = gs.find(P.g); it != gs.end()) it->second.assisting = false;
      break;
    case gt::kEvUserTaskCreate: {
      std::string name(dict.str(e.a[2]));
      if (name.empty()) name = "task " + std::to_string(e.a[0]);
      out.event('b', name, kPidUser, kTidBase + kPidUser * kLaneCount)
          .ts(ns(at))
          .field("cat", "task")
          .field("id", e.a[0])
          .arg("task", e.a[0])
          .arg("parent", e.a[1])
          .arg("goroutine", P.g)
          .done();
      tasks[e.a[0]] = std::move(name);
      break;
    }
    case gt::kEvUserTaskEnd: {
      auto it = tasks.find(e.a[0]);
      std::string name = it != tasks.end() ? it->second : "task " + std::to_string(e.a[0]);
      if (it == tasks.end()) {  // created before the trace began: show it from the start
        out.event('b', name, kPidUser, kTidBase + kPidUser * kLaneCount)
            .ts(0)
            .field("cat", "task")
            .field("id", e.a[0])
            .arg("task", e.a[0])
            .done();
      } else {
        tasks.erase(it);
      }
      out.event('e', name, kPidUser, kTidBase + kPidUser * kLaneCount)
          .ts(ns(at))
          .field("cat", "task")
          .field("id", e.a[0])
          .done();
      break;
    }
    case gt::kEvUserRegion: {
      std::string_view name = dict.str(e.a[2]);
      auto& ev = out.event(e.a[1] == 0 ? 'b' : 'e', name.empty() ? "region" : name, kPidUser,
                           kTidBase + kPidUser * kLaneCount)
                     .ts(ns(at))
                     .field("cat", "region")
                     .field("id", P.g);
      if (e.a[1] == 0) ev.arg("goroutine", P.g).arg("task", e.a[0]);
      ev.done();
      break;
    }
    case gt::kEvUserLog: {
      std::string_view key = dict.str(e.a[1]);
      instant(P.pid, lane(P.pid, P, kLaneGoroutines), key.empty() ? "log" : key, at)
          .arg("message", e.text)
          .arg("category", key)
          .arg("task", e.a[0])
          .arg("goroutine", P.g)
          .done();
      break;
    }
    default:  // FutileWakeup: Go's reader deletes it with the block, unblock and start
      break;  // it cancels; here those stay. (Go 1.19's runtime never writes it.)
  }
}

void TraceTimeline::State::close() {
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
    if (P.g != 0) go_stop(P, end, 0, "trace end");
    if (P.sweeping) slice(kPidGc, lane(kPidGc, P, kLaneSweep), "sweep", P.sweep_since, end).done();
    if (P.proc_running) {
      slice(P.pid, lane(P.pid, P, kLaneThread), "M" + std::to_string(P.proc_thread), P.proc_since, end)
          .arg("thread", P.proc_thread)
          .done();
    }
  }
  if (gc_open) slice(kPidGc, gc_lane(kLaneGcCycles), "GC " + std::to_string(gc_seq), gc_since, end).done();
  if (stw_open) slice(kPidGc, gc_lane(kLaneStw), "STW", stw_since, end).done();
  for (uint64_t id : sorted_keys(tasks)) {
    out.event('e', tasks[id], kPidUser, kTidBase + kPidUser * kLaneCount)
        .ts(ns(end))
        .field("cat", "task")
        .field("id", id)
        .done();
  }
  for (uint64_t g : sorted_keys(gs)) {
    GState& G = gs[g];
    if (G.status == GStatus::kRunnable) goroutine_slice(G, g, "runnable", G.since, end);
    if (G.status == GStatus::kWaiting) waiting_slice(G, g, end);
    if (G.has_track && !G.named && !dict.function_of_stack(G.entry_stack).empty()) {
      thread(kPidGoroutines, goroutine_tid(g), goroutine_name(g, G.entry_stack), g);
    }
  }
  for (uint64_t g : sorted_keys(dead)) {
    const DeadG& D = dead[g];
    if (D.has_track && !D.named && !dict.function_of_stack(D.entry_stack).empty()) {
      thread(kPidGoroutines, goroutine_tid(g), goroutine_name(g, D.entry_stack), g);
    }
  }
  if (live_changed) {
    instant_done();
    flush_live();
    if (end > live_pending_at)
      counter("Goroutines", end, "live", static_cast<uint64_t>(std::max<int64_t>(live, 0)));
  }
}

TraceTimeline::TraceTimeline(ChromeTraceWriter& out, const TraceDictionary& dict)
    : s_(std::make_unique<State>(out, dict)) {}
TraceTimeline::~TraceTimeline() = default;

void TraceTimeline::begin(uint64_t ticks_per_second, uint64_t origin_ticks) {
  s_->ticks_per_second = ticks_per_second;
  s_->base = origin_ticks;
  s_->out.begin();
  s_->process(kPidGc, "GC", 0);
  s_->process(kPidUser, "User annotations", 1);
  s_->process(kPidGoroutines, "Goroutines", kSortGoroutines);
}

void TraceTimeline::event(const TimedEvent& e) {
  s_->event(e);
}
void TraceTimeline::close() {
  s_->close();
}

}  // namespace profilers::detail
