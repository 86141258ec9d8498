// pool_test — gc::Pool, Go's sync.Pool on the collected heap: a put object
// comes back from get; New fills an empty pool; an object survives one
// collection in the victim cache and is gone after two (Go's poolCleanup);
// objects held only by the pool stay intact while the heap churns and
// collects (the pool reports them as roots); and goroutines on every P
// putting, getting and stealing while collections run never see an object
// twice or a damaged one.
#define BOOST_TEST_MODULE pool_test
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "gc/heap.h"
#include "gc/pool.h"
#include "gc/stats.h"
#include "runtime/gort.h"
#include "runtime/sync.h"
#include "tests/runtime/test_util.h"

namespace {

constexpr uint64_t kMagic = 0x9e3779b97f4a7c15ULL;

// Item is a collected object that can tell whether it was damaged: check
// is derived from id, and tail holds a no-scan buffer filled with id's low
// byte.
struct Item {
  uint64_t id = 0;
  uint64_t check = 0;
  gc::Member<uint8_t> tail;
  void trace(gc::Visitor& v) const { v.trace(tail); }
};

constexpr size_t kTailBytes = 48;

Item* new_item(uint64_t id) {
  Item* it = gc::make<Item>();
  it->id = id;
  it->check = id ^ kMagic;
  it->tail = gc::alloc_bytes(kTailBytes);
  for (size_t i = 0; i < kTailBytes; i++) it->tail[i] = static_cast<uint8_t>(id);
  return it;
}

bool intact(const Item* it) {
  if (it->check != (it->id ^ kMagic) || !it->tail) return false;
  for (size_t i = 0; i < kTailBytes; i++)
    if (it->tail[i] != static_cast<uint8_t>(it->id)) return false;
  return true;
}

// churn allocates about bytes of garbage after a collection, so that if the
// collection had missed the pool's objects (freed their slots), the churn
// would reuse and overwrite them.
void churn(size_t bytes) {
  for (size_t done = 0; done < bytes; done += 256) {
    uint8_t* b = gc::alloc_bytes(256);
    b[0] = 0xee;
  }
}

void run(std::function<void()> fn, int procs = 4) {
  gort::Config cfg;
  cfg.gomaxprocs = procs;
  gort::run_main(std::move(fn), cfg);
}

}  // namespace

BOOST_AUTO_TEST_CASE(put_get_round_trip) {
  run([] {
    gc::Pool<Item> pool;
    BOOST_TEST(pool.get() == nullptr);
    Item* a = new_item(1);
    pool.put(a);
    BOOST_TEST(pool.get() == a);
    BOOST_TEST(pool.get() == nullptr);
    pool.put(nullptr);  // ignored, as Go's Put(nil)
    BOOST_TEST(pool.get() == nullptr);

    // More than the private slot holds: everything comes back once.
    std::set<Item*> put;
    for (uint64_t i = 0; i < 100; i++) {
      Item* it = new_item(i);
      put.insert(it);
      pool.put(it);
    }
    std::set<Item*> got;
    while (Item* it = pool.get()) {
      BOOST_TEST(intact(it));
      BOOST_TEST(got.insert(it).second);
    }
    BOOST_TEST((got == put));
  });
}

BOOST_AUTO_TEST_CASE(new_fills_an_empty_pool) {
  run([] {
    int made = 0;
    gc::Pool<Item> pool([&] { return new_item(1000 + static_cast<uint64_t>(made++)); });
    Item* a = pool.get();
    BOOST_REQUIRE(a != nullptr);
    BOOST_TEST(a->id == 1000u);
    pool.put(a);
    BOOST_TEST(pool.get() == a);
    BOOST_TEST(made == 1);
    BOOST_TEST(pool.get()->id == 1001u);
  });
}

BOOST_AUTO_TEST_CASE(objects_survive_one_collection_and_go_after_two) {
  run([] {
    // Only the collections below: churn must not start one of its own.
    const int gogc = gc::set_gogc(-1);
    gc::Pool<Item> pool;
    std::vector<uintptr_t> addrs;  // hidden from the conservative scan
    for (uint64_t i = 0; i < 64; i++) {
      Item* it = new_item(i);
      addrs.push_back(reinterpret_cast<uintptr_t>(it) ^ kMagic);
      pool.put(it);
    }
    gc::collect();
    churn(8 << 20);
    // All 64 come back from the victim cache, undamaged.
    std::set<uint64_t> ids;
    std::vector<Item*> back;
    while (Item* it = pool.get()) {
      BOOST_TEST(intact(it));
      ids.insert(it->id);
      back.push_back(it);
    }
    BOOST_TEST(ids.size() == 64u);
    // Put them back, then two collections: the first moves them to the
    // victim, the second drops them.
    for (Item* it : back) pool.put(it);
    back.clear();
    gc::collect();
    gc::collect();
    BOOST_TEST(pool.get() == nullptr);
    // An object put between two collections survives the second.
    Item* late = new_item(7);
    pool.put(late);
    gc::collect();
    BOOST_TEST(pool.get() == late);
    gc::set_gogc(gogc);
  // One P: collect() parks while the mark runs, and a goroutine that came
  // back on another P would not see the private slot it filled (Go's Get
  // does not steal other Ps' private objects either).
  }, 1);
}

BOOST_AUTO_TEST_CASE(concurrent_put_get_while_collecting) {
  run(
      [] {
        gc::Pool<Item> pool;
        constexpr int kWorkers = 16, kRounds = 3000;
        std::atomic<int> damaged{0}, done{0};
        std::atomic<uint64_t> gets{0}, next_id{1};
        gort::WaitGroup wg;
        for (int w = 0; w < kWorkers; w++) {
          wg.add(1);
          gort::go([&] {
            // On the goroutine's stack, where the collector looks (a
            // std::vector's buffer would be invisible to it).
            Item* mine[4];
            for (int r = 0; r < kRounds; r++) {
              // Take a few, check them, put them back (or fresh ones), so
              // objects move between Ps' private slots and shared lists.
              for (Item*& slot : mine) {
                Item* it = pool.get();
                if (!it) it = new_item(next_id.fetch_add(1));
                if (!intact(it)) damaged++;
                gets++;
                slot = it;
              }
              churn(512);
              for (Item*& slot : mine) pool.put(std::exchange(slot, nullptr));
              if (r % 64 == 0) gort::yield();
            }
            done++;
            wg.done();
          });
        }
        // Collections while the workers run.
        int cycles = 0;
        while (done.load() < kWorkers) {
          gc::collect();
          cycles++;
          gort::yield();
        }
        wg.wait();
        BOOST_TEST(damaged.load() == 0);
        BOOST_TEST(gets.load() == uint64_t{kWorkers} * kRounds * 4);
        BOOST_TEST(cycles >= 1);
        // Whatever is left is intact and distinct.
        std::set<Item*> left;
        while (Item* it = pool.get()) {
          BOOST_TEST(intact(it));
          BOOST_TEST(left.insert(it).second);
        }
      },
      4);
}
