// g.cpp — the life of a G record: the registry of every G ever created,
// spawning (go), exit, the free lists that recycle records with their
// stacks, the scavenger that trims idle stacks, and the read-only views of
// goroutine.h (Go's newproc, goexit0, gfget/gfput, allgadd, forEachG).
//
// A G record and its stack slot stay together for life: an exited G goes,
// stack and all, onto its P's free list (at most kMaxLocalFreeGs, then half
// moves to a global list), and the next spawn on that P reuses the most
// recently freed one — its stack pages are probably still in cache. The
// global list keeps kMaxWarmFreeGs records warm; sysmon's scavenger gives
// the pages of a surplus back to the kernel once spawning has stopped
// drawing on it, moving those records to a cold list that spawns use last.
//
// The registry is an append-only table of chunks that never move, with its
// length published after each append, so for_each_goroutine walks it with
// no lock and its callback may do anything — no lock-order inversion with
// whatever locks the callback takes (Go's forEachGRace).
#include <sys/mman.h>

#include <cinttypes>
#include <iterator>

#include "runtime/sched_internal.h"

#if GORT_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace gort {

namespace {

// Gs kept on a P's free list before half move to the global list.
constexpr int32_t kMaxLocalFreeGs = 64;
// Idle Gs on the global free lists that keep their stack pages resident.
constexpr int32_t kMaxWarmFreeGs = 4096;

void allg_add(G* g) {
  std::lock_guard<std::mutex> l(sched.allglock);
  int64_t n = sched.allglen.load(std::memory_order_relaxed);
  int64_t chunk = n / Sched::kAllgChunk;
  if (chunk >= Sched::kAllgMaxChunks) GORT_THROW("go: too many goroutine records");
  G** slots = sched.allg_chunks[chunk].load(std::memory_order_relaxed);
  if (slots == nullptr) {
    slots = new G*[Sched::kAllgChunk]();
    sched.allg_chunks[chunk].store(slots, std::memory_order_release);
  }
  slots[n % Sched::kAllgChunk] = g;
  sched.allglen.store(n + 1, std::memory_order_release);
}

// gfget takes a free G for p: its own list, refilled from the global lists
// (warm before cold) half a local list at a time.
G* gfget(P* p) {
  G* g = p->gfree;
  if (g == nullptr && (sched.ngfree.load(std::memory_order_relaxed) != 0 ||
                       sched.ngfree_cold.load(std::memory_order_relaxed) != 0)) {
    RuntimeLock& lk = sched.gfree_lock;
    lk.lock();
    sched.gfree_gets++;
    while (p->ngfree < kMaxLocalFreeGs / 2 && (sched.gfree != nullptr || sched.gfree_cold != nullptr)) {
      const bool warm = sched.gfree != nullptr;
      G*& list = warm ? sched.gfree : sched.gfree_cold;
      G* x = list;
      list = x->schedlink;
      (warm ? sched.ngfree : sched.ngfree_cold).fetch_sub(1, std::memory_order_relaxed);
      x->schedlink = p->gfree;
      p->gfree = x;
      p->ngfree++;
    }
    lk.unlock();
    g = p->gfree;
  }
  if (g != nullptr) {
    p->gfree = g->schedlink;
    p->ngfree--;
    g->schedlink = nullptr;
  }
  return g;
}

// gfput puts an exited G on p's free list, spilling half of an overfull
// list to the global (warm) list.
void gfput(P* p, G* g) {
  g->schedlink = p->gfree;
  p->gfree = g;
  if (++p->ngfree <= kMaxLocalFreeGs) return;
  RuntimeLock& lk = sched.gfree_lock;
  lk.lock();
  while (p->ngfree > kMaxLocalFreeGs / 2) {
    G* x = p->gfree;
    p->gfree = x->schedlink;
    p->ngfree--;
    x->schedlink = sched.gfree;
    sched.gfree = x;
    sched.ngfree.fetch_add(1, std::memory_order_relaxed);
  }
  lk.unlock();
}

// release_stack_pages returns a free G's stack pages to the kernel
// (MADV_DONTNEED: they read back as zeros). The G keeps its slot.
void release_stack_pages(G* g) {
  uintptr_t from = g->stack.lo + 4096;  // above the (possible) guard page
  madvise(reinterpret_cast<void*>(from), g->stack.hi - from, MADV_DONTNEED);
}

}  // namespace

// ---- spawn ----

GORT_TLS_READER G* detail::alloc_g_for_spawn(size_t closure_bytes, size_t closure_align, void** closure_mem) {
  M* m = tls_m;
  P* p = m != nullptr ? m->p : nullptr;
  if (p == nullptr) GORT_THROW("go: called outside the runtime (use run_main)");
  G* g = gfget(p);
  if (g == nullptr) {
    g = new G();
    g->stack = p->stacks.get();
    allg_add(g);
  }
#if GORT_ASAN
  // Frames of the slot's previous goroutine (which exited from inside
  // g_entry, or was discarded at shutdown) leave poisoned redzones behind.
  ASAN_UNPOISON_MEMORY_REGION(reinterpret_cast<void*>(g->stack.lo), g->stack.hi - g->stack.lo);
#endif
  uintptr_t top = g->stack.hi - closure_bytes;
  top &= ~(uintptr_t{closure_align} - 1);
  top &= ~uintptr_t{15};
  if (top - g->stack.guard() < 4096) GORT_THROW("go: closure too large for a goroutine stack");
  *closure_mem = reinterpret_cast<void*>(top);
  g->arg = *closure_mem;
  prepare_g_context(g, top);  // the first frame goes below the closure
  return g;
}

GORT_TLS_READER int64_t detail::start_g(G* g, void (*entry)(void*), uintptr_t startpc, uintptr_t gopc) {
  M* m = tls_m;
  P* p = m->p;
  G* parent = tls_curg;
  g->entry = entry;
  g->startpc = startpc;
  g->gopc = gopc;
  const int64_t id = sched.goidgen.fetch_add(1, std::memory_order_relaxed) + 1;
  g->id.store(id, std::memory_order_relaxed);
  g->parent_id = parent != nullptr ? parent->id.load(std::memory_order_relaxed) : 0;
  labels_inherit(g, parent);
  switch_g_start(g);
  g->preempt.store(false, std::memory_order_relaxed);
  g->wait_reason.store(WaitReason::Zero, std::memory_order_relaxed);
  g->tracking_seq = static_cast<uint8_t>(fastrand());
  g->tracking = g->tracking_seq % kTrackingPeriod == 0;
  sched.nlive.fetch_add(1, std::memory_order_relaxed);
  sched.goroutines_created.fetch_add(1, std::memory_order_relaxed);
  g->gc_word = 0;
  note_new_stack(g);
  mark_runnable(g);
  GORT_EVENT(on_go_create, g, parent);
  runqput(p, g, true);  // from here on g may run, exit and be reused
  wakep(/*published_with_rmw=*/true);
  return id;
}

// ---- exit ----

void goexit0(P* p, G* g) {
  g->status.store(GStatus::Dead, std::memory_order_release);
  GORT_EVENT(on_go_end, g);
  labels_release(g);
  switch_g_exit(g);
  g->entry = nullptr;
  g->wait_reason.store(WaitReason::Zero, std::memory_order_relaxed);
  sched.nlive.fetch_sub(1, std::memory_order_relaxed);
  const bool main_exited = g == sched.main_g;
  gfput(p, g);
  if (main_exited) sched.exiting.store(true);
}

void allg_free_all() {
  const int64_t n = sched.allglen.load(std::memory_order_acquire);
  for (int64_t i = 0; i < n; i++) {
    G* g = sched.allg_chunks[i / Sched::kAllgChunk].load(std::memory_order_relaxed)[i % Sched::kAllgChunk];
    labels_release(g);
    switch_g_exit(g);
    delete g;
  }
  for (auto& c : sched.allg_chunks) delete[] c.exchange(nullptr);
  sched.allglen.store(0);
}

// stack_scavenge (sysmon, about once a second) gives back the stack pages of
// the surplus of idle Gs beyond kMaxWarmFreeGs — but only once spawning has
// stopped drawing on the global free list for a whole interval, so a busy
// spawner keeps its warm stacks and only a finished burst is trimmed (as
// Go's scavenger returns memory lazily rather than on every free).
void stack_scavenge() {
  static uint64_t last_gets = 0;
  RuntimeLock& lk = sched.gfree_lock;
  lk.lock();
  const bool idle = sched.gfree_gets == last_gets;
  last_gets = sched.gfree_gets;
  if (!idle || sched.ngfree.load(std::memory_order_relaxed) <= kMaxWarmFreeGs) {
    lk.unlock();
    return;
  }
  // Detach the surplus: the Gs below the first kMaxWarmFreeGs of the list.
  G* keep_tail = sched.gfree;
  for (int32_t i = 1; i < kMaxWarmFreeGs; i++) keep_tail = keep_tail->schedlink;
  G* surplus = keep_tail->schedlink;
  keep_tail->schedlink = nullptr;
  const int32_t n = sched.ngfree.load(std::memory_order_relaxed) - kMaxWarmFreeGs;
  sched.ngfree.store(kMaxWarmFreeGs, std::memory_order_relaxed);
  lk.unlock();
  G* last = nullptr;
  for (G* g = surplus; g != nullptr; g = g->schedlink) {
    release_stack_pages(g);
    last = g;
  }
  lk.lock();
  last->schedlink = sched.gfree_cold;
  sched.gfree_cold = surplus;
  sched.ngfree_cold.fetch_add(n, std::memory_order_relaxed);
  lk.unlock();
}

// ---- goroutine.h: read-only views ----

void for_each_goroutine(const std::function<void(G*)>& fn) {
  const int64_t n = sched.allglen.load(std::memory_order_acquire);
  for (int64_t i = 0; i < n; i++)
    fn(sched.allg_chunks[i / Sched::kAllgChunk].load(std::memory_order_relaxed)[i % Sched::kAllgChunk]);
}

int64_t goroutine_id(const G* g) { return g->id.load(std::memory_order_relaxed); }

int64_t GoroutineCounts::total() const {
  int64_t n = runnable + running + syscall;
  for (int64_t w : waiting) n += w;
  return n;
}

// count_goroutines reads only the atomic status and wait_reason of each G:
// a G that wakes and parks again between the two loads is counted under
// its newer reason, which it also had during the pass.
GoroutineCounts count_goroutines() {
  GoroutineCounts c;
  for_each_goroutine([&c](G* g) {
    switch (g->status.load(std::memory_order_acquire)) {
      case GStatus::Runnable: c.runnable++; break;
      case GStatus::Running: c.running++; break;
      case GStatus::Syscall: c.syscall++; break;
      case GStatus::Waiting: {
        auto r = static_cast<size_t>(g->wait_reason.load(std::memory_order_relaxed));
        if (r < std::size(c.waiting)) c.waiting[r]++;
        break;
      }
      case GStatus::Idle:
      case GStatus::Dead: break;
    }
  });
  return c;
}
TraceSlot& trace_slot(G* g) { return g->trace; }

// goroutine_info reads a goroutine that may be running, parking or being
// reused meanwhile: a snapshot, consistent only while the world is stopped
// or the goroutine stays parked (goroutine.h).
GORT_RACY_SNAPSHOT GoroutineInfo goroutine_info(const G* g) {
  GoroutineInfo info;
  info.status = g->status.load(std::memory_order_acquire);
  info.id = g->id.load(std::memory_order_relaxed);
  info.parent_id = g->parent_id;
  info.wait_reason = g->wait_reason.load(std::memory_order_relaxed);
  info.wait_since_ns = g->wait_since_ns;
  info.gopc = g->gopc;
  info.startpc = g->startpc;
  info.stack_lo = g->stack.lo;
  info.stack_hi = g->stack.hi;
  info.frame = saved_frame(g);
  return info;
}

int64_t num_goroutine() { return sched.nlive.load(std::memory_order_relaxed); }

const char* gstatus_string(GStatus s) {
  switch (s) {
    case GStatus::Idle: return "idle";
    case GStatus::Runnable: return "runnable";
    case GStatus::Running: return "running";
    case GStatus::Syscall: return "syscall";
    case GStatus::Waiting: return "waiting";
    case GStatus::Dead: return "dead";
  }
  return "???";
}

const char* wait_reason_string(WaitReason r) {
  // Go 1.19 runtime2.go waitReasonStrings.
  switch (r) {
    case WaitReason::Zero: return "";
    case WaitReason::ChanReceiveNilChan: return "chan receive (nil chan)";
    case WaitReason::ChanSendNilChan: return "chan send (nil chan)";
    case WaitReason::Select: return "select";
    case WaitReason::SelectNoCases: return "select (no cases)";
    case WaitReason::ChanReceive: return "chan receive";
    case WaitReason::ChanSend: return "chan send";
    case WaitReason::Sleep: return "sleep";
    case WaitReason::IOWait: return "IO wait";
    case WaitReason::SyncMutexLock: return "sync.Mutex.Lock";
    case WaitReason::SyncRWMutexRLock: return "sync.RWMutex.RLock";
    case WaitReason::SyncRWMutexLock: return "sync.RWMutex.Lock";
    case WaitReason::SyncWaitGroupWait: return "sync.WaitGroup.Wait";
    case WaitReason::SyncCondWait: return "sync.Cond.Wait";
    case WaitReason::Semacquire: return "semacquire";
    case WaitReason::GCAssistWait: return "GC assist wait";
    case WaitReason::GarbageCollection: return "garbage collection";
    case WaitReason::Preempted: return "preempted";
    case WaitReason::DebugCall: return "debug call";
    case WaitReason::GCWorkerIdle: return "GC worker (idle)";
    case WaitReason::Count: break;
  }
  return "???";
}

}  // namespace gort
