// config.cpp — run_main: start-up configuration (Config, $GOMAXPROCS,
// $GORT_STACK_KB, $GORT_GUARDED_STACKS, $GODEBUG via godebug.cpp), bringing the scheduler
// up on the calling thread (M0), and shutting it down when the main
// goroutine returns (Go's schedinit, main and exit).
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>

#include "runtime/sched_internal.h"

namespace gort {

Sched sched;

namespace {

int default_procs() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
}

// env_int parses $name as a positive integer; anything else means dflt (as
// Go ignores a malformed GOMAXPROCS).
int64_t env_int(const char* name, int64_t dflt) {
  const char* v = getenv(name);
  if (v == nullptr || *v == 0) return dflt;
  char* end;
  long long x = strtoll(v, &end, 10);
  return (*end == 0 && x > 0) ? x : dflt;
}

// configure rebuilds the scheduler record for a new run and applies cfg
// over the environment.
void configure(const Config& cfg) {
  std::destroy_at(&sched);
  std::construct_at(&sched);
  threads_reset();
  sched.start_ns = nanotime();
  sched.coarse_now_ns = sched.start_ns;
  sched.lastpoll = sched.start_ns;
  sched.gomaxprocs = cfg.gomaxprocs > 0 ? cfg.gomaxprocs : static_cast<int>(env_int("GOMAXPROCS", default_procs()));
  size_t stack_bytes =
      cfg.stack_bytes != 0 ? cfg.stack_bytes : static_cast<size_t>(env_int("GORT_STACK_KB", 256)) * 1024;
  StackPool::init(stack_bytes, static_cast<size_t>(env_int("GORT_GUARDED_STACKS", kDefaultGuardedSlots)));
  sched.schedtrace_ms = cfg.schedtrace_ms >= 0 ? cfg.schedtrace_ms : godebug_int("schedtrace", 0);
  sched.scheddetail = cfg.scheddetail >= 0 ? cfg.scheddetail != 0 : godebug_int("scheddetail", 0) > 0;  // Go: debug.scheddetail > 0
  for (int i = 0; i < sched.gomaxprocs; i++) {
    P* p = new P();
    p->id = i;
    sched.allp.push_back(p);
  }
}

// spawn_main makes fn the main goroutine. main_g must be known before it is
// runnable: another M may start it (and it may exit) the moment start_g
// publishes it.
void spawn_main(std::function<void()>& fn) {
  auto main_entry = [&fn] { fn(); };
  using Fn = decltype(main_entry);
  void* mem;
  G* g = detail::alloc_g_for_spawn(sizeof(Fn), alignof(Fn), &mem);
  new (mem) Fn(std::move(main_entry));
  sched.main_g = g;
  detail::start_g(g, &detail::invoke_and_destroy<Fn>, reinterpret_cast<uintptr_t>(&detail::invoke_and_destroy<Fn>),
                  reinterpret_cast<uintptr_t>(__builtin_return_address(0)));
}

// shutdown stops every M and frees the run's Ps, Ms, Gs and stacks.
void shutdown(M* m0) {
  sysmon_stop();
  wake_all_for_exit();
  newm_barrier();  // no M is half-created now, and none will be
  std::vector<M*> ms;
  {
    std::lock_guard<std::mutex> l(sched.lock);
    for (M* m = sched.allm; m != nullptr; m = m->alllink) ms.push_back(m);
  }
  for (M* m : ms)
    if (m->thread.joinable()) m->thread.join();
  netpoll_shutdown();
  m_exit_current(m0);
  for (P* p : sched.allp) delete p;
  sched.allp.clear();
  for (M* m : ms) delete m;
  allg_free_all();
  StackPool::release_all();
  run_exit_hook();
}

}  // namespace

int run_main(std::function<void()> main_fn, Config cfg) {
  if (tls_m != nullptr) GORT_THROW("run_main: runtime already running on this thread");
  stats_init();
  configure(cfg);
  netpoll_init();
#if !GORT_ASAN && !GORT_TSAN  // the sanitizers report faults themselves, with better detail
  signals_install();
#endif
  M* m0 = allocm();
  m_start_current(m0);
  {
    std::lock_guard<std::mutex> l(sched.lock);
    for (int i = sched.gomaxprocs - 1; i >= 1; i--) pidleput(sched.allp[i]);
  }
  acquirep(m0, sched.allp[0]);
  sysmon_start();  // registered before any goroutine runs
  std::function<void()> fn = std::move(main_fn);
  spawn_main(fn);
  m_loop(m0);
  shutdown(m0);
  return 0;
}

int gomaxprocs() { return sched.gomaxprocs; }

}  // namespace gort
