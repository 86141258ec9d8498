// scan.cpp — the collector's view of goroutine stacks (scan.h) and where a
// stack walk of a stopped goroutine starts (goroutine.h SavedFrame).
//
// Boost.Context's jump_fcontext (x86-64 SysV, checked against the Boost
// 1.81 library Debian ships) leaves this at the saved context `ctx`:
//   ctx+0x00  mxcsr, x87 control word
//   ctx+0x08  (unused)
//   ctx+0x10  r12      ctx+0x18  r13      ctx+0x20  r14      ctx+0x28  r15
//   ctx+0x30  rbx      ctx+0x38  rbp
//   ctx+0x40  return address into the frame that called jump_fcontext
//   ctx+0x48  that frame's stack pointer after the call returns
// so [ctx, stack top) covers every callee-saved register and every frame.
#include "runtime/scan.h"

#include "runtime/sched_internal.h"

namespace gort {

namespace {

constexpr uintptr_t kCtxRbp = 0x38;
constexpr uintptr_t kCtxReturnAddress = 0x40;
constexpr uintptr_t kCtxFrameSp = 0x48;

// spill_registers stores the callee-saved registers (rbx, rbp, r12–r15:
// everything a caller may still hold a pointer in across a call) into out.
__attribute__((always_inline)) inline void spill_registers(uintptr_t out[6]) {
  asm volatile(
      "movq %%rbx, 0(%0)\n\t"
      "movq %%rbp, 8(%0)\n\t"
      "movq %%r12, 16(%0)\n\t"
      "movq %%r13, 24(%0)\n\t"
      "movq %%r14, 32(%0)\n\t"
      "movq %%r15, 40(%0)\n\t"
      :
      : "r"(out)
      : "memory");
}

}  // namespace

// saved_frame reads a switched-out goroutine's context, which its next
// switch rewrites: the caller stops the world or knows the goroutine stays
// parked; otherwise the frame is a best-effort snapshot.
GORT_RACY_SNAPSHOT SavedFrame saved_frame(const G* g) {
  SavedFrame f;
  GStatus s = g->status.load(std::memory_order_acquire);
  if (s == GStatus::Syscall) {
    f.pc = g->syscall_pc;
    f.fp = g->syscall_fp;
    f.sp = g->syscall_sp;
    return f;
  }
  if ((s != GStatus::Waiting && s != GStatus::Runnable) || !g->started.load(std::memory_order_relaxed)) return f;
  auto ctx = reinterpret_cast<uintptr_t>(g->ctx);
  if (ctx < g->stack.lo || ctx + kCtxFrameSp > g->stack.hi) return f;
  f.fp = *reinterpret_cast<const uintptr_t*>(ctx + kCtxRbp);
  f.pc = *reinterpret_cast<const uintptr_t*>(ctx + kCtxReturnAddress);
  f.sp = ctx + kCtxFrameSp;
  return f;
}

bool stack_scan_range(const G* g, StackScanRange* out) {
  *out = StackScanRange{};
  switch (g->status.load(std::memory_order_acquire)) {
    case GStatus::Runnable:
    case GStatus::Waiting: {
      auto ctx = reinterpret_cast<uintptr_t>(g->ctx);
      if (ctx < g->stack.lo || ctx >= g->stack.hi) return false;
      out->lo = ctx & ~uintptr_t{7};
      out->hi = g->stack.hi;
      return true;
    }
    case GStatus::Syscall:
      out->lo = g->syscall_sp & ~uintptr_t{7};
      out->hi = g->stack.hi;
      out->regs = g->syscall_regs;
      out->nregs = kSavedRegisters;
      return true;
    case GStatus::Idle:
    case GStatus::Running:
    case GStatus::Dead:
      break;
  }
  return false;
}

// record_syscall_entry: the BlockingSection constructor's part of the
// contract — called from it (not inlined), so the registers it spills are
// those its caller left, and everything above its frame is the caller's.
__attribute__((noinline)) void record_syscall_entry(G* g) {
  spill_registers(g->syscall_regs);
  g->syscall_sp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  // The frame to walk from in a dump: the constructor's caller. Our saved
  // rbp is the constructor's frame; it holds the caller's rbp and return pc.
  const auto* ctor_frame = *reinterpret_cast<const uintptr_t* const*>(__builtin_frame_address(0));
  g->syscall_fp = ctor_frame[0];
  g->syscall_pc = ctor_frame[1];
}

__attribute__((noinline)) void scan_own_stack(void (*fn)(const StackScanRange&, void*), void* arg) {
  G* g = detail::curg();
  if (g == nullptr) GORT_THROW("scan_own_stack: not on a goroutine");
  uintptr_t regs[kSavedRegisters];
  spill_registers(regs);
  StackScanRange r;
  r.lo = reinterpret_cast<uintptr_t>(regs);
  r.hi = g->stack.hi;
  fn(r, arg);
  asm volatile("" : : "r"(regs) : "memory");  // keep the spill alive across fn
}

GORT_TLS_READER int current_p_index() {
  M* m = tls_m;
  if (detail::tls_curg == nullptr || m == nullptr || m->p == nullptr) return -1;
  return m->p->id;
}

void alloc_safepoint() {
  G* g = detail::curg();
  if (g == nullptr) return;
  check_stack(g);
  if (GORT_UNLIKELY(g->preempt.load(std::memory_order_relaxed))) preempt_park(g);
}

}  // namespace gort
