// trace_reader.cpp — TraceReader: Go 1.19 trace records out of bytes fed
// in arbitrary chunks (trace_reader.h describes the format).
//
// Parsing never reads past the bytes it has: every varint read is bounded
// by the end of the buffer (and, inside a length-form record, by the end of
// the record), and a record is handed out only once all its bytes are
// there. A record that is not complete yet is "need more", not an error;
// finish() turns a leftover into "truncated". Records arriving whole in a
// feed are parsed in place; only a record straddling two feeds is copied.
//
// The value counts are Go 1.19's (internal/trace argNum): the event's
// arguments, plus one for the timestamp delta, plus one for the stack id
// where the type has one. Stack records are checked as parseEvents checks
// them: id, frame count n <= 1000, then exactly 4n values.
#include "profilers/trace_reader.h"

#include <array>
#include <cstdio>

namespace profilers::gotrace {

namespace {

struct TypeInfo {
  const char* name;
  int8_t values;  // value count, deltas and stack ids included; -1: special
  bool timestamp;
  bool stack;
};

constexpr std::array<TypeInfo, kEvCount> kTypes = {{
    {"None", -1, false, false},
    {"Batch", 2, false, false},
    {"Frequency", 1, false, false},
    {"Stack", -1, false, false},
    {"Gomaxprocs", 3, true, true},
    {"ProcStart", 2, true, false},
    {"ProcStop", 1, true, false},
    {"GCStart", 3, true, true},
    {"GCDone", 1, true, false},
    {"GCSTWStart", 2, true, false},
    {"GCSTWDone", 1, true, false},
    {"GCSweepStart", 2, true, true},
    {"GCSweepDone", 3, true, false},
    {"GoCreate", 4, true, true},
    {"GoStart", 3, true, false},
    {"GoEnd", 1, true, false},
    {"GoStop", 2, true, true},
    {"GoSched", 2, true, true},
    {"GoPreempt", 2, true, true},
    {"GoSleep", 2, true, true},
    {"GoBlock", 2, true, true},
    {"GoUnblock", 4, true, true},
    {"GoBlockSend", 2, true, true},
    {"GoBlockRecv", 2, true, true},
    {"GoBlockSelect", 2, true, true},
    {"GoBlockSync", 2, true, true},
    {"GoBlockCond", 2, true, true},
    {"GoBlockNet", 2, true, true},
    {"GoSysCall", 2, true, true},
    {"GoSysExit", 4, true, false},
    {"GoSysBlock", 1, true, false},
    {"GoWaiting", 2, true, false},
    {"GoInSyscall", 2, true, false},
    {"HeapAlloc", 2, true, false},
    {"HeapGoal", 2, true, false},
    {"TimerGoroutine", 1, false, false},
    {"FutileWakeup", 1, true, false},
    {"String", -1, false, false},
    {"GoStartLocal", 2, true, false},
    {"GoUnblockLocal", 3, true, true},
    {"GoSysExitLocal", 3, true, false},
    {"GoStartLabel", 4, true, false},
    {"GoBlockGC", 2, true, true},
    {"GCMarkAssistStart", 2, true, true},
    {"GCMarkAssistDone", 1, true, false},
    {"UserTaskCreate", 5, true, true},
    {"UserTaskEnd", 3, true, true},
    {"UserRegion", 5, true, true},
    {"UserLog", 4, true, true},
    {"CPUSample", 5, true, true},
}};

// kMaxStackFrames is Go's parser limit on the frames of one Stack record.
constexpr uint64_t kMaxStackFrames = 1000;
// kMaxVarintBytes: 64 bits in groups of 7.
constexpr size_t kMaxVarintBytes = 10;

enum class Varint { kOk, kNeedMore, kBad };

// read_uvarint decodes one unsigned LEB128 value from [*p, end), advancing
// *p. kNeedMore if the bytes end before its last byte; kBad if ten bytes
// pass without a last byte. Like Go's readVal, bits past 64 are dropped.
Varint read_uvarint(const uint8_t** p, const uint8_t* end, uint64_t* v) {
  uint64_t x = 0;
  const uint8_t* q = *p;
  for (size_t i = 0; i < kMaxVarintBytes; i++) {
    if (q == end) return Varint::kNeedMore;
    uint8_t b = *q++;
    x |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) {
      *p = q;
      *v = x;
      return Varint::kOk;
    }
  }
  return Varint::kBad;
}

std::string hex_offset(uint64_t off) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(off));
  return buf;
}

}  // namespace

const char* event_name(uint8_t type) {
  return type < kEvCount ? kTypes[type].name : "?";
}
bool has_timestamp(uint8_t type) {
  return type < kEvCount && kTypes[type].timestamp;
}
bool has_stack(uint8_t type) {
  return type < kEvCount && kTypes[type].stack;
}

bool TraceReader::fail(std::string message) {
  failed_ = true;
  error_ = std::move(message);
  return false;
}

// parse_one decodes the record at p[0..n). kRecord: *rec is filled and
// *used is its size; kNeedMore: the bytes end inside it; kError: error_ set.
TraceReader::Step TraceReader::parse_one(const uint8_t* p, size_t n, size_t* used, Record* rec) {
  const uint8_t* const begin = p;
  const uint8_t* const end = p + n;
  if (n == 0) return Step::kNeedMore;
  const uint8_t type = p[0] & 0x3f;
  const unsigned k = p[0] >> 6;
  auto where = [this] { return " at offset " + hex_offset(offset_); };
  if (type == 0 || type >= kEvCount) {
    fail("unknown event type " + std::to_string(type) + where());
    return Step::kError;
  }
  ++p;
  values_.clear();
  rec->type = type;
  rec->text = {};
  rec->offset = offset_;

  auto value = [&](const uint8_t* limit, uint64_t* v) -> Step {
    switch (read_uvarint(&p, limit, v)) {
      case Varint::kOk:
        return Step::kRecord;
      case Varint::kNeedMore:
        return Step::kNeedMore;
      case Varint::kBad:
        break;
    }
    fail(std::string("varint longer than 10 bytes in ") + kTypes[type].name + where());
    return Step::kError;
  };
  // payload reads a varint length and that many raw bytes into rec->text.
  auto payload = [&](bool allow_empty) -> Step {
    uint64_t len = 0;
    if (Step s = value(end, &len); s != Step::kRecord) return s;
    if (len > kMaxString || (len == 0 && !allow_empty)) {
      fail(std::string(kTypes[type].name) + " has invalid length " + std::to_string(len) + where());
      return Step::kError;
    }
    if (static_cast<uint64_t>(end - p) < len) return Step::kNeedMore;
    rec->text = std::string_view(reinterpret_cast<const char*>(p), len);
    p += len;
    return Step::kRecord;
  };

  if (type == kEvString) {
    uint64_t id = 0;
    if (Step s = value(end, &id); s != Step::kRecord) return s;
    if (id == 0) {
      fail("String has invalid id 0" + where());
      return Step::kError;
    }
    values_.push_back(id);
    if (Step s = payload(false); s != Step::kRecord) return s;
  } else if (k < 3) {
    for (unsigned i = 0; i <= k; i++) {
      uint64_t v = 0;
      if (Step s = value(end, &v); s != Step::kRecord) return s;
      values_.push_back(v);
    }
  } else {
    uint64_t len = 0;
    if (Step s = value(end, &len); s != Step::kRecord) return s;
    if (len > kMaxLengthForm) {
      fail(std::string(kTypes[type].name) + " record too long (" + std::to_string(len) + " bytes)" + where());
      return Step::kError;
    }
    if (static_cast<uint64_t>(end - p) < len) return Step::kNeedMore;
    const uint8_t* const record_end = p + len;
    while (p < record_end) {
      uint64_t v = 0;
      Step s = value(record_end, &v);
      if (s == Step::kError) return s;
      if (s == Step::kNeedMore) {  // a varint runs past L: Go's "wrong length"
        fail(std::string("event has wrong length") + where());
        return Step::kError;
      }
      values_.push_back(v);
    }
    if (type == kEvUserLog) {
      if (Step s = payload(true); s != Step::kRecord) return s;
    }
  }

  // Value counts, as Go's parser checks them.
  const size_t got = values_.size();
  if (type == kEvStack) {
    if (got < 2 || values_[1] > kMaxStackFrames || got != 2 + 4 * values_[1]) {
      fail("Stack has wrong number of arguments" + where() + ": " + std::to_string(got) + " values");
      return Step::kError;
    }
  } else if (type != kEvString && got != static_cast<size_t>(kTypes[type].values)) {
    fail(std::string(kTypes[type].name) + " has wrong number of arguments" + where() + ": want " +
         std::to_string(kTypes[type].values) + ", got " + std::to_string(got));
    return Step::kError;
  }
  rec->values = values_;
  *used = static_cast<size_t>(p - begin);
  return Step::kRecord;
}

// parse_all hands out every complete record of p[0..n); *used is the size
// of the complete records. False on an error or a visitor's stop.
bool TraceReader::parse_all(const uint8_t* p, size_t n, size_t* used, const Visitor& visit) {
  size_t pos = 0;
  Record rec;
  for (;;) {
    size_t len = 0;
    Step s = parse_one(p + pos, n - pos, &len, &rec);
    if (s == Step::kNeedMore) break;
    if (s == Step::kError) return false;
    pos += len;
    offset_ += len;
    if (!visit(rec)) {
      failed_ = true;
      return false;
    }
  }
  *used = pos;
  return true;
}

bool TraceReader::feed(std::string_view bytes, const Visitor& visit) {
  if (failed_) return false;
  if (header_.size() < kHeader.size()) {
    size_t take = std::min(kHeader.size() - header_.size(), bytes.size());
    header_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    offset_ += take;
    if (header_.size() < kHeader.size()) return true;
    if (header_ != kHeader) {
      std::string shown;
      for (char c : header_) shown += (c >= 0x20 && c < 0x7f) ? c : '.';
      return fail("not a Go 1.19 execution trace (header \"" + shown + "\")");
    }
  }
  if (bytes.empty()) return true;
  size_t used = 0;
  if (!pending_.empty()) {
    pending_.append(bytes);
    if (!parse_all(reinterpret_cast<const uint8_t*>(pending_.data()), pending_.size(), &used, visit)) {
      return false;
    }
    pending_.erase(0, used);
    return true;
  }
  if (!parse_all(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), &used, visit)) return false;
  pending_.assign(bytes.substr(used));
  return true;
}

bool TraceReader::finish() {
  if (failed_) return false;
  if (header_.size() < kHeader.size()) {
    return fail(header_.empty() ? "empty trace (no header)" : "trace truncated inside the header");
  }
  if (!pending_.empty()) {
    uint8_t type = static_cast<uint8_t>(pending_[0]) & 0x3f;
    return fail("trace truncated inside a " + std::string(event_name(type)) + " record at offset " +
                hex_offset(offset_) + " (" + std::to_string(pending_.size()) + " bytes of it)");
  }
  return true;
}

}  // namespace profilers::gotrace
