// chrome_trace_writer.cpp — ChromeTraceWriter (chrome_trace_writer.h): JSON
// text for trace events, buffered and passed to a sink in chunks.
//
// Numbers are written with std::to_chars (no locale, no floating point):
// a time in nanoseconds becomes "<ns / 1000>.<ns % 1000>" with the
// fraction's trailing zeros dropped, which JSON readers take as a
// microsecond double exactly to the nanosecond for any trace shorter than
// about 100 days (2^53 ns); Perfetto rounds ts × 1000 back to integer
// nanoseconds (llround), so slices that touch still touch.
//
// UTF-8 repair. Go's and gort's strings (function names, task names, log
// messages) are meant to be UTF-8 but nothing guarantees it, and strict
// JSON readers (Python's json, Boost.JSON) reject a document with an
// invalid byte. Each maximal invalid sequence is replaced by U+FFFD, the
// way Go's strings.ToValidUTF8 does per byte: a byte that does not start a
// well-formed sequence (RFC 3629: no overlongs, no surrogates, nothing
// past U+10FFFF) becomes one U+FFFD.
#include "profilers/chrome_trace_writer.h"

#include <charconv>

namespace profilers::detail {

namespace {

void append_uint(std::string& out, uint64_t v) {
  char buf[24];
  auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

// utf8_sequence_length returns the length of the well-formed UTF-8
// sequence at s[i] (a byte >= 0x80), or 0 if there is none.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto at = [&](size_t j) { return j < s.size() ? static_cast<uint8_t>(s[j]) : uint8_t{0}; };
  auto cont = [&](size_t j, uint8_t lo = 0x80, uint8_t hi = 0xbf) { return at(j) >= lo && at(j) <= hi; };
  uint8_t b = at(i);
  if (b >= 0xc2 && b <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (b == 0xe0) return cont(i + 1, 0xa0) && cont(i + 2) ? 3 : 0;
  if ((b >= 0xe1 && b <= 0xec) || b == 0xee || b == 0xef) return cont(i + 1) && cont(i + 2) ? 3 : 0;
  if (b == 0xed) return cont(i + 1, 0x80, 0x9f) && cont(i + 2) ? 3 : 0;  // no surrogates
  if (b == 0xf0) return cont(i + 1, 0x90) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (b >= 0xf1 && b <= 0xf3) return cont(i + 1) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  if (b == 0xf4) return cont(i + 1, 0x80, 0x8f) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  return 0;
}

}  // namespace

void ChromeTraceWriter::append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += '"';
  for (size_t i = 0; i < s.size();) {
    auto c = static_cast<uint8_t>(s[i]);
    if (c >= 0x80) {
      size_t n = utf8_sequence_length(s, i);
      if (n == 0) {
        out += "\xef\xbf\xbd";  // U+FFFD
        i++;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20 || c == 0x7f) {
          out += "\\u00";
          out += kHex[c >> 4];
          out += kHex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
    i++;
  }
  out += '"';
}

void ChromeTraceWriter::append_micros(std::string& out, uint64_t ns) {
  append_uint(out, ns / 1000);
  uint64_t frac = ns % 1000;
  if (frac == 0) return;
  char digits[4] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                    static_cast<char>('0' + frac % 10), 0};
  size_t n = 3;
  while (digits[n - 1] == '0') n--;
  out += '.';
  out.append(digits, n);
}

void ChromeTraceWriter::begin() {
  if (begun_) return;
  begun_ = true;
  out_ += "{\"traceEvents\":[\n";
}

ChromeTraceWriter& ChromeTraceWriter::event(char ph, std::string_view name, uint32_t pid, uint32_t tid) {
  if (!first_event_) out_ += ",\n";
  first_event_ = false;
  in_args_ = false;
  out_ += "{\"ph\":\"";
  out_ += ph;
  out_ += "\",\"name\":";
  append_string(out_, name);
  out_ += ",\"pid\":";
  append_uint(out_, pid);
  out_ += ",\"tid\":";
  append_uint(out_, tid);
  return *this;
}

void ChromeTraceWriter::key(std::string_view k) {
  out_ += ',';
  append_string(out_, k);
  out_ += ':';
}

ChromeTraceWriter& ChromeTraceWriter::micros(std::string_view k, uint64_t ns) {
  key(k);
  append_micros(out_, ns);
  return *this;
}

ChromeTraceWriter& ChromeTraceWriter::field(std::string_view k, std::string_view value) {
  key(k);
  append_string(out_, value);
  return *this;
}

ChromeTraceWriter& ChromeTraceWriter::field(std::string_view k, uint64_t value) {
  key(k);
  append_uint(out_, value);
  return *this;
}

ChromeTraceWriter& ChromeTraceWriter::arg(std::string_view k, std::string_view value) {
  if (!in_args_) {
    out_ += ",\"args\":{";
    in_args_ = true;
  } else {
    out_ += ',';
  }
  append_string(out_, k);
  out_ += ':';
  append_string(out_, value);
  return *this;
}

ChromeTraceWriter& ChromeTraceWriter::arg(std::string_view k, uint64_t value) {
  if (!in_args_) {
    out_ += ",\"args\":{";
    in_args_ = true;
  } else {
    out_ += ',';
  }
  append_string(out_, k);
  out_ += ':';
  append_uint(out_, value);
  return *this;
}

void ChromeTraceWriter::done() {
  if (in_args_) out_ += '}';
  in_args_ = false;
  out_ += '}';
  if (out_.size() >= kFlushBytes) flush(false);
}

bool ChromeTraceWriter::end(std::string_view trailing_members) {
  begin();
  out_ += "\n]";
  if (!trailing_members.empty()) {
    out_ += ',';
    out_.append(trailing_members);
  }
  out_ += "}\n";
  return flush(true);
}

bool ChromeTraceWriter::flush(bool force) {
  if (!ok_) {
    out_.clear();
    return false;
  }
  if (out_.empty() || (!force && out_.size() < kFlushBytes)) return true;
  ok_ = sink_(out_);
  out_.clear();
  return ok_;
}

}  // namespace profilers::detail
