// threads.cpp — the thread registry (threads.h): one ThreadInfo per running
// runtime thread, registered by the thread itself when it starts (so its
// tid, stack and signal stack are its own) and removed when it exits.
#include <pthread.h>
#include <unistd.h>

#include <mutex>
#include <vector>

#include "runtime/sched_internal.h"

namespace gort {

namespace {

std::mutex g_threads_mu;                 // leaf: guards g_threads
std::vector<ThreadInfo*> g_threads;      // (g_threads_mu) running threads
std::atomic<int64_t> g_threads_created{0};
thread_local ThreadInfo* tls_thread = nullptr;

void own_stack_bounds(uintptr_t* lo, uintptr_t* hi) {
  pthread_attr_t a;
  *lo = *hi = 0;
  if (pthread_getattr_np(pthread_self(), &a) != 0) return;
  void* addr = nullptr;
  size_t size = 0;
  if (pthread_attr_getstack(&a, &addr, &size) == 0) {
    *lo = reinterpret_cast<uintptr_t>(addr);
    *hi = *lo + size;
  }
  pthread_attr_destroy(&a);
}

}  // namespace

GORT_CONSERVATIVE_SCAN int walk_frame_pointers(uintptr_t fp, uintptr_t lo, uintptr_t hi, uintptr_t* pcs, int max) {
  int n = 0;
  while (n < max && fp >= lo && fp + 16 <= hi && (fp & 7) == 0) {
    const auto* frame = reinterpret_cast<const uintptr_t*>(fp);
    uintptr_t pc = frame[1];
    if (pc == 0) break;
    pcs[n++] = pc;
    uintptr_t next = frame[0];
    if (next <= fp) break;  // frames grow upwards; anything else is the end or garbage
    fp = next;
  }
  return n;
}

GORT_TLS_READER GORT_CONSERVATIVE_SCAN int capture_stack(uintptr_t* pcs, int max, int skip) {
  uintptr_t lo = 0, hi = 0;
  if (G* g = detail::curg()) {
    lo = g->stack.lo;
    hi = g->stack.hi;
  } else if (const ThreadInfo* t = tls_thread) {
    lo = t->stack_lo;
    hi = t->stack_hi;
  } else {
    own_stack_bounds(&lo, &hi);
  }
  // The walk starts at this function's own frame, whose saved return
  // address points into the caller (the function is never inlined); each
  // skipped entry is one more frame up the chain.
  auto fp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  for (; skip > 0; skip--) {
    if (fp < lo || fp + 16 > hi) return 0;
    uintptr_t next = *reinterpret_cast<const uintptr_t*>(fp);
    if (next <= fp) return 0;
    fp = next;
  }
  return walk_frame_pointers(fp, lo, hi, pcs, max);
}

int goroutine_stack(const G* g, uintptr_t* pcs, int max) {
  if (max <= 0) return 0;
  SavedFrame f = saved_frame(g);
  if (f.pc == 0) return 0;
  pcs[0] = f.pc;
  return 1 + walk_frame_pointers(f.fp, f.sp, g->stack.hi, pcs + 1, max - 1);
}

GORT_TLS_READER void signal_view(SignalView* v) {
  *v = SignalView{};
  v->thread = tls_thread;
  G* g = detail::tls_curg;
  if (g == nullptr) return;
  v->g = g;
  v->goid = g->id.load(std::memory_order_relaxed);
  v->g_stack_lo = g->stack.lo;
  v->g_stack_hi = g->stack.hi;
}

void thread_register(M* m) {
  auto* t = new ThreadInfo();
  t->kind = m != nullptr ? ThreadKind::M : ThreadKind::Sysmon;
  t->m_id = m != nullptr ? m->id : -1;
  t->tid = static_cast<pid_t>(gettid());
  t->handle = pthread_self();
  own_stack_bounds(&t->stack_lo, &t->stack_hi);
  signals_altstack(&t->sigstack_lo, &t->sigstack_hi);
  t->start_ns = nanotime();
  if (m != nullptr) {
    t->ncreator_pcs = m->ncreator_pcs;
    for (int i = 0; i < m->ncreator_pcs; i++) t->creator_pcs[i] = m->creator_pcs[i];
    m->thread_info = t;
  }
  {
    std::lock_guard<std::mutex> l(g_threads_mu);
    g_threads.push_back(t);
  }
  g_threads_created.fetch_add(1, std::memory_order_relaxed);
  tls_thread = t;
  GORT_EVENT(on_thread_start, *t);
}

void thread_unregister() {
  ThreadInfo* t = tls_thread;
  if (t == nullptr) return;
  GORT_EVENT(on_thread_exit, *t);
  {
    std::lock_guard<std::mutex> l(g_threads_mu);
    std::erase(g_threads, t);
  }
  tls_thread = nullptr;
  delete t;
}

void threads_reset() { g_threads_created.store(0, std::memory_order_relaxed); }

GORT_TLS_READER const ThreadInfo* current_thread() { return tls_thread; }

void for_each_thread(const std::function<void(const ThreadInfo&)>& fn) {
  std::lock_guard<std::mutex> l(g_threads_mu);
  for (const ThreadInfo* t : g_threads) fn(*t);
}

int64_t threads_created() { return g_threads_created.load(std::memory_order_relaxed); }

}  // namespace gort
