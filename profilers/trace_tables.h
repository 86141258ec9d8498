// trace_tables.h — the execution tracer's dictionaries: stacks (PC vectors
// → ids, filled from observer callbacks on every thread without a lock)
// and strings (text → ids, for names written at the end of the trace).
//
// StackTable is an open-addressing hash table of fixed capacity. A writer
// hashes its PCs and probes; an empty slot is claimed with one
// compare-and-swap of its hash word, then the PCs are published through the
// slot's node pointer; a reader that meets a claimed slot with the same
// hash waits (a few instructions) for the node to compare it. Ids are slot
// numbers + 1, so they are unique and never change. Nothing is ever
// removed while the trace runs; the table is read whole, single-threaded,
// when the trace stops. Rejected: a mutex-protected map (every block,
// unblock and create event of every M would take one shared lock); a
// per-P table (the same stack would get several ids and be symbolized
// several times).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace profilers::trace {

class StackTable final {
 public:
  static constexpr int kMaxDepth = 64;  // frames kept per stack (Go keeps 128)

  explicit StackTable(size_t slots);
  ~StackTable();
  StackTable(const StackTable&) = delete;
  StackTable& operator=(const StackTable&) = delete;

  // put returns the id of the stack pcs[0..n) (innermost first), adding it
  // if new; 0 for an empty stack or when the table is full. Lock-free; any
  // thread, including observer callbacks.
  uint32_t put(const uintptr_t* pcs, int n);

  // for_each calls fn(id, pcs, n) for every stack, in id order. Only once
  // no put can run any more.
  void for_each(const std::function<void(uint32_t, const uintptr_t*, int)>& fn) const;

  uint64_t size() const { return count_.load(std::memory_order_relaxed); }
  uint64_t full_misses() const { return misses_.load(std::memory_order_relaxed); }

 private:
  struct Node {
    int n;
    uintptr_t pcs[kMaxDepth];
  };
  struct Slot {
    std::atomic<uint64_t> hash{0};   // 0: empty; claimed by CAS; atomic
    std::atomic<Node*> node{nullptr};  // published after the claim (release)
  };
  size_t mask_;
  std::unique_ptr<Slot[]> slots_;
  std::atomic<uint64_t> count_{0};   // atomic
  std::atomic<uint64_t> misses_{0};  // atomic
};

// StringTable gives every distinct string an id from 1 (0 is the empty
// string and is never defined). Thread-safe (a mutex: strings are looked up
// at user annotations and when the trace stops, not per scheduling event).
//
// A string longer than kMaxBytes, the longest String record Go's parser
// accepts, is cut to its first kMaxBytes (strings that agree that far share
// an id): a task or region name of any length must not make the whole trace
// unreadable. Go cuts its trace strings too, to the room left in its buffer.
class StringTable final {
 public:
  static constexpr size_t kMaxBytes = 1'000'000;

  uint64_t id(std::string_view s);
  // for_each calls fn(id, text) for every string, in id order.
  void for_each(const std::function<void(uint64_t, const std::string&)>& fn) const;

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, uint64_t> ids_;  // guarded by mu_
  std::vector<const std::string*> texts_;          // guarded by mu_; texts_[id-1]
};

// encode_dictionaries returns the end of a trace (trace_dictionaries.cpp):
// a Stack record for every stack in `stacks`, symbolized, a String record
// for every string `strings` holds by then (the frames' names and files
// included), and the Frequency record.
std::string encode_dictionaries(const StackTable& stacks, StringTable& strings, uint64_t ticks_per_second);

}  // namespace profilers::trace
