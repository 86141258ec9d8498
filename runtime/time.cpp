// time.cpp — sleep_for on the per-P timer heaps (timer.h).
#include <chrono>

#include "runtime/sched_internal.h"

namespace gort {

namespace {

struct SleepState {
  Timer timer;
  G* g = nullptr;
};

void sleep_fire(Timer* t, GQueue* ready) { ready->push_back(static_cast<SleepState*>(t->arg)->g); }

// sleep_arm runs on g0 after the sleeper parked: only now may the timer fire.
bool sleep_arm(G* g, void* arg) {
  auto* st = static_cast<SleepState*>(arg);
  st->g = g;
  P* p = g->m->p;  // runs on g's M right after it parked
  bool earliest = p->timers.add(&st->timer);
  // A new earliest deadline: the M blocked in netpoll must sleep less.
  if (earliest) {
    int64_t until = sched.poll_until.load(std::memory_order_relaxed);
    if (sched.lastpoll.load(std::memory_order_relaxed) == 0 && (until == 0 || st->timer.when < until))
      netpoll_break();
  }
  return true;
}

}  // namespace

void sleep_for(std::chrono::nanoseconds d) {
  G* g = current_g();
  if (g == nullptr) {
    std::this_thread::sleep_for(d);
    return;
  }
  if (d.count() <= 0) {
    yield();
    return;
  }
  SleepState st;
  st.timer.when = nanotime() + d.count();
  st.timer.fn = &sleep_fire;
  st.timer.arg = &st;
  park_g(g, &sleep_arm, &st, WaitReason::Sleep);
}

}  // namespace gort
