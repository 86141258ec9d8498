// observer.cpp — the observer list and its read side (observer.h).
//
// Attached observers form an immutable ObserverList published through one
// atomic pointer (null when none is attached, which is what the event sites
// test). Attaching or detaching builds a new list and swaps it in.
//
// The hard part is detaching: after remove_observer returns, no thread may
// still be running one of the removed observer's callbacks, yet event sites
// must not take a lock or touch a shared counter. Each thread that emits
// events owns a ReaderSlot; around a dispatch it stores the current epoch
// in its slot (seq_cst) and clears it afterwards. remove_observer swaps the
// list, advances the epoch, and waits until every slot is either clear or
// shows the new epoch: a dispatch that began before the swap shows an older
// epoch, and one that stored its epoch after the writer looked at its slot
// must (seq_cst) also load the list after the swap, so it never sees the
// removed observer. Slots are recycled when threads exit and never freed.
//
// Rejected: a reader count on the list (an atomic read-modify-write on one
// shared cache line per event, from every M); a mutex around dispatch.
#include <sched.h>
#include <unistd.h>

#include <algorithm>

#include "runtime/sched_internal.h"

namespace gort {

namespace detail {
std::atomic<ObserverList*> g_observers{nullptr};
std::atomic<BlockHook> g_block_hook{nullptr};
std::atomic<BlockHook> g_mutex_hook{nullptr};
}  // namespace detail

using detail::ObserverList;

namespace {

struct ReaderSlot {
  std::atomic<uint64_t> epoch{0};    // 0: not dispatching; else the epoch seen at entry; atomic
  std::atomic<bool> in_use{false};   // owned by a live thread; atomic
  int depth = 0;                     // nested dispatches (owner only)
  ReaderSlot* next = nullptr;        // immutable once pushed
};

std::atomic<ReaderSlot*> g_slots{nullptr};  // every slot ever made (push-only)
std::atomic<uint64_t> g_epoch{1};
std::mutex g_writer_mu;                      // serializes add/remove_observer

// SlotOwner releases the thread's slot when the thread exits.
struct SlotOwner {
  ReaderSlot* slot = nullptr;
  ~SlotOwner() {
    if (slot != nullptr) slot->in_use.store(false, std::memory_order_release);
  }
};
thread_local SlotOwner tls_slot;

ReaderSlot* claim_slot() {
  for (ReaderSlot* s = g_slots.load(std::memory_order_acquire); s != nullptr; s = s->next) {
    bool free = false;
    if (s->in_use.compare_exchange_strong(free, true, std::memory_order_acquire)) return s;
  }
  auto* s = new ReaderSlot();
  s->in_use.store(true, std::memory_order_relaxed);
  ReaderSlot* head = g_slots.load(std::memory_order_relaxed);
  do {
    s->next = head;
  } while (!g_slots.compare_exchange_weak(head, s, std::memory_order_release, std::memory_order_relaxed));
  return s;
}

__attribute__((noinline)) ReaderSlot* my_slot() {
  if (GORT_UNLIKELY(tls_slot.slot == nullptr)) tls_slot.slot = claim_slot();
  return tls_slot.slot;
}

// publish swaps in next and waits until no thread can still be running a
// callback from the old list, then frees it. g_writer_mu held.
void publish(ObserverList* next) {
  ObserverList* old = detail::g_observers.exchange(next, std::memory_order_seq_cst);
  const uint64_t epoch = g_epoch.fetch_add(1, std::memory_order_seq_cst) + 1;
  ReaderSlot* mine = my_slot();
  if (mine->depth != 0) GORT_THROW("remove_observer called from inside an observer callback");
  for (ReaderSlot* s = g_slots.load(std::memory_order_acquire); s != nullptr; s = s->next) {
    for (int spins = 0;; spins++) {
      uint64_t e = s->epoch.load(std::memory_order_seq_cst);
      if (e == 0 || e >= epoch) break;
      // A callback is short; if it is not, do not burn the CPU waiting.
      if (spins < 100) {
        cpu_relax();
      } else {
        usleep(50);
      }
    }
  }
  delete old;
}

}  // namespace

detail::ObserverList* detail::observers_enter() {
  ReaderSlot* s = my_slot();
  if (s->depth++ == 0) s->epoch.store(g_epoch.load(std::memory_order_acquire), std::memory_order_seq_cst);
  return g_observers.load(std::memory_order_seq_cst);
}

void detail::observers_exit() {
  ReaderSlot* s = my_slot();
  if (--s->depth == 0) s->epoch.store(0, std::memory_order_release);
}

void add_observer(SchedObserver* o) {
  std::lock_guard<std::mutex> l(g_writer_mu);
  ObserverList* cur = detail::g_observers.load(std::memory_order_relaxed);
  auto* next = new ObserverList(cur != nullptr ? *cur : ObserverList{});
  if (std::find(next->obs, next->obs + next->n, o) != next->obs + next->n) GORT_THROW("add_observer: already attached");
  if (next->n == ObserverList::kMax) GORT_THROW("add_observer: too many observers");
  next->obs[next->n++] = o;
  publish(next);
}

void remove_observer(SchedObserver* o) {
  std::lock_guard<std::mutex> l(g_writer_mu);
  ObserverList* cur = detail::g_observers.load(std::memory_order_relaxed);
  if (cur == nullptr || std::find(cur->obs, cur->obs + cur->n, o) == cur->obs + cur->n) return;
  ObserverList* next = nullptr;
  if (cur->n > 1) {
    next = new ObserverList();
    for (int i = 0; i < cur->n; i++)
      if (cur->obs[i] != o) next->obs[next->n++] = cur->obs[i];
  }
  publish(next);
}

BlockHook set_block_hook(BlockHook h) { return detail::g_block_hook.exchange(h); }
BlockHook set_mutex_hook(BlockHook h) { return detail::g_mutex_hook.exchange(h); }

}  // namespace gort

namespace gort {

bool observers_attached() { return observing(); }

GORT_TLS_READER int observer_p() {
  M* m = tls_m;
  return m != nullptr && m->p != nullptr ? m->p->id : -1;
}

void emit_gc_event(GcEvent e, uint64_t a, uint64_t b) {
  switch (e) {
    case GcEvent::Start: GORT_EVENT(on_gc_start, static_cast<uint32_t>(a)); break;
    case GcEvent::Done: GORT_EVENT(on_gc_done); break;
    case GcEvent::StwStart: GORT_EVENT(on_gc_stw_start, static_cast<int>(a)); break;
    case GcEvent::StwDone: GORT_EVENT(on_gc_stw_done); break;
    case GcEvent::AssistStart: GORT_EVENT(on_gc_assist_start); break;
    case GcEvent::AssistDone: GORT_EVENT(on_gc_assist_done); break;
    case GcEvent::SweepStart: GORT_EVENT(on_gc_sweep_start); break;
    case GcEvent::SweepDone: GORT_EVENT(on_gc_sweep_done, a, b); break;
    case GcEvent::HeapAlloc: GORT_EVENT(on_heap_alloc, a); break;
    case GcEvent::HeapGoal: GORT_EVENT(on_heap_goal, a); break;
  }
}

}  // namespace gort
