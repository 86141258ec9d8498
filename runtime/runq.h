// runq.h — run queues: a P's fixed 256-slot local ring and the intrusive
// G list used for the global run queue and batches.
//
// LocalRunQueue is Go's runq: a single-producer (the owning P) ring with
// head advanced by CAS so that consumers — the owner (pop) and thieves
// (steal_half) — can race. tail is written only by the owner. When the ring
// is full the owner moves half of it plus the new G to the global queue
// (runqput_slow in runq.cpp), exactly as Go's runqputslow.
#pragma once

#include <atomic>
#include <cstdint>

#include "runtime/base.h"
#include "runtime/g.h"

namespace gort {

// GQueue is an intrusive FIFO of Gs linked through G::schedlink. Not
// thread-safe: the global queue is guarded by sched.lock; batches are local.
struct GQueue {
  G* head = nullptr;
  G* tail = nullptr;
  bool empty() const { return head == nullptr; }
  void push_back(G* g) {
    g->schedlink = nullptr;
    if (tail) tail->schedlink = g; else head = g;
    tail = g;
  }
  void push_back_all(GQueue& q) {
    if (q.empty()) return;
    if (tail) tail->schedlink = q.head; else head = q.head;
    tail = q.tail;
    q.head = q.tail = nullptr;
  }
  G* pop() {
    G* g = head;
    if (g) {
      head = g->schedlink;
      if (!head) tail = nullptr;
      g->schedlink = nullptr;
    }
    return g;
  }
};

class LocalRunQueue final {
 public:
  static constexpr uint32_t kSize = 256;

  // size is a racy snapshot, fine for heuristics.
  uint32_t size() const {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_acquire);
    return t - h;
  }
  bool empty() const { return size() == 0; }

  // try_put appends g; returns false when full (caller spills). Owner only.
  bool try_put(G* g) {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_relaxed);
    if (t - h < kSize) {
      buf_[t % kSize].store(g, std::memory_order_relaxed);
      tail_.store(t + 1, std::memory_order_release);
      return true;
    }
    return false;
  }

  // pop removes the oldest G. Owner only (races with thieves via CAS).
  G* pop() {
    for (;;) {
      uint32_t h = head_.load(std::memory_order_acquire);
      uint32_t t = tail_.load(std::memory_order_relaxed);
      if (t == h) return nullptr;
      G* g = buf_[h % kSize].load(std::memory_order_relaxed);
      if (head_.compare_exchange_weak(h, h + 1, std::memory_order_acq_rel)) return g;
    }
  }

  // grab_half_for_spill takes the first half of the queue for spilling to the global
  // queue (owner only). Returns the count written to out, 0 if it raced.
  uint32_t grab_half_for_spill(G** out) {
    uint32_t h = head_.load(std::memory_order_acquire);
    uint32_t t = tail_.load(std::memory_order_relaxed);
    uint32_t n = (t - h) / 2;
    if (n != kSize / 2) return 0;
    for (uint32_t i = 0; i < n; i++) out[i] = buf_[(h + i) % kSize].load(std::memory_order_relaxed);
    if (!head_.compare_exchange_strong(h, h + n, std::memory_order_acq_rel)) return 0;
    return n;
  }

  // grab copies half of this queue into dst's ring starting at dst_tail
  // (thief side). Returns how many were taken; the caller publishes them.
  uint32_t grab(LocalRunQueue& dst, uint32_t dst_tail) {
    for (;;) {
      uint32_t h = head_.load(std::memory_order_acquire);
      uint32_t t = tail_.load(std::memory_order_acquire);
      uint32_t n = t - h;
      n = n - n / 2;
      if (n == 0) return 0;
      if (n > kSize / 2) continue;  // inconsistent snapshot, retry
      for (uint32_t i = 0; i < n; i++) {
        G* g = buf_[(h + i) % kSize].load(std::memory_order_relaxed);
        dst.buf_[(dst_tail + i) % kSize].store(g, std::memory_order_relaxed);
      }
      if (head_.compare_exchange_weak(h, h + n, std::memory_order_acq_rel)) return n;
    }
  }

  // steal_half moves half of victim's queue into this (empty-ish) queue and
  // returns one G to run, or nullptr. Called by the thief, who owns *this.
  G* steal_half(LocalRunQueue& victim) {
    uint32_t t = tail_.load(std::memory_order_relaxed);
    uint32_t n = victim.grab(*this, t);
    if (n == 0) return nullptr;
    n--;
    G* g = buf_[(t + n) % kSize].load(std::memory_order_relaxed);
    if (n == 0) return g;
    uint32_t h = head_.load(std::memory_order_acquire);
    if (t - h + n >= kSize) GORT_THROW("runqsteal: runq overflow");
    tail_.store(t + n, std::memory_order_release);
    return g;
  }

 private:
  alignas(64) std::atomic<uint32_t> head_{0};  // consumers CAS
  alignas(64) std::atomic<uint32_t> tail_{0};  // written by owner only
  std::atomic<G*> buf_[kSize]{};
};

}  // namespace gort
