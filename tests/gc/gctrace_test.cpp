// gctrace_test — format_gctrace writes Go 1.19's line: known lines match byte
// for byte, and every field of formatted records parses back with a grammar
// written from Go's print calls (runtime/mgc.go, gcMarkTermination; the
// format is documented in runtime/extern.go, "gctrace").
#define BOOST_TEST_MODULE gctrace
#include <boost/test/unit_test.hpp>

// GCC 12 with -fsanitize=address warns (falsely) that std::regex's
// internal std::function may be used uninitialized.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <string>

#include "gc/gctrace.h"

using namespace gc;

namespace {

// The grammar: `gc # @#s #%: #+#+# ms clock, #+#/#/#+# ms cpu, #->#-># MB,
// # MB goal, # MB stacks, # MB globals, # P[ (forced)]\n`, where a time is
// fmtNSAsMS output (digits, optionally one '.' and 1–3 decimals).
const std::regex kGcTraceLine(
    R"(^gc (\d+) @(\d+\.\d{3})s (\d+)%: )"
    R"((\d+(?:\.\d{1,3})?)\+(\d+(?:\.\d{1,3})?)\+(\d+(?:\.\d{1,3})?) ms clock, )"
    R"((\d+(?:\.\d{1,3})?)\+(\d+(?:\.\d{1,3})?)/(\d+(?:\.\d{1,3})?)/(\d+(?:\.\d{1,3})?)\+(\d+(?:\.\d{1,3})?) ms cpu, )"
    R"((\d+)->(\d+)->(\d+) MB, (\d+) MB goal, (\d+) MB stacks, (\d+) MB globals, (\d+) P( \(forced\))?\n$)");

constexpr int64_t kMs = 1'000'000;
constexpr uint64_t kMiB = 1 << 20;

GcTraceRecord example() {
  GcTraceRecord r;
  r.cycle = 12;
  r.start_ns = 3'104 * kMs + 999'999;  // truncated to whole ms
  r.gc_cpu_fraction = 0.0299;          // truncated to 2%
  r.sweep_term_wall_ns = 15'000;
  r.mark_wall_ns = 520'000;
  r.mark_term_wall_ns = 13'500;
  r.sweep_term_cpu_ns = 120'000;
  r.assist_cpu_ns = 210'000;
  r.background_cpu_ns = 360'000;
  r.idle_cpu_ns = 0;
  r.mark_term_cpu_ns = 100'000;
  r.heap_start_bytes = 4 * kMiB + 12345;
  r.heap_end_bytes = 4 * kMiB;
  r.heap_marked_bytes = 1 * kMiB + kMiB / 2;
  r.heap_goal_bytes = 5 * kMiB;
  r.stacks_bytes = 64 * 1024;
  r.globals_bytes = 1000;
  r.procs = 2;
  return r;
}

// ms_text_to_ns turns a printed millisecond figure back into ns (exactly the
// value's printed digits).
int64_t ms_text_to_ns(const std::string& s) {
  size_t dot = s.find('.');
  if (dot == std::string::npos) return std::stoll(s) * kMs;
  std::string frac = s.substr(dot + 1);
  int64_t scale = kMs;
  int64_t v = std::stoll(s.substr(0, dot)) * kMs;
  for (char c : frac) {
    scale /= 10;
    v += (c - '0') * scale;
  }
  return v;
}

// check_round_trip formats r, parses it, and checks each field against what
// Go's rules say it must print.
void check_round_trip(const GcTraceRecord& r) {
  std::string line = format_gctrace(r);
  std::smatch m;
  BOOST_REQUIRE_MESSAGE(std::regex_match(line, m, kGcTraceLine), "no match: " << line);
  BOOST_CHECK_EQUAL(std::stoul(m[1]), r.cycle);
  BOOST_CHECK_EQUAL(ms_text_to_ns(m[2]) * 1000, r.start_ns / kMs * kMs);  // seconds with ms precision
  BOOST_CHECK_EQUAL(std::stoi(m[3]), static_cast<int>(r.gc_cpu_fraction * 100));
  const int64_t times[] = {r.sweep_term_wall_ns, r.mark_wall_ns,      r.mark_term_wall_ns, r.sweep_term_cpu_ns,
                           r.assist_cpu_ns,      r.background_cpu_ns, r.idle_cpu_ns,       r.mark_term_cpu_ns};
  for (int i = 0; i < 8; i++) {
    std::string text = m[4 + i];
    BOOST_CHECK_EQUAL(text, format_ns_as_ms(times[i]));
    // The printed value is the true one truncated to two significant digits
    // (or whole ms from 10 ms): never above it, within 10% below (or 1 ms).
    int64_t back = ms_text_to_ns(text), truth = times[i];
    BOOST_CHECK_LE(back, truth);
    BOOST_CHECK_MESSAGE(truth - back <= std::max<int64_t>(truth / 10, 1000) || truth >= 10 * kMs,
                        text << " vs " << truth);
    if (truth >= 10 * kMs) BOOST_CHECK_EQUAL(back, truth / kMs * kMs);
  }
  BOOST_CHECK_EQUAL(std::stoull(m[12]), r.heap_start_bytes >> 20);
  BOOST_CHECK_EQUAL(std::stoull(m[13]), r.heap_end_bytes >> 20);
  BOOST_CHECK_EQUAL(std::stoull(m[14]), r.heap_marked_bytes >> 20);
  BOOST_CHECK_EQUAL(std::stoull(m[15]), r.heap_goal_bytes >> 20);
  BOOST_CHECK_EQUAL(std::stoull(m[16]), r.stacks_bytes >> 20);
  BOOST_CHECK_EQUAL(std::stoull(m[17]), r.globals_bytes >> 20);
  BOOST_CHECK_EQUAL(std::stoi(m[18]), r.procs);
  BOOST_CHECK_EQUAL(m[19].matched, r.forced);
}

}  // namespace

BOOST_AUTO_TEST_CASE(spec_example_line_matches_byte_for_byte) {
  BOOST_CHECK_EQUAL(format_gctrace(example()),
                    "gc 12 @3.104s 2%: 0.015+0.52+0.013 ms clock, 0.12+0.21/0.36/0+0.10 ms cpu, "
                    "4->4->1 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 2 P\n");
  GcTraceRecord forced = example();
  forced.forced = true;
  std::string line = format_gctrace(forced);
  BOOST_CHECK(line.ends_with(" 2 P (forced)\n"));
}

BOOST_AUTO_TEST_CASE(fmt_ns_as_ms_follows_go) {
  // Cases worked through Go's fmtNSAsMS/itoaDiv by hand.
  BOOST_CHECK_EQUAL(format_ns_as_ms(0), "0");
  BOOST_CHECK_EQUAL(format_ns_as_ms(999), "0");          // below 1 µs
  BOOST_CHECK_EQUAL(format_ns_as_ms(1'000), "0.001");
  BOOST_CHECK_EQUAL(format_ns_as_ms(5'999), "0.005");
  BOOST_CHECK_EQUAL(format_ns_as_ms(15'000), "0.015");
  BOOST_CHECK_EQUAL(format_ns_as_ms(99'999), "0.099");
  BOOST_CHECK_EQUAL(format_ns_as_ms(100'000), "0.10");   // two significant digits
  BOOST_CHECK_EQUAL(format_ns_as_ms(520'000), "0.52");
  BOOST_CHECK_EQUAL(format_ns_as_ms(1'000'000), "1.0");
  BOOST_CHECK_EQUAL(format_ns_as_ms(1'234'567), "1.2");
  BOOST_CHECK_EQUAL(format_ns_as_ms(9'999'999), "9.9");
  BOOST_CHECK_EQUAL(format_ns_as_ms(10'000'000), "10");  // whole ms from 10 ms
  BOOST_CHECK_EQUAL(format_ns_as_ms(1'234'567'890), "1234");
  BOOST_CHECK_EQUAL(format_ns_as_ms(-5), "0");
}

BOOST_AUTO_TEST_CASE(start_time_prints_milliseconds_with_three_decimals) {
  GcTraceRecord r = example();
  r.start_ns = 5 * kMs;
  BOOST_CHECK(format_gctrace(r).starts_with("gc 12 @0.005s 2%: "));
  r.start_ns = 0;
  BOOST_CHECK(format_gctrace(r).starts_with("gc 12 @0.000s 2%: "));
  r.start_ns = 3'723'004 * kMs;
  r.gc_cpu_fraction = 1.0;
  BOOST_CHECK(format_gctrace(r).starts_with("gc 12 @3723.004s 100%: "));
}

BOOST_AUTO_TEST_CASE(records_round_trip_through_gos_grammar) {
  check_round_trip(example());
  GcTraceRecord r = example();
  r.forced = true;
  check_round_trip(r);
  // Sub-0.01 ms values, zeros, large values, big heaps.
  r = GcTraceRecord{};
  r.cycle = 1;
  r.procs = 1;
  check_round_trip(r);
  r.sweep_term_wall_ns = 1'500;
  r.mark_wall_ns = 7'999;
  r.mark_term_wall_ns = 123'456'789;
  r.sweep_term_cpu_ns = 3'000;
  r.assist_cpu_ns = 9'876'543;
  r.background_cpu_ns = 45'678'901'234;
  r.idle_cpu_ns = 10'000'001;
  r.mark_term_cpu_ns = 999;
  r.heap_start_bytes = uint64_t{17} << 30;
  r.heap_end_bytes = (uint64_t{17} << 30) + 12 * kMiB;
  r.heap_marked_bytes = uint64_t{9} << 30;
  r.heap_goal_bytes = uint64_t{18} << 30;
  r.stacks_bytes = 300 * kMiB + 1;
  r.globals_bytes = 2 * kMiB - 1;
  r.procs = 64;
  r.cycle = 4'000'000'000u;
  r.start_ns = int64_t{86'400} * 1'000 * kMs + 7;
  r.gc_cpu_fraction = 0.4999;
  check_round_trip(r);
  r.forced = true;
  check_round_trip(r);
  // A sweep over magnitudes: every value formats to something the grammar accepts.
  for (int64_t ns = 1; ns < int64_t{100'000} * kMs; ns = ns * 3 + 7) {
    r.mark_wall_ns = ns;
    r.idle_cpu_ns = ns / 2;
    check_round_trip(r);
  }
}
