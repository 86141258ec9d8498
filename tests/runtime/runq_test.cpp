// runq_test.cpp — the run queues of runtime/runq.h, without the scheduler:
// LocalRunQueue's FIFO order, its 256-slot limit, grab_half_for_spill and
// steal_half; GQueue's push/pop/splice; and the lock-free protocol between
// an owner that puts and pops and 1–3 thieves that steal from it at once,
// where every G must come out exactly once.
//
// Only G addresses and G::schedlink are used, so the Gs are bare records
// (never started). Threads synchronize on atomics, never on sleeps.
#define BOOST_TEST_MODULE runq_test
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "runtime/runq.h"

using namespace gort;

namespace {

constexpr uint32_t kSize = LocalRunQueue::kSize;

// Generous bound for "eventually" conditions: far beyond anything a healthy
// run needs, short enough that a bug fails instead of hanging.
constexpr auto kDeadline = std::chrono::seconds(30);

// index_of maps a G back to its position in gs.
size_t index_of(const std::vector<G>& gs, const G* g) { return static_cast<size_t>(g - gs.data()); }

}  // namespace

BOOST_AUTO_TEST_CASE(local_put_pop_is_fifo) {
  std::vector<G> gs(3 * kSize);
  auto q = std::make_unique<LocalRunQueue>();
  BOOST_TEST(q->empty());
  BOOST_TEST(q->pop() == nullptr);
  // Interleave puts and pops so head and tail wrap around the ring.
  size_t next_put = 0, next_pop = 0;
  while (next_pop < gs.size()) {
    for (int k = 0; k < 7 && next_put < gs.size(); k++) BOOST_REQUIRE(q->try_put(&gs[next_put++]));
    for (int k = 0; k < 5 && next_pop < next_put; k++) BOOST_REQUIRE(q->pop() == &gs[next_pop++]);
    if (next_put == gs.size())
      while (next_pop < next_put) BOOST_REQUIRE(q->pop() == &gs[next_pop++]);
    BOOST_REQUIRE(q->size() == next_put - next_pop);
  }
  BOOST_TEST(q->empty());
  BOOST_TEST(q->pop() == nullptr);
}

BOOST_AUTO_TEST_CASE(local_try_put_fails_when_full) {
  std::vector<G> gs(kSize + 1);
  auto q = std::make_unique<LocalRunQueue>();
  for (uint32_t i = 0; i < kSize; i++) BOOST_REQUIRE(q->try_put(&gs[i]));
  BOOST_TEST(q->size() == kSize);
  BOOST_TEST(!q->try_put(&gs[kSize]));
  BOOST_TEST(q->size() == kSize);  // the refused put left the ring as it was
  BOOST_TEST(q->pop() == &gs[0]);
  BOOST_TEST(q->try_put(&gs[kSize]));  // one slot free again
  for (uint32_t i = 1; i <= kSize; i++) BOOST_REQUIRE(q->pop() == &gs[i]);
  BOOST_TEST(q->empty());
}

BOOST_AUTO_TEST_CASE(grab_half_for_spill_takes_the_oldest_half_of_a_full_queue) {
  std::vector<G> gs(kSize);
  auto q = std::make_unique<LocalRunQueue>();
  std::vector<G*> out(kSize);
  for (uint32_t i = 0; i < kSize - 1; i++) BOOST_REQUIRE(q->try_put(&gs[i]));
  BOOST_TEST(q->grab_half_for_spill(out.data()) == 0u);  // not full: nothing to spill
  BOOST_TEST(q->size() == kSize - 1);
  BOOST_REQUIRE(q->try_put(&gs[kSize - 1]));
  BOOST_REQUIRE(q->grab_half_for_spill(out.data()) == kSize / 2);
  for (uint32_t i = 0; i < kSize / 2; i++) BOOST_REQUIRE(out[i] == &gs[i]);
  BOOST_TEST(q->size() == kSize / 2);
  for (uint32_t i = kSize / 2; i < kSize; i++) BOOST_REQUIRE(q->pop() == &gs[i]);
  BOOST_TEST(q->empty());
}

BOOST_AUTO_TEST_CASE(steal_half_moves_half_rounded_up_and_returns_one) {
  auto victim = std::make_unique<LocalRunQueue>();
  auto thief = std::make_unique<LocalRunQueue>();
  BOOST_TEST(thief->steal_half(*victim) == nullptr);  // nothing to steal
  BOOST_TEST(thief->empty());

  for (uint32_t n : {1u, 2u, 5u, 8u, kSize}) {
    BOOST_TEST_CONTEXT("victim holds " << n) {
      std::vector<G> gs(n);
      for (G& g : gs) BOOST_REQUIRE(victim->try_put(&g));
      const uint32_t taken = n - n / 2;
      // The thief runs the last G it took and queues the older ones.
      BOOST_TEST(thief->steal_half(*victim) == &gs[taken - 1]);
      BOOST_TEST(thief->size() == taken - 1);
      BOOST_TEST(victim->size() == n - taken);
      for (uint32_t i = 0; i + 1 < taken; i++) BOOST_REQUIRE(thief->pop() == &gs[i]);
      for (uint32_t i = taken; i < n; i++) BOOST_REQUIRE(victim->pop() == &gs[i]);
      BOOST_TEST(thief->empty());
      BOOST_TEST(victim->empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(steal_half_appends_behind_the_thiefs_own_gs) {
  std::vector<G> gs(10);
  auto victim = std::make_unique<LocalRunQueue>();
  auto thief = std::make_unique<LocalRunQueue>();
  BOOST_REQUIRE(thief->try_put(&gs[0]));
  for (int i = 1; i < 7; i++) BOOST_REQUIRE(victim->try_put(&gs[i]));  // 6 queued: steal 3
  BOOST_TEST(thief->steal_half(*victim) == &gs[3]);
  for (int i : {0, 1, 2}) BOOST_TEST(thief->pop() == &gs[i]);
  BOOST_TEST(thief->empty());
  for (int i : {4, 5, 6}) BOOST_TEST(victim->pop() == &gs[i]);
}

BOOST_AUTO_TEST_CASE(gqueue_push_pop_and_splice) {
  std::vector<G> gs(6);
  GQueue q;
  BOOST_TEST(q.empty());
  BOOST_TEST(q.pop() == nullptr);
  q.push_back(&gs[0]);
  q.push_back(&gs[1]);
  q.push_back(&gs[2]);
  BOOST_TEST(q.pop() == &gs[0]);
  BOOST_TEST(gs[0].schedlink == nullptr);  // pop unlinks
  BOOST_TEST(q.pop() == &gs[1]);
  BOOST_TEST(q.pop() == &gs[2]);
  BOOST_TEST(q.empty());
  BOOST_TEST(q.tail == nullptr);
  q.push_back(&gs[0]);  // usable again after draining
  BOOST_TEST(q.pop() == &gs[0]);

  // push_back_all: into empty, from empty, and non-empty onto non-empty.
  GQueue a, b;
  b.push_back(&gs[0]);
  b.push_back(&gs[1]);
  a.push_back_all(b);
  BOOST_TEST(b.empty());
  BOOST_TEST(b.tail == nullptr);
  a.push_back_all(b);
  for (int i = 2; i < 6; i++) b.push_back(&gs[i]);
  a.push_back_all(b);
  BOOST_TEST(b.empty());
  for (int i = 0; i < 6; i++) BOOST_REQUIRE(a.pop() == &gs[i]);
  BOOST_TEST(a.empty());
  BOOST_TEST(a.tail == nullptr);
  a.push_back(&gs[5]);  // still usable after draining
  BOOST_TEST(a.pop() == &gs[5]);
}

namespace {

// owner_and_thieves runs the scheduler's queue protocol on kItems Gs: the
// owner thread puts them in random bursts, pops some itself and, when the
// ring is full, spills half to its "global queue" (a list only it touches,
// as runqput_slow would); each thief thread owns its own LocalRunQueue and
// steals from the owner's in a loop, running (recording) the G steal_half
// returns and draining the rest of what it stole. Afterwards every G must
// have been obtained by exactly one of them, exactly once.
void owner_and_thieves(int nthieves) {
  constexpr size_t kItems = 200'000;
  constexpr size_t kStealCheckpointItems = 10'000;
  std::vector<G> gs(kItems);
  auto victim = std::make_unique<LocalRunQueue>();
  std::atomic<int> ready{0};        // threads that reached the start line
  std::atomic<bool> start{false};   // set once every thread is ready
  std::atomic<bool> done{false};    // owner: everything put and its ring empty
  std::vector<std::vector<uint32_t>> got(nthieves + 1);  // got[i] written only by thread i
  std::vector<size_t> late(nthieves + 1, 0);             // late[i]: Gs thief i got after done

  std::vector<std::thread> thieves;
  for (int i = 1; i <= nthieves; i++) {
    thieves.emplace_back([&, i] {
      auto own = std::make_unique<LocalRunQueue>();
      std::vector<uint32_t>& mine = got[i];
      ready.fetch_add(1);
      while (!start.load(std::memory_order_acquire)) std::this_thread::yield();
      // Steal until done, then once more: the owner's ring was empty when
      // it set done, so that round must find nothing (checked below).
      for (bool last = false; !last;) {
        last = done.load(std::memory_order_acquire);
        const size_t before = mine.size();
        if (G* g = own->steal_half(*victim)) mine.push_back(static_cast<uint32_t>(index_of(gs, g)));
        while (G* g = own->pop()) mine.push_back(static_cast<uint32_t>(index_of(gs, g)));
        if (last) late[i] = mine.size() - before;
      }
    });
  }

  std::mt19937 rng(42);
  std::vector<G*> spill(kSize);
  std::vector<uint32_t>& mine = got[0];
  while (ready.load() != nthieves) std::this_thread::yield();
  start.store(true, std::memory_order_release);
  size_t next = 0;
  bool stalled = false;  // no thief stole within the deadline
  while (next < kItems) {
    for (uint32_t burst = 1 + rng() % 16; burst > 0 && next < kItems; burst--) {
      while (!victim->try_put(&gs[next])) {
        // Full: spill half, or retry if a thief took some meanwhile.
        uint32_t n = victim->grab_half_for_spill(spill.data());
        for (uint32_t k = 0; k < n; k++) mine.push_back(static_cast<uint32_t>(index_of(gs, spill[k])));
      }
      next++;
    }
    for (uint32_t pops = rng() % 12; pops > 0; pops--) {
      if (G* g = victim->pop()) mine.push_back(static_cast<uint32_t>(index_of(gs, g)));
    }
    // Now and then hold still until a thief has taken something, so that
    // every run really steals, however the OS schedules the threads.
    // (The deadline only turns a broken queue's hang into a failure.)
    const uint32_t before = victim->size();  // once: thieves may empty the ring any moment
    if (next % kStealCheckpointItems < 16 && before > 0) {
      const auto deadline = std::chrono::steady_clock::now() + kDeadline;
      while (victim->size() >= before && std::chrono::steady_clock::now() < deadline)
        std::this_thread::yield();
      if (victim->size() >= before) {
        stalled = true;
        break;
      }
    }
  }
  for (uint32_t n = 0; n <= kSize; n++) {  // bounded: a corrupt ring must fail, not spin
    G* g = victim->pop();
    if (g == nullptr) break;
    mine.push_back(static_cast<uint32_t>(index_of(gs, g)));
  }
  done.store(true, std::memory_order_release);
  for (std::thread& t : thieves) t.join();

  BOOST_REQUIRE(!stalled);
  BOOST_TEST(victim->empty());
  std::vector<uint8_t> seen(kItems, 0);
  size_t total = 0, dups = 0, stolen = 0;
  for (int i = 0; i <= nthieves; i++) {
    for (uint32_t k : got[i]) {
      BOOST_REQUIRE(k < kItems);  // a G that was never queued
      if (seen[k]++ != 0) dups++;
    }
    total += got[i].size();
    if (i > 0) stolen += got[i].size();
  }
  size_t lost = 0;
  for (uint8_t s : seen) lost += s == 0;
  BOOST_TEST(dups == 0u);
  BOOST_TEST(lost == 0u);
  BOOST_TEST(total == kItems);
  BOOST_TEST(stolen > 0u);
  for (size_t n : late) BOOST_TEST(n == 0u);
  BOOST_TEST_MESSAGE(nthieves << " thieves stole " << stolen << " of " << kItems);
}

}  // namespace

BOOST_AUTO_TEST_CASE(concurrent_steal_one_thief) { owner_and_thieves(1); }
BOOST_AUTO_TEST_CASE(concurrent_steal_two_thieves) { owner_and_thieves(2); }
BOOST_AUTO_TEST_CASE(concurrent_steal_three_thieves) { owner_and_thieves(3); }
