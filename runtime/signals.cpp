// signals.cpp — turn a fault in the goroutine stack arena into Go's
// "fatal error: stack overflow" naming the goroutine.
//
// Safepoint SP checks (check_stack) catch overflows while the stack pointer
// is still inside the slot's red zone. A goroutine that runs past the red
// zone without reaching a safepoint hits its slot's guard page (stack.h);
// this SIGSEGV/SIGBUS handler, run
// on a per-thread alternate signal stack (the faulting stack is unusable),
// reports it with the goroutine id. Any other fault is re-raised with the
// default action so core dumps and debuggers see the original signal.
#include <signal.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "runtime/sched_internal.h"

namespace gort {

namespace {

constexpr size_t kAltStackBytes = 64 * 1024;
thread_local char* tls_altstack = nullptr;

void on_fault(int sig, siginfo_t* info, void*) {
  auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
  G* g = detail::tls_curg;
  bool near_stack = g && addr < g->stack.hi && addr + (1u << 20) >= g->stack.lo;
  if (near_stack || StackPool::in_arena(addr)) {
    char buf[256];
    int n = snprintf(buf, sizeof buf,
                     "fatal error: stack overflow in goroutine %" PRId64 " (fault at %#" PRIxPTR
                     ", stack [%#" PRIxPTR ", %#" PRIxPTR "))\n",
                     g ? g->id.load(std::memory_order_relaxed) : int64_t{0}, addr, g ? g->stack.lo : 0, g ? g->stack.hi : 0);
    if (n > 0) (void)!write(2, buf, static_cast<size_t>(n));
  }
  // Re-raise with the default action.
  signal(sig, SIG_DFL);
  raise(sig);
}

}  // namespace

// signals_thread_init gives the calling thread an alternate signal stack.
// Not under ASan, which manages per-thread alternate stacks itself
// (signals_altstack reports whichever is installed).
void signals_thread_init() {
  if (GORT_ASAN || tls_altstack) return;
  tls_altstack = new char[kAltStackBytes];
  stack_t ss{};
  ss.ss_sp = tls_altstack;
  ss.ss_size = kAltStackBytes;
  sigaltstack(&ss, nullptr);
}

// signals_thread_exit removes and frees the thread's alternate stack.
void signals_thread_exit() {
  if (!tls_altstack) return;
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  delete[] tls_altstack;
  tls_altstack = nullptr;
}

void signals_altstack(uintptr_t* lo, uintptr_t* hi) {
  stack_t ss{};
  *lo = *hi = 0;
  if (sigaltstack(nullptr, &ss) != 0 || (ss.ss_flags & SS_DISABLE) != 0 || ss.ss_sp == nullptr) return;
  *lo = reinterpret_cast<uintptr_t>(ss.ss_sp);
  *hi = *lo + ss.ss_size;
}

// signals_install installs the fault handler (every run_main: something may
// have reset it in between). The runtime owns SIGSEGV/SIGBUS while it runs,
// as Go does.
void signals_install() {
  struct sigaction sa{};
  sa.sa_sigaction = &on_fault;
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, nullptr);
  sigaction(SIGBUS, &sa, nullptr);
}

}  // namespace gort
