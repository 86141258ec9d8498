// roots_test — every kind of root keeps an object alive through a forced
// collection, and the object is freed once the root lets go: a parked
// goroutine's stack, a callee-saved register of a parked goroutine, a
// goroutine inside a BlockingSection, an interior pointer, a Root handle in
// malloc'd memory, a chain of Members, a channel's buffer. Then every way a
// pointer moves while a mark runs concurrently keeps its object: allocated
// during the mark, received from a channel, held in a register across the
// exit of a BlockingSection, moved between Root handles; and a mark that no
// allocation helps still ends.
//
// Freed objects are observed through the heap profiler's hooks (hooks.h)
// with every allocation sampled: each object's handle is a tag, and the
// free hook records the tags it sees. The goroutine that holds an object is
// the only code that ever has its address in the clear — the test body
// gets it XOR-ed with a key — so no stale copy on the test's own stack can
// keep it alive.
#define BOOST_TEST_MODULE roots
#include <unistd.h>

#include <atomic>
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <mutex>
#include <set>

#include "../runtime/test_util.h"
#include "gc/heap.h"
#include "gc/hooks.h"
#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/sync.h"

using namespace gort;

namespace {

constexpr uintptr_t kKey = 0x5a5a'a5a5'1234'5678;

struct Obj {
  uint64_t words[6];
  gc::Member<Obj> next;
  void trace(gc::Visitor& v) const { v.trace(next); }
};

std::mutex tags_mu;
std::set<uintptr_t> freed_tags;
std::atomic<uintptr_t> next_tag{1};
thread_local uintptr_t last_tag = 0;

void* on_alloc(void*, size_t) {
  last_tag = next_tag.fetch_add(1);
  return reinterpret_cast<void*>(last_tag);
}
void on_free(void* handle, size_t) {
  std::lock_guard<std::mutex> g(tags_mu);
  freed_tags.insert(reinterpret_cast<uintptr_t>(handle));
}
bool freed(uintptr_t tag) {
  std::lock_guard<std::mutex> g(tags_mu);
  return freed_tags.count(tag) != 0;
}

// collect_and_sweep runs a forced cycle and finishes its sweep, so every
// object it found dead has been reported.
void collect_and_sweep() {
  gc::collect();
  gc::detail::sweep_all_for_testing();
}

// freed_eventually collects until tag is reported freed, a few cycles at
// most: a goroutine started meanwhile (the background sweeper) may run on
// a reused stack whose uninitialized frame slots hold an old copy of the
// pointer for a moment.
bool freed_eventually(uintptr_t tag) {
  for (int i = 0; i < 5; i++) {
    collect_and_sweep();
    if (freed(tag)) return true;
  }
  return false;
}

// scrub_stack zeroes stack below the caller, so dead frames keep no copy
// of a pointer the caller no longer holds.
__attribute__((noinline)) void scrub_stack() {
  volatile char buf[16384];
  for (size_t i = 0; i < sizeof(buf); i++) buf[i] = 0;
}

// new_tagged allocates an Obj (with size `bytes` rounded up by the size
// class) and returns it XOR kKey, and its tag.
__attribute__((noinline)) uintptr_t new_tagged(uintptr_t* tag) {
  Obj* o = gc::make<Obj>();
  o->words[0] = 42;
  *tag = last_tag;
  return reinterpret_cast<uintptr_t>(o) ^ kKey;
}

struct Enabled {
  Enabled() {
    gc::set_alloc_sample_hooks(&on_alloc, &on_free);
    gc::set_mem_profile_rate(1);
  }
};

// in_goroutine runs fn on a goroutine of its own, scrubs its stack, and
// waits for it to exit, so pointers fn handled leave no copy behind.
void in_goroutine(const std::function<void()>& fn) {
  int64_t id = go([&] {
    fn();
    scrub_stack();
  });
  gort_test::wait_until([&] { return gort_test::goroutine_state(id).status == GStatus::Dead; }, "helper exits");
}

void with_runtime(const std::function<void()>& body) {
  run_main([&] {
    static Enabled enabled;
    collect_and_sweep();  // start from a swept heap, the mark workers spawned
    body();
  }, Config{.gomaxprocs = 2});
}

struct Verdict {
  bool kept = false;     // survived a forced collection while held
  bool dropped = false;  // freed by one after the holder let go
};

// held_by_goroutine starts a goroutine that allocates a tagged object and
// calls hold(enc) with its address XOR kKey; hold keeps the object some
// way until release() lets it return. The object must survive a collection
// once holding(id) says the goroutine holds it, and be freed once the
// goroutine has exited.
Verdict held_by_goroutine(const std::function<void(uintptr_t enc)>& hold, const std::function<bool(int64_t id)>& holding,
                          const std::function<void()>& release) {
  Verdict v;
  Chan<uintptr_t> tag_ch(1);
  int64_t id = go([&] {
    uintptr_t tag;
    uintptr_t enc = new_tagged(&tag);
    scrub_stack();
    tag_ch.send(tag);
    hold(enc);
  });
  uintptr_t tag = tag_ch.recv();
  gort_test::wait_until([&] { return holding(id); }, "the goroutine holds the object");
  collect_and_sweep();
  v.kept = !freed(tag);
  release();
  gort_test::wait_until([&] { return gort_test::goroutine_state(id).status == GStatus::Dead; }, "holder exits");
  v.dropped = freed_eventually(tag);
  return v;
}

// held_by_parked_goroutine is held_by_goroutine for a holder that parks
// on park.recv() while holding.
Verdict held_by_parked_goroutine(const std::function<void(uintptr_t enc, Chan<int>& park)>& hold) {
  Chan<int> park;
  return held_by_goroutine([&](uintptr_t enc) { hold(enc, park); },
                           [](int64_t id) {
                             gort::GoroutineInfo g = gort_test::goroutine_state(id);
                             return g.status == GStatus::Waiting && g.wait_reason == WaitReason::ChanReceive;
                           },
                           [&] { park.send(1); });
}

}  // namespace

extern "C" __attribute__((noinline)) void gort_gc_test_park(uintptr_t chan) {
  reinterpret_cast<Chan<int>*>(chan)->recv();
}
extern "C" __attribute__((noinline)) void gort_gc_test_block(uintptr_t fd) {
  BlockingSection bs;
  char c;
  if (read(static_cast<int>(fd), &c, 1) != 1) abort();
}

// gort_gc_test_r12_xor(arg, enc, key, fn): r12 = enc ^ key (the pointer,
// only ever in r12), then fn(arg); r12 is restored for the caller.
extern "C" void gort_gc_test_r12_xor(uintptr_t arg, uintptr_t enc, uintptr_t key, void (*fn)(uintptr_t));
asm(R"(
  .text
  .globl gort_gc_test_r12_xor
  .type gort_gc_test_r12_xor, @function
gort_gc_test_r12_xor:
  pushq %rbp
  movq %rsp, %rbp
  pushq %r12
  subq $8, %rsp
  movq %rsi, %r12
  xorq %rdx, %r12
  xorq %rsi, %rsi
  xorq %rdx, %rdx
  call *%rcx
  xorq %r12, %r12
  addq $8, %rsp
  popq %r12
  popq %rbp
  ret
  .size gort_gc_test_r12_xor, .-gort_gc_test_r12_xor
)");

BOOST_AUTO_TEST_CASE(an_object_only_on_a_parked_goroutines_stack_survives) {
  Verdict v;
  with_runtime([&] {
    v = held_by_parked_goroutine([](uintptr_t enc, Chan<int>& park) {
      Obj* volatile p = reinterpret_cast<Obj*>(enc ^ kKey);
      park.recv();
      if (p->words[0] != 42) abort();
      p = nullptr;
    });
  });
  BOOST_TEST(v.kept);
  BOOST_TEST(v.dropped);
}

BOOST_AUTO_TEST_CASE(an_object_only_in_a_callee_saved_register_survives) {
  Verdict v;
  with_runtime([&] {
    v = held_by_parked_goroutine([](uintptr_t enc, Chan<int>& park) {
      gort_gc_test_r12_xor(reinterpret_cast<uintptr_t>(&park), enc, kKey, &gort_gc_test_park);
    });
  });
  BOOST_TEST(v.kept);
  BOOST_TEST(v.dropped);
}

BOOST_AUTO_TEST_CASE(an_object_held_inside_a_blocking_section_survives) {
  Verdict v;
  with_runtime([&] {
    int fds[2];
    if (pipe(fds) != 0) return;
    v = held_by_goroutine(
        [&](uintptr_t enc) { gort_gc_test_r12_xor(static_cast<uintptr_t>(fds[0]), enc, kKey, &gort_gc_test_block); },
        [](int64_t id) { return gort_test::goroutine_state(id).status == GStatus::Syscall; },
        [&] {
          char one = 1;
          if (write(fds[1], &one, 1) != 1) abort();
        });
    close(fds[0]);
    close(fds[1]);
  });
  BOOST_TEST(v.kept);
  BOOST_TEST(v.dropped);
}

BOOST_AUTO_TEST_CASE(an_interior_pointer_keeps_its_object) {
  Verdict v;
  bool intact = false;
  with_runtime([&] {
    v = held_by_parked_goroutine([&](uintptr_t enc, Chan<int>& park) {
      char* volatile inner = reinterpret_cast<char*>(enc ^ kKey) + 24;  // inside words[]
      park.recv();
      intact = reinterpret_cast<Obj*>(inner - 24)->words[0] == 42;
      inner = nullptr;
    });
  });
  BOOST_TEST(v.kept);
  BOOST_TEST(intact);
  BOOST_TEST(v.dropped);
}

namespace {
struct Holder {
  gc::Root<Obj> root;
};
}  // namespace

BOOST_AUTO_TEST_CASE(a_root_in_malloced_memory_keeps_a_chain_alive) {
  bool kept = false, second_kept = false, second_dropped = false, dropped = false;
  with_runtime([&] {
    auto* holder = new Holder;
    uintptr_t tag_a = 0, tag_b = 0;
    int64_t id = go([&] {
      uintptr_t enc_a = new_tagged(&tag_a);
      uintptr_t enc_b = new_tagged(&tag_b);
      Obj* a = reinterpret_cast<Obj*>(enc_a ^ kKey);
      a->next = reinterpret_cast<Obj*>(enc_b ^ kKey);
      holder->root = a;
      a = nullptr;
      scrub_stack();
    });
    gort_test::wait_until([&] { return gort_test::goroutine_state(id).status == GStatus::Dead; }, "maker exits");
    collect_and_sweep();
    kept = !freed(tag_a);
    second_kept = !freed(tag_b);
    in_goroutine([&] { holder->root->next = nullptr; });
    second_dropped = freed_eventually(tag_b);
    delete holder;
    dropped = freed_eventually(tag_a);
  });
  BOOST_TEST(kept);
  BOOST_TEST(second_kept);
  BOOST_TEST(second_dropped);
  BOOST_TEST(dropped);
}

BOOST_AUTO_TEST_CASE(large_objects_and_byte_buffers_are_collected) {
  bool zeroed = true, kept = false, dropped = false;
  with_runtime([&] {
    gc::Root<uint8_t> big;
    uintptr_t tag = 0, small_tag = 0;
    int64_t id = go([&] {
      uint8_t* b = gc::alloc_bytes(100'000);
      tag = last_tag;
      for (int i = 0; i < 100'000; i++) zeroed = zeroed && b[i] == 0;
      std::memset(b, 7, 100'000);
      big = b;
      gc::alloc_bytes(64);  // unreachable at once
      small_tag = last_tag;
      scrub_stack();
    });
    gort_test::wait_until([&] { return gort_test::goroutine_state(id).status == GStatus::Dead; }, "maker exits");
    collect_and_sweep();
    in_goroutine([&] { kept = !freed(tag) && big.get()[99'999] == 7; });
    big = nullptr;
    dropped = freed_eventually(tag) && freed_eventually(small_tag);
  });
  BOOST_TEST(zeroed);
  BOOST_TEST(kept);
  BOOST_TEST(dropped);
}

// ---- Pointers on the move while the collector marks concurrently ----
//
// Each case below holds a mark open (gc::detail::hold_mark_for_testing)
// while a goroutine moves a pointer in one of the ways the collector's
// opening essay (collector.cpp) argues are safe, then lets the mark end and
// checks that the object survived it.

namespace {

// MarkHeldOpen starts a forced collection on a goroutine of its own with
// its mark held open; finish() lets the mark end and waits for the cycle
// and its sweep.
class MarkHeldOpen {
 public:
  MarkHeldOpen() {
    gc::detail::hold_mark_for_testing(true);
    go([this] {
      gc::collect();
      done_.send(1);
    });
    gort_test::wait_until([] { return gc::detail::marking_for_testing(); }, "the mark runs");
  }
  void finish() {
    gc::detail::hold_mark_for_testing(false);
    done_.recv();
    gc::detail::sweep_all_for_testing();
  }

 private:
  Chan<int> done_{1};
};

}  // namespace

BOOST_AUTO_TEST_CASE(an_object_allocated_during_the_mark_survives_it) {
  bool kept = false, intact = false, dropped = false;
  with_runtime([&] {
    std::atomic<uintptr_t> tag{0};
    uintptr_t enc = 0;
    Chan<int> park, stop;
    // The holder's stack is scanned before it allocates (at the latest when
    // it resumes after the mark's start) and never again: only
    // allocate-black keeps the object.
    int64_t id = go([&] {
      park.recv();
      uintptr_t t = 0;
      enc = new_tagged(&t);
      tag.store(t);
      Obj* volatile p = reinterpret_cast<Obj*>(enc ^ kKey);
      park.recv();
      intact = p->words[0] == 42;
      p = nullptr;
      stop.recv();
    });
    gort_test::wait_until([&] { return gort_test::goroutine_state(id).status == GStatus::Waiting; }, "holder parks");
    MarkHeldOpen mark;
    park.send(1);  // allocate now
    gort_test::wait_until([&] { return tag.load() != 0 && gort_test::goroutine_state(id).status == GStatus::Waiting; },
                          "holder allocated and parked");
    mark.finish();
    kept = !freed(tag);
    park.send(1);
    stop.send(1);
    gort_test::wait_until([&] { return gort_test::goroutine_state(id).status == GStatus::Dead; }, "holder exits");
    dropped = freed_eventually(tag);
  });
  BOOST_TEST(kept);
  BOOST_TEST(intact);
  BOOST_TEST(dropped);
}

BOOST_AUTO_TEST_CASE(an_object_only_in_a_channel_buffer_survives) {
  bool kept = false, kept_across_mark = false, intact = false, dropped = false;
  with_runtime([&] {
    Chan<Obj*> ch(4);  // a buffer in malloc'd memory: scanned as a root
    uintptr_t tag = 0, tag2 = 0;
    in_goroutine([&] {
      uintptr_t enc = new_tagged(&tag);
      ch.send(reinterpret_cast<Obj*>(enc ^ kKey));
      enc = new_tagged(&tag2);
      ch.send(reinterpret_cast<Obj*>(enc ^ kKey));
    });
    collect_and_sweep();  // both sit in the buffer only
    kept = !freed(tag) && !freed(tag2);
    // Received while a mark runs, onto a stack already scanned.
    Chan<uintptr_t> out(2);
    {
      MarkHeldOpen mark;
      in_goroutine([&] {
        Obj* p = ch.recv();
        intact = p->words[0] == 42;
        out.send(reinterpret_cast<uintptr_t>(p) ^ kKey);
      });
      mark.finish();
    }
    kept_across_mark = !freed(tag);
    in_goroutine([&] {
      Obj* p = reinterpret_cast<Obj*>(out.recv() ^ kKey);
      intact = intact && p->words[0] == 42;
      (void)ch.recv();  // the second leaves the buffer too
    });
    dropped = freed_eventually(tag) && freed_eventually(tag2);
  });
  BOOST_TEST(kept);
  BOOST_TEST(kept_across_mark);
  BOOST_TEST(intact);
  BOOST_TEST(dropped);
}

BOOST_AUTO_TEST_CASE(a_goroutine_leaving_a_blocking_section_during_the_mark_keeps_its_register) {
  bool kept = false, dropped = false;
  with_runtime([&] {
    int fds[2];
    if (pipe(fds) != 0) return;
    uintptr_t tag = 0;
    Chan<int> after;
    int64_t id = go([&] {
      uintptr_t enc = new_tagged(&tag);
      scrub_stack();
      // In r12 only, through a blocking read, then a park: the section's
      // exit is where the scan must not be torn.
      gort_gc_test_r12_xor(static_cast<uintptr_t>(fds[0]), enc, kKey, &gort_gc_test_block);
      after.recv();
    });
    gort_test::wait_until([&] { return gort_test::goroutine_state(id).status == GStatus::Syscall; }, "in the section");
    MarkHeldOpen mark;
    char one = 1;
    if (write(fds[1], &one, 1) != 1) abort();
    gort_test::wait_until([&] { return gort_test::goroutine_state(id).status == GStatus::Waiting; }, "left it");
    mark.finish();
    kept = !freed(tag);
    after.send(1);
    gort_test::wait_until([&] { return gort_test::goroutine_state(id).status == GStatus::Dead; }, "exits");
    dropped = freed_eventually(tag);
    close(fds[0]);
    close(fds[1]);
  });
  BOOST_TEST(kept);
  BOOST_TEST(dropped);
}

BOOST_AUTO_TEST_CASE(a_pointer_moved_between_roots_during_the_mark_survives) {
  bool kept = false, dropped = false;
  with_runtime([&] {
    auto* a = new Holder;
    auto* b = new Holder;
    uintptr_t tag = 0;
    in_goroutine([&] { a->root = reinterpret_cast<Obj*>(new_tagged(&tag) ^ kKey); });
    {
      MarkHeldOpen mark;
      // Move it from one handle to the other: the deletion from `a` shades it.
      in_goroutine([&] {
        b->root = a->root.get();
        a->root = nullptr;
      });
      mark.finish();
    }
    kept = !freed(tag);
    delete b;
    dropped = freed_eventually(tag);
    delete a;
  });
  BOOST_TEST(kept);
  BOOST_TEST(dropped);
}

BOOST_AUTO_TEST_CASE(marking_finishes_while_no_goroutine_allocates) {
  gc::CycleSummary sum;
  with_runtime([&] {
    gc::Root<Obj> live;
    in_goroutine([&] {
      for (int i = 0; i < 140'000; i++) {  // ~9 MB to mark
        Obj* o = gc::make<Obj>();
        o->next = live.get();
        live = o;
      }
    });
    std::atomic<bool> stop{false};
    WaitGroup spinners;
    spinners.add(2);
    for (int i = 0; i < 2; i++)
      go([&] {
        while (!stop.load(std::memory_order_relaxed)) preempt_check();  // never allocates
        spinners.done();
      });
    sum = gc::collect();  // this goroutine parks: only background workers mark
    stop.store(true);
    spinners.wait();
  });
  BOOST_TEST_MESSAGE("assist " << sum.assist_cpu_ns << " ns, background " << sum.background_cpu_ns << " ns, idle "
                               << sum.idle_cpu_ns << " ns, marked " << sum.heap_marked);
  BOOST_TEST(sum.num > 0u);
  BOOST_TEST(sum.heap_marked >= 8'000'000u);
  BOOST_TEST(sum.assist_cpu_ns == 0);
  BOOST_TEST(sum.background_cpu_ns + sum.idle_cpu_ns > 0);
}
