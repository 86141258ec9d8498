// chan.cpp — ChanCore: Go's chan.go algorithm on untyped slots.
//
// Invariants (all under lock_):
//   - at least one of sendq and recvq is empty, except for select-blocked
//     goroutines queued on both sides of the same unbuffered channel;
//   - buffered: qcount > 0 implies recvq empty; qcount < cap implies sendq
//     empty (a waiting sender would have used the free slot);
//   - a closed channel has an empty sendq and recvq.
// A woken waiter learns what happened from its sudog: success=true means a
// value moved; false means the channel was closed.
//
// The waiter's sudog lives on its stack; the lock is released by park's
// unlock function on the scheduler stack, after the goroutine is switched
// out, so a partner that dequeues the sudog can ready the goroutine at once.
#include "runtime/chan.h"

#include <cstdlib>
#include <cstring>

#include "runtime/gort.h"
#include "runtime/scan.h"
#include "runtime/sched_internal.h"

namespace gort {
namespace detail {

void WaitQ::enqueue(Sudog* s) {
  s->next = nullptr;
  s->prev = last;
  if (last) last->next = s; else first = s;
  last = s;
}

void WaitQ::remove(Sudog* s) {
  if (s->prev) s->prev->next = s->next; else if (first == s) first = s->next; else return;
  if (s->next) s->next->prev = s->prev; else last = s->prev;
  s->next = s->prev = nullptr;
}

Sudog* WaitQ::dequeue() {
  for (;;) {
    Sudog* s = first;
    if (!s) return nullptr;
    first = s->next;
    if (first) first->prev = nullptr; else last = nullptr;
    s->next = s->prev = nullptr;
    // A select goroutine is queued on several channels; only the first
    // channel to win the select_done race may wake it.
    if (s->is_select) {
      uint32_t zero = 0;
      if (!s->g->select_done.compare_exchange_strong(zero, 1)) continue;
    }
    return s;
  }
}

// The registry of buffered channels. A value sitting in a buffer is on no
// goroutine's stack, so the collector scans the buffers as roots; values
// moving in and out while it marks go through the transfer barrier.
namespace {
RuntimeLock chan_registry_lock;
ChanCore* chan_registry = nullptr;  // (chan_registry_lock)
}  // namespace

ChanCore::ChanCore(const ElemOps* ops, size_t cap) : ops_(ops), cap_(cap) {
  if (cap > 0) {
    if (ops->size != 0 && cap > (size_t{1} << 40) / ops->size) throw_fatal("makechan: size out of range");
    buf_ = static_cast<unsigned char*>(std::aligned_alloc(64, ((cap * ops->size + 63) / 64) * 64 + 64));
    if (ops->size >= sizeof(void*)) {
      chan_registry_lock.lock();
      reg_next_ = chan_registry;
      if (chan_registry) chan_registry->reg_prev_ = this;
      chan_registry = this;
      chan_registry_lock.unlock();
    }
  }
}

ChanCore::~ChanCore() {
  if (cap_ > 0 && ops_->size >= sizeof(void*)) {
    chan_registry_lock.lock();
    if (reg_prev_) reg_prev_->reg_next_ = reg_next_; else chan_registry = reg_next_;
    if (reg_next_) reg_next_->reg_prev_ = reg_prev_;
    chan_registry_lock.unlock();
  }
  for (size_t i = 0; i < qcount_; i++) ops_->destroy(slot((recvx_ + i) % cap_));
  std::free(buf_);
}

// wait_on queues the calling goroutine on q (lock_ held) with elem as its
// value slot and parks until a partner or close() dequeues it; park's
// unlock function drops lock_. Returns the sudog's success: true if a value
// moved, false if the channel was closed.
bool ChanCore::wait_on(WaitQ& q, void* elem, WaitReason reason) {
  G* g = detail::curg();
  if (g == nullptr) {
    lock_.unlock();
    throw_fatal(reason == WaitReason::ChanSend ? "chan send: blocking send outside a goroutine"
                                               : "chan receive: blocking receive outside a goroutine");
  }
  Sudog me;
  me.g = g;
  me.elem = elem;
  g->param = nullptr;
  q.enqueue(&me);
  BlockTimer timer(g);
  park_g(g, &park_unlock, &lock_, reason);
  timer.report(reason);
  return me.success;
}

bool ChanCore::park_unlock(G*, void* lock) {
  static_cast<RuntimeLock*>(lock)->unlock();
  return true;
}

size_t ChanCore::len() const {
  lock_.lock();
  size_t n = qcount_;
  lock_.unlock();
  return n;
}

bool ChanCore::closed() const {
  lock_.lock();
  bool c = closed_;
  lock_.unlock();
  return c;
}

// Every move of a value into another goroutine's stack or into or out of
// the buffer shades it while the collector marks (scan.h transfer_barrier):
// the receiving stack may be scanned already, the sending one not yet.
G* ChanCore::send_direct(Sudog* sg, void* src) {
  if (sg->elem) {
    ops_->move_construct(sg->elem, src);
    transfer_barrier(sg->elem, ops_->size);
  }
  sg->success = true;
  G* g = sg->g;
  g->param = sg;
  return g;
}

G* ChanCore::recv_direct(Sudog* sg, void* dst) {
  if (cap_ == 0) {
    if (dst) ops_->move_construct(dst, sg->elem);
    transfer_barrier(sg->elem, ops_->size);
  } else {
    // Buffer is full: take the head, and put the sender's value at the tail
    // (which is the same slot, since the ring is full).
    void* s = slot(recvx_);
    transfer_barrier(s, ops_->size);
    if (dst) ops_->move_construct(dst, s);
    ops_->destroy(s);
    ops_->move_construct(s, sg->elem);
    transfer_barrier(s, ops_->size);
    recvx_ = (recvx_ + 1) % cap_;
    sendx_ = recvx_;
  }
  sg->success = true;
  G* g = sg->g;
  g->param = sg;
  return g;
}

void ChanCore::recv_from_buffer(void* dst) {
  void* s = slot(recvx_);
  transfer_barrier(s, ops_->size);
  if (dst) ops_->move_construct(dst, s);
  ops_->destroy(s);
  recvx_ = (recvx_ + 1) % cap_;
  qcount_--;
}

void ChanCore::send_to_buffer(void* src) {
  ops_->move_construct(slot(sendx_), src);
  transfer_barrier(slot(sendx_), ops_->size);
  sendx_ = (sendx_ + 1) % cap_;
  qcount_++;
}

bool ChanCore::send(void* src, bool block) {
  preempt_check();
  // Fast path for a non-blocking send that cannot proceed (Go's check
  // without the lock) is omitted: the lock is a short spin lock.
  lock_.lock();
  if (closed_) {
    lock_.unlock();
    throw_fatal("send on closed channel");
  }
  if (Sudog* sg = recvq_.dequeue()) {
    G* g = send_direct(sg, src);
    lock_.unlock();
    ready(g);
    return true;
  }
  if (qcount_ < cap_) {
    send_to_buffer(src);
    lock_.unlock();
    return true;
  }
  if (!block) {
    lock_.unlock();
    return false;
  }
  if (!wait_on(sendq_, src, WaitReason::ChanSend)) throw_fatal("send on closed channel");
  return true;
}

std::pair<bool, bool> ChanCore::recv(void* dst, bool block) {
  preempt_check();
  lock_.lock();
  if (closed_ && qcount_ == 0) {
    lock_.unlock();
    if (dst) ops_->default_construct(dst);
    return {true, false};
  }
  if (Sudog* sg = sendq_.dequeue()) {
    G* g = recv_direct(sg, dst);
    lock_.unlock();
    ready(g);
    return {true, true};
  }
  if (qcount_ > 0) {
    recv_from_buffer(dst);
    lock_.unlock();
    return {true, true};
  }
  if (!block) {
    lock_.unlock();
    return {false, false};
  }
  bool ok = wait_on(recvq_, dst, WaitReason::ChanReceive);
  if (!ok && dst) ops_->default_construct(dst);
  return {true, ok};
}

void ChanCore::close() {
  lock_.lock();
  if (closed_) {
    lock_.unlock();
    throw_fatal("close of closed channel");
  }
  closed_ = true;
  // Collect every waiter, then ready them after dropping the lock.
  Sudog* list = nullptr;
  while (Sudog* sg = recvq_.dequeue()) {
    sg->success = false;
    sg->waitlink = list;
    list = sg;
  }
  while (Sudog* sg = sendq_.dequeue()) {
    sg->success = false;
    sg->waitlink = list;
    list = sg;
  }
  lock_.unlock();
  while (list) {
    Sudog* next = list->waitlink;  // read before the G can run and free it
    G* g = list->g;
    g->param = list;
    ready(g);
    list = next;
  }
}

}  // namespace detail

void for_each_chan_buffer(void (*fn)(const void* elem, size_t bytes)) {
  using detail::ChanCore;
  detail::chan_registry_lock.lock();
  for (ChanCore* c = detail::chan_registry; c != nullptr; c = c->reg_next_) {
    c->lock_.lock();
    for (size_t i = 0; i < c->qcount_; i++) fn(c->slot((c->recvx_ + i) % c->cap_), c->ops_->size);
    c->lock_.unlock();
  }
  detail::chan_registry_lock.unlock();
}

}  // namespace gort
