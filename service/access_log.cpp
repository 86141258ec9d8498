// access_log.cpp — the access log (access_log.h) on spdlog's async logger.
#include "service/access_log.h"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/details/file_helper.h>
#include <spdlog/details/thread_pool.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cstdio>
#include <ctime>
#include <mutex>

namespace gortd {

namespace {

// Lines waiting for the writer thread; beyond this the oldest are dropped.
// At ~150 bytes a line, 1.2 MiB of memory at most.
constexpr size_t kQueueLines = 8192;

// rfc3339_utc formats Unix nanoseconds as 2026-12-04T19:07:00.123456Z.
std::string rfc3339_utc(int64_t unix_ns) {
  std::time_t secs = static_cast<std::time_t>(unix_ns / 1'000'000'000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[40];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(unix_ns % 1'000'000'000 / 1000));
  return buf;
}

// append_quoted appends s in double quotes with JSON's escapes (which
// logfmt readers accept as well).
void append_quoted(std::string& out, std::string_view s) {
  out.push_back('"');
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char esc[8];
          std::snprintf(esc, sizeof esc, "\\u%04x", static_cast<unsigned char>(c));
          out += esc;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// append_logfmt_value appends s bare when logfmt allows it, else quoted.
void append_logfmt_value(std::string& out, std::string_view s) {
  bool bare = !s.empty();
  for (char c : s)
    if (c <= ' ' || c == '=' || c == '"' || c == '\\' || static_cast<unsigned char>(c) >= 0x7f) bare = false;
  if (bare)
    out += s;
  else
    append_quoted(out, s);
}

}  // namespace

// ReopenableFileSink appends to a file that reopen() closes and opens
// again under the sink's lock (spdlog's own file sinks cannot).
class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit ReopenableFileSink(const std::string& path) { file_.open(path, false); }
  void reopen() {
    std::lock_guard<std::mutex> l(mutex_);
    file_.reopen(false);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t buf;
    formatter_->format(msg, buf);
    file_.write(buf);
  }
  void flush_() override { file_.flush(); }

 private:
  spdlog::details::file_helper file_;
};

std::string AccessLog::format(const RequestRecord& r, bool json) {
  std::string line;
  line.reserve(160 + r.target.size());
  char num[64];
  std::snprintf(num, sizeof num, "%.6f", static_cast<double>(r.duration_ns) * 1e-9);
  if (json) {
    line += "{\"time\":\"" + rfc3339_utc(r.start_unix_ns) + "\",\"method\":";
    append_quoted(line, r.method);
    line += ",\"route\":";
    append_quoted(line, r.route);
    line += ",\"target\":";
    append_quoted(line, r.target);
    line += ",\"status\":" + std::to_string(r.status) + ",\"duration\":" + num + ",\"bytes\":" + std::to_string(r.bytes) +
            ",\"goroutine\":" + std::to_string(r.goroutine) + "}";
    return line;
  }
  line += "time=" + rfc3339_utc(r.start_unix_ns) + " method=";
  append_logfmt_value(line, r.method);
  line += " route=";
  append_logfmt_value(line, r.route);
  line += " target=";
  append_logfmt_value(line, r.target);
  line += " status=" + std::to_string(r.status) + " duration=" + num + " bytes=" + std::to_string(r.bytes) +
          " goroutine=" + std::to_string(r.goroutine);
  return line;
}

std::unique_ptr<AccessLog> AccessLog::open(const std::string& path, bool json, std::string* why) {
  std::unique_ptr<AccessLog> log(new AccessLog());
  log->json_ = json;
  spdlog::sink_ptr sink;
  try {
    if (path == "-") {
      sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
    } else {
      log->file_ = std::make_shared<ReopenableFileSink>(path);
      sink = log->file_;
    }
  } catch (const spdlog::spdlog_ex& e) {
    if (why) *why = "access log " + path + ": " + e.what();
    return nullptr;
  }
  sink->set_pattern("%v");
  log->pool_ = std::make_shared<spdlog::details::thread_pool>(kQueueLines, 1);
  log->logger_ = std::make_shared<spdlog::async_logger>("access", sink, log->pool_,
                                                        spdlog::async_overflow_policy::overrun_oldest);
  log->logger_->set_pattern("%v");
  log->logger_->flush_on(spdlog::level::info);  // on the writer thread: readers see whole lines soon
  return log;
}

AccessLog::~AccessLog() {
  if (logger_) logger_->flush();
}

void AccessLog::close() {
  // The thread pool's destructor queues a stop for its thread behind every
  // line already queued and joins it: the lines are written when it returns.
  logger_.reset();
  pool_.reset();
}

void AccessLog::on_request(const RequestRecord& r) { logger_->info(format(r, json_)); }

void AccessLog::reopen() {
  if (file_) file_->reopen();
}

uint64_t AccessLog::dropped() const { return pool_ ? pool_->overrun_counter() : 0; }

}  // namespace gortd
