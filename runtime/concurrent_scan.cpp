// concurrent_scan.cpp — the runtime's side of a concurrent mark (scan.h):
// scanning each goroutine's stack once per cycle while goroutines run, the
// transfer barrier, the collector's mark-worker source and its per-goroutine
// word.
//
// The scan protocol. A G's scan_gen holds the cycle whose scan of its stack
// is done; kScanBusy is set while somebody scans it. A stack may only be
// scanned while its G is stopped at a safepoint (scan.h explains why that
// sees every pointer it holds, registers included), and it must not start
// running mid-scan. Two parties race for the scan:
//   - a mark worker (scan_stack) claims the G by CAS to gen|busy, then reads
//     its status; a running G has no stable stack, so it gives the claim
//     back (restoring the old value) and the G is scanned later;
//   - the M about to resume the G (start_running) stores status Running,
//     then — with a full fence — reads scan_gen: busy means a worker is
//     scanning, and it waits for the worker to finish; not done means it
//     claims and scans the stack itself, from the saved context, before the
//     G runs. A G leaving a BlockingSection does the same (it runs already,
//     so it scans its own live stack).
// The two sides are Dekker's: status store, fence, scan_gen load against
// scan_gen RMW, status load — either the worker sees Running (and backs
// off) or the M sees the claim (and waits), never neither. A G inside a
// BlockingSection has status Syscall while it runs below the stack pointer
// it recorded: the worker scans the frozen part above it, and the G's exit
// waits for that scan.
#include <sched.h>

#include "runtime/scan.h"
#include "runtime/sched_internal.h"

namespace gort {

std::atomic<TransferBarrier> g_transfer_barrier{nullptr};
std::atomic<bool> g_scans_active{false};  // between begin_ and end_stack_scans

namespace {

constexpr uint32_t kScanBusy = uint32_t{1} << 31;

std::atomic<uint32_t> scan_gen_now{0};       // the cycle's gen (world stopped to write)
std::atomic<StackScanFn> scan_fn{nullptr};
std::atomic<WorkerSource> worker_source{nullptr};
std::atomic<void (*)()> exit_hook{nullptr};

// switched_out_range is the range of a G whose context is saved (status
// Runnable/Waiting, or Running but not yet resumed).
bool switched_out_range(const G* g, StackScanRange* out) {
  *out = StackScanRange{};
  auto ctx = reinterpret_cast<uintptr_t>(g->ctx);
  if (ctx < g->stack.lo || ctx >= g->stack.hi) return false;
  out->lo = ctx & ~uintptr_t{7};
  out->hi = g->stack.hi;
  return true;
}

// claim_waiting: the G's own side. Waits out a worker's scan; returns the
// old value it replaced with gen|busy, or gen when the scan is done.
uint32_t claim_waiting(G* g, uint32_t gen) {
  uint32_t v = g->scan_gen.load(std::memory_order_acquire);
  for (;;) {
    if (v == gen) return gen;
    if (v & kScanBusy) {
      sched_yield();
      v = g->scan_gen.load(std::memory_order_acquire);
      continue;
    }
    if (g->scan_gen.compare_exchange_weak(v, gen | kScanBusy, std::memory_order_acq_rel)) return v;
  }
}

void own_range_scan(const StackScanRange& r, void*) { scan_fn.load(std::memory_order_relaxed)(r); }

}  // namespace

void begin_stack_scans(uint32_t gen, StackScanFn fn) {
  if (gen == 0 || (gen & kScanBusy)) GORT_THROW("begin_stack_scans: bad generation");
  scan_fn.store(fn, std::memory_order_relaxed);
  scan_gen_now.store(gen, std::memory_order_relaxed);
  g_scans_active.store(true, std::memory_order_release);
}

void end_stack_scans() { g_scans_active.store(false, std::memory_order_release); }

bool scan_stack(G* g) {
  const uint32_t gen = scan_gen_now.load(std::memory_order_relaxed);
  uint32_t v = g->scan_gen.load(std::memory_order_acquire);
  if (v == gen) return true;
  if (v & kScanBusy) return false;
  if (!g->scan_gen.compare_exchange_strong(v, gen | kScanBusy, std::memory_order_seq_cst)) return v == gen;
  GStatus s = g->status.load(std::memory_order_seq_cst);
  StackScanRange r;
  if (s == GStatus::Idle || s == GStatus::Dead || !stack_scan_range(g, &r)) {
    // A free record has nothing to scan (a spawn claims it for itself:
    // note_new_stack), and a running G cannot be scanned: give it back.
    g->scan_gen.store(v, std::memory_order_release);
    return s == GStatus::Idle || s == GStatus::Dead;
  }
  scan_fn.load(std::memory_order_relaxed)(r);
  g->scan_gen.store(gen, std::memory_order_release);
  return true;
}

bool stack_scanned(const G* g) {
  GStatus s = g->status.load(std::memory_order_acquire);
  if (s == GStatus::Idle || s == GStatus::Dead) return true;
  return g->scan_gen.load(std::memory_order_acquire) == scan_gen_now.load(std::memory_order_relaxed);
}

void request_stack_scan(G* g) {
  if (g->status.load(std::memory_order_relaxed) == GStatus::Running) g->preempt.store(true, std::memory_order_relaxed);
}

// claim_own_scan: the goroutine's own side (its M resuming it, or the
// goroutine itself). Returns true, holding the claim, when the stack still
// needs this cycle's scan; the caller scans and then stores *gen. Waits out
// a worker's scan in progress; the fence is the M's half of Dekker's
// handshake (status Running is stored before it).
bool claim_own_scan(G* g, uint32_t* gen) {
  std::atomic_thread_fence(std::memory_order_seq_cst);
  *gen = scan_gen_now.load(std::memory_order_relaxed);
  if (g->scan_gen.load(std::memory_order_acquire) == *gen) return false;  // acquire: after the scanner's reads
  return claim_waiting(g, *gen) != *gen;
}

// scan_before_resume_slow: start_running's check while a mark runs (g's
// status is Running, its context saved, and it has not run yet).
void scan_before_resume_slow(G* g) {
  uint32_t gen;
  if (!claim_own_scan(g, &gen)) return;
  StackScanRange r;
  if (switched_out_range(g, &r)) scan_fn.load(std::memory_order_relaxed)(r);
  g->scan_gen.store(gen, std::memory_order_release);
}

void scan_own_stack_once() {
  G* g = detail::curg();
  if (g == nullptr || !g_scans_active.load(std::memory_order_acquire)) return;
  uint32_t gen;
  if (!claim_own_scan(g, &gen)) return;
  scan_own_stack(&own_range_scan, nullptr);
  g->scan_gen.store(gen, std::memory_order_release);
}

// note_new_stack: a goroutine being spawned during a mark counts as scanned
// once its closure — everything on its stack — is shaded.
void note_new_stack(G* g) {
  if (!g_scans_active.load(std::memory_order_acquire)) {
    g->scan_gen.store(0, std::memory_order_relaxed);
    return;
  }
  // Shaded whatever scan_gen says (the record may have been scanned in an
  // earlier life this cycle); the claim waits out a worker that is looking
  // at the free record.
  const uint32_t gen = scan_gen_now.load(std::memory_order_relaxed);
  auto lo = reinterpret_cast<uintptr_t>(g->arg);
  transfer_barrier(g->arg, g->stack.hi - lo);
  claim_waiting(g, gen);
  g->scan_gen.store(gen, std::memory_order_release);
}

void set_transfer_barrier(TransferBarrier fn) { g_transfer_barrier.store(fn, std::memory_order_relaxed); }

void set_worker_source(WorkerSource fn) { worker_source.store(fn, std::memory_order_release); }

void set_start_label(G* g, const char* label) { g->start_label = label; }
const char* start_label(const G* g) { return g->start_label; }

G* find_gc_worker(P* p, bool idle) {
  WorkerSource fn = worker_source.load(std::memory_order_acquire);
  if (fn == nullptr) return nullptr;
  G* g = fn(p->id, idle);
  if (g != nullptr) make_ready(g, nullptr);
  return g;
}

GORT_TLS_READER bool local_work_pending() {
  M* m = tls_m;
  P* p = m != nullptr ? m->p : nullptr;
  return (p != nullptr && !runq_empty(p)) || sched.runqsize.load(std::memory_order_relaxed) > 0;
}

void set_exit_hook(void (*fn)()) { exit_hook.store(fn, std::memory_order_release); }

void run_exit_hook() {
  g_scans_active.store(false, std::memory_order_relaxed);
  if (void (*fn)() = exit_hook.load(std::memory_order_acquire)) fn();
}

bool preempt_requested() {
  G* g = detail::curg();
  return g != nullptr && g->preempt.load(std::memory_order_relaxed);
}

int64_t* gc_word() {
  G* g = detail::curg();
  return g != nullptr ? &g->gc_word : nullptr;
}

}  // namespace gort
