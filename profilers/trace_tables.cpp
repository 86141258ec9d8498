// trace_tables.cpp — the tracer's stack and string dictionaries
// (trace_tables.h).
#include "profilers/trace_tables.h"

#include <cstring>

#include "runtime/base.h"

namespace profilers::trace {

namespace {

constexpr int kMaxProbes = 64;  // a table this crowded counts the stack as a miss

uint64_t hash_pcs(const uintptr_t* pcs, int n) {
  uint64_t h = 0x9e3779b97f4a7c15ULL ^ static_cast<uint64_t>(n);
  for (int i = 0; i < n; i++) {
    h ^= pcs[i];
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
  }
  return h | 1;  // never 0, which marks an empty slot
}

}  // namespace

StackTable::StackTable(size_t slots) {
  size_t cap = 1;
  while (cap < slots) cap <<= 1;
  mask_ = cap - 1;
  slots_ = std::make_unique<Slot[]>(cap);
}

StackTable::~StackTable() {
  for (size_t i = 0; i <= mask_; i++) delete slots_[i].node.load(std::memory_order_relaxed);
}

uint32_t StackTable::put(const uintptr_t* pcs, int n) {
  if (n <= 0) return 0;
  if (n > kMaxDepth) n = kMaxDepth;
  const uint64_t h = hash_pcs(pcs, n);
  for (int probe = 0; probe < kMaxProbes; probe++) {
    size_t i = (h + static_cast<uint64_t>(probe)) & mask_;
    Slot& s = slots_[i];
    uint64_t seen = s.hash.load(std::memory_order_acquire);
    if (seen == 0) {
      if (s.hash.compare_exchange_strong(seen, h, std::memory_order_acq_rel)) {
        auto* node = new Node;
        node->n = n;
        std::memcpy(node->pcs, pcs, sizeof(uintptr_t) * static_cast<size_t>(n));
        s.node.store(node, std::memory_order_release);
        count_.fetch_add(1, std::memory_order_relaxed);
        return static_cast<uint32_t>(i + 1);
      }
      // Lost the claim: `seen` now holds the winner's hash.
    }
    if (seen != h) continue;
    Node* node;
    while ((node = s.node.load(std::memory_order_acquire)) == nullptr) gort::cpu_relax();
    if (node->n == n && std::memcmp(node->pcs, pcs, sizeof(uintptr_t) * static_cast<size_t>(n)) == 0)
      return static_cast<uint32_t>(i + 1);
  }
  misses_.fetch_add(1, std::memory_order_relaxed);
  return 0;
}

void StackTable::for_each(const std::function<void(uint32_t, const uintptr_t*, int)>& fn) const {
  for (size_t i = 0; i <= mask_; i++)
    if (const Node* node = slots_[i].node.load(std::memory_order_acquire))
      fn(static_cast<uint32_t>(i + 1), node->pcs, node->n);
}

uint64_t StringTable::id(std::string_view s) {
  if (s.empty()) return 0;
  s = s.substr(0, kMaxBytes);
  std::lock_guard<std::mutex> l(mu_);
  auto [it, added] = ids_.try_emplace(std::string(s), texts_.size() + 1);
  if (added) texts_.push_back(&it->first);
  return it->second;
}

void StringTable::for_each(const std::function<void(uint64_t, const std::string&)>& fn) const {
  std::lock_guard<std::mutex> l(mu_);
  for (size_t i = 0; i < texts_.size(); i++) fn(i + 1, *texts_[i]);
}

}  // namespace profilers::trace
