// select.h — Go's select statement over channel cases.
//
//   int v; bool ok;
//   switch (gort::select(gort::on_recv(a, &v, &ok), gort::on_send(b, 42))) {
//     case 0: ...received v (ok=false: a is closed)...; break;
//     case 1: ...sent 42 on b...; break;
//   }
//   int i = gort::select_default(gort::on_recv(a, &v));  // -1: nothing ready
//
// Among ready cases one is chosen uniformly at random; with none ready,
// select blocks (wait reason "select") or, with default, returns -1.
// A send case on a closed channel is fatal, as in Go.
#pragma once

#include <array>
#include <optional>
#include <utility>

#include "runtime/chan.h"

namespace gort {
namespace detail {

struct SelectCase {
  ChanCore* c = nullptr;
  void* elem = nullptr;   // send: source; recv: raw destination storage
  bool is_send = false;
  bool received = false;  // recv result: false = closed channel's zero value
};

// select_impl runs Go's selectgo over cases; returns the chosen index or -1
// (only when !block and nothing was ready).
int select_impl(SelectCase* cases, int n, bool block);

}  // namespace detail

template <class T>
struct RecvCase {
  Chan<T>* ch;
  T* out;
  bool* ok;
  alignas(T) unsigned char slot[sizeof(T)];
  detail::SelectCase make() { return {&ch->core(), slot, false, false}; }
  void finish(const detail::SelectCase& c) {
    T* v = std::launder(reinterpret_cast<T*>(slot));
    if (out) *out = std::move(*v);
    v->~T();
    if (ok) *ok = c.received;
  }
};

template <class T>
struct SendCase {
  Chan<T>* ch;
  T value;
  detail::SelectCase make() { return {&ch->core(), &value, true, false}; }
  void finish(const detail::SelectCase&) {}
};

// on_recv: a receive case; the value is moved into *out (if non-null) and
// *ok (if non-null) says whether it came from a send (false: closed).
template <class T>
RecvCase<T> on_recv(Chan<T>& ch, T* out = nullptr, bool* ok = nullptr) {
  return RecvCase<T>{&ch, out, ok, {}};
}

// on_send: a send case for value v.
template <class T, class V>
SendCase<T> on_send(Chan<T>& ch, V&& v) {
  return SendCase<T>{&ch, T(std::forward<V>(v))};
}

namespace detail {
template <class... Cases>
int run_select(bool block, Cases&... cs) {
  std::array<SelectCase, sizeof...(Cases)> arr{cs.make()...};
  int i = select_impl(arr.data(), static_cast<int>(arr.size()), block);
  if (i >= 0) {
    int k = 0;
    ((k++ == i ? cs.finish(arr[i]) : void()), ...);
  }
  return i;
}
}  // namespace detail

// select blocks until one case can proceed and returns its index.
template <class... Cases>
int select(Cases&&... cs) {
  return detail::run_select(true, cs...);
}

// select_default returns the index of a ready case, or -1 if none is ready.
template <class... Cases>
int select_default(Cases&&... cs) {
  return detail::run_select(false, cs...);
}

}  // namespace gort
