// labels.cpp — goroutine labels (pprof.SetGoroutineLabels): immutable sets
// published through an atomic pointer in the G, so that a SIGPROF handler
// and a profiler on another thread can read them with no lock and no
// reference-count traffic.
//
// Ownership. A SharedLabels is immutable once published and shared by a
// goroutine and the goroutines it starts; refs counts the G records that
// point at it (changed only by spawn, set_labels and exit — never by
// readers). The last G to drop it reclaims it.
//
// Readers.
//   - A signal handler reads its own thread's goroutine's pointer
//     (current_labels_for_signal). A goroutine changes its pointer only
//     from its own thread, and the handler runs to completion before the
//     interrupted code continues, so the set it loaded cannot be reclaimed
//     under it: reclamation happens after the exchange that unpublished it,
//     in the interrupted thread's program order, i.e. after the handler.
//   - Another thread (the goroutine profile) uses one hazard pointer: it
//     publishes the set it is about to read in g_hazard, re-checks that the
//     G still points at it, reads, and clears the hazard. A thread dropping
//     the last reference checks g_hazard after its unpublishing exchange
//     (both sides seq_cst: either the reader sees the new pointer and
//     retries, or the reclaimer sees the hazard) and, if it matches, leaves
//     the set on a retired list for the reader to free. Foreign readers are
//     serialized by a mutex, so one hazard slot suffices.
//
// Rejected: shared_ptr (an atomic increment and decrement per read, and not
// async-signal-safe); an RCU grace period (needs quiescent-state tracking
// on every M for a rarely used read path); never freeing (per-request
// labels would leak without bound).
#include <mutex>

#include "runtime/sched_internal.h"

namespace gort {

struct SharedLabels {
  std::atomic<int64_t> refs{1};  // G records pointing here; atomic
  LabelSet set;                  // immutable once published
  SharedLabels* retired_next = nullptr;  // (g_retired_lock)
};

namespace {

const LabelSet kNoLabels;

std::mutex g_foreign_reader_mu;                  // one foreign reader at a time
std::atomic<const SharedLabels*> g_hazard{nullptr};  // the set that reader reads; atomic
RuntimeLock g_retired_lock;                      // leaf
SharedLabels* g_retired = nullptr;               // (g_retired_lock) sets a reader still held

// unref drops one reference to l (no-op for null) after the caller has
// unpublished it from a G.
void unref(SharedLabels* l) {
  if (l == nullptr || l->refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (g_hazard.load(std::memory_order_seq_cst) == l) {
    g_retired_lock.lock();
    l->retired_next = g_retired;
    g_retired = l;
    g_retired_lock.unlock();
    return;
  }
  delete l;
}

// free_retired frees retired sets no reader holds (g_foreign_reader_mu held,
// hazard clear).
void free_retired() {
  g_retired_lock.lock();
  SharedLabels* l = g_retired;
  g_retired = nullptr;
  g_retired_lock.unlock();
  while (l != nullptr) {
    SharedLabels* next = l->retired_next;
    delete l;
    l = next;
  }
}

}  // namespace

// labels_inherit and labels_release run on every spawn and exit: without
// labels they cost a load each (no locked instruction).
void labels_inherit(G* child, const G* parent) {
  SharedLabels* l = parent != nullptr ? parent->labels.load(std::memory_order_relaxed) : nullptr;
  if (l == nullptr && child->labels.load(std::memory_order_relaxed) == nullptr) return;
  if (l != nullptr) l->refs.fetch_add(1, std::memory_order_relaxed);
  unref(child->labels.exchange(l, std::memory_order_seq_cst));
}

void labels_release(G* g) {
  if (g->labels.load(std::memory_order_relaxed) == nullptr) return;
  unref(g->labels.exchange(nullptr, std::memory_order_seq_cst));
}

void set_labels(LabelSet labels) {
  G* g = detail::curg();
  if (g == nullptr) return;
  SharedLabels* l = nullptr;
  if (!labels.empty()) {
    l = new SharedLabels();
    l->set = std::move(labels);
  }
  unref(g->labels.exchange(l, std::memory_order_seq_cst));
}

SharedLabelSet::SharedLabelSet(LabelSet labels) : shared_(new SharedLabels()) { shared_->set = std::move(labels); }

SharedLabelSet::~SharedLabelSet() { unref(shared_); }

void set_shared_labels(const SharedLabelSet& labels) {
  G* g = detail::curg();
  if (g == nullptr) return;
  SharedLabels* l = labels.shared_;
  if (l->set.empty()) l = nullptr;
  if (l != nullptr) l->refs.fetch_add(1, std::memory_order_relaxed);
  unref(g->labels.exchange(l, std::memory_order_seq_cst));
}

LabelSet get_labels() {
  G* g = detail::curg();
  if (g == nullptr) return {};
  // The goroutine's own pointer changes only on this goroutine.
  SharedLabels* l = g->labels.load(std::memory_order_relaxed);
  return l != nullptr ? l->set : LabelSet{};
}

GORT_TLS_READER const LabelSet* current_labels_for_signal() {
  G* g = detail::tls_curg;
  if (g == nullptr) return nullptr;
  SharedLabels* l = g->labels.load(std::memory_order_relaxed);
  return l != nullptr ? &l->set : nullptr;
}

void read_labels(const G* g, const std::function<void(const LabelSet&)>& fn) {
  std::lock_guard<std::mutex> lock(g_foreign_reader_mu);
  const SharedLabels* l = g->labels.load(std::memory_order_acquire);
  for (;;) {
    g_hazard.store(l, std::memory_order_seq_cst);
    const SharedLabels* again = g->labels.load(std::memory_order_seq_cst);
    if (again == l) break;
    l = again;
  }
  fn(l != nullptr ? l->set : kNoLabels);
  g_hazard.store(nullptr, std::memory_order_seq_cst);
  free_retired();
}

}  // namespace gort
