// trace_json.cpp — TraceJsonConverter (trace_json.h): the pipeline from a
// Go 1.19 trace's bytes to trace-event JSON. trace_timeline.cpp turns the
// events into tracks; this file gets them there, in time order, with a
// time scale, from input that arrives in chunks.
//
// Three stages:
//   1. Lookahead. The first kLookaheadBytes are kept raw and scanned
//      (gotrace::TraceReader) for the Frequency record, the earliest event
//      and the String/Stack dictionaries; nothing is written yet.
//   2. Decode, in file order: Batch records switch the current P and reset
//      the clock the timestamp deltas add to; each event becomes a
//      TimedEvent with absolute ticks, in a min-heap by (ticks, file
//      position).
//   3. Timeline, in time order: once the heap holds kReorderEvents, the
//      earliest event goes to TraceTimeline; finish() drains the heap.
//
// Why a lookahead. A trace's time scale is only known from its Frequency
// record, which Go and gort write at the very end, and its time origin is
// its earliest event, which need not be in the first batch (Go flushes a
// P's buffer when it fills, so an idle P's early events come last; the
// real Go trace in tests/profilers/data has P1's first batch, with the
// start-up snapshot, after P0's). Both are exact for any trace that fits in
// the lookahead — the usual ?seconds=N request. Past it the converter has
// to commit: it takes 1e9 ticks per second (gort's nanosecond clock; Go's
// ticks are cputicks/64, so a long Go trace's times come out scaled, and
// the document's "otherData" says so) and clamps anything earlier than
// the origin to 0. Exactly the first kLookaheadBytes are scanned, however
// the input is split, so every split of a trace gives the same document.
//
// Why reorder. Go's reader merges the per-P streams using the goroutines'
// sequence numbers. Here a bounded heap sorted by timestamp does that job
// for events within kReorderEvents of each other in the file: all Ps share
// one clock (spec section 4), and ties keep file order, so each P's own
// order — on which the implicit-goroutine rule rests — is unchanged.
// Events further out of place reach the timeline late; it tolerates that
// (trace_timeline.cpp, "Robustness").
//
// Errors. Malformed input stops reading at the bad record (feed returns
// false); finish() still converts everything before it and closes the
// document with the error in "otherData", so a client that already got a
// 200 receives parseable JSON. A sink that refuses output ends everything.
#include "profilers/trace_json.h"

#include <algorithm>
#include <vector>

#include "profilers/chrome_trace_writer.h"
#include "profilers/trace_reader.h"
#include "profilers/trace_timeline.h"

namespace profilers {

namespace {

namespace gt = gotrace;
using detail::ChromeTraceWriter;
using detail::TimedEvent;
using detail::TraceTimeline;

// kAssumedTicksPerSecond: gort's trace clock (steady_clock nanoseconds),
// assumed when no Frequency record came within the lookahead.
constexpr uint64_t kAssumedTicksPerSecond = 1'000'000'000;

// Pending is a decoded event in the reorder window.
struct Pending {
  TimedEvent event;
  uint64_t order = 0;  // file position, for ties
};
struct Later {
  bool operator()(const Pending& x, const Pending& y) const {
    return x.event.ticks != y.event.ticks ? x.event.ticks > y.event.ticks : x.order > y.order;
  }
};

}  // namespace

struct TraceJsonConverter::Impl {
  explicit Impl(Sink sink) : out(std::move(sink)), timeline(out, dict) {}

  ChromeTraceWriter out;
  detail::TraceDictionary dict;  // filled in file order by both passes
  TraceTimeline timeline;
  gt::TraceReader scan, reader;
  std::string lookahead;  // input held until commit()
  bool committed = false, finished = false;
  std::string error;
  uint64_t freq_in_trace = 0;  // the last Frequency record's value
  uint64_t ticks_per_second = kAssumedTicksPerSecond;

  // Scan pass (lookahead).
  bool scan_batch = false, scan_event = false;
  uint64_t scan_ticks = 0, min_ticks = ~uint64_t{0};  // min_ticks: the earliest event seen

  // Decode pass (file order).
  bool have_batch = false;
  uint64_t dec_p = 0, dec_ticks = 0, order = 0;
  std::vector<Pending> window;  // a heap under Later: the earliest on top

  bool fail(std::string why) {
    if (error.empty()) error = std::move(why);
    return false;
  }
  bool sink_ok() { return out.ok() || fail("the sink refused the output (client gone)"); }

  void pop_earliest() {
    std::pop_heap(window.begin(), window.end(), Later());
    Pending next = std::move(window.back());
    window.pop_back();
    timeline.event(next.event);
  }

  bool dictionary(const gt::Record& r);
  bool scan_record(const gt::Record& r);
  bool decode_record(const gt::Record& r);
  void commit();
  std::string trailing() const;
};

// dictionary records String, Stack and Frequency records (both passes).
bool TraceJsonConverter::Impl::dictionary(const gt::Record& r) {
  switch (r.type) {
    case gt::kEvString:
      dict.strings[r.values[0]] = std::string(r.text);
      break;
    case gt::kEvStack:
      if (r.values[0] != 0 && r.values[1] > 0) dict.stack_fn[r.values[0]] = r.values[3];
      break;
    case gt::kEvFrequency:
      if (r.values[0] == 0) return fail("Frequency record with 0 ticks per second");
      freq_in_trace = r.values[0];
      break;
    case gt::kEvBatch:
      if (r.values[0] != gt::kNoP && r.values[0] >= TraceTimeline::kMaxP) {
        return fail("Batch for P " + std::to_string(r.values[0]) + " out of range");
      }
      break;
    default:
      break;
  }
  return true;
}

bool TraceJsonConverter::Impl::scan_record(const gt::Record& r) {
  if (!dictionary(r)) return false;
  if (r.type == gt::kEvBatch) {
    scan_batch = true;
    scan_ticks = r.values[1];
    return true;
  }
  if (!gt::has_timestamp(r.type)) return true;
  if (!scan_batch) return fail(std::string(gt::event_name(r.type)) + " before the first Batch record");
  scan_ticks += r.values[0];
  scan_event = true;
  min_ticks = std::min(min_ticks, r.type == gt::kEvCPUSample ? r.values[1] : scan_ticks);
  return true;
}

bool TraceJsonConverter::Impl::decode_record(const gt::Record& r) {
  if (!dictionary(r)) return false;
  if (r.type == gt::kEvBatch) {
    have_batch = true;
    dec_p = r.values[0];
    dec_ticks = r.values[1];
    return true;
  }
  if (!gt::has_timestamp(r.type)) return true;
  if (!have_batch) return fail(std::string(gt::event_name(r.type)) + " before the first Batch record");
  dec_ticks += r.values[0];
  Pending pe;
  TimedEvent& e = pe.event;
  pe.order = order++;
  e.ticks = dec_ticks;
  e.p = dec_p;
  e.type = r.type;
  for (size_t i = 1; i < r.values.size() && i <= 4; i++) e.a[i - 1] = r.values[i];
  if (r.type == gt::kEvCPUSample) {
    e.ticks = e.a[0];  // its own timestamp; the delta only moved the batch's clock
    if (e.a[1] != gt::kNoP && e.a[1] >= TraceTimeline::kMaxP) {
      return fail("CPUSample for P " + std::to_string(e.a[1]) + " out of range");
    }
  }
  if (r.type == gt::kEvUserLog) e.text = std::string(r.text);
  window.push_back(std::move(pe));
  std::push_heap(window.begin(), window.end(), Later());
  if (window.size() > kReorderEvents) pop_earliest();
  return out.ok();
}

// commit fixes the time scale and origin from what the lookahead saw,
// opens the document and converts the held input.
void TraceJsonConverter::Impl::commit() {
  committed = true;
  if (freq_in_trace != 0) ticks_per_second = freq_in_trace;
  timeline.begin(ticks_per_second, scan_event ? min_ticks : 0);
  std::string held;
  held.swap(lookahead);
  if (!reader.feed(held, [this](const gt::Record& r) { return decode_record(r); }) && error.empty()) {
    fail(reader.error());
  }
}

// trailing returns the document's members after traceEvents.
std::string TraceJsonConverter::Impl::trailing() const {
  std::string t = "\"displayTimeUnit\":\"ns\",\"otherData\":{\"source\":\"Go 1.19 execution trace\"";
  t += ",\"ticks_per_second\":" + std::to_string(ticks_per_second);
  if (freq_in_trace != ticks_per_second && freq_in_trace != 0) {
    t += ",\"ticks_per_second_in_trace\":" + std::to_string(freq_in_trace);
    t += ",\"note\":\"the Frequency record came after the lookahead; times assume 1e9 ticks per second\"";
  }
  if (!error.empty()) {
    t += ",\"error\":";
    ChromeTraceWriter::append_string(t, error);
  }
  t += '}';
  return t;
}

TraceJsonConverter::TraceJsonConverter(Sink sink) : impl_(std::make_unique<Impl>(std::move(sink))) {}
TraceJsonConverter::~TraceJsonConverter() = default;

const std::string& TraceJsonConverter::error() const {
  return impl_->error;
}

bool TraceJsonConverter::feed(std::string_view bytes) {
  Impl& m = *impl_;
  if (!m.error.empty() || m.finished) return m.fail("feed after finish");
  if (!m.committed) {
    // Only the first kLookaheadBytes are scanned, whatever the chunking,
    // so that every split of the same trace gives the same document.
    size_t take = std::min(bytes.size(), kLookaheadBytes - m.lookahead.size());
    std::string_view head = bytes.substr(0, take);
    m.lookahead.append(head);
    if (!m.scan.feed(head, [&m](const gotrace::Record& r) { return m.scan_record(r); })) {
      return m.fail(m.scan.error());
    }
    if (m.lookahead.size() < kLookaheadBytes) return true;
    m.commit();
    bytes.remove_prefix(take);
  }
  if (m.error.empty() && !bytes.empty() &&
      !m.reader.feed(bytes, [&m](const gotrace::Record& r) { return m.decode_record(r); })) {
    m.fail(m.reader.error());
  }
  m.out.flush(false);
  return m.sink_ok() && m.error.empty();
}

bool TraceJsonConverter::finish() {
  Impl& m = *impl_;
  if (m.finished) return false;
  m.finished = true;
  if (!m.out.ok()) return m.sink_ok();
  if (!m.committed) {
    if (m.error.empty() && !m.scan.finish()) m.fail(m.scan.error());
    m.commit();  // after an error too: what came before the bad record is still shown
  }
  if (m.error.empty() && !m.reader.finish()) m.fail(m.reader.error());
  while (!m.window.empty()) m.pop_earliest();
  m.timeline.close();
  m.out.end(m.trailing());
  return m.sink_ok() && m.error.empty();
}

}  // namespace profilers
