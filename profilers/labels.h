// labels.h — Go's runtime/pprof label API over the runtime's goroutine
// labels (gort::set_labels): Labels, WithLabels, SetGoroutineLabels, Do.
// C++ has no context.Context, so the "context" is the label set itself:
//
//   profilers::do_with_labels({{"endpoint", "/work"}}, [&] { work(); });
//
// runs work() with the calling goroutine's labels plus endpoint=/work —
// goroutines it starts inherit them — and restores the previous labels
// afterwards. CPU samples and goroutine profiles carry these labels; `go
// tool pprof -tagfocus endpoint=/work` selects them.
#pragma once

#include <string>
#include <utility>

#include "runtime/gort.h"

namespace profilers {

// with_labels returns base with add merged in (Go's pprof.WithLabels): a key
// already in base takes add's value; new keys are appended in add's order.
inline gort::LabelSet with_labels(gort::LabelSet base, const gort::LabelSet& add) {
  for (const auto& [k, v] : add) {
    bool found = false;
    for (auto& [bk, bv] : base) {
      if (bk == k) {
        bv = v;
        found = true;
        break;
      }
    }
    if (!found) base.emplace_back(k, v);
  }
  return base;
}

// set_goroutine_labels replaces the calling goroutine's labels (Go's
// pprof.SetGoroutineLabels).
inline void set_goroutine_labels(gort::LabelSet labels) { gort::set_labels(std::move(labels)); }

// do_with_labels runs f with the calling goroutine's labels extended by add
// (Go's pprof.Do), restoring the previous labels when f returns or throws.
template <class F>
void do_with_labels(const gort::LabelSet& add, F&& f) {
  gort::LabelSet previous = gort::get_labels();
  gort::set_labels(with_labels(previous, add));
  struct Restore {
    gort::LabelSet& previous;
    ~Restore() { gort::set_labels(std::move(previous)); }
  } restore{previous};
  std::forward<F>(f)();
}

}  // namespace profilers
