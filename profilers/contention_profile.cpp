// contention_profile.cpp — the block and mutex profiles (Go 1.19's
// blockevent, mutexevent and saveblockevent in runtime/mprof.go;
// writeBlock, writeMutex and printCountCycleProfile in runtime/pprof).
//
// Events come from the runtime's contention hooks (runtime/observer.h):
//   block  on_block runs on the goroutine that resumes after waiting in a
//          channel operation, a select or a sync primitive, with the time
//          from queueing to being readied. Go leaves sleeps and network
//          waits out of its block profile; so does in_block_profile.
//          Sampling is Go's blocksampled: an event of at least `rate` ns
//          is always recorded; a shorter one of d ns with probability
//          d/rate, and then counted as rate/d events of rate ns in total,
//          which removes the bias toward long waits (Go CL 299991).
//   mutex  on_mutex runs on the goroutine that unlocks a Mutex or RWMutex
//          and wakes a waiter, with the delay that waiter accumulated; 1
//          in `fraction` events (fastrand) is recorded, unscaled; the
//          profile multiplies by the fraction when it is read (Go's
//          scaleMutexProfile). The delay is charged to the unlocker — the
//          code that held the lock is what made others wait.
// Both hooks capture the stack where they run: the first frame is the
// runtime function that called the hook (gort::Sema::acquire_slow, a
// channel's receive, Sema::release …), then the sync or channel API
// function, then the user's code — as Go users see runtime.chanrecv1 or
// sync.(*Mutex).Unlock above their own frames.
//
// Records live in the shared bucket table (bucket_table.h) as Go's
// blockRecord: a float count and the total delay, relaxed atomics, no
// lock on the hook path. Go counts delays in CPU ticks (cputicks) and
// converts with cycles/second; gort measures nanoseconds throughout, so
// the text form says cycles/second=1000000000 and its "cycles" are ns.
#include "profilers/contention_profile.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <ctime>
#include <thread>

#include "profilers/bucket_table.h"
#include "profilers/stack_text.h"
#include "runtime/observer.h"
#include "runtime/stackwalk.h"

namespace profilers {

namespace {

// kNsPerSecond is the text form's cycles/second: gort's delays are ns.
constexpr int64_t kNsPerSecond = 1'000'000'000;

std::atomic<int64_t> g_block_rate_ns{0};  // atomic: Go's blockprofilerate (in ns here)
std::atomic<int64_t> g_mutex_fraction{0};  // atomic: Go's mutexprofilerate

// fastrand is a per-thread xorshift (Go's fastrand): cheap, no lock.
uint32_t fastrand() {
  thread_local uint64_t s = [] {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t seed = std::hash<std::thread::id>{}(std::this_thread::get_id()) ^ uint64_t(ts.tv_nsec) * 0x9e3779b97f4a7c15ull;
    return seed ? seed : 0x2545f4914f6cdd1dull;
  }();
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return static_cast<uint32_t>(s >> 32);
}

// in_block_profile reports whether a wait for reason is one Go's block
// profile records: channels, select, and the sync primitives.
bool in_block_profile(gort::WaitReason r) {
  using W = gort::WaitReason;
  switch (r) {
    case W::ChanReceive:
    case W::ChanSend:
    case W::ChanReceiveNilChan:
    case W::ChanSendNilChan:
    case W::Select:
    case W::SelectNoCases:
    case W::SyncMutexLock:
    case W::SyncRWMutexRLock:
    case W::SyncRWMutexLock:
    case W::SyncWaitGroupWait:
    case W::SyncCondWait:
    case W::Semacquire:
      return true;
    default:
      return false;
  }
}

// on_block is Go's blockevent + saveblockevent for the block profile.
void on_block(int64_t delay_ns, gort::WaitReason reason) {
  if (!in_block_profile(reason)) return;
  if (delay_ns <= 0) delay_ns = 1;
  int64_t rate = g_block_rate_ns.load(std::memory_order_relaxed);
  // Go's blocksampled.
  if (rate <= 0 || (rate > delay_ns && static_cast<int64_t>(fastrand()) % rate > delay_ns)) return;
  uintptr_t pcs[kMaxStackDepth + 2];
  int n = gort::capture_stack(pcs, kMaxStackDepth + 2, 0);
  n = std::min(kMaxStackDepth, start_at_return_address(pcs, n, reinterpret_cast<uintptr_t>(__builtin_return_address(0))));
  Bucket* b = find_bucket(BucketKind::Block, pcs, n, 0);
  if (b == nullptr) return;
  if (delay_ns < rate) {
    b->block.count.fetch_add(static_cast<double>(rate) / static_cast<double>(delay_ns), std::memory_order_relaxed);
    b->block.delay_ns.fetch_add(rate, std::memory_order_relaxed);
  } else {
    b->block.count.fetch_add(1, std::memory_order_relaxed);
    b->block.delay_ns.fetch_add(delay_ns, std::memory_order_relaxed);
  }
}

// on_mutex is Go's mutexevent + saveblockevent for the mutex profile.
void on_mutex(int64_t delay_ns, gort::WaitReason /*reason*/) {
  if (delay_ns < 0) delay_ns = 0;
  int64_t rate = g_mutex_fraction.load(std::memory_order_relaxed);
  if (rate <= 0 || static_cast<int64_t>(fastrand()) % rate != 0) return;
  uintptr_t pcs[kMaxStackDepth + 2];
  int n = gort::capture_stack(pcs, kMaxStackDepth + 2, 0);
  n = std::min(kMaxStackDepth, start_at_return_address(pcs, n, reinterpret_cast<uintptr_t>(__builtin_return_address(0))));
  Bucket* b = find_bucket(BucketKind::Mutex, pcs, n, 0);
  if (b == nullptr) return;
  b->block.count.fetch_add(1, std::memory_order_relaxed);
  b->block.delay_ns.fetch_add(delay_ns, std::memory_order_relaxed);
}

// BlockRecord is Go's runtime.BlockProfileRecord.
struct BlockRecord {
  int64_t count = 0;
  int64_t cycles = 0;  // ns
  std::vector<uintptr_t> stack;
};

// read_records is Go's runtime.BlockProfile / MutexProfile, sorted by
// delay as writeProfileInternal sorts them.
std::vector<BlockRecord> read_records(BucketKind kind) {
  std::vector<BlockRecord> out;
  for_each_bucket(kind, [&](Bucket& b) {
    BlockRecord r;
    r.count = static_cast<int64_t>(b.block.count.load(std::memory_order_relaxed));
    if (r.count == 0) r.count = 1;  // Go: spare callers a division by zero
    r.cycles = b.block.delay_ns.load(std::memory_order_relaxed);
    r.stack.assign(b.stk, b.stk + b.nstk);
    out.push_back(std::move(r));
  });
  std::reverse(out.begin(), out.end());  // oldest first, then by delay: a stable order
  std::stable_sort(out.begin(), out.end(), [](const BlockRecord& a, const BlockRecord& b) { return a.cycles > b.cycles; });
  return out;
}

int64_t unix_now_ns() {
  timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// count_cycle_profile is Go's printCountCycleProfile with a scale factor
// (1 for block, the mutex fraction for mutex).
Profile count_cycle_profile(BucketKind kind, int64_t scale) {
  Profile p;
  p.time_nanos = unix_now_ns();
  p.period_type = {"contentions", "count"};
  p.period = 1;
  p.sample_types = {{"contentions", "count"}, {"delay", "nanoseconds"}};
  for (BlockRecord& r : read_records(kind)) {
    Sample s;
    s.values = {r.count * scale, r.cycles * scale};
    s.stack = std::move(r.stack);
    p.samples.push_back(std::move(s));
  }
  return p;
}

// count_cycle_text is writeProfileInternal's debug=1 form.
std::string count_cycle_text(BucketKind kind, const char* name, bool with_period) {
  std::string out = std::string("--- ") + name + ":\n";
  out += "cycles/second=" + std::to_string(kNsPerSecond) + "\n";
  if (with_period) out += "sampling period=" + std::to_string(g_mutex_fraction.load()) + "\n";
  for (const BlockRecord& r : read_records(kind)) {
    out += std::to_string(r.cycles) + " " + std::to_string(r.count) + " @";
    char buf[32];
    for (uintptr_t pc : r.stack) {
      std::snprintf(buf, sizeof buf, " %#lx", static_cast<unsigned long>(pc));
      out += buf;
    }
    out += '\n';
    append_stack_record(out, r.stack, /*all_frames=*/true);  // Go: printStackRecord(w, stk, true)
  }
  return out;
}

}  // namespace

void set_block_profile_rate(int64_t rate_ns) {
  if (rate_ns < 0) rate_ns = 0;
  g_block_rate_ns.store(rate_ns, std::memory_order_relaxed);
  gort::set_block_hook(rate_ns > 0 ? &on_block : nullptr);
}

int64_t block_profile_rate() { return g_block_rate_ns.load(std::memory_order_relaxed); }

int set_mutex_profile_fraction(int n) {
  if (n < 0) return static_cast<int>(g_mutex_fraction.load(std::memory_order_relaxed));
  int64_t old = g_mutex_fraction.exchange(n, std::memory_order_relaxed);
  gort::set_mutex_hook(n > 0 ? &on_mutex : nullptr);
  return static_cast<int>(old);
}

Profile block_profile() { return count_cycle_profile(BucketKind::Block, 1); }

// Go's scaleMutexProfile multiplies by the fraction in force now, so with
// the profile off (0) every value reads 0, as in Go.
Profile mutex_profile() { return count_cycle_profile(BucketKind::Mutex, g_mutex_fraction.load(std::memory_order_relaxed)); }

std::string block_profile_text() { return count_cycle_text(BucketKind::Block, "contention", false); }

std::string mutex_profile_text() { return count_cycle_text(BucketKind::Mutex, "mutex", true); }

}  // namespace profilers
