// chrome_trace_writer.h — ChromeTraceWriter: a document in Chrome's
// trace-event "JSON Object Format" ({"traceEvents":[…], …}, the format
// chrome://tracing, Perfetto's UI and catapult read), written event by
// event into a byte sink in chunks, never held whole.
//
// An event is a JSON object built by chained calls:
//   w.event('X', "G7 main.worker", pid, tid).ts(start_ns).dur(len_ns)
//    .arg("goroutine", 7).arg("end", "chan receive").done();
// Fields (ts, dur, cat, id, …) come before args; the first arg opens the
// "args" object. Times are given in nanoseconds and written as the
// format's microseconds with up to three decimals ("ts":12.345). Strings
// are escaped for JSON and invalid UTF-8 is replaced by U+FFFD, so names
// taken from a trace cannot break the document.
//
// Output is buffered and handed to the sink in chunks of about
// kFlushBytes; the first refusal of the sink (a client gone) is sticky:
// nothing more is written and ok() turns false.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace profilers::detail {

class ChromeTraceWriter final {
 public:
  using Sink = std::function<bool(std::string_view)>;

  // kFlushBytes: output is passed on once this much has accumulated — big
  // enough that a sink writing to a socket does few writes.
  static constexpr size_t kFlushBytes = size_t{64} << 10;

  explicit ChromeTraceWriter(Sink sink) : sink_(std::move(sink)) {}
  ChromeTraceWriter(const ChromeTraceWriter&) = delete;
  ChromeTraceWriter& operator=(const ChromeTraceWriter&) = delete;

  // begin writes the document's opening, `{"traceEvents":[`. Once.
  void begin();
  bool begun() const { return begun_; }

  // event opens an event of phase ph ('X', 'i', 'C', 'M', 's', 'f', 'b',
  // 'e') with its name, pid and tid; done() closes it.
  ChromeTraceWriter& event(char ph, std::string_view name, uint32_t pid, uint32_t tid);
  ChromeTraceWriter& ts(uint64_t ns) { return micros("ts", ns); }
  ChromeTraceWriter& dur(uint64_t ns) { return micros("dur", ns); }
  ChromeTraceWriter& field(std::string_view key, std::string_view value);
  ChromeTraceWriter& field(std::string_view key, uint64_t value);
  ChromeTraceWriter& arg(std::string_view key, std::string_view value);
  ChromeTraceWriter& arg(std::string_view key, uint64_t value);
  ChromeTraceWriter& arg(std::string_view key, const char* value) {
    return arg(key, std::string_view(value));
  }
  void done();

  // end closes the event array, appends trailing_members (already JSON:
  // `"key":value` pairs separated by commas, or empty) and the closing
  // brace, and flushes. Returns ok().
  bool end(std::string_view trailing_members);

  // flush passes the buffered output to the sink if there is at least
  // kFlushBytes of it, or any at all when force. Returns ok().
  bool flush(bool force);
  bool ok() const { return ok_; }

  // append_string appends s as a JSON string literal (quotes included).
  static void append_string(std::string& out, std::string_view s);
  // append_micros appends ns nanoseconds as microseconds: "12", "12.5",
  // "12.345" (trailing zeros of the fraction dropped).
  static void append_micros(std::string& out, uint64_t ns);

 private:
  ChromeTraceWriter& micros(std::string_view key, uint64_t ns);
  void key(std::string_view k);

  Sink sink_;
  std::string out_;
  bool begun_ = false;
  bool first_event_ = true;
  bool in_args_ = false;
  bool ok_ = true;
};

}  // namespace profilers::detail
