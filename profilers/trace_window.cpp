// trace_window.cpp — cutting a trace file out of a running trace (see
// trace_window.h for what is rewritten and why).
#include "profilers/trace_window.h"

#include <algorithm>

#include "profilers/trace_buffer.h"
#include "profilers/trace_reader.h"
#include "runtime/gort.h"

namespace profilers {

namespace {

using namespace trace;  // NOLINT(google-build-using-namespace)

// carries_seq says whether an event's second argument (after the
// goroutine id) is that goroutine's sequence number.
bool carries_seq(uint8_t type) {
  return type == kEvGoStart || type == kEvGoStartLabel || type == kEvGoUnblock || type == kEvGoSysExit;
}

class WindowRewriter final {
 public:
  WindowRewriter(const ExecutionTracer::Cut& from, std::string* out) : from_(from), out_(out) {}

  bool visit(const gotrace::Record& r) {
    // A long history takes a while: let a stop-the-world through.
    if ((++records_ & 0xfff) == 0) gort::preempt_check();
    uint64_t v[kMaxRecordValues + 1];
    size_t n = std::min(r.values.size(), static_cast<size_t>(kMaxRecordValues));
    std::copy_n(r.values.begin(), n, v);
    if (r.type == kEvBatch) {
      // A batch: (P, base time). Later deltas count from the rewritten base.
      orig_ts_ = static_cast<int64_t>(v[1]);
      new_ts_ = std::max(orig_ts_, from_.ts);
      v[1] = static_cast<uint64_t>(new_ts_);
      put(r.type, v, n);
      return true;
    }
    if (!gotrace::has_timestamp(r.type)) {  // no dictionaries or frequency inside batches
      why_ = std::string("unexpected ") + gotrace::event_name(r.type) + " record in a batch";
      return false;
    }
    orig_ts_ += static_cast<int64_t>(v[0]);
    if (r.type == kEvCPUSample && static_cast<int64_t>(v[1]) < from_.ts) return true;  // before the cut
    int64_t ts = std::max(orig_ts_, new_ts_);
    v[0] = static_cast<uint64_t>(ts - new_ts_);
    new_ts_ = ts;
    if (carries_seq(r.type) && n >= 3) v[2] = renumber(v[1], v[2]);
    if (r.type == kEvGCStart && n >= 2) v[1] -= from_.gc_seq;  // Go's parser wants a file's cycles from 0
    put(r.type, v, n);
    if (r.type == kEvUserLog) {
      uint8_t len[kMaxVarintBytes];
      out_->append(reinterpret_cast<const char*>(len), put_varint(len, r.text.size()));
      out_->append(r.text);
    }
    return true;
  }

  const std::string& why() const { return why_; }

 private:
  uint64_t renumber(uint64_t goid, uint64_t seq) const {
    auto it = std::lower_bound(from_.seqs.begin(), from_.seqs.end(), goid,
                               [](const ExecutionTracer::Cut::Seq& s, uint64_t id) { return s.goid < id; });
    if (it == from_.seqs.end() || it->goid != goid) return seq;  // created after the cut
    return seq - it->base + it->decl;
  }

  void put(uint8_t type, const uint64_t* v, size_t n) {
    uint8_t rec[kMaxRecordBytes];
    out_->append(reinterpret_cast<const char*>(rec), encode_record(rec, type, v, static_cast<int>(n)));
  }

  const ExecutionTracer::Cut& from_;
  std::string* out_;
  int64_t orig_ts_ = 0;  // the current event's time as written
  int64_t new_ts_ = 0;   // the last time written out in the current batch
  uint64_t records_ = 0;
  std::string why_;
};

}  // namespace

std::string write_trace_window(const ExecutionTracer::Cut& from, const std::vector<std::string_view>& stream,
                               const ExecutionTracer::Cut& to, std::string_view dictionaries, std::string* why) {
  std::string out(kHeader);
  out += from.prologue;
  WindowRewriter rw(from, &out);
  gotrace::TraceReader reader;
  auto visit = [&rw](const gotrace::Record& r) { return rw.visit(r); };
  bool ok = reader.feed(kHeader, visit);
  for (std::string_view chunk : stream)
    if (ok) ok = reader.feed(chunk, visit);
  if (ok) ok = reader.finish();
  if (!ok) {
    if (why) *why = !rw.why().empty() ? rw.why() : reader.error();
    return {};
  }
  out += to.epilogue;
  out += dictionaries;
  return out;
}

}  // namespace profilers
