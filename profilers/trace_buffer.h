// trace_buffer.h — the byte level of Go 1.19's execution-trace format
// (shared/reference/go-trace-format.md §3): LEB128 varints, event records
// with their type byte, and TraceBuffer, one batch of one P's events.
//
// A TraceBuffer is written by one thread at a time (the holder of its P, or
// the holder of the no-P stream's lock) and starts with a Batch record; each
// event stores its timestamp as the delta from the previous one in the same
// buffer, clamped so that it never goes backwards. Capacity is fixed: the
// writer asks has_room() before an event and swaps in a fresh buffer when
// the current one is full, so a record never straddles two buffers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string_view>

#include "profilers/trace_events.h"

namespace profilers::trace {

// The event numbers, kNoP and kHeader (trace_events.h).
using namespace gotrace;  // NOLINT(google-build-using-namespace)

inline constexpr int kMaxVarintBytes = 10;

// put_varint writes v as unsigned LEB128 at out; returns the bytes written.
inline size_t put_varint(uint8_t* out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = static_cast<uint8_t>(v | 0x80);
    v >>= 7;
  }
  out[n++] = static_cast<uint8_t>(v);
  return n;
}

// encode_record writes one record — type byte, then `n` values (the form
// with a byte length when n > 3) — at out and returns its size. out must
// have room for kMaxRecordBytes.
inline constexpr int kMaxRecordValues = 8;
inline constexpr size_t kMaxRecordBytes = 2 + kMaxVarintBytes * (kMaxRecordValues + 1);
inline size_t encode_record(uint8_t* out, uint8_t type, const uint64_t* vals, int n) {
  if (n >= 1 && n <= 3) {
    out[0] = static_cast<uint8_t>(type | (n - 1) << 6);
    size_t at = 1;
    for (int i = 0; i < n; i++) at += put_varint(out + at, vals[i]);
    return at;
  }
  uint8_t body[kMaxVarintBytes * kMaxRecordValues];
  size_t len = 0;
  for (int i = 0; i < n; i++) len += put_varint(body + len, vals[i]);
  out[0] = static_cast<uint8_t>(type | 3 << 6);
  size_t at = 1 + put_varint(out + 1, len);
  std::memcpy(out + at, body, len);
  return at + len;
}

class TraceBuffer final {
 public:
  static constexpr size_t kBytes = 64 * 1024;  // Go's trace buffer size

  // reset starts a new batch for P p (kNoP for none) at time ts.
  void reset(uint64_t p, int64_t ts) {
    len_ = 0;
    events_ = 0;
    last_ts_ = ts;
    const uint64_t v[2] = {p, static_cast<uint64_t>(ts)};
    len_ += encode_record(data_ + len_, kEvBatch, v, 2);
  }

  bool has_room(size_t bytes) const { return len_ + bytes <= kBytes; }
  bool empty_batch() const { return events_ == 0; }

  // event appends a timestamped event: the delta to ts (clamped to the
  // previous event's time), then args. Caller checked has_room.
  void event(uint8_t type, int64_t ts, std::initializer_list<uint64_t> args) {
    if (ts < last_ts_) ts = last_ts_;
    uint64_t v[kMaxRecordValues];
    v[0] = static_cast<uint64_t>(ts - last_ts_);
    int n = 1;
    for (uint64_t a : args) v[n++] = a;
    last_ts_ = ts;
    len_ += encode_record(data_ + len_, type, v, n);
    events_++;
  }

  // raw appends bytes as they are (strings, a UserLog's trailing text).
  void raw(const void* p, size_t n) {
    std::memcpy(data_ + len_, p, n);
    len_ += n;
  }
  void varint(uint64_t v) { len_ += put_varint(data_ + len_, v); }

  int64_t last_ts() const { return last_ts_; }
  std::string_view bytes() const { return {reinterpret_cast<const char*>(data_), len_}; }

 private:
  size_t len_ = 0;
  int64_t last_ts_ = 0;
  uint32_t events_ = 0;
  uint8_t data_[kBytes];
};

}  // namespace profilers::trace
