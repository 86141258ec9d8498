// timer.cpp — TimerHeap (see timer.h for the design).
#include "runtime/timer.h"

#include <sched.h>

#include "runtime/runq.h"

namespace gort {

void TimerHeap::publish() {
  when0_.store(heap_.empty() ? INT64_MAX : heap_[0]->when, std::memory_order_release);
}

void TimerHeap::siftup(int i) {
  Timer* t = heap_[i];
  while (i > 0) {
    int p = (i - 1) / 4;
    if (heap_[p]->when <= t->when) break;
    heap_[i] = heap_[p];
    heap_[i]->index = i;
    i = p;
  }
  heap_[i] = t;
  t->index = i;
}

void TimerHeap::siftdown(int i) {
  int n = static_cast<int>(heap_.size());
  Timer* t = heap_[i];
  for (;;) {
    int c = 4 * i + 1;
    if (c >= n) break;
    int best = c;
    for (int k = c + 1; k < c + 4 && k < n; k++)
      if (heap_[k]->when < heap_[best]->when) best = k;
    if (heap_[best]->when >= t->when) break;
    heap_[i] = heap_[best];
    heap_[i]->index = i;
    i = best;
  }
  heap_[i] = t;
  t->index = i;
}

void TimerHeap::remove_at(int i) {
  int last = static_cast<int>(heap_.size()) - 1;
  Timer* t = heap_[i];
  t->index = -1;
  if (i != last) {
    Timer* moved = heap_[last];
    heap_[i] = moved;
    moved->index = i;
    heap_.pop_back();
    siftup(i);
    siftdown(moved->index);
  } else {
    heap_.pop_back();
  }
}

bool TimerHeap::add(Timer* t) {
  lock_.lock();
  if (t->state.load(std::memory_order_relaxed) != Timer::Idle) GORT_THROW("TimerHeap::add: timer already pending");
  t->state.store(Timer::Waiting, std::memory_order_relaxed);
  t->heap.store(this, std::memory_order_release);
  heap_.push_back(t);
  siftup(static_cast<int>(heap_.size()) - 1);
  bool first = heap_[0] == t;
  publish();
  lock_.unlock();
  return first;
}

int TimerHeap::run(int64_t now, GQueue* ready) {
  if (next() > now) return 0;
  int fired = 0;
  for (;;) {
    lock_.lock();
    if (heap_.empty() || heap_[0]->when > now) {
      publish();
      lock_.unlock();
      return fired;
    }
    Timer* t = heap_[0];
    remove_at(0);
    // Running before "in no heap": remove/modify read heap without the lock
    // and, seeing null, wait while the state is Running.
    t->state.store(Timer::Running, std::memory_order_relaxed);
    t->heap.store(nullptr, std::memory_order_release);
    publish();
    lock_.unlock();
    // fn must not make a G runnable itself: it appends to ready, which the
    // caller injects only after this loop has stopped touching t (the G may
    // free t the moment it runs again).
    t->fn(t, ready);
    t->state.store(Timer::Idle, std::memory_order_release);
    fired++;
  }
}

size_t TimerHeap::size() {
  lock_.lock();
  size_t n = heap_.size();
  lock_.unlock();
  return n;
}

TimerHeap* TimerHeap::lock_holder(Timer* t) {
  for (;;) {
    TimerHeap* h = t->heap.load(std::memory_order_acquire);
    if (h == nullptr) {
      // Fired or never added; wait out a running fn.
      while (t->state.load(std::memory_order_acquire) == Timer::Running) sched_yield();
      return nullptr;
    }
    h->lock_.lock();
    if (t->heap.load(std::memory_order_relaxed) == h) return h;
    h->lock_.unlock();  // fired (or moved) meanwhile: look again
  }
}

bool TimerHeap::remove(Timer* t) {
  TimerHeap* h = lock_holder(t);
  if (h == nullptr) return false;
  h->remove_at(t->index);
  t->heap.store(nullptr, std::memory_order_relaxed);
  t->state.store(Timer::Idle, std::memory_order_relaxed);
  h->publish();
  h->lock_.unlock();
  return true;
}

bool TimerHeap::modify(Timer* t, int64_t when) {
  TimerHeap* h = lock_holder(t);
  if (h == nullptr) return false;
  t->when = when;
  h->siftup(t->index);
  h->siftdown(t->index);
  h->publish();
  h->lock_.unlock();
  return true;
}

}  // namespace gort
