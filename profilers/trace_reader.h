// trace_reader.h — the Go 1.19 execution trace's wire format, record by
// record: TraceReader takes the file's bytes in chunks split anywhere (even
// inside a varint) and hands each complete record to a visitor. It checks
// what Go's internal/trace readTrace and parseEvents check at this level —
// the 16-byte header, event types, the value count of every type, the
// length form, String and UserLog payloads — and nothing about meaning
// (which goroutine runs where is the consumer's business). The format is
// shared/reference/go-trace-format.md, sections 2, 3 and 6.
//
// Records. The first byte holds the type (low 6 bits) and k (high 2): k <
// 3 means k+1 unsigned LEB128 varints follow; k = 3 means a varint byte
// length L and then varints filling exactly L bytes. Two types carry bytes
// besides varints: String (id, length, raw bytes, never in the length
// form) and UserLog (its length-form record, then a varint length and the
// message). Varints are at most 10 bytes; the P id -1 arrives as 2^64-1.
//
// Memory. A record split across feeds is copied into a pending buffer until
// it is complete; the largest legal record is a 1,000,000-byte String or
// UserLog message, and a length-form record may not exceed kMaxLengthForm
// bytes, so the buffer stays bounded whatever the input.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "profilers/trace_events.h"

namespace profilers::gotrace {



// event_name returns Go's name of an event type ("GoStart"), or "?".
const char* event_name(uint8_t type);

// has_timestamp says whether records of this type begin with a timestamp
// delta: all but Batch, Frequency, Stack, String and TimerGoroutine.
bool has_timestamp(uint8_t type);

// has_stack says whether the last value of this type is a stack id.
bool has_stack(uint8_t type);

// Record is one decoded record, valid only during the visitor's call.
struct Record {
  uint8_t type = 0;
  // values: every varint of the record in wire order — for timestamped
  // types the delta first, the stack id (if the type has one) last. For a
  // String only its id; for a UserLog not the message.
  std::span<const uint64_t> values;
  // text: a String's bytes, a UserLog's message; empty otherwise.
  std::string_view text;
  uint64_t offset = 0;  // file offset of the record's type byte
};

class TraceReader final {
 public:
  // The visitor returns false to stop reading (feed then returns false
  // and error() stays empty: the visitor knows why it stopped).
  using Visitor = std::function<bool(const Record&)>;

  // kMaxLengthForm caps L of a length-form record: a 1000-frame Stack
  // (Go's limit) takes at most 2 + 4000 varints of 10 bytes.
  static constexpr uint64_t kMaxLengthForm = uint64_t{64} << 10;
  // kMaxString caps String and UserLog payloads, as Go's reader does.
  static constexpr uint64_t kMaxString = 1'000'000;

  TraceReader() = default;
  TraceReader(const TraceReader&) = delete;
  TraceReader& operator=(const TraceReader&) = delete;

  // feed consumes the next bytes of the file and calls visit for every
  // record they complete, in file order. Returns false on malformed input
  // (error() says what and where) or when visit returned false; after
  // that every call returns false.
  bool feed(std::string_view bytes, const Visitor& visit);

  // finish says the file ended: false (with error()) if it ended inside
  // the header or a record, or if reading had already failed.
  bool finish();

  const std::string& error() const { return error_; }
  bool failed() const { return failed_; }
  // offset returns how many bytes of the file were consumed as header or
  // complete records.
  uint64_t offset() const { return offset_; }

 private:
  enum class Step { kRecord, kNeedMore, kError };
  Step parse_one(const uint8_t* p, size_t n, size_t* used, Record* rec);
  bool parse_all(const uint8_t* p, size_t n, size_t* used, const Visitor& visit);
  bool fail(std::string message);

  std::string header_;            // the first bytes, until there are 16
  std::string pending_;           // an incomplete record's bytes
  std::vector<uint64_t> values_;  // the current record's values
  uint64_t offset_ = 0;
  std::string error_;
  bool failed_ = false;
};

}  // namespace profilers::gotrace
