// runq.cpp — run-queue operations (Go's runqput, runqget, runqsteal,
// globrunqput, globrunqget, injectglist): a P's runnext slot and lock-free
// local ring (runq.h), the global queue under sched.lock, and stealing.
#include <unistd.h>

#include <algorithm>

#include "runtime/sched_internal.h"

namespace gort {

namespace {

// runqput_slow moves half of p's full local queue plus g to the global
// queue (Go's runqputslow). Returns false if a thief raced with it.
bool runqput_slow(P* p, G* g) {
  G* batch[LocalRunQueue::kSize / 2 + 1];
  uint32_t n = p->runq.grab_half_for_spill(batch);
  if (n == 0) return false;
  batch[n] = g;
  GQueue q;
  for (uint32_t i = 0; i <= n; i++) q.push_back(batch[i]);
  std::lock_guard<std::mutex> l(sched.lock);
  globrunqput_batch(q, static_cast<int32_t>(n + 1));
  return true;
}

}  // namespace

void globrunqput(G* g) {
  sched.runq.push_back(g);
  sched.runqsize.fetch_add(1, std::memory_order_relaxed);
}

void globrunqput_batch(GQueue& q, int32_t n) {
  sched.runq.push_back_all(q);
  sched.runqsize.fetch_add(n, std::memory_order_relaxed);
}

// globrunqget takes a fair share of the global queue into p's local queue
// and returns one G to run. max 0: no cap beyond half a local queue.
G* globrunqget(P* p, int32_t max) {
  int32_t size = sched.runqsize.load(std::memory_order_relaxed);
  if (size == 0) return nullptr;
  int32_t n = std::min<int32_t>(size, size / sched.gomaxprocs + 1);
  if (max > 0 && n > max) n = max;
  n = std::min<int32_t>(n, LocalRunQueue::kSize / 2);
  sched.runqsize.fetch_sub(n, std::memory_order_relaxed);
  G* g = sched.runq.pop();
  for (int32_t i = 1; i < n; i++) {
    G* g2 = sched.runq.pop();
    if (!p->runq.try_put(g2)) GORT_THROW("globrunqget: local queue full");
  }
  return g;
}

// runqput puts g on p's local queue; next=true puts it in runnext, kicking
// the previous runnext to the tail (Go's hand-off: the woken G inherits the
// waker's time slice).
void runqput(P* p, G* g, bool next) {
  if (next) {
    G* old;
    if (sched.gomaxprocs == 1) {  // no thieves (see runnext_take)
      old = p->runnext.load(std::memory_order_relaxed);
      p->runnext.store(g, std::memory_order_relaxed);
    } else {
      old = p->runnext.exchange(g);  // seq_cst: also wakep's StoreLoad fence
    }
    if (old == nullptr) return;
    g = old;
  }
  for (;;) {
    if (p->runq.try_put(g)) return;
    if (runqput_slow(p, g)) return;
  }
}

G* runqget(P* p, bool* inherit) {
  G* next = p->runnext.load(std::memory_order_relaxed);
  if (next != nullptr && runnext_take(p, next)) {
    *inherit = true;
    return next;
  }
  *inherit = false;
  return p->runq.pop();
}

bool runq_empty(P* p) { return p->runq.empty() && p->runnext.load(std::memory_order_acquire) == nullptr; }

// runqsteal steals half of victim's queue into p; steal_runnext also takes
// victim's runnext (only on the last round, to give a G just readied by a
// running G the chance to run on the readier's P).
G* runqsteal(P* p, P* victim, bool steal_runnext) {
  G* g = p->runq.steal_half(victim->runq);
  if (g == nullptr && steal_runnext) {
    G* next = victim->runnext.load(std::memory_order_acquire);
    if (next != nullptr) {
      // The victim is probably about to run it (Go sleeps 3 µs here too).
      if (victim->status.load(std::memory_order_relaxed) == PStatus::Running) usleep(3);
      if (victim->runnext.compare_exchange_strong(next, nullptr)) g = next;
    }
  }
  if (g != nullptr) {
    sched.steals.fetch_add(1, std::memory_order_relaxed);
    sched.stolen_gs.fetch_add(1 + p->runq.size(), std::memory_order_relaxed);
  }
  return g;
}

void inject_glist(GQueue& q) {
  if (q.empty()) return;
  int32_t n = 0;
  for (G* g = q.head; g != nullptr; g = g->schedlink) {
    make_ready(g, nullptr);
    n++;
  }
  {
    std::lock_guard<std::mutex> l(sched.lock);
    globrunqput_batch(q, n);
  }
  for (int32_t i = 0; i < n && sched.npidle.load() > 0; i++) startm(nullptr, false);
}

}  // namespace gort
