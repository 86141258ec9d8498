// goroutine_profile.cpp — the goroutine profile: a consistent snapshot of
// every live goroutine, printed in Go's three forms.
//
// Collection. The world is stopped (stw.h) for as long as it takes to copy,
// for every goroutine record that is not dead or idle, its id, status,
// wait reason and time, creator (gopc, parent id), labels and stack — a
// frame-pointer walk from the frame that switched it out, or from the
// frame that entered a BlockingSection (goroutine_stack). The calling
// goroutine walks its own stack (capture_stack) and is listed first, as
// "running", with the profiler's own frames, as Go lists it. Symbolizing
// (DWARF look-ups, the slow part) happens after the world has restarted.
// Nothing is hidden: gort's own helper goroutines (the collector's
// background sweeper) are ordinary goroutines counted by num_goroutine,
// and the total must agree with it.
//
// Caveats. A goroutine in a BlockingSection keeps running C code while the
// world is stopped; its frames above the section's entry stay put until it
// gets a P back, which it cannot do before the world restarts, so its walk
// is sound. Labels are read with read_labels, whose mutex serializes
// foreign readers: with the world stopped that is safe only because no
// read_labels callback reaches a safepoint (observer.h asks them to be
// short) — one that parked or allocated from the collected heap while
// holding it would deadlock this collection. Go's waitsince is only
// approximate too; gort records it at park time (within 10 ms), and not
// for BlockingSections, so "N minutes" appears only for parked goroutines.
//
// Formats (Go 1.19's runtime/pprof, Go 1.21's "created by … in goroutine").
//
// debug=0: profile.proto with sample type goroutine/count, period 1, one
// sample per distinct (stack, labels); stacks keep at most 32 frames (Go's
// StackRecord).
//
// debug=1 (printCountProfile, stack_text.h; the "@" line lists every PC,
// the "#" lines hide the leading frames of the runtime, gort::park_g and
// the channel code, as Go hides runtime.gopark and runtime.chanrecv):
//   goroutine profile: total 5
//   3 @ 0x4d3a1f 0x4d3c88 0x4d41e2 0x4c1a31 0x4c7b5d 0x7f3a2c21918f
//   # labels: {"endpoint":"/work"}
//   #	0x4c1a30	leak_worker(gort::Chan<int>*)+0x10	/src/service/leak.cpp:30
//   …
//   <empty line>
//
// debug=2 (runtime.Stack(buf, true): goroutineheader, traceback,
// printcreatedby; goroutines separated by an empty line, none at the end):
//   goroutine 1 [running]:
//   profilers::goroutine_profile_text(...)
//   	/src/profilers/goroutine_profile.cpp:190 +0x3c
//   …
//
//   goroutine 18 [chan receive, 2 minutes]:
//   leak_worker(...)
//   	/src/service/leak.cpp:30 +0x51
//   created by serve_leak in goroutine 7
//   	/src/service/leak.cpp:41 +0x9d
// The status is the wait reason for a parked goroutine, else Go's status
// name (running, runnable, syscall); ", N minutes" when it has waited at
// least a minute; at most 100 frames, then "...additional frames
// elided..."; no "created by" for goroutine 1 or when gopc is unknown.
#include "profilers/goroutine_profile.h"

#include <time.h>

#include <span>
#include <vector>

#include "profilers/stack_text.h"
#include "runtime/base.h"
#include "runtime/goroutine.h"
#include "runtime/gort.h"
#include "runtime/observer.h"
#include "runtime/stackwalk.h"
#include "runtime/stw.h"

namespace profilers {

namespace {

constexpr int kTracebackMaxFrames = 100;  // Go's _TracebackMaxFrames: debug=2 prints this many
constexpr size_t kProfileMaxFrames = 32;  // Go's StackRecord.Stack0: debug=0 and 1 keep this many
constexpr int64_t kNsPerMinute = 60'000'000'000;  // goroutineheader's "N minutes" unit

struct GoroutineSnapshot {
  int64_t id = 0;
  int64_t parent_id = 0;
  gort::GStatus status = gort::GStatus::Idle;
  gort::WaitReason wait_reason = gort::WaitReason::Zero;
  int64_t wait_since_ns = 0;
  uintptr_t gopc = 0;
  bool unavailable = false;    // running on another thread: no stack (never while the world is stopped)
  bool leaf_is_entry = false;  // never ran: stack is {startpc + 1}
  bool elided = false;         // had more than kTracebackMaxFrames frames
  std::vector<uintptr_t> stack;
  Labels labels;
};

void set_stack(GoroutineSnapshot& s, const uintptr_t* pcs, int n) {
  s.elided = n > kTracebackMaxFrames;
  s.stack.assign(pcs, pcs + (s.elided ? kTracebackMaxFrames : n));
}

// collect_goroutines returns a snapshot of every live goroutine, the
// calling one first, its stack starting in collect_goroutines' caller (the
// public function, as Go's starts in writeGoroutineStacks). Stops the world
// while it copies.
__attribute__((noinline)) std::vector<GoroutineSnapshot> collect_goroutines() {
  gort::G* self = gort::current_g();
  if (self == nullptr) GORT_THROW("goroutine profile: must be called on a goroutine");
  uintptr_t pcs[kTracebackMaxFrames + 1];

  std::vector<GoroutineSnapshot> out;
  out.reserve(static_cast<size_t>(gort::num_goroutine()) + 16);
  GoroutineSnapshot me;
  gort::GoroutineInfo my_info = gort::goroutine_info(self);
  me.id = my_info.id;
  me.parent_id = my_info.parent_id;
  me.gopc = my_info.gopc;
  me.status = gort::GStatus::Running;
  set_stack(me, pcs, gort::capture_stack(pcs, kTracebackMaxFrames + 1, 1));
  me.labels = gort::get_labels();
  out.push_back(std::move(me));

  gort::with_world_stopped("goroutine profile", [&] {
    gort::for_each_goroutine([&](gort::G* g) {
      if (g == self) return;
      gort::GoroutineInfo info = gort::goroutine_info(g);
      if (info.id == 0 || info.status == gort::GStatus::Dead || info.status == gort::GStatus::Idle) return;
      GoroutineSnapshot s;
      s.id = info.id;
      s.parent_id = info.parent_id;
      s.status = info.status;
      s.wait_reason = info.wait_reason;
      s.wait_since_ns = info.wait_since_ns;
      s.gopc = info.gopc;
      if (info.status == gort::GStatus::Running) {
        s.unavailable = true;
      } else if (int n = gort::goroutine_stack(g, pcs, kTracebackMaxFrames + 1); n > 0) {
        set_stack(s, pcs, n);
      } else if (info.startpc != 0) {
        s.stack = {info.startpc + 1};  // profile.h: a leaf that is not a return address
        s.leaf_is_entry = true;
      }
      gort::read_labels(g, [&](const gort::LabelSet& l) { s.labels.assign(l.begin(), l.end()); });
      out.push_back(std::move(s));
    });
  });
  return out;
}

std::vector<CountRecord> count_records(std::vector<GoroutineSnapshot>& gs) {
  std::vector<CountRecord> records;
  records.reserve(gs.size());
  for (GoroutineSnapshot& s : gs) {
    if (s.stack.size() > kProfileMaxFrames) s.stack.resize(kProfileMaxFrames);
    records.push_back({std::move(s.stack), std::move(s.labels)});
  }
  return records;
}

int64_t unix_nanos() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

void append_header(std::string& out, const GoroutineSnapshot& s, int64_t now_ns) {
  const char* status = s.status == gort::GStatus::Waiting && s.wait_reason != gort::WaitReason::Zero
                           ? gort::wait_reason_string(s.wait_reason)
                           : gort::gstatus_string(s.status);
  out += "goroutine " + std::to_string(s.id) + " [" + status;
  if (s.status == gort::GStatus::Waiting && s.wait_since_ns != 0) {
    int64_t minutes = (now_ns - s.wait_since_ns) / kNsPerMinute;
    if (minutes >= 1) out += ", " + std::to_string(minutes) + " minutes";
  }
  out += "]:\n";
}

// append_goroutine_stacks writes the debug=2 form (Go's runtime.Stack with
// all=true).
void append_goroutine_stacks(std::string& out, const std::vector<GoroutineSnapshot>& gs) {
  const int64_t now_ns = gort::nanotime();
  for (size_t i = 0; i < gs.size(); i++) {
    const GoroutineSnapshot& s = gs[i];
    if (i > 0) out += '\n';
    append_header(out, s, now_ns);
    if (s.unavailable) {
      out += "\tgoroutine running on other thread; stack unavailable\n";
    } else {
      append_traceback(out, s.stack, s.leaf_is_entry);
      if (s.elided) out += "...additional frames elided...\n";
    }
    if (s.id != 1) append_created_by(out, s.gopc, s.parent_id);  // Go: none for the main goroutine
  }
}

}  // namespace

Profile goroutine_profile() {
  const int64_t start = unix_nanos();
  std::vector<GoroutineSnapshot> gs = collect_goroutines();
  std::vector<CountRecord> records = count_records(gs);
  Profile p = count_profile("goroutine", records);
  p.time_nanos = start;
  return p;
}

std::string goroutine_profile_text(int debug) {
  std::vector<GoroutineSnapshot> gs = collect_goroutines();
  std::string out;
  if (debug >= 2) {
    append_goroutine_stacks(out, gs);
  } else {
    std::vector<CountRecord> records = count_records(gs);
    append_count_profile(out, "goroutine", records);
  }
  return out;
}

}  // namespace profilers
