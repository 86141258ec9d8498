// cpu_profiler.cpp — SIGPROF sampling of every runtime thread (Go 1.18+'s
// per-thread CPU timers, runtime/os_linux.go setThreadCPUProfiler).
//
// Timers. Each runtime thread (threads.h: the Ms and sysmon) gets its own
// POSIX timer on its own CPU-time clock, delivering SIGPROF to that very
// thread (SIGEV_THREAD_ID): a thread is sampled in proportion to the CPU it
// burns, and the signal lands on the thread that was running, so the
// handler can unwind the interrupted code. (The older process-wide
// setitimer(ITIMER_PROF) sends the signal to whichever thread the kernel
// picks, and at high thread counts under-samples — Go issue 35057.) Threads
// already running when the profile starts get their timer from the
// starting goroutine (pthread_getcpuclockid names another thread's clock);
// threads starting later create theirs in the observer's on_thread_start,
// on the thread itself; on_thread_exit deletes it. The first tick is
// randomized within one period so that threads started together do not
// tick together. A SIGPROF whose si_code is not SI_TIMER (someone's
// setitimer, a kill) is ignored, as Go's validSIGPROF does.
//
// The handler. Runs on the interrupted thread (on its alternate signal
// stack), so it must not allocate, lock or call anything that might; it
// reads the interrupted rip/rbp/rsp from the ucontext and decides which
// stack the thread was on by the stack pointer:
//   - the running goroutine's stack (signal_view, checked against its
//     bounds): walk its frame pointers within them; the goroutine's labels
//     are copied into the sample (current_labels_for_signal);
//   - the thread's own stack (g0 — the scheduler, the netpoller, sysmon):
//     walk within it, and end the stack with the synthetic root frame
//     runtime::_System(), Go's name for time spent in the runtime's own
//     thread code, so `pprof -top` shows scheduler overhead as one root;
//   - anything else (a stack we do not know — a library's thread code, or
//     the middle of a stack switch): the interrupted PC alone, under
//     runtime::_ExternalCode(), as Go attributes code it cannot unwind.
// A stack is never dropped silently.
//
// The buffer. A fixed array of sample slots, each claimed by a writer with
// one compare-and-swap (empty → writing → full) starting at a slot chosen by
// a fetch_add; a writer that finds eight slots in a row taken counts the
// sample as lost. The reader (drain, on a goroutine) scans every slot and
// takes the full ones. No order between samples is needed: the profile is
// an aggregate. Rejected: a per-thread ring (threads come and go while the
// profile runs, and the handler would need to find its ring without a
// lock); Go's profBuf (a single-writer log that Go serializes with a
// per-M signal lock — more machinery than an unordered aggregate needs).
#include "profilers/cpu_profiler.h"

#include <signal.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <tuple>
#include <unordered_map>

#include "profilers/tracer.h"
#include "runtime/base.h"
#include "runtime/gort.h"
#include "runtime/observer.h"
#include "runtime/scan.h"
#include "runtime/stackwalk.h"
#include "runtime/threads.h"

// Synthetic root frames, named as Go names them (runtime/proto.go, pprof
// shows runtime._System and runtime._ExternalCode). Their addresses are
// only ever symbolized, never called through.
namespace runtime {
__attribute__((noinline, used)) void _System() { asm volatile(""); }
__attribute__((noinline, used)) void _ExternalCode() { asm volatile(""); }
__attribute__((noinline, used)) void _LostProfileData() { asm volatile(""); }
}  // namespace runtime

namespace profilers {

namespace {

constexpr int kMaxStackDepth = 64;    // Go's maxCPUProfStack
constexpr int kMaxLabelBytes = 256;   // label text kept per sample ("k\0v\0…")
constexpr int kSlots = 4096;          // ~20 thread-seconds at 100 Hz between drains
constexpr int kProbeSlots = 8;        // slots a writer tries before counting a loss

enum SlotState : uint32_t { kEmpty = 0, kWriting = 1, kFull = 2 };

struct SampleSlot {
  std::atomic<uint32_t> state{kEmpty};
  int64_t ts = 0;     // nanotime() of the signal, for the execution tracer
  int64_t goid = 0;   // interrupted goroutine (0: none)
  int32_t p = -1;     // its P (-1: none)
  int16_t depth = 0;
  int16_t label_bytes = 0;
  uintptr_t pcs[kMaxStackDepth];
  char labels[kMaxLabelBytes];
};

// The profile in progress, shared by the handler and the session. Slots are
// allocated once and kept: a late signal may still touch them after stop.
SampleSlot* g_slots = nullptr;
std::atomic<uint32_t> g_next_slot{0};    // atomic; where the next writer starts probing
std::atomic<uint64_t> g_lost{0};         // atomic; samples that found no free slot
std::atomic<bool> g_active{false};       // atomic; the handler records only while set
std::atomic<bool> g_running{false};      // atomic; a session exists (one at a time)
std::atomic<int> g_hz{0};                // atomic; rate of the session

uintptr_t frame_pc(void (*f)()) { return reinterpret_cast<uintptr_t>(f) + 1; }

// copy_labels writes "k\0v\0" pairs into out, stopping at a pair that does
// not fit; returns the bytes used.
int copy_labels(const gort::LabelSet* set, char* out) {
  if (set == nullptr) return 0;
  int n = 0;
  for (const auto& [k, v] : *set) {
    size_t need = k.size() + v.size() + 2;
    if (n + need > static_cast<size_t>(kMaxLabelBytes)) break;
    std::memcpy(out + n, k.data(), k.size());
    n += static_cast<int>(k.size());
    out[n++] = '\0';
    std::memcpy(out + n, v.data(), v.size());
    n += static_cast<int>(v.size());
    out[n++] = '\0';
  }
  return n;
}

// unwind fills pcs for the interrupted context (see the file comment).
GORT_CONSERVATIVE_SCAN int unwind(const ucontext_t* uc, uintptr_t* pcs, bool* on_goroutine, int64_t* goid) {
  auto pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  auto fp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RBP]);
  auto sp = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RSP]);
  gort::SignalView v;
  gort::signal_view(&v);
  *goid = v.goid;
  int n = 0;
  pcs[n++] = pc + 1;  // not a return address: see profile.h
  *on_goroutine = false;
  if (v.g != nullptr && sp >= v.g_stack_lo && sp < v.g_stack_hi) {
    *on_goroutine = true;
    // A leaf without a frame of its own yet (prologue, or compiled without
    // one) has rbp still pointing at its caller's frame: the walk then
    // starts one frame up, which loses nothing but the leaf's caller.
    n += gort::walk_frame_pointers(fp, sp, v.g_stack_hi, pcs + n, kMaxStackDepth - n);
    return n;
  }
  if (v.thread != nullptr && sp >= v.thread->stack_lo && sp < v.thread->stack_hi) {
    n += gort::walk_frame_pointers(fp, sp, v.thread->stack_hi, pcs + n, kMaxStackDepth - 1 - n);
    pcs[n++] = frame_pc(&runtime::_System);
    return n;
  }
  pcs[n++] = frame_pc(&runtime::_ExternalCode);
  return n;
}

GORT_CONSERVATIVE_SCAN void on_sigprof(int, siginfo_t* info, void* ctx) {
  if (info->si_code != SI_TIMER || !g_active.load(std::memory_order_acquire)) return;
  int saved_errno = errno;
  uint32_t start = g_next_slot.fetch_add(1, std::memory_order_relaxed);
  SampleSlot* slot = nullptr;
  for (int i = 0; i < kProbeSlots; i++) {
    SampleSlot* s = &g_slots[(start + i) % kSlots];
    uint32_t expect = kEmpty;
    if (s->state.compare_exchange_strong(expect, kWriting, std::memory_order_acquire)) {
      slot = s;
      break;
    }
  }
  if (slot == nullptr) {
    g_lost.fetch_add(1, std::memory_order_relaxed);
    errno = saved_errno;
    return;
  }
  bool on_goroutine = false;
  slot->ts = gort::nanotime();
  slot->depth = static_cast<int16_t>(unwind(static_cast<const ucontext_t*>(ctx), slot->pcs, &on_goroutine, &slot->goid));
  slot->p = on_goroutine ? gort::current_p_index() : -1;
  slot->label_bytes = on_goroutine ? static_cast<int16_t>(copy_labels(gort::current_labels_for_signal(), slot->labels)) : 0;
  slot->state.store(kFull, std::memory_order_release);
  errno = saved_errno;
}

// ThreadTimers owns the per-thread POSIX timers of the running profile.
class ThreadTimers final : public gort::SchedObserver {
 public:
  void on_thread_start(int64_t, const gort::ThreadInfo& t) override { arm(t, CLOCK_THREAD_CPUTIME_ID); }
  void on_thread_exit(int64_t, const gort::ThreadInfo& t) override { disarm(t.tid); }

  // arm_existing gives every registered thread its timer. Threads that
  // start meanwhile get theirs from on_thread_start (the observer is
  // attached first); arm ignores a thread that already has one.
  void arm_existing() {
    gort::for_each_thread([this](const gort::ThreadInfo& t) {
      clockid_t clock;
      if (pthread_getcpuclockid(t.handle, &clock) == 0) arm(t, clock);
    });
  }

  void disarm_all() {
    std::lock_guard<std::mutex> l(mu_);
    for (auto& [tid, timer] : timers_) timer_delete(timer);
    timers_.clear();
  }

 private:
  void arm(const gort::ThreadInfo& t, clockid_t clock) {
    int hz = g_hz.load(std::memory_order_relaxed);
    if (hz <= 0) return;
    std::lock_guard<std::mutex> l(mu_);
    if (timers_.count(t.tid) != 0) return;
    sigevent sev{};
    sev.sigev_notify = SIGEV_THREAD_ID;
    sev.sigev_signo = SIGPROF;
    sev._sigev_un._tid = t.tid;
    timer_t timer;
    if (timer_create(clock, &sev, &timer) != 0) return;
    int64_t period_ns = 1'000'000'000 / hz;
    itimerspec spec{};
    int64_t first_ns = 1 + static_cast<int64_t>(gort::fastrandn(static_cast<uint32_t>(period_ns)));
    spec.it_value.tv_sec = first_ns / 1'000'000'000;
    spec.it_value.tv_nsec = first_ns % 1'000'000'000;
    spec.it_interval.tv_sec = period_ns / 1'000'000'000;
    spec.it_interval.tv_nsec = period_ns % 1'000'000'000;
    if (timer_settime(timer, 0, &spec, nullptr) != 0) {
      timer_delete(timer);
      return;
    }
    timers_.emplace(t.tid, timer);
  }
  void disarm(pid_t tid) {
    std::lock_guard<std::mutex> l(mu_);
    auto it = timers_.find(tid);
    if (it == timers_.end()) return;
    timer_delete(it->second);
    timers_.erase(it);
  }

  std::mutex mu_;  // leaf: guards timers_
  std::unordered_map<pid_t, timer_t> timers_;
};

ThreadTimers g_timers;

void install_handler_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    g_slots = new SampleSlot[kSlots];
    struct sigaction sa{};
    sa.sa_sigaction = &on_sigprof;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGPROF, &sa, nullptr);
  });
}

int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct CpuProfiler::Aggregate {
  using Key = std::tuple<std::vector<uintptr_t>, Labels>;
  std::map<Key, int64_t> counts;
  uint64_t lost_at_start = 0;
};

CpuProfiler::CpuProfiler(int hz)
    : hz_(hz), start_wall_ns_(wall_ns()), start_mono_ns_(gort::nanotime()), agg_(std::make_unique<Aggregate>()) {}

std::unique_ptr<CpuProfiler> CpuProfiler::start(int hz, std::string* why) {
  if (hz <= 0 || hz > kMaxHz) {
    *why = "cpu profile rate must be between 1 and " + std::to_string(kMaxHz) + " Hz";
    return nullptr;
  }
  bool expect = false;
  if (!g_running.compare_exchange_strong(expect, true)) {
    *why = "cpu profiling already in use";
    return nullptr;
  }
  install_handler_once();
  std::unique_ptr<CpuProfiler> p(new CpuProfiler(hz));
  // A signal of the previous profile that was still in its handler when
  // that profile stopped may have left a sample behind: discard it.
  p->drain();
  p->agg_->counts.clear();
  p->agg_->lost_at_start = g_lost.load();
  g_hz.store(hz);
  g_active.store(true, std::memory_order_release);
  gort::add_observer(&g_timers);
  g_timers.arm_existing();
  return p;
}

bool CpuProfiler::running() { return g_running.load(); }

void CpuProfiler::drain() {
  for (int i = 0; i < kSlots; i++) {
    SampleSlot& s = g_slots[i];
    if (s.state.load(std::memory_order_acquire) != kFull) continue;
    // A running execution trace gets every sample as an event (Go 1.19's
    // CPUSample); a no-op otherwise.
    detail::trace_cpu_sample(s.ts, s.p, s.goid, s.pcs, s.depth);
    std::vector<uintptr_t> stack(s.pcs, s.pcs + s.depth);
    Labels labels;
    for (int at = 0; at < s.label_bytes;) {
      std::string k(s.labels + at);
      at += static_cast<int>(k.size()) + 1;
      std::string v(s.labels + at);
      at += static_cast<int>(v.size()) + 1;
      labels.emplace_back(std::move(k), std::move(v));
    }
    s.state.store(kEmpty, std::memory_order_release);
    agg_->counts[{std::move(stack), std::move(labels)}]++;
  }
}

Profile CpuProfiler::stop() {
  if (!stopped_) {
    stopped_ = true;
    stop_mono_ns_ = gort::nanotime();
    gort::remove_observer(&g_timers);
    g_timers.disarm_all();
    g_active.store(false, std::memory_order_release);
    // A signal already in flight may still be writing a slot; the next
    // drain (this one, or the next profile's) collects it.
    drain();
    g_running.store(false);
  }
  return snapshot();
}

Profile CpuProfiler::snapshot() const {
  Profile p;
  int64_t period_ns = 1'000'000'000 / hz_;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.period_type = {"cpu", "nanoseconds"};
  p.period = period_ns;
  p.time_nanos = start_wall_ns_;
  p.duration_nanos = (stopped_ ? stop_mono_ns_ : gort::nanotime()) - start_mono_ns_;
  for (const auto& [key, n] : agg_->counts) {
    Sample s;
    s.stack = std::get<0>(key);
    s.labels = std::get<1>(key);
    s.values = {n, n * period_ns};
    p.samples.push_back(std::move(s));
  }
  auto lost = static_cast<int64_t>(g_lost.load() - agg_->lost_at_start);
  if (lost > 0) {
    Sample s;
    s.stack = {frame_pc(&runtime::_LostProfileData)};
    s.values = {lost, lost * period_ns};
    p.samples.push_back(std::move(s));
  }
  return p;
}

CpuProfiler::~CpuProfiler() {
  if (!stopped_) stop();
}

}  // namespace profilers
