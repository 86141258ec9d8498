// gc_stress_test — random object graphs built and mutated by many goroutines
// on every P while collections run, checked after each cycle.
//
// Each worker owns a graph hanging from a Root: nodes with four Member
// children and a payload (a no-scan byte buffer, sometimes large). It adds
// nodes, rewires and drops edges at random, and publishes some subgraphs to
// a shared table that other workers link to (shared nodes are never mutated
// again, so no data race), and hands fresh subtrees to other workers
// through channels (in flight, a subtree is only in a channel's buffer).
// Collections run concurrently with all of it: marking while the workers
// store, delete and pass pointers. Whenever a collection has finished since its
// last check, a worker walks everything it can reach and checks each node's
// checksum and its payload's bytes: a node freed while reachable would read
// as 0xdb (GORT_GCCHECK=1 fills freed memory; under ASan, freed memory is
// poisoned and any read aborts). At the end all roots are dropped and every
// object ever allocated must have been reported freed (hooks.h, every
// allocation sampled).
#define BOOST_TEST_MODULE gc_stress
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <unordered_set>
#include <vector>

#include "../runtime/test_util.h"
#include "gc/heap.h"
#include "gc/hooks.h"
#include "gc/stats.h"
#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/sync.h"

using namespace gort;

namespace {

constexpr int kKids = 4;
constexpr uint64_t kMagic = 0x9e3779b97f4a7c15ull;

struct GNode {
  uint64_t id;
  uint64_t check;
  uint32_t payload_len;
  bool shared;  // published: read by every worker, written by none
  gc::Member<GNode> kids[kKids];
  uint64_t kid_ids[kKids];  // the id each kid had when linked: a freed and reused slot shows up
  gc::Member<uint8_t> payload;
  void trace(gc::Visitor& v) const {
    for (const auto& k : kids) v.trace(k);
    v.trace(payload);
  }
};

std::atomic<uint64_t> allocated{0};
std::atomic<uint64_t> freed_count{0};
std::atomic<uint64_t> bad{0};

void* on_alloc(void*, size_t) {
  allocated.fetch_add(1, std::memory_order_relaxed);
  return reinterpret_cast<void*>(1);
}
void on_free(void*, size_t) { freed_count.fetch_add(1, std::memory_order_relaxed); }

std::atomic<uint64_t> next_id{1};

void set_kid(GNode* n, int k, GNode* kid) {
  n->kids[k] = kid;
  n->kid_ids[k] = kid ? kid->id : 0;
}

GNode* new_node(std::mt19937_64& rng) {
  auto* n = gc::make<GNode>();
  n->id = next_id.fetch_add(1, std::memory_order_relaxed);
  n->check = n->id * kMagic;
  uint32_t len = static_cast<uint32_t>(rng() % 100 == 0 ? 33'000 + rng() % 40'000 : 8 + rng() % 300);
  uint8_t* p = gc::alloc_bytes(len);
  std::memset(p, static_cast<int>(n->id & 0xff), len);
  n->payload = p;
  n->payload_len = len;
  return n;
}

// verify walks everything reachable from root; returns the node count.
size_t verify(GNode* root) {
  std::unordered_set<GNode*> seen;
  std::vector<GNode*> stack{root};
  while (!stack.empty()) {
    GNode* n = stack.back();
    stack.pop_back();
    if (!n || !seen.insert(n).second) continue;
    if (n->check != n->id * kMagic) {
      bad.fetch_add(1);
      continue;
    }
    const uint8_t* p = n->payload.get();
    uint8_t want = static_cast<uint8_t>(n->id & 0xff);
    if (!p || p[0] != want || p[n->payload_len - 1] != want || p[n->payload_len / 2] != want) bad.fetch_add(1);
    for (int k = 0; k < kKids; k++) {
      GNode* kid = n->kids[k].get();
      if (kid && kid->id != n->kid_ids[k]) bad.fetch_add(1);
      stack.push_back(kid);
    }
  }
  return seen.size();
}

struct Shared {
  Mutex mu;
  std::vector<gc::Root<GNode>> slots = std::vector<gc::Root<GNode>>(64);
  // One inbox per worker: fresh subtrees handed from worker to worker. A
  // subtree in flight sits in a channel buffer, which only the collector's
  // scan of channel buffers sees.
  std::vector<std::unique_ptr<Chan<GNode*>>> inbox;
};

void worker(int seed, int iters, Shared* shared, std::atomic<uint64_t>* checks) {
  std::mt19937_64 rng(static_cast<uint64_t>(seed) * 7919 + 1);
  gc::Root<GNode> root = new_node(rng);
  std::vector<gc::Root<GNode>> handles;  // a few extra entry points into the graph
  std::vector<uint64_t> handle_ids;      // and the ids they had when taken
  uint64_t root_id = root->id;
  uint64_t seen_cycles = gc::read_gc_counters().cycles;
  for (int i = 0; i < iters; i++) {
    // Pick a random reachable node by a short random walk.
    GNode* at = root.get();
    for (int d = static_cast<int>(rng() % 6); d > 0; d--) {
      GNode* k = at->kids[rng() % kKids].get();
      if (!k || k->shared) break;  // never write a shared node
      at = k;
    }
    uint64_t op = rng() % 100;
    if (op < 50) {
      // A fresh subtree of 1–8 nodes.
      GNode* sub = new_node(rng);
      for (int j = static_cast<int>(rng() % 8); j > 0; j--) set_kid(sub, static_cast<int>(rng() % kKids), new_node(rng));
      set_kid(at, static_cast<int>(rng() % kKids), sub);
    } else if (op < 70) {
      set_kid(at, static_cast<int>(rng() % kKids), nullptr);  // drop an edge (and maybe a subtree)
    } else if (op < 80) {
      // Rewire: an edge to another reachable node (cycles allowed).
      GNode* other = root.get()->kids[rng() % kKids].get();
      if (other) set_kid(at, static_cast<int>(rng() % kKids), other);
    } else if (op < 88) {
      // Link a shared (immutable) subgraph into our graph — our own nodes
      // only, so shared nodes are never written.
      GNode* mine = new_node(rng);
      {
        std::lock_guard<Mutex> g(shared->mu);
        set_kid(mine, 0, shared->slots[rng() % shared->slots.size()].get());
      }
      set_kid(at, static_cast<int>(rng() % kKids), mine);
    } else if (op < 92) {
      // Publish a fresh subgraph, replacing an old one.
      GNode* pub = new_node(rng);
      set_kid(pub, 1, new_node(rng));
      pub->shared = pub->kids[1]->shared = true;
      std::lock_guard<Mutex> g(shared->mu);
      shared->slots[rng() % shared->slots.size()] = pub;
    } else if (op < 96) {
      if (handles.size() < 8) {
        handles.emplace_back(at);
        handle_ids.push_back(at->id);
      } else {
        size_t h = rng() % handles.size();
        handles[h] = at;
        handle_ids[h] = at->id;
      }
    } else if (op < 98) {
      // Hand a fresh subtree to another worker; it is ours no more.
      GNode* gift = new_node(rng);
      for (int j = static_cast<int>(rng() % 4); j > 0; j--) set_kid(gift, static_cast<int>(rng() % kKids), new_node(rng));
      shared->inbox[rng() % shared->inbox.size()]->try_send(gift);
    } else {
      // Garbage that nothing keeps.
      for (int j = 0; j < 16; j++) new_node(rng);
    }
    if (std::optional<GNode*> got = shared->inbox[static_cast<size_t>(seed)]->try_recv()) {
      GNode* gift = *got;
      if (gift->check != gift->id * kMagic) bad.fetch_add(1);
      verify(gift);
      set_kid(at, static_cast<int>(rng() % kKids), gift);
    }
    // Keep the graph bounded: reset it now and then.
    if (rng() % 500 == 0) {
      root = new_node(rng);
      root_id = root->id;
    }
    uint64_t cycles = gc::read_gc_counters().cycles;
    if (cycles != seen_cycles) {
      seen_cycles = cycles;
      if (root->id != root_id) bad.fetch_add(1);
      verify(root.get());
      for (size_t h = 0; h < handles.size(); h++) {
        if (handles[h]->id != handle_ids[h]) bad.fetch_add(1);
        verify(handles[h].get());
      }
      checks->fetch_add(1, std::memory_order_relaxed);
    }
  }
  verify(root.get());
}

}  // namespace

BOOST_AUTO_TEST_CASE(random_graphs_survive_concurrent_mutation_and_collection) {
  uint64_t checks_done = 0, cycles = 0, alloc_total = 0, freed_total = 0;
  run_main([&] {
    gc::set_alloc_sample_hooks(&on_alloc, &on_free);
    gc::set_mem_profile_rate(1);
    gc::collect();  // caches drop their spans: from here every allocation is sampled
    gc::detail::sweep_all_for_testing();
    uint64_t base_alloc = allocated.load(), base_freed = freed_count.load();
    uint64_t cycles0 = gc::read_gc_counters().cycles;
    {
      auto* shared = new Shared;
      std::atomic<uint64_t> checks{0};
      WaitGroup workers, forcer;
      constexpr int kWorkers = 16;
      for (int w = 0; w < kWorkers; w++) shared->inbox.push_back(std::make_unique<Chan<GNode*>>(2));
      workers.add(kWorkers);
      forcer.add(1);
      std::atomic<bool> done{false};
      for (int w = 0; w < kWorkers; w++)
        go([&, w] {
          worker(w, 20'000, shared, &checks);
          workers.done();
        });
      // A goroutine forcing cycles on top of the pacer's.
      go([&] {
        while (!done.load()) {
          gc::collect();
          sleep_ms(2);
        }
        forcer.done();
      });
      workers.wait();
      done.store(true);
      forcer.wait();
      checks_done = checks.load();
      delete shared;
    }
    // Everything is garbage now. "Eventually freed": a goroutine started
    // since (the background sweeper) may run on a reused stack whose
    // uninitialized frame slots still hold an old pointer for a moment, so
    // allow a few more cycles.
    for (int i = 0; i < 10 && freed_count.load() - base_freed != allocated.load() - base_alloc; i++) {
      gc::collect();
      gc::detail::sweep_all_for_testing();
    }
    cycles = gc::read_gc_counters().cycles - cycles0;
    alloc_total = allocated.load() - base_alloc;
    freed_total = freed_count.load() - base_freed;
    gc::set_alloc_sample_hooks(nullptr, nullptr);
  }, Config{.gomaxprocs = 4});
  BOOST_TEST_MESSAGE("cycles " << cycles << ", checks " << checks_done << ", allocated " << alloc_total << ", freed "
                               << freed_total);
  BOOST_TEST(bad.load() == 0u);
  BOOST_TEST(cycles >= 10u);
  BOOST_TEST(checks_done > 0u);
  BOOST_TEST(alloc_total > 100'000u);
  BOOST_TEST(freed_total == alloc_total);
}
