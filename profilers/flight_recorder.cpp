// flight_recorder.cpp — the flight recorder (flight_recorder.h): a trace
// that never stops, kept as segments between cuts.
//
// Concurrency. State::mu (a gort::Mutex: holders may park) guards the
// segment list and every call into the tracer: the collecting goroutine,
// snapshots and records take turns. stopping is atomic.
#include "profilers/flight_recorder.h"

#include <algorithm>
#include <atomic>
#include <deque>
#include <mutex>
#include <set>
#include <string_view>
#include <vector>

#include "profilers/trace_window.h"
#include "profilers/tracer.h"
#include "runtime/gort.h"
#include "runtime/observer.h"
#include "runtime/sync.h"

namespace profilers {

namespace {

constexpr int64_t kCollectEveryNs = 50'000'000;       // batches move from the tracer to the history
constexpr int64_t kMinWindowNs = 100'000'000;         // shorter windows would cut the world to pieces
constexpr int64_t kMaxWindowNs = 3'600'000'000'000;   // an hour
constexpr uint64_t kMinMaxBytes = 1 << 20;
constexpr uint64_t kRestartStacks = 1 << 15;          // half the tracer's stack table (tracer.cpp kStackSlots)

std::atomic<FlightRecorder*> g_active{nullptr};

}  // namespace

struct FlightRecorder::State {
  Options opts;
  int64_t cut_every_ns = 0;
  gort::Mutex mu;
  std::unique_ptr<ExecutionTracer> tracer;  // guarded by mu
  struct Segment {
    ExecutionTracer::Cut cut;  // where it begins
    std::string bytes;         // batches after the cut, until the next segment's cut
    size_t size() const { return cut.prologue.size() + cut.epilogue.size() + cut.seqs.size() * 24 + bytes.size(); }
  };
  std::deque<Segment> history;  // guarded by mu; oldest first, never empty while running
  uint64_t history_bytes = 0;   // guarded by mu
  std::multiset<int64_t> pins;  // guarded by mu: records in progress, by their first cut's time
  Stats stats;                  // guarded by mu
  std::atomic<bool> stopping{false};
  gort::WaitGroup done;

  // begin starts a fresh trace and makes its first cut (the start snapshot
  // itself is not kept: every file begins at a cut). mu held.
  bool begin(std::string* why) {
    tracer = ExecutionTracer::start(why);
    if (!tracer) return false;
    history.clear();
    history_bytes = 0;
    std::string dropped;
    tracer->take_batches(&dropped);
    history.emplace_back();
    tracer->cut(&history.back().cut);
    history.back().cut.before.clear();  // the start snapshot: not kept
    history_bytes = history.back().size();
    return true;
  }

  // collect moves the tracer's finished batches into the newest segment. mu held.
  void collect() {
    Segment& s = history.back();
    size_t before = s.bytes.size();
    tracer->take_batches(&s.bytes);
    history_bytes += s.bytes.size() - before;
  }

  // cut ends the newest segment and begins another. mu held.
  void cut() {
    collect();
    ExecutionTracer::Cut c;
    int64_t t0 = gort::nanotime();
    tracer->cut(&c);
    stats.last_cut_ns = gort::nanotime() - t0;
    stats.cuts++;
    history.back().bytes += c.before;
    history_bytes += c.before.size();
    c.before.clear();
    history.emplace_back();
    history.back().cut = std::move(c);
    history_bytes += history.back().size();
    trim();
  }

  // trim drops the oldest segments that no snapshot needs: those whose
  // successor is already at least a window old, then, over max_bytes, any
  // but the newest. A pinned segment (a record in progress) stays. mu held.
  void trim() {
    const int64_t now = gort::event_clock_ns();
    auto pinned = [&](const Segment& s) { return !pins.empty() && s.cut.ts >= *pins.begin(); };
    // Over the byte bound the newest whole segment stays besides the new
    // one, so that a snapshot always has something to show.
    while (history.size() > 1 && !pinned(history.front()) &&
           (history[1].cut.ts <= now - opts.window_ns || (history_bytes > opts.max_bytes && history.size() > 2))) {
      stats.dropped_bytes += history.front().size();
      history_bytes -= history.front().size();
      history.pop_front();
    }
  }

  // file_from makes a new cut and writes the file from the cut at
  // first_ts to it — or, when first_ts is 0, from the newest cut at least a
  // window old (the oldest kept if none is). mu held.
  std::string file_from(int64_t first_ts, std::string* why) {
    cut();
    if (first_ts == 0) {
      const int64_t now = history.back().cut.ts;
      first_ts = history.front().cut.ts;
      for (size_t i = 0; i + 1 < history.size(); i++)
        if (history[i].cut.ts <= now - opts.window_ns) first_ts = history[i].cut.ts;
    }
    const Segment* from = nullptr;
    std::vector<std::string_view> stream;
    for (size_t i = 0; i + 1 < history.size(); i++) {
      if (from == nullptr && history[i].cut.ts >= first_ts) from = &history[i];
      if (from != nullptr) stream.emplace_back(history[i].bytes);
    }
    if (from == nullptr) {
      if (why) *why = "the flight recorder lost the start of the trace";
      return {};
    }
    std::string out = write_trace_window(from->cut, stream, history.back().cut, tracer->dictionaries_so_far(), why);
    if (!out.empty()) stats.snapshots++;
    return out;
  }

  // maybe_restart begins a fresh trace when the stack table is half full. mu held.
  void maybe_restart() {
    if (!pins.empty() || tracer->stats().stacks < kRestartStacks) return;
    tracer->stop();
    tracer.reset();
    std::string why;
    if (begin(&why)) stats.restarts++;
  }

  void loop() {
    int64_t next_cut = gort::nanotime() + cut_every_ns;
    while (!stopping.load(std::memory_order_acquire)) {
      gort::sleep_for(std::chrono::nanoseconds(kCollectEveryNs));
      std::lock_guard<gort::Mutex> l(mu);
      if (!tracer) break;
      collect();
      // Over the byte bound, a cut lets the oldest history go.
      if (gort::nanotime() >= next_cut || history_bytes > opts.max_bytes) {
        cut();
        maybe_restart();
        next_cut = gort::nanotime() + cut_every_ns;
      }
    }
    std::lock_guard<gort::Mutex> l(mu);
    if (tracer) tracer->stop();
    tracer.reset();
    history.clear();
    history_bytes = 0;
  }
};

std::unique_ptr<FlightRecorder> FlightRecorder::start(const Options& opts, std::string* why) {
  if (opts.window_ns < kMinWindowNs || opts.window_ns > kMaxWindowNs) {
    if (why) *why = "flight recorder window out of range [100ms, 1h]";
    return nullptr;
  }
  if (opts.max_bytes < kMinMaxBytes) {
    if (why) *why = "flight recorder memory bound below 1 MiB";
    return nullptr;
  }
  auto s = std::make_shared<State>();
  s->opts = opts;
  s->cut_every_ns = std::max<int64_t>(opts.window_ns / 4, kMinWindowNs / 4);
  {
    std::lock_guard<gort::Mutex> l(s->mu);
    if (!s->begin(why)) return nullptr;
  }
  s->done.add(1);
  gort::go([s] {
    s->loop();
    s->done.done();
  });
  std::unique_ptr<FlightRecorder> fr(new FlightRecorder(s));
  g_active.store(fr.get(), std::memory_order_release);
  return fr;
}

std::string FlightRecorder::snapshot(std::string* why) {
  std::lock_guard<gort::Mutex> l(s_->mu);
  if (!s_->tracer) {
    if (why) *why = "the flight recorder is stopped";
    return {};
  }
  return s_->file_from(0, why);
}

std::string FlightRecorder::record(int64_t ns, const std::function<bool()>& should_stop, std::string* why) {
  int64_t first = 0;
  {
    std::lock_guard<gort::Mutex> l(s_->mu);
    if (!s_->tracer) {
      if (why) *why = "the flight recorder is stopped";
      return {};
    }
    s_->cut();
    first = s_->history.back().cut.ts;
    s_->pins.insert(first);
  }
  const int64_t deadline = gort::nanotime() + ns;
  for (;;) {
    int64_t left = deadline - gort::nanotime();
    if (left <= 0 || (should_stop && should_stop())) break;
    gort::sleep_for(std::chrono::nanoseconds(std::min(left, kCollectEveryNs)));
  }
  std::lock_guard<gort::Mutex> l(s_->mu);
  s_->pins.erase(s_->pins.find(first));
  if (!s_->tracer) {
    if (why) *why = "the flight recorder stopped";
    return {};
  }
  s_->collect();
  std::string out = s_->file_from(first, why);
  s_->trim();
  return out;
}

void FlightRecorder::stop() {
  if (s_->stopping.exchange(true)) return;
  FlightRecorder* self = this;
  g_active.compare_exchange_strong(self, nullptr);
  s_->done.wait();
}

FlightRecorder::Stats FlightRecorder::stats() const {
  std::lock_guard<gort::Mutex> l(s_->mu);
  Stats st = s_->stats;
  st.segments = s_->history.size();
  st.bytes = s_->history_bytes;
  if (!s_->history.empty()) st.oldest_ns = gort::event_clock_ns() - s_->history.front().cut.ts;
  return st;
}

FlightRecorder::~FlightRecorder() { stop(); }

FlightRecorder* active_flight_recorder() { return g_active.load(std::memory_order_acquire); }

}  // namespace profilers
