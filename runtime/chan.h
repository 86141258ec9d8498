// chan.h — Go channels: buffered and unbuffered, close, receive with ok,
// iteration until closed, and select (select.h).
//
// Chan<T> is a thin typed shell over detail::ChanCore, which implements Go's
// chan.go algorithm on untyped element slots: a lock, a ring buffer of
// `cap` slots, and FIFO queues of waiting senders and receivers (sudogs on
// the waiters' own stacks). A value goes straight from a sender to a parked
// receiver's destination (or the other way round) without touching the
// buffer whenever someone is waiting, as in Go.
//
// Misuse is fatal, as Go panics: send on a closed channel ("send on closed
// channel"), close of a closed channel ("close of closed channel").
// Channels are not copyable; share them by reference or pointer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <type_traits>
#include <utility>

#include "runtime/base.h"
#include "runtime/goroutine.h"

namespace gort {
void for_each_chan_buffer(void (*fn)(const void* elem, size_t bytes));
namespace detail {

// ElemOps moves and destroys elements of one type in untyped storage.
struct ElemOps {
  size_t size;
  void (*move_construct)(void* dst, void* src);
  void (*destroy)(void* p);
  void (*default_construct)(void* dst);
};

template <class T>
inline const ElemOps* elem_ops() {
  static const ElemOps ops{
      sizeof(T),
      [](void* d, void* s) { new (d) T(std::move(*static_cast<T*>(s))); },
      [](void* p) { static_cast<T*>(p)->~T(); },
      [](void* d) { new (d) T(); },
  };
  return &ops;
}

class ChanCore;

// Sudog is a goroutine waiting on a channel (Go's sudog). Always on the
// waiting goroutine's stack; linked into the channel's recvq or sendq while
// the goroutine is parked, protected by the channel lock.
struct Sudog {
  G* g = nullptr;
  Sudog* next = nullptr;
  Sudog* prev = nullptr;
  Sudog* waitlink = nullptr;  // close(): the list of waiters to wake after unlocking
  void* elem = nullptr;       // send: source value; recv: destination (may be null)
  bool is_select = false;
  bool success = false;       // true: a value was transferred; false: woken by close
  int case_index = -1;
};

struct WaitQ {
  Sudog* first = nullptr;
  Sudog* last = nullptr;
  void enqueue(Sudog* s);
  Sudog* dequeue();  // skips select sudogs whose select already completed
  void remove(Sudog* s);
};

class ChanCore {
 public:
  ChanCore(const ElemOps* ops, size_t cap);
  ~ChanCore();
  ChanCore(const ChanCore&) = delete;
  ChanCore& operator=(const ChanCore&) = delete;

  // send moves *src into the channel; blocks until a receiver or buffer slot
  // takes it. block=false returns false instead of blocking.
  bool send(void* src, bool block);
  // recv moves a value into *dst (raw storage: it is constructed, a
  // default value when the channel is closed and drained). Returns
  // {selected, received}: selected=false only when !block and nothing was
  // ready; received=false when the value is the closed channel's zero value.
  std::pair<bool, bool> recv(void* dst, bool block);
  void close();
  size_t len() const;
  size_t cap() const { return cap_; }
  bool closed() const;
  // lock exposes the channel lock to select, which locks several channels
  // in address order.
  RuntimeLock& lock() const { return lock_; }

 private:
  friend int select_impl(struct SelectCase* cases, int n, bool block);
  friend void gort::for_each_chan_buffer(void (*fn)(const void*, size_t));
  void* slot(size_t i) { return buf_ + i * ops_->size; }
  // Must hold lock_. Transfer to/from a waiting partner and return its G,
  // which the caller readies after unlocking.
  G* send_direct(Sudog* sg, void* src);
  G* recv_direct(Sudog* sg, void* dst);
  void recv_from_buffer(void* dst);
  void send_to_buffer(void* src);
  bool wait_on(WaitQ& q, void* elem, WaitReason reason);
  static bool park_unlock(G* g, void* lock);

  mutable RuntimeLock lock_;
  const ElemOps* ops_;
  size_t cap_;
  unsigned char* buf_ = nullptr;  // cap_ slots (guarded by lock_)
  size_t qcount_ = 0;             // (lock_)
  size_t sendx_ = 0, recvx_ = 0;  // (lock_)
  bool closed_ = false;           // (lock_)
  WaitQ recvq_, sendq_;           // (lock_)
  // Buffered channels are linked into a registry the collector scans
  // (scan.h for_each_chan_buffer); guarded by the registry's lock.
  ChanCore* reg_prev_ = nullptr;
  ChanCore* reg_next_ = nullptr;
};

}  // namespace detail

template <class T>
class Chan final {
 public:
  // Chan(cap) makes a channel with a buffer of cap elements (0: unbuffered).
  explicit Chan(size_t cap = 0) : core_(detail::elem_ops<T>(), cap) {}
  Chan(const Chan&) = delete;
  Chan& operator=(const Chan&) = delete;

  // send blocks until the value is delivered or buffered. Fatal if closed.
  void send(T v) { core_.send(&v, true); }
  // try_send is a select with one send case and a default.
  bool try_send(T v) { return core_.send(&v, false); }

  // recv blocks for a value; a closed, drained channel yields T{}.
  T recv() {
    Slot s;
    core_.recv(&s, true);
    return s.take();
  }
  // recv_ok is Go's `v, ok := <-c`: nullopt when closed and drained.
  std::optional<T> recv_ok() {
    Slot s;
    auto [sel, ok] = core_.recv(&s, true);
    (void)sel;
    T v = s.take();
    if (!ok) return std::nullopt;
    return std::optional<T>(std::move(v));
  }
  // try_recv: nullopt if nothing is ready or the channel is closed.
  std::optional<T> try_recv() {
    Slot s;
    auto [sel, ok] = core_.recv(&s, false);
    if (!sel) return std::nullopt;
    T v = s.take();
    if (!ok) return std::nullopt;
    return std::optional<T>(std::move(v));
  }
  void close() { core_.close(); }
  size_t len() const { return core_.len(); }
  size_t cap() const { return core_.cap(); }

  // Range iteration: for (T v : ch) {...} runs until the channel is closed.
  class iterator {
   public:
    explicit iterator(Chan* c) : c_(c) { advance(); }
    T& operator*() { return *cur_; }
    iterator& operator++() {
      advance();
      return *this;
    }
    bool operator!=(std::nullptr_t) const { return cur_.has_value(); }

   private:
    void advance() { cur_ = c_->recv_ok(); }
    Chan* c_;
    std::optional<T> cur_;
  };
  iterator begin() { return iterator(this); }
  std::nullptr_t end() { return nullptr; }

  detail::ChanCore& core() { return core_; }

 private:
  struct Slot {
    alignas(T) unsigned char raw[sizeof(T)];
    T take() {
      T* p = std::launder(reinterpret_cast<T*>(raw));
      T v = std::move(*p);
      p->~T();
      return v;
    }
  };
  detail::ChanCore core_;
};

}  // namespace gort
