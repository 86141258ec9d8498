// select.cpp — Go's selectgo (select.go).
//
// 1. Shuffle the cases (pollorder, uniform) and sort them by channel address
//    (lockorder) so that every select locks channels in one global order and
//    two selects can never deadlock on each other's locks.
// 2. With all channels locked, pass 1 looks for a case that can proceed in
//    poll order: a waiting partner, buffer space/data, or a closed channel.
// 3. Otherwise (and without default) pass 2 enqueues one sudog per case (on
//    this goroutine's stack) and parks; the park unlock function releases
//    the channel locks after the switch. The first channel operation that
//    wins the goroutine's select_done CAS (WaitQ::dequeue) completes its case
//    and readies us with g->param = winning sudog.
// 4. Woken, relock everything and dequeue the losing sudogs.
#include "runtime/select.h"

#include <algorithm>
#include <new>
#include <vector>

#include "runtime/sched_internal.h"

namespace gort {
namespace detail {

namespace {

struct LockSet {
  SelectCase* cases;
  const uint16_t* lockorder;
  int n;
  void lock() const {
    ChanCore* prev = nullptr;
    for (int i = 0; i < n; i++) {
      ChanCore* c = cases[lockorder[i]].c;
      if (c != prev) lock_of(c).lock();
      prev = c;
    }
  }
  void unlock() const {
    for (int i = n - 1; i >= 0; i--) {
      ChanCore* c = cases[lockorder[i]].c;
      if (i > 0 && cases[lockorder[i - 1]].c == c) continue;
      lock_of(c).unlock();
    }
  }
  static RuntimeLock& lock_of(ChanCore* c);
};

bool selparkcommit(G*, void* arg) {
  static_cast<LockSet*>(arg)->unlock();
  return true;
}

constexpr int kMaxStackCases = 64;

}  // namespace

RuntimeLock& LockSet::lock_of(ChanCore* c) { return c->lock(); }

int select_impl(SelectCase* cases, int n, bool block) {
  preempt_check();
  G* g = current_g();
  if (n == 0) {
    if (!block) return -1;
    if (g == nullptr) throw_fatal("select: no cases outside a goroutine");
    park_g(g, nullptr, nullptr, WaitReason::SelectNoCases);
    throw_fatal("select (no cases) resumed");
  }
  uint16_t order_buf[2 * kMaxStackCases];
  std::vector<uint16_t> order_vec;
  uint16_t* pollorder = order_buf;
  if (n > kMaxStackCases) {
    order_vec.resize(2 * static_cast<size_t>(n));
    pollorder = order_vec.data();
  }
  uint16_t* lockorder = pollorder + n;
  for (int i = 0; i < n; i++) {
    int j = static_cast<int>(fastrandn(static_cast<uint32_t>(i + 1)));
    pollorder[i] = pollorder[j];
    pollorder[j] = static_cast<uint16_t>(i);
  }
  for (int i = 0; i < n; i++) lockorder[i] = static_cast<uint16_t>(i);
  std::sort(lockorder, lockorder + n, [&](uint16_t a, uint16_t b) {
    return std::less<ChanCore*>()(cases[a].c, cases[b].c);
  });
  LockSet locks{cases, lockorder, n};
  locks.lock();

  // Pass 1: anything ready?
  for (int k = 0; k < n; k++) {
    int i = pollorder[k];
    SelectCase& cs = cases[i];
    ChanCore* c = cs.c;
    if (cs.is_send) {
      if (c->closed_) {
        locks.unlock();
        throw_fatal("send on closed channel");
      }
      if (Sudog* sg = c->recvq_.dequeue()) {
        G* w = c->send_direct(sg, cs.elem);
        locks.unlock();
        ready(w);
        return i;
      }
      if (c->qcount_ < c->cap_) {
        c->send_to_buffer(cs.elem);
        locks.unlock();
        return i;
      }
    } else {
      if (Sudog* sg = c->sendq_.dequeue()) {
        G* w = c->recv_direct(sg, cs.elem);
        locks.unlock();
        ready(w);
        cs.received = true;
        return i;
      }
      if (c->qcount_ > 0) {
        c->recv_from_buffer(cs.elem);
        locks.unlock();
        cs.received = true;
        return i;
      }
      if (c->closed_) {
        locks.unlock();
        c->ops_->default_construct(cs.elem);
        cs.received = false;
        return i;
      }
    }
  }
  if (!block) {
    locks.unlock();
    return -1;
  }
  if (g == nullptr) {
    locks.unlock();
    throw_fatal("select: would block outside a goroutine");
  }

  // Pass 2: enqueue on every channel and park. One sudog per case, built in
  // raw storage on our stack (only n of them are constructed).
  alignas(Sudog) unsigned char sg_raw[kMaxStackCases * sizeof(Sudog)];
  std::vector<Sudog> sg_vec;
  Sudog* sgs = reinterpret_cast<Sudog*>(sg_raw);
  if (n > kMaxStackCases) {
    sg_vec.resize(static_cast<size_t>(n));
    sgs = sg_vec.data();
  }
  g->param = nullptr;
  g->select_done.store(0, std::memory_order_relaxed);
  for (int k = 0; k < n; k++) {
    int i = lockorder[k];
    Sudog* sg = n > kMaxStackCases ? &sgs[i] : new (&sgs[i]) Sudog();
    sg->g = g;
    sg->is_select = true;
    sg->elem = cases[i].elem;
    sg->case_index = i;
    sg->success = false;
    if (cases[i].is_send) cases[i].c->sendq_.enqueue(sg); else cases[i].c->recvq_.enqueue(sg);
  }
  BlockTimer timer(g);
  park_g(g, &selparkcommit, &locks, WaitReason::Select);
  timer.report(WaitReason::Select);

  locks.lock();
  auto* winner = static_cast<Sudog*>(g->param);
  g->param = nullptr;
  for (int k = 0; k < n; k++) {
    int i = lockorder[k];
    Sudog* sg = &sgs[i];
    if (sg == winner) continue;
    if (cases[i].is_send) cases[i].c->sendq_.remove(sg); else cases[i].c->recvq_.remove(sg);
  }
  g->select_done.store(0, std::memory_order_relaxed);
  locks.unlock();
  if (winner == nullptr) throw_fatal("selectgo: bad wakeup");
  int i = winner->case_index;
  if (cases[i].is_send) {
    if (!winner->success) throw_fatal("send on closed channel");
  } else {
    cases[i].received = winner->success;
    if (!winner->success) cases[i].c->ops_->default_construct(cases[i].elem);
  }
  return i;
}

}  // namespace detail
}  // namespace gort
