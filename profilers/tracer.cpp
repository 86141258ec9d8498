// tracer.cpp — the execution tracer (tracer.h): Go 1.19's runtime/trace.go
// on gort's scheduler observer (runtime/observer.h).
//
// Streams. Every event goes into the stream of the P it happened on
// (go-trace-format.md §4): the format gives each event the goroutine last
// started on its P, so "g blocked" must sit in the stream of the P g ran
// on. Each P has one open TraceBuffer, written without a lock by the thread
// that holds the P (observer_p()); events about a P that fire on another
// thread — sysmon retaking it from a blocking section, a stop-the-world
// stopping it — come from the thread that has just taken the P from its
// previous holder, which the runtime hands over with release/acquire
// (sched.lock, the P's status CAS), so the buffer has one writer at a time.
// Threads without a P (the netpoller waking goroutines, a goroutine inside
// a BlockingSection waking another) share the no-P stream under a mutex.
// CPU samples have their own buffer; the reader sorts them by their own
// timestamps. A full buffer goes onto a queue and a fresh one (from a free
// list) takes its place; the reader goroutine drains the queue into the
// HTTP response while the trace runs. Callbacks may not park or wake a
// goroutine, so the reader polls the queue (every 50 ms in gortd).
//
// Time. Event timestamps are event_clock_ns() (CLOCK_MONOTONIC ns, the same
// on every M), read where the event happened, and the frequency record says
// 1e9 ticks per second. Within a buffer they are clamped to never go back
// (two threads may read the clock in one order and take the no-P lock in
// the other), and everything is clamped to the trace's start: an event
// racing with the start snapshot is stamped no earlier than it.
//
// Goroutine state. Each goroutine's TraceSlot (goroutine.h) holds the
// tracer's view — (trace generation, state) in one atomic word — and its
// sequence number (§7). Whoever performs a transition updates them: the
// waker increments the wakee's seq before the runtime queues the wakee, the
// starting M increments it again, and the runtime's own happens-before
// edges (run-queue publication, the wait-queue locks held across a park)
// order those writes. The state lets the tracer refuse transitions that
// would break the parser (counted in Stats::inconsistent and repaired with
// the event the parser needs) and tells a goroutine declared in this trace
// from one whose slot is stale.
//
// Start and stop (§9) run with the world stopped and no GC cycle running
// (gc::hold_cycles). Start attaches the observer first and then walks
// every goroutine, claiming each slot with a CAS so that a goroutine
// created or woken by a P-less thread during the walk is declared exactly
// once: GoCreate, then GoWaiting or GoInSyscall, and ProcStart plus GoStart
// for the tracing goroutine itself on its P. Stop closes what is open — the
// stopping goroutine yields, its P stops, open sweeps end — detaches the
// observer, flushes every buffer and appends the dictionaries
// (trace_dictionaries.cpp).
#include "profilers/tracer.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <vector>

#include "gc/hooks.h"
#include "gc/stats.h"
#include "profilers/trace_buffer.h"
#include "profilers/trace_tables.h"
#include "runtime/gort.h"
#include "runtime/observer.h"
#include "runtime/scan.h"
#include "runtime/stackwalk.h"
#include "runtime/stw.h"
#include "runtime/threads.h"

namespace profilers {

namespace {

using namespace trace;
using gort::G;

constexpr uint64_t kTicksPerSecond = 1'000'000'000;  // ticks are event_clock_ns nanoseconds
constexpr size_t kStackSlots = 1 << 16;               // distinct stacks per trace
constexpr int kStackDepth = StackTable::kMaxDepth;

// The tracer's view of a goroutine (TraceSlot::word = generation << 8 | state).
enum GState : uint64_t {
  kGUnknown = 0,
  kGClaimed = 1,     // the start snapshot is declaring it
  kGRunnable = 2,
  kGRunning = 3,
  kGWaiting = 4,
  kGSyscall = 5,     // in a blocking section that kept its P
  kGSysBlocked = 6,  // in a blocking section that lost its P (waiting, for the parser)
  kGDead = 7,
};
constexpr uint64_t word(uint64_t gen, GState s) { return gen << 8 | s; }
constexpr uint64_t gen_of(uint64_t w) { return w >> 8; }
constexpr GState state_of(uint64_t w) { return static_cast<GState>(w & 0xff); }

uint8_t block_event(gort::WaitReason r) {
  using gort::WaitReason;
  switch (r) {
    case WaitReason::ChanSend: return kEvGoBlockSend;
    case WaitReason::ChanReceive: return kEvGoBlockRecv;
    case WaitReason::Select: return kEvGoBlockSelect;
    case WaitReason::SyncMutexLock:
    case WaitReason::SyncRWMutexRLock:
    case WaitReason::SyncRWMutexLock:
    case WaitReason::SyncWaitGroupWait:
    case WaitReason::Semacquire: return kEvGoBlockSync;
    case WaitReason::SyncCondWait: return kEvGoBlockCond;
    case WaitReason::IOWait: return kEvGoBlockNet;
    case WaitReason::Sleep: return kEvGoSleep;
    case WaitReason::GCAssistWait: return kEvGoBlockGC;
    case WaitReason::ChanReceiveNilChan:
    case WaitReason::ChanSendNilChan:
    case WaitReason::SelectNoCases: return kEvGoStop;
    default: return kEvGoBlock;
  }
}

// PState is a P's stream; touched only by the thread holding the P.
struct alignas(64) PState {
  std::atomic<uint64_t> events{0};  // written by the holder, read by stats(); atomic
  TraceBuffer* buf = nullptr;
  G* cur = nullptr;       // goroutine running on it in the trace (the implicit g)
  G* syscall = nullptr;   // goroutine in a blocking section that kept this P
  bool started = false;   // ProcStart written, no ProcStop since
  bool sweeping = false;  // GCSweepStart written, no GCSweepDone since
};

class Tracer;
std::atomic<Tracer*> g_tracer{nullptr};   // the running trace; atomic
std::atomic<int> g_annotators{0};         // user annotations in progress; atomic
std::atomic<uint64_t> g_generation{0};    // traces taken so far; atomic
std::atomic<uint64_t> g_next_task{1};     // task ids, unique for the process; atomic

class Tracer final : public gort::SchedObserver {
 public:
  explicit Tracer(uint64_t gen) : gen_(gen), stacks_(kStackSlots), ps_(static_cast<size_t>(gort::gomaxprocs())) {}

  ~Tracer() override {
    for (PState& p : ps_) delete p.buf;
    delete nop_buf_;
    delete cpu_buf_;
    for (TraceBuffer* b : full_) delete b;
    for (TraceBuffer* b : free_) delete b;
  }

  // ---- start and stop (world stopped, observer attached / detached) ----

  void snapshot(int64_t t0, uint64_t heap_live, uint64_t heap_goal);
  void close(int64_t ts);
  void flush_all();
  void cut(int64_t ts, uint64_t heap_live, uint64_t heap_goal, ExecutionTracer::Cut* out);

  // ---- the reader ----

  // take moves the queued buffers' bytes into out; returns whether any.
  bool take(std::string* out) {
    std::deque<TraceBuffer*> got;
    {
      std::lock_guard<std::mutex> l(q_mu_);
      got.swap(full_);
      queued_bytes_ = 0;
    }
    for (TraceBuffer* b : got) {
      out->append(b->bytes());
      bytes_.fetch_add(b->bytes().size(), std::memory_order_relaxed);
      recycle(b);
    }
    return !got.empty();
  }

  std::string dictionaries() { return encode_dictionaries(stacks_, strings_, kTicksPerSecond); }

  ExecutionTracer::Stats stats() const {
    ExecutionTracer::Stats s;
    s.events = nop_events_.load(std::memory_order_relaxed);
    for (const PState& p : ps_) s.events += p.events.load(std::memory_order_relaxed);
    s.bytes = bytes_.load(std::memory_order_relaxed);
    s.stacks = stacks_.size();
    s.dropped = stacks_.full_misses();
    s.inconsistent = inconsistent_.load(std::memory_order_relaxed);
    std::lock_guard<std::mutex> l(q_mu_);
    s.peak_queued_bytes = peak_queued_;
    return s;
  }

  // ---- scheduler events ----

  void on_go_create(int64_t ts, G* g, G* parent) override {
    PlessGuard guard(*this);
    gort::TraceSlot& slot = gort::trace_slot(g);
    uint64_t w = slot.word.load(std::memory_order_acquire);
    // Already in this trace: declared by the start snapshot — unless the
    // record held a goroutine that ended in this trace and is now reused.
    if (gen_of(w) == gen_ && state_of(w) != kGDead) return;
    if (!slot.word.compare_exchange_strong(w, word(gen_, kGRunnable), std::memory_order_acq_rel)) return;
    slot.seq = 0;  // read by its first start, after the run queue publishes it
    uint32_t stk = 0;
    if (parent != nullptr) stk = own_stack();
    uint32_t entry = entry_stack(g);
    int p = gort::observer_p();
    with_stream(p, ts, [&](TraceBuffer& b, int64_t t) {
      b.event(kEvGoCreate, t, {goid(g), entry, stk});
    });
  }

  void on_go_start(int64_t ts, G* g, int32_t p) override {
    gort::TraceSlot& slot = gort::trace_slot(g);
    with_stream(p, ts, [&](TraceBuffer& b, int64_t t) {
      PState& ps = ps_[static_cast<size_t>(p)];
      if (ps.cur != nullptr) {  // the parser needs the P idle
        inconsistent_.fetch_add(1, std::memory_order_relaxed);
        b.event(kEvGoSched, t, {0});
        set_state(ps.cur, kGRunnable);
      }
      make_runnable(b, t, g, slot);
      if (const char* label = gort::start_label(g))  // a GC mark worker: the MMU view counts it as GC
        b.event(kEvGoStartLabel, t, {goid(g), ++slot.seq, string_id(label)});
      else
        b.event(kEvGoStart, t, {goid(g), ++slot.seq});
      slot.word.store(word(gen_, kGRunning), std::memory_order_release);
      ps.cur = g;
    });
  }

  void on_go_block(int64_t ts, G* g, gort::WaitReason r) override {
    leave(ts, g, block_event(r), r == gort::WaitReason::ChanReceiveNilChan || r == gort::WaitReason::ChanSendNilChan ||
                                         r == gort::WaitReason::SelectNoCases
                                     ? kGDead
                                     : kGWaiting);
  }
  void on_go_sched(int64_t ts, G* g) override { leave(ts, g, kEvGoSched, kGRunnable); }
  void on_go_preempt(int64_t ts, G* g) override { leave(ts, g, kEvGoPreempt, kGRunnable); }
  void on_go_end(int64_t ts, G* g) override { leave(ts, g, kEvGoEnd, kGDead); }

  void on_go_unblock(int64_t ts, G* g, G* by) override {
    PlessGuard guard(*this);
    gort::TraceSlot& slot = gort::trace_slot(g);
    uint64_t w = slot.word.load(std::memory_order_acquire);
    // The start snapshot may be declaring g right now: wait for its verdict.
    while (gen_of(w) == gen_ && state_of(w) == kGClaimed) {
      gort::cpu_relax();
      w = slot.word.load(std::memory_order_acquire);
    }
    if (gen_of(w) != gen_ || state_of(w) != kGWaiting) return;  // declared runnable: woken before the trace
    if (!slot.word.compare_exchange_strong(w, word(gen_, kGRunnable), std::memory_order_acq_rel)) return;
    int p = gort::observer_p();
    uint32_t stk = 0;
    if (by != nullptr && p >= 0 && ps_[static_cast<size_t>(p)].cur == by) stk = own_stack();
    with_stream(p, ts, [&](TraceBuffer& b, int64_t t) { b.event(kEvGoUnblock, t, {goid(g), ++slot.seq, stk}); });
  }

  void on_go_syscall_enter(int64_t ts, G* g) override {
    int p = gort::observer_p();
    if (p < 0 || ps_[static_cast<size_t>(p)].cur != g) return;
    uint32_t stk = own_stack();
    with_stream(p, ts, [&](TraceBuffer& b, int64_t t) {
      b.event(kEvGoSysCall, t, {stk});
      ps_[static_cast<size_t>(p)].syscall = g;
      set_state(g, kGSyscall);
    });
  }

  void on_go_syscall_block(int64_t ts, int32_t p) override {
    with_stream(p, ts, [&](TraceBuffer& b, int64_t t) {
      PState& ps = ps_[static_cast<size_t>(p)];
      G* g = ps.syscall;
      ps.syscall = nullptr;
      if (g == nullptr || ps.cur != g) return;
      b.event(kEvGoSysBlock, t, {});
      set_state(g, kGSysBlocked);
      ps.cur = nullptr;
    });
  }

  void on_go_syscall_exit(int64_t ts, G* g, bool lost_p) override {
    PlessGuard guard(*this);
    gort::TraceSlot& slot = gort::trace_slot(g);
    uint64_t w = slot.word.load(std::memory_order_acquire);
    if (gen_of(w) != gen_) return;
    int p = gort::observer_p();
    if (state_of(w) == kGSyscall) {  // kept its P: nothing happened, in the trace
      if (p >= 0) ps_[static_cast<size_t>(p)].syscall = nullptr;
      set_state(g, kGRunning);
      return;
    }
    if (state_of(w) != kGSysBlocked) return;
    with_stream(lost_p ? -1 : p, ts, [&](TraceBuffer& b, int64_t t) {
      b.event(kEvGoSysExit, t, {goid(g), ++slot.seq, 0});
      slot.word.store(word(gen_, kGRunnable), std::memory_order_release);
      if (lost_p || p < 0) return;
      PState& ps = ps_[static_cast<size_t>(p)];
      b.event(kEvGoStart, t, {goid(g), ++slot.seq});
      slot.word.store(word(gen_, kGRunning), std::memory_order_release);
      ps.cur = g;
    });
  }

  void on_proc_start(int64_t ts, int32_t p, int64_t m) override {
    with_stream(p, ts, [&](TraceBuffer& b, int64_t t) {
      PState& ps = ps_[static_cast<size_t>(p)];
      if (ps.started) inconsistent_.fetch_add(1, std::memory_order_relaxed);
      b.event(kEvProcStart, t, {static_cast<uint64_t>(m)});
      ps.started = true;
      ps.cur = nullptr;
    });
  }

  void on_proc_stop(int64_t ts, int32_t p) override {
    with_stream(p, ts, [&](TraceBuffer& b, int64_t t) {
      PState& ps = ps_[static_cast<size_t>(p)];
      if (ps.cur != nullptr) {  // the parser refuses a stop with a goroutine on the P
        inconsistent_.fetch_add(1, std::memory_order_relaxed);
        b.event(kEvGoSched, t, {0});
        set_state(ps.cur, kGRunnable);
        ps.cur = nullptr;
      }
      if (ps.sweeping) {
        b.event(kEvGCSweepDone, t, {0, 0});
        ps.sweeping = false;
      }
      if (!ps.started) return;
      b.event(kEvProcStop, t, {});
      ps.started = false;
    });
  }

  // ---- collector events ----

  void on_gc_start(int64_t ts, uint32_t) override {
    uint32_t stk = own_stack();
    here(ts, [&](TraceBuffer& b, int64_t t) {
      b.event(kEvGCStart, t, {gc_seq_++, stk});
      in_gc_ = true;
    });
  }
  void on_gc_done(int64_t ts) override {
    here(ts, [&](TraceBuffer& b, int64_t t) {
      if (!in_gc_) return;
      b.event(kEvGCDone, t, {});
      in_gc_ = false;
    });
  }
  void on_gc_stw_start(int64_t ts, int kind) override {
    here(ts, [&](TraceBuffer& b, int64_t t) {
      b.event(kEvGCSTWStart, t, {static_cast<uint64_t>(kind)});
      in_stw_ = true;
    });
  }
  void on_gc_stw_done(int64_t ts) override {
    here(ts, [&](TraceBuffer& b, int64_t t) {
      if (!in_stw_) return;
      b.event(kEvGCSTWDone, t, {});
      in_stw_ = false;
    });
  }
  void on_gc_assist_start(int64_t ts) override {
    uint32_t stk = own_stack();
    on_running_g(ts, [&](TraceBuffer& b, int64_t t) { b.event(kEvGCMarkAssistStart, t, {stk}); });
  }
  void on_gc_assist_done(int64_t ts) override {
    on_running_g(ts, [&](TraceBuffer& b, int64_t t) { b.event(kEvGCMarkAssistDone, t, {}); });
  }
  void on_gc_sweep_start(int64_t ts) override {
    uint32_t stk = own_stack();
    on_running_g(ts, [&](TraceBuffer& b, int64_t t) {
      PState& ps = ps_[static_cast<size_t>(gort::observer_p())];
      if (ps.sweeping) return;
      b.event(kEvGCSweepStart, t, {stk});
      ps.sweeping = true;
    });
  }
  void on_gc_sweep_done(int64_t ts, uint64_t swept, uint64_t reclaimed) override {
    on_running_g(ts, [&](TraceBuffer& b, int64_t t) {
      PState& ps = ps_[static_cast<size_t>(gort::observer_p())];
      if (!ps.sweeping) return;  // began before the trace
      b.event(kEvGCSweepDone, t, {swept, reclaimed});
      ps.sweeping = false;
    });
  }
  void on_heap_alloc(int64_t ts, uint64_t bytes) override {
    here(ts, [&](TraceBuffer& b, int64_t t) { b.event(kEvHeapAlloc, t, {bytes}); });
  }
  void on_heap_goal(int64_t ts, uint64_t bytes) override {
    here(ts, [&](TraceBuffer& b, int64_t t) { b.event(kEvHeapGoal, t, {bytes}); });
  }

  // ---- user annotations and CPU samples (called from user code) ----

  // annotate writes an annotation of the calling goroutine into its P's
  // stream; false (nothing written) off-goroutine or before the goroutine
  // is known to run in this trace.
  template <class Write>
  bool annotate(Write&& write, size_t extra_bytes = 0) {
    int p = gort::current_p_index();
    if (p < 0) return false;
    G* g = gort::current_g();
    if (ps_[static_cast<size_t>(p)].cur != g) return false;
    uint32_t stk = own_stack();
    with_stream(p, gort::event_clock_ns(), [&](TraceBuffer& b, int64_t t) { write(b, t, stk); }, extra_bytes);
    return true;
  }

  uint64_t generation() const { return gen_; }

  void cpu_sample(int64_t ts, int p, int64_t goid, const uintptr_t* pcs, int n) {
    // A sample taken before the trace began (drained since) is dropped, as
    // Go's trace never sees samples from before StartTrace: stamped at the
    // start it could sort ahead of its goroutine's GoCreate in the snapshot,
    // and Go's parser would then reject the trace ("g already exists").
    if (ts <= t0_) return;
    uint32_t stk = stacks_.put(pcs, n);
    std::lock_guard<std::mutex> l(cpu_mu_);
    TraceBuffer& b = room(cpu_buf_, 0, ts, 4 * kMaxVarintBytes + 8);
    b.event(kEvCPUSample, b.last_ts(),
            {static_cast<uint64_t>(ts), p < 0 ? kNoP : static_cast<uint64_t>(p),
             static_cast<uint64_t>(goid), stk});
  }

  uint64_t string_id(std::string_view s) { return strings_.id(s); }

 private:
  // PlessGuard serializes a state transition made by a thread without a P
  // (its CAS of the goroutine's slot and its event) with a cut, which must
  // see every goroutine's state and the stream agree. Threads with a P
  // need nothing: a cut runs with the world stopped. Free for them.
  class PlessGuard final {
   public:
    explicit PlessGuard(Tracer& t) {
      if (gort::observer_p() >= 0) return;
      mu_ = &t.pless_mu_;
      mu_->lock();
    }
    ~PlessGuard() {
      if (mu_ != nullptr) mu_->unlock();
    }
    PlessGuard(const PlessGuard&) = delete;
    PlessGuard& operator=(const PlessGuard&) = delete;

   private:
    std::mutex* mu_ = nullptr;
  };

  static uint64_t goid(const G* g) { return static_cast<uint64_t>(gort::goroutine_id(g)); }

  // own_stack is the calling code's stack (the tracer's frames are cut
  // when the stacks are symbolized).
  uint32_t own_stack() {
    uintptr_t pcs[kStackDepth];
    int n = gort::capture_stack(pcs, kStackDepth, 0);
    return stacks_.put(pcs, n);
  }

  // entry_stack is the one-frame stack of g's entry function.
  uint32_t entry_stack(const G* g) {
    gort::GoroutineInfo info = gort::goroutine_info(g);
    uintptr_t pc = (info.startpc != 0 ? info.startpc : info.gopc) + 1;  // +1: not a return address
    return stacks_.put(&pc, 1);
  }

  void set_state(G* g, GState s) { gort::trace_slot(g).word.store(word(gen_, s), std::memory_order_release); }

  // make_runnable repairs a start of a goroutine the trace does not show
  // runnable (a runtime bug, counted): the parser would reject the trace.
  void make_runnable(TraceBuffer& b, int64_t t, G* g, gort::TraceSlot& slot) {
    uint64_t w = slot.word.load(std::memory_order_acquire);
    if (gen_of(w) == gen_ && state_of(w) == kGRunnable) return;
    inconsistent_.fetch_add(1, std::memory_order_relaxed);
    if (gen_of(w) != gen_ || state_of(w) == kGDead || state_of(w) == kGUnknown) {
      slot.seq = 0;
      b.event(kEvGoCreate, t, {goid(g), entry_stack(g), 0});
    } else if (state_of(w) == kGSysBlocked) {
      b.event(kEvGoSysExit, t, {goid(g), ++slot.seq, 0});
    } else {
      b.event(kEvGoUnblock, t, {goid(g), ++slot.seq, 0});
    }
  }

  // leave writes the event that takes g, running on the caller's P, off it.
  void leave(int64_t ts, G* g, uint8_t ev, GState to) {
    int p = gort::observer_p();
    if (p < 0) return;
    PState& ps = ps_[static_cast<size_t>(p)];
    if (ps.cur != g) {  // not started in this trace
      if (gen_of(gort::trace_slot(g).word.load(std::memory_order_relaxed)) == gen_) set_state(g, to);
      return;
    }
    uint32_t stk = 0;
    if (ev != kEvGoEnd) {
      uintptr_t pcs[kStackDepth];
      stk = stacks_.put(pcs, gort::goroutine_stack(g, pcs, kStackDepth));
    }
    with_stream(p, ts, [&](TraceBuffer& b, int64_t t) {
      if (ev == kEvGoEnd)
        b.event(ev, t, {});
      else
        b.event(ev, t, {stk});
      set_state(g, to);
      ps.cur = nullptr;
    });
  }

  // here writes a scheduler-level event into the caller's stream (its P's,
  // or the no-P stream).
  template <class Write>
  void here(int64_t ts, Write&& write) {
    with_stream(gort::observer_p(), ts, write);
  }

  // on_running_g writes an event of the goroutine running on the caller's
  // P, if the trace shows it running there.
  template <class Write>
  void on_running_g(int64_t ts, Write&& write) {
    int p = gort::observer_p();
    if (p < 0) return;
    G* g = gort::current_g();
    if (g == nullptr || ps_[static_cast<size_t>(p)].cur != g) return;
    with_stream(p, ts, write);
  }

  static constexpr size_t kMaxEventBytes = kMaxRecordBytes;

  // with_stream calls write(buffer, ts) on P p's stream (p −1: the no-P
  // stream, under its lock) with room for one event.
  template <class Write>
  void with_stream(int p, int64_t ts, Write&& write, size_t extra_bytes = 0) {
    if (ts < t0_) ts = t0_;
    const size_t need = 2 * kMaxEventBytes + extra_bytes;
    if (p >= 0 && static_cast<size_t>(p) < ps_.size()) {
      PState& ps = ps_[static_cast<size_t>(p)];
      ps.events.store(ps.events.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
      write(room(ps.buf, static_cast<uint64_t>(p), ts, need), ts);
      return;
    }
    std::lock_guard<std::mutex> l(nop_mu_);
    nop_events_.fetch_add(1, std::memory_order_relaxed);
    write(room(nop_buf_, kNoP, ts, need), ts);
  }

  // room returns buf, replacing it with a fresh batch for p when it is full
  // (or missing). The fresh batch begins no earlier than the old one ended.
  TraceBuffer& room(TraceBuffer*& buf, uint64_t p, int64_t ts, size_t need) {
    if (buf != nullptr && buf->has_room(need)) return *buf;
    int64_t start = ts;
    if (buf != nullptr) {
      start = std::max(start, buf->last_ts());
      enqueue(buf);
    }
    buf = fresh();
    buf->reset(p, start);
    return *buf;
  }

  void enqueue(TraceBuffer* b) {
    if (b->empty_batch()) return recycle(b);
    std::lock_guard<std::mutex> l(q_mu_);
    full_.push_back(b);
    queued_bytes_ += b->bytes().size();
    peak_queued_ = std::max(peak_queued_, queued_bytes_);
  }

  TraceBuffer* fresh() {
    {
      std::lock_guard<std::mutex> l(q_mu_);
      if (!free_.empty()) {
        TraceBuffer* b = free_.back();
        free_.pop_back();
        return b;
      }
    }
    return new TraceBuffer;
  }

  void recycle(TraceBuffer* b) {
    std::lock_guard<std::mutex> l(q_mu_);
    if (free_.size() < 16) {
      free_.push_back(b);
      return;
    }
    delete b;
  }

  const uint64_t gen_;
  int64_t t0_ = 0;          // the start snapshot's time; set before the observer sees events
  StackTable stacks_;
  StringTable strings_;
  std::vector<PState> ps_;  // one per P; each touched only by its P's holder

  std::mutex pless_mu_;  // P-less transitions against cuts (PlessGuard); before nop_mu_
  std::mutex nop_mu_;
  TraceBuffer* nop_buf_ = nullptr;  // guarded by nop_mu_
  std::mutex cpu_mu_;
  TraceBuffer* cpu_buf_ = nullptr;  // guarded by cpu_mu_

  // GC state: written by the collecting goroutine (one cycle at a time).
  uint64_t gc_seq_ = 0;
  bool in_gc_ = false;
  bool in_stw_ = false;

  mutable std::mutex q_mu_;
  std::deque<TraceBuffer*> full_;   // guarded by q_mu_
  std::vector<TraceBuffer*> free_;  // guarded by q_mu_
  uint64_t queued_bytes_ = 0;       // guarded by q_mu_
  uint64_t peak_queued_ = 0;        // guarded by q_mu_

  std::atomic<uint64_t> nop_events_{0};
  std::atomic<uint64_t> bytes_{0};
  std::atomic<uint64_t> inconsistent_{0};

  friend class ::profilers::ExecutionTracer;
};

// snapshot declares every goroutine (§9 steps 2–4). World stopped; the
// observer is attached, so P-less threads may already be emitting events.
void Tracer::snapshot(int64_t t0, uint64_t heap_live, uint64_t heap_goal) {
  G* self = gort::current_g();
  int p = gort::current_p_index();
  const gort::ThreadInfo* thread = gort::current_thread();
  with_stream(p, t0, [&](TraceBuffer& b, int64_t t) {
    b.event(kEvProcStart, t, {thread != nullptr ? static_cast<uint64_t>(thread->m_id) : 0});
    ps_[static_cast<size_t>(p)].started = true;
  });
  gort::for_each_goroutine([&](G* g) {
    gort::GoroutineInfo info = gort::goroutine_info(g);
    if (info.id == 0 || info.status == gort::GStatus::Dead || info.status == gort::GStatus::Idle) return;
    gort::TraceSlot& slot = gort::trace_slot(g);
    uint64_t w = slot.word.load(std::memory_order_acquire);
    if (gen_of(w) == gen_) return;  // created since the observer was attached: already declared
    if (!slot.word.compare_exchange_strong(w, word(gen_, kGClaimed), std::memory_order_acq_rel)) return;
    // Read the status again now that wakers wait for the claim.
    gort::GStatus st = gort::goroutine_info(g).status;
    GState s = kGRunnable;
    uint8_t extra = 0;
    if (st == gort::GStatus::Waiting) {
      s = kGWaiting;
      extra = kEvGoWaiting;
    } else if (st == gort::GStatus::Syscall) {
      s = kGSysBlocked;
      extra = kEvGoInSyscall;
    } else if (st == gort::GStatus::Running && g != self) {
      inconsistent_.fetch_add(1, std::memory_order_relaxed);
    }
    uint32_t entry = entry_stack(g);
    uintptr_t gopc = info.gopc;
    uint32_t creator = gopc != 0 ? stacks_.put(&gopc, 1) : 0;
    slot.seq = 0;
    with_stream(p, t0, [&](TraceBuffer& b, int64_t t) {
      b.event(kEvGoCreate, t, {goid(g), entry, creator});
      if (extra != 0) b.event(extra, t, {goid(g), });
    });
    if (extra != 0) slot.seq = 1;
    slot.word.store(word(gen_, s), std::memory_order_release);
  });
  gort::TraceSlot& mine = gort::trace_slot(self);
  with_stream(p, t0, [&](TraceBuffer& b, int64_t t) {
    b.event(kEvGoStart, t, {goid(self), ++mine.seq});
    mine.word.store(word(gen_, kGRunning), std::memory_order_release);
    ps_[static_cast<size_t>(p)].cur = self;
    b.event(kEvGomaxprocs, t, {ps_.size(), 0});
    b.event(kEvHeapAlloc, t, {heap_live});
    b.event(kEvHeapGoal, t, {heap_goal});
  });
  // The snapshot goes out first: a reader that converts the trace as it
  // streams (format=json) finds the trace's earliest time at the front.
  PState& mine_p = ps_[static_cast<size_t>(p)];
  enqueue(mine_p.buf);
  mine_p.buf = nullptr;
}

// close ends what is open (§9 stop step 1). World stopped, observer still
// attached.
void Tracer::close(int64_t ts) {
  G* self = gort::current_g();
  int me = gort::current_p_index();
  for (size_t i = 0; i < ps_.size(); i++) {
    PState& ps = ps_[i];
    if (ps.cur == nullptr && !ps.sweeping && !ps.started) continue;
    with_stream(static_cast<int>(i), ts, [&](TraceBuffer& b, int64_t t) {
      if (ps.cur != nullptr) {
        if (static_cast<int>(i) != me || ps.cur != self) inconsistent_.fetch_add(1, std::memory_order_relaxed);
        b.event(kEvGoSched, t, {0});
        set_state(ps.cur, kGRunnable);
        ps.cur = nullptr;
      }
      if (ps.sweeping) {
        b.event(kEvGCSweepDone, t, {0, 0});
        ps.sweeping = false;
      }
      if (ps.started) {
        b.event(kEvProcStop, t, {});
        ps.started = false;
      }
    });
  }
}

// flush_all queues every partly filled buffer (§9 stop step 2). Nobody
// else writes: the observer is detached, or (a cut) the world is stopped
// and the caller holds nop_mu_ and cpu_mu_.
void Tracer::flush_all() {
  for (PState& ps : ps_) {
    if (ps.buf != nullptr) enqueue(ps.buf);
    ps.buf = nullptr;
  }
  if (nop_buf_ != nullptr) enqueue(nop_buf_);
  nop_buf_ = nullptr;
  if (cpu_buf_ != nullptr) enqueue(cpu_buf_);
  cpu_buf_ = nullptr;
}

// SideBatches collects events written outside the streams — a cut's
// prologue and epilogue — as batches of one P, at one time.
class SideBatches final {
 public:
  SideBatches(uint64_t p, int64_t ts) : p_(p), ts_(ts) {}
  // room returns a buffer with room for `need` bytes.
  TraceBuffer& room(size_t need) {
    if (bufs_.empty() || !bufs_.back()->has_room(need)) {
      bufs_.push_back(std::make_unique<TraceBuffer>());
      bufs_.back()->reset(p_, ts_);
    }
    return *bufs_.back();
  }
  int64_t ts() const { return ts_; }
  void append_to(std::string* out) const {
    for (const auto& b : bufs_)
      if (!b->empty_batch()) out->append(b->bytes());
  }

 private:
  uint64_t p_;
  int64_t ts_;
  std::vector<std::unique_ptr<TraceBuffer>> bufs_;
};

// cut marks a point where a trace file cut from this stream may begin or
// end (ExecutionTracer::cut). World stopped, no GC cycle running: the only
// goroutine running in the trace is the caller, on its P; every other P is
// stopped. P-less transitions are held off (pless_mu_) for the whole cut.
//
// Nothing is written into the streams, which go on as if nothing happened:
// the batches so far are handed out whole (`before`), and the prologue and
// epilogue are side batches a file puts around the stream bytes it takes.
// The prologue declares the trace state at the cut exactly as a start
// snapshot would (so its sequence numbers start again from 0 or 1); the
// seq table tells the file writer how to renumber the stream's later
// events of each declared goroutine to follow on from the prologue.
void Tracer::cut(int64_t ts, uint64_t heap_live, uint64_t heap_goal, ExecutionTracer::Cut* out) {
  std::lock_guard<std::mutex> pless(pless_mu_);
  G* self = gort::current_g();
  const int me = gort::current_p_index();
  out->ts = ts;
  out->gc_seq = gc_seq_;  // no cycle runs (gc::hold_cycles)
  {
    std::lock_guard<std::mutex> nop(nop_mu_);
    std::lock_guard<std::mutex> cpu(cpu_mu_);
    flush_all();
  }
  take(&out->before);

  // Epilogue: what stop would close at this moment, without changing the
  // state (the stream goes on).
  for (size_t i = 0; i < ps_.size(); i++) {
    const PState& ps = ps_[i];
    if (ps.cur == nullptr && !ps.sweeping && !ps.started) continue;
    if (static_cast<int>(i) != me || (ps.cur != nullptr && ps.cur != self))
      inconsistent_.fetch_add(1, std::memory_order_relaxed);
    SideBatches side(i, ts);
    TraceBuffer& b = side.room(4 * kMaxEventBytes);
    if (ps.cur != nullptr) b.event(kEvGoSched, ts, {0});
    if (ps.sweeping) b.event(kEvGCSweepDone, ts, {0, 0});
    if (ps.started) b.event(kEvProcStop, ts, {});
    side.append_to(&out->epilogue);
  }

  // Prologue: the start snapshot's declarations, from the tracer's own
  // view of each goroutine (what the stream so far says).
  SideBatches side(static_cast<uint64_t>(me), ts);
  const gort::ThreadInfo* thread = gort::current_thread();
  side.room(kMaxEventBytes)
      .event(kEvProcStart, ts, {thread != nullptr ? static_cast<uint64_t>(thread->m_id) : 0});
  uint64_t self_base = 0;
  gort::for_each_goroutine([&](G* g) {
    gort::TraceSlot& slot = gort::trace_slot(g);
    uint64_t w = slot.word.load(std::memory_order_acquire);
    if (gen_of(w) != gen_) return;  // not in this trace (dead before it, or an idle record)
    GState st = state_of(w);
    uint8_t extra = 0;
    switch (st) {
      case kGRunnable: break;
      case kGWaiting: extra = kEvGoWaiting; break;
      case kGSysBlocked: extra = kEvGoInSyscall; break;
      case kGRunning:
      case kGSyscall:
        if (g == self) break;
        inconsistent_.fetch_add(1, std::memory_order_relaxed);  // only the caller runs now
        if (st == kGSyscall) extra = kEvGoInSyscall;
        break;
      default: return;  // dead, or claimed by no start (cannot be)
    }
    uintptr_t gopc = gort::goroutine_info(g).gopc;
    uint32_t creator = gopc != 0 ? stacks_.put(&gopc, 1) : 0;
    TraceBuffer& b = side.room(2 * kMaxEventBytes);
    b.event(kEvGoCreate, ts, {goid(g), entry_stack(g), creator});
    if (extra != 0) b.event(extra, ts, {goid(g)});
    if (g == self) {
      self_base = slot.seq;
      return;
    }
    out->seqs.push_back({goid(g), slot.seq, extra != 0 ? 1u : 0u});
  });
  TraceBuffer& b = side.room(4 * kMaxEventBytes);
  b.event(kEvGoStart, ts, {goid(self), 1});
  out->seqs.push_back({goid(self), self_base, 1});
  b.event(kEvGomaxprocs, ts, {ps_.size(), 0});
  b.event(kEvHeapAlloc, ts, {heap_live});
  b.event(kEvHeapGoal, ts, {heap_goal});
  side.append_to(&out->prologue);
  std::sort(out->seqs.begin(), out->seqs.end(),
            [](const ExecutionTracer::Cut::Seq& a, const ExecutionTracer::Cut::Seq& b) { return a.goid < b.goid; });
}

// AnnotationScope keeps the tracer alive while user code (an annotation,
// a CPU-sample drain) writes into it: stop waits for g_annotators to drop
// to zero after unpublishing g_tracer. Free when no trace runs.
class AnnotationScope final {
 public:
  AnnotationScope() {
    if (g_tracer.load(std::memory_order_relaxed) == nullptr) return;
    g_annotators.fetch_add(1, std::memory_order_seq_cst);
    entered_ = true;
    t_ = g_tracer.load(std::memory_order_seq_cst);
  }
  ~AnnotationScope() {
    if (entered_) g_annotators.fetch_sub(1, std::memory_order_release);
  }
  Tracer* tracer() const { return t_; }

 private:
  Tracer* t_ = nullptr;
  bool entered_ = false;
};

std::mutex g_session_mu;  // start/stop serialization
Tracer* g_session = nullptr;  // guarded by g_session_mu: the trace being taken (also after stop until drained)

}  // namespace

// ---- ExecutionTracer ----

std::unique_ptr<ExecutionTracer> ExecutionTracer::start(std::string* why) {
  {
    std::lock_guard<std::mutex> l(g_session_mu);
    if (g_session != nullptr) {
      if (why) *why = "execution trace already in progress";
      return nullptr;
    }
    g_session = new Tracer(g_generation.fetch_add(1) + 1);
  }
  Tracer* t = g_session;
  gc::GcCounters counters = gc::read_gc_counters();
  gc::MemStats ms;
  gc::read_mem_stats(&ms);
  gc::hold_cycles();
  gort::stop_the_world("start tracing");
  t->t0_ = gort::event_clock_ns();
  gort::add_observer(t);
  t->snapshot(t->t0_, counters.heap_live, ms.next_gc);
  g_tracer.store(t, std::memory_order_seq_cst);
  gort::start_the_world();
  gc::release_cycles();
  return std::unique_ptr<ExecutionTracer>(new ExecutionTracer());
}

bool ExecutionTracer::running() {
  std::lock_guard<std::mutex> l(g_session_mu);
  return g_session != nullptr;
}

void ExecutionTracer::stop() {
  if (stopped_) return;
  stopped_ = true;
  Tracer* t = g_session;
  gc::hold_cycles();
  gort::stop_the_world("stop tracing");
  g_tracer.store(nullptr, std::memory_order_seq_cst);
  // Annotations run on goroutines, which cannot be between the checks
  // above and their writes while the world is stopped — except one that
  // began before and is past its own safepoints; wait for those.
  while (g_annotators.load(std::memory_order_acquire) != 0) gort::cpu_relax();
  t->close(gort::event_clock_ns());
  gort::remove_observer(t);
  t->flush_all();
  gort::start_the_world();
  gc::release_cycles();
}

void ExecutionTracer::cut(Cut* out) {
  *out = Cut{};
  Tracer* t = g_session;
  if (t == nullptr || stopped_) return;
  gc::GcCounters counters = gc::read_gc_counters();
  gc::MemStats ms;
  gc::read_mem_stats(&ms);
  gc::hold_cycles();
  gort::stop_the_world("trace cut");
  t->cut(gort::event_clock_ns(), counters.heap_live, ms.next_gc, out);
  gort::start_the_world();
  gc::release_cycles();
}

void ExecutionTracer::take_batches(std::string* out) {
  if (Tracer* t = g_session) t->take(out);
}

std::string ExecutionTracer::dictionaries_so_far() const {
  Tracer* t = g_session;
  return t != nullptr ? t->dictionaries() : std::string();
}

bool ExecutionTracer::read(std::string* out) {
  Tracer* t = g_session;
  if (drained_ || t == nullptr) return false;
  if (!header_sent_) {
    out->append(trace::kHeader);
    t->bytes_.fetch_add(trace::kHeader.size(), std::memory_order_relaxed);
    header_sent_ = true;
  }
  t->take(out);
  if (!stopped_) return true;
  std::string tail = t->dictionaries();
  t->bytes_.fetch_add(tail.size(), std::memory_order_relaxed);
  out->append(tail);
  drained_ = true;
  return true;
}

ExecutionTracer::Stats ExecutionTracer::stats() const {
  return g_session != nullptr ? g_session->stats() : Stats{};
}

ExecutionTracer::~ExecutionTracer() {
  stop();
  std::lock_guard<std::mutex> l(g_session_mu);
  delete g_session;
  g_session = nullptr;
}

// ---- annotations ----

TraceTask::TraceTask(std::string_view name, uint64_t parent) {
  AnnotationScope scope;
  Tracer* t = scope.tracer();
  if (t == nullptr) return;
  uint64_t id = g_next_task.fetch_add(1, std::memory_order_relaxed);
  uint64_t name_id = t->string_id(name);
  if (t->annotate([&](TraceBuffer& b, int64_t ts, uint32_t stk) {
        b.event(kEvUserTaskCreate, ts, {id, parent, name_id, stk});
      })) {
    id_ = id;
    trace_ = t->generation();
  }
}

TraceTask::~TraceTask() {
  if (id_ == 0) return;
  AnnotationScope scope;
  Tracer* t = scope.tracer();
  if (t != nullptr && t->generation() == trace_)
    t->annotate([&](TraceBuffer& b, int64_t ts, uint32_t stk) { b.event(kEvUserTaskEnd, ts, {id_, stk}); });
}

TraceRegion::TraceRegion(uint64_t task, std::string_view name) : task_(task) {
  AnnotationScope scope;
  Tracer* t = scope.tracer();
  if (t == nullptr) return;
  uint64_t name_id = t->string_id(name);
  if (t->annotate([&](TraceBuffer& b, int64_t ts, uint32_t stk) {
        b.event(kEvUserRegion, ts, {task_, 0, name_id, stk});
      })) {
    name_ = name_id;
    trace_ = t->generation();
  }
}

TraceRegion::~TraceRegion() {
  if (trace_ == 0) return;
  AnnotationScope scope;
  Tracer* t = scope.tracer();
  if (t != nullptr && t->generation() == trace_)
    t->annotate([&](TraceBuffer& b, int64_t ts, uint32_t stk) { b.event(kEvUserRegion, ts, {task_, 1, name_, stk}); });
}

void trace_log(uint64_t task, std::string_view key, std::string_view message) {
  AnnotationScope scope;
  Tracer* t = scope.tracer();
  if (t == nullptr) return;
  uint64_t key_id = t->string_id(key);
  if (message.size() > TraceBuffer::kBytes / 4) message = message.substr(0, TraceBuffer::kBytes / 4);
  t->annotate(
      [&](TraceBuffer& b, int64_t ts, uint32_t stk) {
        b.event(kEvUserLog, ts, {task, key_id, stk});
        b.varint(message.size());
        b.raw(message.data(), message.size());
      },
      kMaxVarintBytes + message.size());
}

void detail::trace_cpu_sample(int64_t ts, int p, int64_t goid, const uintptr_t* pcs, int n) {
  AnnotationScope scope;
  if (Tracer* t = scope.tracer()) t->cpu_sample(ts, p, goid, pcs, n);
}

}  // namespace profilers
