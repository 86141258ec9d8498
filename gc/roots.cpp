// roots.cpp — the roots outside goroutine stacks: Root<T> handles (a
// registry of slots), ranges registered with add_root_range (scanned
// conservatively, like Go's data and bss), and root scanners (gc::Pool);
// and the registry of collected types.
//
// Root slots are allocated from chunks that are never freed, threaded on a
// free list, all under one mutex: creating or destroying a Root takes it,
// reading or assigning one does not (the slot's pointer is atomic). The
// collector walks every chunk with the world stopped, taking the mutex so a
// plain thread creating a Root at that moment cannot race it.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstdarg>

#include "gc/heap_internal.h"

namespace gc::detail {

namespace {

constexpr size_t kRootChunkSlots = 256;
constexpr size_t kMaxTypes = 65535;

struct RootRegistry {
  std::mutex lock;
  std::vector<RootSlot*> chunks;                        // each kRootChunkSlots slots
  RootSlot* free = nullptr;
  size_t live = 0;                                      // slots handed out
  std::vector<std::pair<const void*, size_t>> ranges;   // add_root_range
  std::vector<RootScanner*> scanners;
};

RootRegistry& registry() {
  static RootRegistry* r = new RootRegistry;  // never destroyed: Roots in globals outlive everything
  return *r;
}

struct TypeRegistry {
  std::mutex lock;
  TypeInfo* types = new TypeInfo[kMaxTypes + 1]();
  size_t n = 0;
};
TypeRegistry& types() {
  static TypeRegistry* t = new TypeRegistry;
  return *t;
}

}  // namespace

void gc_throw(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fputs("fatal error: ", stderr);
  std::vfprintf(stderr, fmt, ap);
  std::fputc('\n', stderr);
  va_end(ap);
  std::fflush(stderr);
  std::abort();
}

uint16_t register_type(const TypeInfo& info) {
  TypeRegistry& t = types();
  std::lock_guard<std::mutex> guard(t.lock);
  if (t.n >= kMaxTypes) GC_THROW("gc: more than %zu collected types (registering %s)", kMaxTypes, info.name);
  t.types[++t.n] = info;
  return static_cast<uint16_t>(t.n);
}

const TypeInfo& type_info(uint16_t index) { return types().types[index]; }

RootSlot* root_acquire() {
  RootRegistry& r = registry();
  std::lock_guard<std::mutex> guard(r.lock);
  if (!r.free) {
    RootSlot* chunk = new RootSlot[kRootChunkSlots];
    for (size_t i = 0; i < kRootChunkSlots; i++) {
      chunk[i].next_free = r.free;
      r.free = &chunk[i];
    }
    r.chunks.push_back(chunk);
  }
  RootSlot* s = r.free;
  r.free = s->next_free;
  s->next_free = nullptr;
  r.live++;
  return s;
}

void root_release(RootSlot* s) {
  RootRegistry& r = registry();
  std::lock_guard<std::mutex> guard(r.lock);
  barrier(&s->ptr, nullptr);  // a deletion, as in Root::set
  s->ptr.store(nullptr, std::memory_order_relaxed);
  s->next_free = r.free;
  r.free = s;
  r.live--;
}

void add_root_scanner(RootScanner* s) {
  RootRegistry& r = registry();
  std::lock_guard<std::mutex> guard(r.lock);
  r.scanners.push_back(s);
}

void remove_root_scanner(RootScanner* s) {
  RootRegistry& r = registry();
  std::lock_guard<std::mutex> guard(r.lock);
  r.scanners.erase(std::remove(r.scanners.begin(), r.scanners.end(), s), r.scanners.end());
}

void roots_gc_start() {
  RootRegistry& r = registry();
  std::lock_guard<std::mutex> guard(r.lock);
  for (RootScanner* s : r.scanners) s->on_gc_start();
}

// The three kinds of root scan, run as root jobs while goroutines run.
// Root slots are read atomically (Root::set shades both the old and the new
// value while marking, so a slot changed after this read loses nothing);
// ranges are scanned conservatively, and again at mark termination, since
// stores into them have no barrier; scanners run with the world stopped.
uint64_t scan_root_slots(Visitor& v) {
  RootRegistry& r = registry();
  std::lock_guard<std::mutex> guard(r.lock);
  for (RootSlot* chunk : r.chunks)
    for (size_t i = 0; i < kRootChunkSlots; i++)
      if (const void* p = chunk[i].ptr.load(std::memory_order_relaxed)) v.trace_raw(p);
  return r.live * sizeof(void*);
}

uint64_t scan_root_ranges(Visitor& v) {
  RootRegistry& r = registry();
  std::lock_guard<std::mutex> guard(r.lock);
  uint64_t bytes = 0;
  for (auto& [p, n] : r.ranges) {
    uintptr_t lo = (reinterpret_cast<uintptr_t>(p) + 7) & ~uintptr_t{7};
    uintptr_t hi = (reinterpret_cast<uintptr_t>(p) + n) & ~uintptr_t{7};
    if (hi > lo) scan_range_conservative(v, lo, hi);
    bytes += n;
  }
  return bytes;
}

void scan_root_scanners(Visitor& v) {
  RootRegistry& r = registry();
  std::lock_guard<std::mutex> guard(r.lock);
  for (RootScanner* s : r.scanners) s->scan(v);
}

uint64_t globals_bytes() {
  RootRegistry& r = registry();
  std::lock_guard<std::mutex> guard(r.lock);
  uint64_t bytes = r.live * sizeof(void*);
  for (auto& e : r.ranges) bytes += e.second;
  return bytes;
}

}  // namespace gc::detail

namespace gc {

void add_root_range(const void* p, size_t bytes) {
  auto& r = detail::registry();
  std::lock_guard<std::mutex> guard(r.lock);
  r.ranges.emplace_back(p, bytes);
}

void remove_root_range(const void* p) {
  auto& r = detail::registry();
  std::lock_guard<std::mutex> guard(r.lock);
  r.ranges.erase(std::remove_if(r.ranges.begin(), r.ranges.end(), [p](auto& e) { return e.first == p; }),
                 r.ranges.end());
}

}  // namespace gc
