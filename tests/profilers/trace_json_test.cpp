// trace_json_test.cpp — TraceJsonConverter: Go 1.19 execution traces in,
// Chrome trace-event JSON out. The traces are shared/tools/gotrace_gen.py's
// synthetic one (every kind of event, Ps out of order in the file), a real
// one written by Go 1.19 (data/go119_small.trace, from data/go119_small.go),
// and small ones built here record by record. The output is read back with
// Boost.JSON (header-only: boost/json/src.hpp) and checked for what
// Perfetto and chrome://tracing need: numbers where they belong, slices
// that nest, every flow start with its end on slices that exist, names for
// every process — and for what the trace said, to the nanosecond.
#define BOOST_TEST_MODULE trace_json_test
#include <boost/test/unit_test.hpp>

// clang-format off
#include <boost/json/src.hpp>  // Boost.JSON, header-only: no library to link
// clang-format on
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "profilers/trace_json.h"
#include "profilers/trace_reader.h"

using namespace std::string_literals;
namespace json = boost::json;
namespace gt = profilers::gotrace;

namespace {

// ---- converting ----

struct Converted {
  bool fed = true;  // every feed returned true
  bool finished = false;
  std::string error;
  std::string json;
};

Converted convert(std::string_view trace, size_t chunk) {
  Converted c;
  profilers::TraceJsonConverter conv([&](std::string_view s) {
    c.json.append(s);
    return true;
  });
  if (chunk == 0) chunk = std::max<size_t>(trace.size(), 1);
  for (size_t i = 0; i < trace.size() && c.fed; i += chunk) c.fed = conv.feed(trace.substr(i, chunk));
  c.finished = conv.finish();
  c.error = conv.error();
  return c;
}

std::string read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  BOOST_REQUIRE_MESSAGE(f, "cannot open " << path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// generated_trace runs gotrace_gen.py; "" when python3 or the tool is absent.
std::string generated_trace() {
  std::string tool = GOTRACE_GEN, python = PYTHON3_PATH;
  if (tool.empty() || python.empty() || access(tool.c_str(), R_OK) != 0) return "";
  char path[] = "/tmp/trace_json_test.XXXXXX";
  int fd = mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  close(fd);
  std::string cmd = python + " '" + tool + "' '" + path + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  std::string said;
  char buf[512];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) said.append(buf, n);
  BOOST_REQUIRE_MESSAGE(pclose(p) == 0, cmd << " failed: " << said);
  std::string data = read_file(path);
  unlink(path);
  return data;
}

// ---- reading the JSON back ----

int64_t to_ns(const json::value& v) {  // a JSON number of microseconds
  double us = v.is_int64()    ? static_cast<double>(v.as_int64())
              : v.is_uint64() ? static_cast<double>(v.as_uint64())
                              : v.as_double();
  return std::llround(us * 1000);
}

struct Event {
  std::string ph, name, cat, id, bp, scope;
  uint64_t pid = 0, tid = 0;
  int64_t ts = -1, dur = -1;  // ns; -1: absent
  json::object args;
};

struct Doc {
  std::vector<Event> events;
  std::map<uint64_t, std::string> processes;                     // pid -> name
  std::map<std::pair<uint64_t, uint64_t>, std::string> threads;  // (pid, tid) -> last name
  json::object other;

  uint64_t pid_of(const std::string& process) const {
    for (const auto& [pid, name] : processes) {
      if (name == process) return pid;
    }
    BOOST_FAIL("no process " << process);
    return 0;
  }
  std::vector<const Event*> find(const std::string& ph, const std::string& name) const {
    std::vector<const Event*> out;
    for (const Event& e : events) {
      if (e.ph == ph && e.name == name) out.push_back(&e);
    }
    return out;
  }
  bool has_thread(const std::string& name) const {
    for (const auto& kv : threads) {
      if (kv.second == name) return true;
    }
    return false;
  }
};

std::string str(const json::value& v) {
  return v.is_string() ? std::string(v.as_string()) : json::serialize(v);
}

Doc parse_doc(const std::string& text) {
  json::error_code ec;
  json::value root = json::parse(text, ec);
  BOOST_REQUIRE_MESSAGE(!ec, "invalid JSON: " << ec.message() << "\n" << text.substr(0, 2000));
  BOOST_REQUIRE(root.is_object());
  const json::object& top = root.as_object();
  BOOST_REQUIRE(top.contains("traceEvents") && top.at("traceEvents").is_array());
  BOOST_TEST(str(top.at("displayTimeUnit")) == "ns");
  Doc doc;
  if (top.contains("otherData")) doc.other = top.at("otherData").as_object();
  for (const json::value& v : top.at("traceEvents").as_array()) {
    const json::object& o = v.as_object();
    Event e;
    e.ph = str(o.at("ph"));
    e.name = str(o.at("name"));
    e.pid = o.at("pid").to_number<uint64_t>();
    e.tid = o.at("tid").to_number<uint64_t>();
    if (o.contains("ts")) e.ts = to_ns(o.at("ts"));
    if (o.contains("dur")) e.dur = to_ns(o.at("dur"));
    if (o.contains("cat")) e.cat = str(o.at("cat"));
    if (o.contains("id")) e.id = str(o.at("id"));
    if (o.contains("bp")) e.bp = str(o.at("bp"));
    if (o.contains("s")) e.scope = str(o.at("s"));
    if (o.contains("args")) e.args = o.at("args").as_object();
    if (e.ph == "M" && e.name == "process_name") doc.processes[e.pid] = str(e.args.at("name"));
    if (e.ph == "M" && e.name == "thread_name") doc.threads[{e.pid, e.tid}] = str(e.args.at("name"));
    doc.events.push_back(std::move(e));
  }
  return doc;
}

// check_well_formed checks what the viewers rely on.
void check_well_formed(const Doc& doc) {
  std::map<std::pair<uint64_t, uint64_t>, std::vector<std::pair<int64_t, int64_t>>> slices;
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<const Event*>> flows;
  for (const Event& e : doc.events) {
    BOOST_TEST(doc.processes.count(e.pid) == 1u, "pid " << e.pid << " has no process_name");
    if (e.ph == "M") continue;
    BOOST_TEST(e.ts >= 0, e.ph << " " << e.name << " has no ts");
    if (e.ph == "X") {
      BOOST_TEST(e.dur >= 0, "X " << e.name << " has no dur");
      slices[{e.pid, e.tid}].push_back({e.ts, e.ts + e.dur});
    }
    if (e.ph == "s" || e.ph == "f") flows[{e.id, e.cat, e.name}].push_back(&e);
    if (e.ph == "b" || e.ph == "e") BOOST_TEST(!e.id.empty(), "async " << e.name << " has no id");
  }
  // Slices on one track nest or are disjoint.
  for (auto& [track, list] : slices) {
    std::sort(list.begin(), list.end(),
              [](auto& a, auto& b) { return a.first != b.first ? a.first < b.first : a.second > b.second; });
    std::vector<std::pair<int64_t, int64_t>> stack;
    for (auto [from, to] : list) {
      while (!stack.empty() && stack.back().second <= from &&
             !(stack.back().second == from && from == to && stack.back().first == from)) {
        stack.pop_back();
      }
      auto [open_from, open_to] = stack.empty() ? std::pair<int64_t, int64_t>{0, 0} : stack.back();
      BOOST_TEST((stack.empty() || to <= open_to), "slice [" << from << "," << to << "] overlaps ["
                                                             << open_from << "," << open_to << "] on pid "
                                                             << track.first << " tid " << track.second);
      stack.push_back({from, to});
    }
  }
  // Every flow has one start and one end, the start bound to a zero-length
  // marker slice where it is, the end to a slice beginning where it is.
  auto slice_at = [&](const Event* f, bool zero_length) {
    for (const Event& e : doc.events) {
      if (e.ph == "X" && e.pid == f->pid && e.tid == f->tid && e.ts == f->ts && (e.dur == 0) == zero_length) {
        return true;
      }
    }
    return false;
  };
  for (const auto& [key, list] : flows) {
    BOOST_REQUIRE_EQUAL(list.size(), 2u);
    const Event* s = list[0]->ph == "s" ? list[0] : list[1];
    const Event* f = list[0]->ph == "f" ? list[0] : list[1];
    BOOST_TEST(s->ph == "s");
    BOOST_TEST(f->ph == "f");
    BOOST_TEST(f->bp == "e");
    BOOST_TEST(s->ts <= f->ts);
    BOOST_TEST(slice_at(s, true), "flow " << s->id << " starts on no marker");
    BOOST_TEST(slice_at(f, false), "flow " << f->id << " ends on no slice");
  }
}

// slice returns the X event named name on process's lane whose start is
// ts_ns, failing if there is none.
const Event& slice(const Doc& doc, const std::string& process, const std::string& name, int64_t ts_ns) {
  uint64_t pid = doc.pid_of(process);
  for (const Event& e : doc.events) {
    if (e.ph == "X" && e.pid == pid && e.name == name && e.ts == ts_ns) return e;
  }
  BOOST_FAIL("no slice " << name << " at " << ts_ns << " ns in " << process);
  return doc.events.front();
}

std::set<uint64_t> counter_values(const Doc& doc, const std::string& name) {
  std::set<uint64_t> values;
  for (const Event* e : doc.find("C", name)) values.insert(e->args.begin()->value().to_number<uint64_t>());
  return values;
}

size_t count_flows(const Doc& doc) {
  size_t n = 0;
  for (const Event& e : doc.events) n += e.ph == "s";
  return n;
}

// ---- writing traces by hand ----

// TraceBuilder writes Go 1.19 trace records (shared/reference/go-trace-format.md, section 3).
struct TraceBuilder {
  std::string b{gt::kHeader};

  static void varint(std::string& out, uint64_t v) {
    while (v >= 0x80) {
      out += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out += static_cast<char>(v);
  }
  TraceBuilder& ev(uint8_t type, std::initializer_list<uint64_t> values) {
    if (values.size() <= 3) {
      b += static_cast<char>(type | (values.size() - 1) << 6);
      for (uint64_t v : values) varint(b, v);
    } else {
      std::string body;
      for (uint64_t v : values) varint(body, v);
      b += static_cast<char>(type | 3 << 6);
      varint(b, body.size());
      b += body;
    }
    return *this;
  }
  TraceBuilder& string(uint64_t id, std::string_view s) {
    b += static_cast<char>(gt::kEvString);
    varint(b, id);
    varint(b, s.size());
    b += s;
    return *this;
  }
  TraceBuilder& log(uint64_t delta, uint64_t task, uint64_t key, std::string_view msg) {
    ev(gt::kEvUserLog, {delta, task, key, 0});
    varint(b, msg.size());
    b += msg;
    return *this;
  }
  // stack defines stack id with one frame in function fn (a string id).
  TraceBuilder& stack(uint64_t id, uint64_t fn) { return ev(gt::kEvStack, {id, 1, 0x1000 + id, fn, fn, 1}); }
};

constexpr uint64_t kNoP = gt::kNoP;

}  // namespace

// ---- the synthetic trace ----

BOOST_AUTO_TEST_CASE(generated_trace_shows_every_track) {
  std::string trace = generated_trace();
  if (trace.empty()) {
    BOOST_TEST_MESSAGE("skipping: no python3 or no " << GOTRACE_GEN);
    return;
  }
  Converted c = convert(trace, 0);
  BOOST_TEST(c.fed);
  BOOST_TEST(c.finished, c.error);
  Doc doc = parse_doc(c.json);
  check_well_formed(doc);

  for (const char* p : {"Proc 0", "Proc 1", "GC", "Goroutines", "User annotations"}) doc.pid_of(p);
  BOOST_TEST(doc.other.at("ticks_per_second").to_number<uint64_t>() == 1'000'000'000u);

  // The generator's clock starts at 5e9 ns, so a tick t is at t - 5e9 ns.
  const Event& g1 = slice(doc, "Proc 0", "G1 main.main", 2'000);
  BOOST_TEST(g1.dur == 30'000);
  BOOST_TEST(str(g1.args.at("end")) == "chan receive");
  BOOST_TEST(g1.args.at("goroutine").to_number<uint64_t>() == 1u);
  BOOST_TEST(slice(doc, "Proc 1", "G4 main.producer", 21'000).dur == 31'000);
  BOOST_TEST(str(slice(doc, "Proc 1", "G6 main.netReader", 54'000).args.at("end")) == "IO wait");
  BOOST_TEST(slice(doc, "Proc 1", "G7 GC (dedicated)", 112'000).dur == 18'000);  // GoStartLabel
  BOOST_TEST(slice(doc, "Proc 1", "M102", 5'000).dur == 61'000);                 // ProcStart..ProcStop

  // GoUnblock(G2) at 30 µs on P0 -> GoStart(G2) at 34 µs on P0; GoCreate(G4)
  // on P0 -> its first start on P1; the snapshot's GoCreates draw nothing.
  slice(doc, "Proc 0", "unblock G2", 30'000);
  slice(doc, "Proc 0", "create G4", 20'000);
  std::map<std::string, const Event*> starts, ends;
  for (const Event& e : doc.events) {
    if (e.ph == "s") starts[e.id] = &e;
    if (e.ph == "f") ends[e.id] = &e;
  }
  bool unblock_g2 = false, create_g4 = false;
  for (const auto& [id, s] : starts) {
    const Event* f = ends.at(id);
    unblock_g2 |= s->name == "unblock" && s->ts == 30'000 && f->ts == 34'000;
    create_g4 |= s->name == "create" && s->ts == 20'000 && f->ts == 21'000 && f->pid == doc.pid_of("Proc 1");
  }
  BOOST_TEST(unblock_g2);
  BOOST_TEST(create_g4);
  BOOST_TEST(doc.find("X", "create G1").empty());
  BOOST_TEST(count_flows(doc) == 11u);

  // GC: the cycle, both stop-the-worlds, a sweep, an assist, the counters.
  BOOST_TEST(slice(doc, "GC", "GC 0", 102'000).dur == 40'000);
  BOOST_TEST(slice(doc, "GC", "STW (sweep termination)", 106'000).dur == 2'000);
  BOOST_TEST(slice(doc, "GC", "STW (mark termination)", 140'000).dur == 4'000);
  BOOST_TEST(slice(doc, "GC", "sweep", 146'000).args.at("reclaimed bytes").to_number<uint64_t>() == 524288u);
  BOOST_TEST(slice(doc, "GC", "mark assist", 110'000).dur == 10'000);
  BOOST_TEST((counter_values(doc, "HeapAlloc") == std::set<uint64_t>{4194304, 8388608, 3145728}));
  BOOST_TEST((counter_values(doc, "HeapGoal") == std::set<uint64_t>{8388608, 6291456}));
  BOOST_TEST(!doc.find("C", "Goroutines").empty());
  BOOST_TEST(counter_values(doc, "Goroutines").count(3) == 1u);  // the snapshot: G1, G2, G3

  // User annotations: the task, the region (on G1), the log.
  auto task_b = doc.find("b", "handleRequest"), task_e = doc.find("e", "handleRequest");
  BOOST_REQUIRE(task_b.size() == 1u);
  BOOST_REQUIRE(task_e.size() == 1u);
  BOOST_TEST(task_b[0]->id == task_e[0]->id);
  BOOST_TEST(task_b[0]->cat == "task");
  BOOST_TEST(task_b[0]->ts == 10'000);
  BOOST_TEST(task_e[0]->ts == 160'000);
  auto region_b = doc.find("b", "prepare"), region_e = doc.find("e", "prepare");
  BOOST_REQUIRE(region_b.size() == 1u);
  BOOST_REQUIRE(region_e.size() == 1u);
  BOOST_TEST(region_b[0]->ts == 12'000);
  BOOST_TEST(region_e[0]->ts == 26'000);
  BOOST_TEST(region_b[0]->cat == "region");
  BOOST_TEST(region_b[0]->id == region_e[0]->id);
  auto log = doc.find("i", "status");
  BOOST_REQUIRE(log.size() == 1u);
  BOOST_TEST(str(log[0]->args.at("message")) == "starting 3 workers");
  BOOST_TEST(log[0]->pid == doc.pid_of("Proc 0"));
  BOOST_TEST(doc.find("i", "CPU sample").size() == 3u);

  // Goroutines: one thread each, named after the entry function, with states.
  for (const char* g : {"G1 main.main", "G2 main.waitForSignal", "G3 main.readConfig", "G4 main.producer",
                        "G5 main.consumer", "G6 main.netReader", "G7 runtime.gcBgMarkWorker"}) {
    BOOST_TEST(doc.has_thread(g), g);
  }
  uint64_t gor = doc.pid_of("Goroutines");
  bool waited = false;
  for (const Event& e : doc.events) {
    waited |=
        e.pid == gor && e.tid == 5 && e.name == "waiting (chan receive)" && e.ts == 44'000 && e.dur == 6'000;
  }
  BOOST_TEST(waited);
}

BOOST_AUTO_TEST_CASE(same_output_for_every_chunking) {
  std::string trace = generated_trace();
  if (trace.empty()) {
    BOOST_TEST_MESSAGE("skipping: no python3 or no " << GOTRACE_GEN);
    return;
  }
  std::string whole = convert(trace, 0).json;
  for (size_t chunk : {1, 7, 100, 4096}) {
    Converted c = convert(trace, chunk);
    BOOST_TEST(c.fed);
    BOOST_TEST(c.finished);
    BOOST_TEST(c.json == whole, "chunks of " << chunk << " bytes give another document");
  }
}

// ---- a trace written by Go ----

BOOST_AUTO_TEST_CASE(go_trace_fixture) {
  std::string trace = read_file(TRACE_TEST_DATA "/go119_small.trace");
  Converted c = convert(trace, 0);
  BOOST_TEST(c.finished, c.error);
  Doc doc = parse_doc(c.json);
  check_well_formed(doc);
  BOOST_TEST(convert(trace, 1).json == c.json);

  // Go's ticks: the Frequency record at the end of the file is used.
  BOOST_TEST(doc.other.at("ticks_per_second").to_number<uint64_t>() == 40630424u);
  BOOST_TEST(!doc.other.contains("error"));
  // Times as `go tool trace -d` prints them: G1 starts at 11444 ns, G19 at
  // 211467 ns (P1's batch, holding the earliest events, is second in the file).
  BOOST_TEST(slice(doc, "Proc 1", "G1 runtime.main", 11'444).args.at("end").as_string() == "sync");
  BOOST_TEST(slice(doc, "Proc 0", "G19 main.pinger", 211'467).args.at("end").as_string() == "chan receive");
  BOOST_TEST(!doc.find("X", "G21 GC (fractional)").empty());  // mark workers' GoStartLabel
  BOOST_TEST(!doc.find("X", "GC 0").empty());
  BOOST_TEST(!doc.find("X", "STW (sweep termination)").empty());
  BOOST_TEST(!doc.find("X", "STW (mark termination)").empty());
  BOOST_TEST(!doc.find("C", "HeapAlloc").empty());
  BOOST_TEST(!doc.find("C", "HeapGoal").empty());
  // The ping-pong is GoUnblockLocal/GoStartLocal: flows all the same.
  BOOST_TEST(count_flows(doc) >= 10u);
  BOOST_TEST(doc.find("b", "pingpong").size() == 1u);
  BOOST_TEST(doc.find("e", "pingpong").size() == 1u);
  BOOST_TEST(doc.find("b", "exchange").size() == 1u);
  auto log = doc.find("i", "phase");
  BOOST_REQUIRE(log.size() == 1u);
  BOOST_TEST(str(log[0]->args.at("message")) == "start");
  BOOST_TEST(doc.has_thread("G19 main.pinger"));
  BOOST_TEST(doc.has_thread("G20 main.ponger"));
}

// ---- small traces built here ----

// A wake-up from the no-P stream and a Local pair: both become flows, the
// first from the "No P" process.
BOOST_AUTO_TEST_CASE(no_p_stream_and_local_events) {
  TraceBuilder t;
  t.string(1, "main.worker").string(2, "main.main").stack(1, 1).stack(2, 2);
  t.ev(gt::kEvBatch, {0, 1'000});
  t.ev(gt::kEvGoCreate, {0, 1, 2, 0});  // snapshot: G1 main.main, runnable
  t.ev(gt::kEvGoCreate, {0, 2, 1, 0});  // G2 main.worker, blocked
  t.ev(gt::kEvGoWaiting, {0, 2});
  t.ev(gt::kEvProcStart, {10, 7});
  t.ev(gt::kEvGoStart, {10, 1, 1});          // 1 020
  t.ev(gt::kEvGoUnblockLocal, {100, 2, 0});  // 1 120: G1 wakes G2 on this P
  t.ev(gt::kEvGoBlockRecv, {100, 0});        // 1 220
  t.ev(gt::kEvGoStartLocal, {100, 2});       // 1 320
  t.ev(gt::kEvGoBlock, {100, 0});            // 1 420
  t.ev(gt::kEvBatch, {kNoP, 1'500});
  t.ev(gt::kEvGoUnblock, {0, 1, 2, 0});  // 1 500: a thread without a P wakes G1
  t.ev(gt::kEvBatch, {0, 1'420});
  t.ev(gt::kEvGoStart, {180, 1, 3});  // 1 600
  t.ev(gt::kEvGoEnd, {100});          // 1 700
  t.ev(gt::kEvProcStop, {10});        // 1 710
  t.ev(gt::kEvFrequency, {1'000'000'000});
  Converted c = convert(t.b, 0);
  BOOST_TEST(c.finished, c.error);
  Doc doc = parse_doc(c.json);
  check_well_formed(doc);
  BOOST_TEST(count_flows(doc) == 2u);
  slice(doc, "No P", "unblock G1", 500);
  slice(doc, "Proc 0", "unblock G2", 120);
  BOOST_TEST(slice(doc, "Proc 0", "G2 main.worker", 320).dur == 100);
  BOOST_TEST(str(slice(doc, "Proc 0", "G1 main.main", 600).args.at("end")) == "exited");
  BOOST_TEST(slice(doc, "Goroutines", "waiting (chan receive)", 220).dur == 280);
  BOOST_TEST(slice(doc, "Goroutines", "runnable", 500).dur == 100);
  BOOST_TEST(slice(doc, "Goroutines", "waiting (blocked)", 0).dur == 120);  // G2 from the snapshot
  bool from_no_p = false;
  for (const Event& e : doc.events) from_no_p |= e.ph == "s" && e.pid == doc.pid_of("No P");
  BOOST_TEST(from_no_p);
}

// A syscall that blocked: the wait ends at GoSysExit's real timestamp (when
// the call returned), the marker and the arrow start where the exit was
// written (when the goroutine got a P back), as Go's reader has it.
BOOST_AUTO_TEST_CASE(syscall_exit_at_its_real_timestamp) {
  TraceBuilder t;
  t.string(1, "main.reader").stack(1, 1);
  t.ev(gt::kEvBatch, {0, 1'000});
  t.ev(gt::kEvGoCreate, {0, 1, 1, 0});
  t.ev(gt::kEvProcStart, {0, 3});
  t.ev(gt::kEvGoStart, {10, 1, 1});             // 1 010
  t.ev(gt::kEvGoSysCall, {10, 0});              // 1 020
  t.ev(gt::kEvGoSysBlock, {80});                // 1 100
  t.ev(gt::kEvProcStop, {0});                   // 1 100
  t.ev(gt::kEvProcStart, {100, 4});             // 1 200
  t.ev(gt::kEvGoSysExit, {0, 1, 2, 1'150});     // 1 200, returned at 1 150
  t.ev(gt::kEvGoStart, {10, 1, 3});             // 1 210
  t.ev(gt::kEvGoSysCall, {10, 0});              // 1 220
  t.ev(gt::kEvGoSysBlock, {10});                // 1 230
  t.ev(gt::kEvGoSysExitLocal, {20, 1, 1'240});  // 1 250, returned at 1 240
  t.ev(gt::kEvGoStartLocal, {10, 1});           // 1 260
  t.ev(gt::kEvGoEnd, {10});                     // 1 270
  t.ev(gt::kEvProcStop, {0});
  t.ev(gt::kEvFrequency, {1'000'000'000});
  Converted c = convert(t.b, 0);
  BOOST_TEST(c.finished, c.error);
  Doc doc = parse_doc(c.json);
  check_well_formed(doc);
  BOOST_TEST(slice(doc, "Goroutines", "waiting (syscall)", 100).dur == 50);
  BOOST_TEST(slice(doc, "Goroutines", "runnable", 150).dur == 60);
  BOOST_TEST(slice(doc, "Goroutines", "waiting (syscall)", 230).dur == 10);
  BOOST_TEST(slice(doc, "Goroutines", "runnable", 240).dur == 20);
  slice(doc, "Proc 0", "syscall exit G1", 200);
  slice(doc, "Proc 0", "syscall exit G1", 250);
  BOOST_TEST(count_flows(doc) == 2u);
  BOOST_TEST(doc.find("i", "syscall").size() == 2u);
  BOOST_TEST(slice(doc, "Proc 0", "M3", 0).dur == 100);
  BOOST_TEST(slice(doc, "Proc 0", "M4", 200).dur == 70);
}

// Names come from the trace: quotes, control characters and invalid UTF-8
// must not break the document.
BOOST_AUTO_TEST_CASE(escapes_and_repairs_strings) {
  TraceBuilder t;
  t.string(1, "say \"hi\"\\\n\x01 caf\xc3\xa9 bad\xff\xc3 end");
  t.string(2, "k\x7f");
  t.ev(gt::kEvBatch, {0, 0});
  t.ev(gt::kEvUserTaskCreate, {5, 1, 0, 1, 0});
  t.log(5, 1, 2, "line1\nline2\t\"q\" \xed\xa0\x80");  // a UTF-16 surrogate is not UTF-8
  t.ev(gt::kEvUserTaskEnd, {5, 1, 0});
  t.ev(gt::kEvFrequency, {1'000'000'000});
  Converted c = convert(t.b, 0);
  BOOST_TEST(c.finished, c.error);
  Doc doc = parse_doc(c.json);
  check_well_formed(doc);
  const std::string task = "say \"hi\"\\\n\x01 caf\xc3\xa9 bad\xef\xbf\xbd\xef\xbf\xbd end";
  BOOST_TEST(doc.find("b", task).size() == 1u);
  BOOST_TEST(doc.find("e", task).size() == 1u);
  auto log = doc.find("i", "k\x7f");
  BOOST_REQUIRE(log.size() == 1u);
  BOOST_TEST(str(log[0]->args.at("message")) == "line1\nline2\t\"q\" \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
}

// A trace larger than the lookahead streams: JSON reaches the sink before
// finish(), and with the Frequency record past the lookahead the times
// assume 1e9 ticks per second and say so.
BOOST_AUTO_TEST_CASE(streams_past_the_lookahead) {
  constexpr size_t kEvents = profilers::TraceJsonConverter::kReorderEvents + 40'000;
  TraceBuilder t;
  t.ev(gt::kEvBatch, {0, 1'000'000});
  t.ev(gt::kEvProcStart, {0, 1});
  std::string pad(100'000, 'x');
  for (uint64_t id = 1; t.b.size() < profilers::TraceJsonConverter::kLookaheadBytes; id++) t.string(id, pad);
  for (size_t i = 0; i < kEvents; i++) t.ev(gt::kEvHeapAlloc, {1'000, i});
  t.ev(gt::kEvProcStop, {1'000});
  t.ev(gt::kEvFrequency, {2'000'000'000});

  std::string out;
  size_t before_finish = 0;  // HeapAlloc counters written before finish()
  profilers::TraceJsonConverter conv([&](std::string_view s) {
    out.append(s);
    return true;
  });
  constexpr size_t kChunk = size_t{64} << 10;
  for (size_t i = 0; i < t.b.size(); i += kChunk)
    BOOST_REQUIRE(conv.feed(std::string_view(t.b).substr(i, kChunk)));
  for (size_t at = out.find("\"HeapAlloc\""); at != std::string::npos;
       at = out.find("\"HeapAlloc\"", at + 1)) {
    before_finish++;
  }
  BOOST_TEST(conv.finish(), conv.error());
  // All but the reorder window's events, less what the writer buffers.
  BOOST_TEST(before_finish > 39'000u, before_finish << " HeapAlloc counters came before finish");
  Doc doc = parse_doc(out);
  check_well_formed(doc);
  BOOST_TEST(doc.find("C", "HeapAlloc").size() == kEvents);
  BOOST_TEST(doc.other.at("ticks_per_second").to_number<uint64_t>() == 1'000'000'000u);
  BOOST_TEST(doc.other.at("ticks_per_second_in_trace").to_number<uint64_t>() == 2'000'000'000u);
  // Event i is at (i + 1) µs of assumed nanosecond ticks.
  BOOST_TEST(doc.find("C", "HeapAlloc").back()->ts == static_cast<int64_t>(kEvents) * 1'000);
}

// ---- malformed input ----

// expect_failure converts trace and checks that it fails with an error
// containing `what`, and that the output is still a parseable document
// carrying the error.
void expect_failure(const std::string& trace, const std::string& what) {
  Converted c = convert(trace, 0);
  BOOST_TEST(!(c.fed && c.finished), "accepted: " << what);
  BOOST_TEST(c.error.find(what) != std::string::npos, "error \"" << c.error << "\" lacks \"" << what << "\"");
  Doc doc = parse_doc(c.json);
  BOOST_TEST(doc.other.contains("error"));
  Converted bytewise = convert(trace, 1);
  BOOST_TEST(bytewise.error == c.error);
  BOOST_TEST(bytewise.json == c.json);
}

BOOST_AUTO_TEST_CASE(malformed_inputs_fail_cleanly) {
  const std::string header{gt::kHeader};
  expect_failure("", "empty trace");
  expect_failure("go 1.19 tr", "truncated inside the header");
  expect_failure(std::string("go 1.18 trace\0\0\0", 16), "not a Go 1.19 execution trace");
  expect_failure("GIF89a garbage, not a trace at all", "not a Go 1.19 execution trace");
  expect_failure(header + "\x32"s, "unknown event type 50");
  expect_failure(header + "\x00"s, "unknown event type 0");
  expect_failure(header + "\x0e\x05"s, "GoStart has wrong number of arguments");  // 1 value, wants 3
  expect_failure(header + "\x41"s + std::string(11, '\xff'), "varint longer than 10 bytes");
  expect_failure(header + "\xc1\x03\x01\x80\x80\x80"s, "wrong length");  // a varint runs past L
  expect_failure(header + "\x25\x00\x01x"s, "String has invalid id 0");
  expect_failure(header + "\x25\x01\x00"s, "String has invalid length 0");
  expect_failure(header + "\x0f\x05"s, "GoEnd before the first Batch record");
  expect_failure(header + "\x02\x00"s, "Frequency record with 0 ticks per second");
  expect_failure(header + "\x41\x80\x80\x10\x00"s, "Batch for P 262144 out of range");
  expect_failure(header + "\xc3\x0a\x01\x05\x01\x02\x03\x04\x05\x06\x07\x08"s, "Stack has wrong number");
  expect_failure(header + "\xc1\xff\xff\x7f"s, "record too long");
  expect_failure(header + "\x41\x00\x05\x8e\x01"s, "truncated inside a GoStart record");

  // What came before a bad record is still converted.
  TraceBuilder t;
  t.ev(gt::kEvBatch, {0, 0}).ev(gt::kEvHeapAlloc, {10, 4096});
  t.b += "\x3f";
  Converted c = convert(t.b, 0);
  BOOST_TEST(!c.fed);
  BOOST_TEST(!c.finished);
  Doc doc = parse_doc(c.json);
  BOOST_TEST(doc.find("C", "HeapAlloc").size() == 1u);
  BOOST_TEST(str(doc.other.at("error")).find("unknown event type 63") != std::string::npos);
}

// Every prefix of a valid trace and a few hundred corrupted copies: the
// converter reports or accepts, always writes a parseable document, never
// reads out of bounds (the ASan build runs this too).
BOOST_AUTO_TEST_CASE(prefixes_and_corruptions_never_crash) {
  std::string trace = read_file(TRACE_TEST_DATA "/go119_small.trace");
  for (size_t n = 0; n <= trace.size(); n++) {
    Converted c = convert(std::string_view(trace).substr(0, n), 0);
    if (!c.finished) {
      BOOST_TEST(!c.error.empty());
    }
    json::error_code ec;
    json::parse(c.json, ec);
    BOOST_TEST(!ec, "prefix of " << n << " bytes: " << ec.message());
  }
  uint64_t x = 88172645463325252ull;  // xorshift64
  auto rnd = [&x] {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
  };
  for (int i = 0; i < 300; i++) {
    std::string bad = trace;
    for (int k = 0; k < 1 + i % 4; k++) bad[16 + rnd() % (bad.size() - 16)] = static_cast<char>(rnd());
    Converted c = convert(bad, 1 + i % 13);
    json::error_code ec;
    json::parse(c.json, ec);
    BOOST_TEST(!ec, "corruption " << i << ": " << ec.message());
  }
}

// A sink that refuses (the client went away) stops the conversion.
BOOST_AUTO_TEST_CASE(sink_failure_stops_conversion) {
  std::string trace = read_file(TRACE_TEST_DATA "/go119_small.trace");
  int calls = 0;
  profilers::TraceJsonConverter conv([&](std::string_view) {
    calls++;
    return false;
  });
  BOOST_TEST(conv.feed(trace));  // all held in the lookahead: nothing written yet
  BOOST_TEST(!conv.finish());
  BOOST_TEST(conv.error().find("sink") != std::string::npos, conv.error());
  BOOST_TEST(calls == 1);
  BOOST_TEST(!conv.feed("more"));
}
