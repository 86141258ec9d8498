// central.cpp — central span lists (Go's mcentral): where a P's cache gets
// a span with free slots and gives back the one it used up.
//
// Per span class, four lists under one lock: spans with free slots and
// full spans, each either swept in this cycle or still unswept (heap_
// internal.h explains the sweep-generation pairs). cache_span prefers, in
// order: a swept span with free slots; an unswept span with free slots
// (sweep it — it can only gain free slots); an unswept full span (sweep it
// and see); and only then a new span from the page heap. Trying unswept
// spans first is what keeps the heap from growing while garbage waits to
// be swept; like Go, it gives up after a budget of spans so one allocation
// does not sweep a whole class. (That the heap does not grow while spans of
// other classes wait to be swept is proportional sweeping's job:
// sweep.cpp deduct_sweep_credit, called by every refill.)
#include "gc/heap_internal.h"

namespace gc::detail {

Central g_central[kNumSpanClasses];
LargeSpans g_large;
std::atomic<uint32_t> g_sweepgen{2};

namespace {
constexpr int kSweepBudgetSpans = 100;  // Go's spanBudget in mcentral.cacheSpan
}  // namespace

void SpanList::push(Span* s) {
  s->prev = nullptr;
  s->next = head;
  if (head) head->prev = s;
  head = s;
  n++;
}

Span* SpanList::pop() {
  Span* s = head;
  if (s) remove(s);
  return s;
}

void SpanList::remove(Span* s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    head = s->next;
  if (s->next) s->next->prev = s->prev;
  s->next = s->prev = nullptr;
  n--;
}

Span* cache_span(int spc) {
  Central& c = g_central[spc];
  int budget = kSweepBudgetSpans;
  std::unique_lock<SpinLock> guard(c.lock);
  uint32_t sg = g_sweepgen.load(std::memory_order_relaxed);
  if (Span* s = c.partial[swept_index(sg)].pop()) return s;
  // Unswept spans with free slots: sweeping cannot fill them.
  if (Span* s = claim_unswept(c.partial[unswept_index(sg)], sg)) {
    guard.unlock();
    sweep_span(s);
    end_sweep_claim();
    return s;
  }
  // Unswept full spans: sweeping may free some slots. Those that stay full
  // go back on the swept list in one batch, under one lock.
  SpanList still_full;
  while (budget-- > 0) {
    Span* s = claim_unswept(c.full[unswept_index(sg)], sg);
    if (!s) break;
    guard.unlock();
    sweep_span(s);
    end_sweep_claim();
    guard.lock();
    if (s->alloc_count < s->nelems) {
      while (Span* f = still_full.pop()) c.full[swept_index(sg)].push(f);
      return s;
    }
    still_full.push(s);
  }
  while (Span* f = still_full.pop()) c.full[swept_index(sg)].push(f);
  guard.unlock();
  // Nothing to reuse: a fresh span.
  int sizeclass = span_class_size(spc);
  size_t npages = kClassToPages[sizeclass];
  uint32_t size = kClassToSize[sizeclass];
  return alloc_span(npages, spc, size, static_cast<uint32_t>((npages << kPageShift) / size));
}

void uncache_span(Span* s) {
  Central& c = g_central[s->spanclass];
  std::lock_guard<SpinLock> guard(c.lock);
  uint32_t sg = g_sweepgen.load(std::memory_order_relaxed);
  s->cached = false;
  if (s->alloc_count < s->nelems)
    c.partial[swept_index(sg)].push(s);
  else
    c.full[swept_index(sg)].push(s);
}

}  // namespace gc::detail
