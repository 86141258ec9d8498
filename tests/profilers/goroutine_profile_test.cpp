// goroutine_profile_test.cpp — the goroutine profile in its three forms,
// read back with the grammars Go's tools use: goroutines parked on a
// channel (with and without labels), sleeping, and inside a
// BlockingSection must be counted, named and labelled; debug=2 must parse
// line by line as a Go traceback dump (panicparse's / Go's test grammar);
// the profile stays consistent while goroutines churn.
#define BOOST_TEST_MODULE goroutine_profile_test
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "profilers/goroutine_profile.h"
#include "profilers/stack_text.h"
#include "profilers/symbolize.h"
#include "runtime/chan.h"
#include "runtime/gort.h"
#include "runtime/sync.h"
#include "tests/runtime/test_util.h"

namespace {

using gort_test::wait_until;

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  return lines;
}

// ---- debug=1: Go's printCountProfile text ----

struct CountBlock {
  int64_t count = 0;
  std::vector<std::string> pcs;  // the "@ …" line
  std::string labels;            // the "# labels: " line's value, "" if none
  std::vector<std::string> frames;  // "#\t…" lines
};

struct CountText {
  int64_t total = -1;
  std::vector<CountBlock> blocks;
};

// parse_count_text parses `name profile: total N` and its blocks; every line
// must fit the grammar (a BOOST_TEST failure names the line).
CountText parse_count_text(const std::string& text, const std::string& name) {
  static const std::regex header_re("^" "([a-z]+) profile: total (\\d+)$");
  static const std::regex at_re("^(\\d+) @((?: 0x[0-9a-f]+)*)$");
  static const std::regex labels_re("^# labels: (\\{.*\\})$");
  // "#", the PC, then either nothing (unknown code) or name+0xOFF and file:line.
  static const std::regex frame_re("^#\\t+0x[0-9a-f]+(\\t+[^\\t]+\\+0x[0-9a-f]+\\t+[^\\t]*:\\d+)?$");
  CountText out;
  std::vector<std::string> lines = split_lines(text);
  std::smatch m;
  BOOST_REQUIRE(!lines.empty());
  BOOST_REQUIRE_MESSAGE(std::regex_match(lines[0], m, header_re), "bad header: " << lines[0]);
  BOOST_TEST(m[1].str() == name);
  out.total = std::stoll(m[2].str());
  size_t i = 1;
  while (i < lines.size()) {
    CountBlock b;
    BOOST_REQUIRE_MESSAGE(std::regex_match(lines[i], m, at_re), "bad count line " << i << ": " << lines[i]);
    b.count = std::stoll(m[1].str());
    std::istringstream pcs(m[2].str());
    for (std::string pc; pcs >> pc;) b.pcs.push_back(pc);
    i++;
    if (i < lines.size() && std::regex_match(lines[i], m, labels_re)) {
      b.labels = m[1].str();
      i++;
    }
    while (i < lines.size() && !lines[i].empty()) {
      BOOST_REQUIRE_MESSAGE(std::regex_match(lines[i], frame_re), "bad frame line " << i << ": " << lines[i]);
      b.frames.push_back(lines[i]);
      i++;
    }
    BOOST_REQUIRE_MESSAGE(i < lines.size() && lines[i].empty(), "record without its empty line at " << i);
    BOOST_TEST(!b.frames.empty());
    i++;
    out.blocks.push_back(std::move(b));
  }
  return out;
}

// display_columns returns where each tab-separated cell of line starts when
// tabs advance to the next multiple of 8.
std::vector<size_t> display_columns(const std::string& line) {
  std::vector<size_t> starts{0};
  size_t col = 0;
  for (char c : line) {
    if (c == '\t') {
      col = (col / 8 + 1) * 8;
    } else {
      col++;
      continue;
    }
    if (starts.back() != col) starts.push_back(col);
  }
  return starts;
}

// expands_inlines reports whether the symbolizer gave the inlined callee
// its own line among frames.
bool expands_inlines(const std::vector<std::string>& frames, const std::string& callee) {
  for (const std::string& f : frames)
    if (f.find(callee) != std::string::npos) return true;
  return false;
}

bool any_frame_names(const CountBlock& b, const std::string& fn) {
  for (const std::string& f : b.frames)
    if (f.find(fn) != std::string::npos) return true;
  return false;
}

// ---- debug=2: Go's traceback dump ----

struct Traceback {
  int64_t id = 0;
  std::string state;
  std::vector<std::string> functions;
  std::vector<std::string> positions;  // "file:line"
  std::string created_by;              // "" if none
  std::string created_by_position;
};

// parse_dump parses every goroutine of a debug=2 dump with the grammar of
// Go's goroutine dump parsers (panicparse; runtime/pprof's tests): header,
// frame pairs, an optional created-by pair, an empty line between
// goroutines and none at the end. Every line must match.
std::vector<Traceback> parse_dump(const std::string& text) {
  static const std::regex header_re("^goroutine (\\d+) \\[([^\\]]+)\\]:$");
  static const std::regex func_re("^(.+)\\(\\.\\.\\.\\)$");
  static const std::regex pos_re("^\\t(.*):(\\d+)( \\+0x[0-9a-f]+)?$");
  static const std::regex created_re("^created by (.+) in goroutine (\\d+)$");
  std::vector<Traceback> out;
  std::vector<std::string> lines = split_lines(text);
  BOOST_REQUIRE(!lines.empty());
  BOOST_TEST(text.back() == '\n');
  BOOST_TEST(!lines.back().empty());
  std::smatch m;
  size_t i = 0;
  while (i < lines.size()) {
    Traceback t;
    BOOST_REQUIRE_MESSAGE(std::regex_match(lines[i], m, header_re), "bad header line " << i << ": " << lines[i]);
    t.id = std::stoll(m[1].str());
    t.state = m[2].str();
    i++;
    while (i < lines.size() && !lines[i].empty()) {
      BOOST_REQUIRE_MESSAGE(i + 1 < lines.size(), "frame without position at " << i);
      std::smatch pm;
      BOOST_REQUIRE_MESSAGE(std::regex_match(lines[i + 1], pm, pos_re), "bad position line " << i + 1 << ": " << lines[i + 1]);
      if (std::regex_match(lines[i], m, created_re)) {
        t.created_by = m[1].str();
        t.created_by_position = pm[1].str() + ":" + pm[2].str();
        i += 2;
        BOOST_REQUIRE_MESSAGE(i == lines.size() || lines[i].empty(), "line after created-by: " << lines[i]);
        break;
      }
      BOOST_REQUIRE_MESSAGE(std::regex_match(lines[i], m, func_re), "bad function line " << i << ": " << lines[i]);
      BOOST_TEST(m[1].str().find("(...)") == std::string::npos, "two (...) in " << lines[i]);
      t.functions.push_back(m[1].str());
      t.positions.push_back(pm[1].str() + ":" + pm[2].str());
      i += 2;
    }
    if (i < lines.size()) {
      BOOST_REQUIRE(lines[i].empty());
      i++;
      BOOST_REQUIRE_MESSAGE(i < lines.size(), "empty line at the end of the dump");
    }
    out.push_back(std::move(t));
  }
  return out;
}

bool symbolizer_has_lines() {
  const auto& frames = profilers::Symbolizer::global().frames(reinterpret_cast<uintptr_t>(&split_lines) + 1);
  return !frames.back().file.empty();
}

// The parked goroutines' own functions: never inlined, the call that
// blocks is not a tail call, and no two have the same code (the linker
// would fold them into one), so each keeps a frame and a name of its own.
std::atomic<int> g_sink{0};  // the goroutines all store here: atomic, or TSan sees a race
// stay_after_call keeps the frame of a function whose last call must show in
// the dump: clang deletes the stores to g_sink (an internal global nobody
// reads) and then makes that call a tail call, dropping the caller's frame.
inline void stay_after_call() { asm volatile("" ::: "memory"); }
__attribute__((noinline)) void blocked_on_chan(gort::Chan<int>* c) {
  g_sink = c->recv() + 1;
  stay_after_call();
}
__attribute__((noinline)) void labeled_blocked_on_chan(gort::Chan<int>* c) {
  g_sink = c->recv() + 2;
  stay_after_call();
}
__attribute__((noinline)) void sleeping_forever() {
  gort::sleep_for(std::chrono::hours(1));
  stay_after_call();
  g_sink = 3;
}
__attribute__((noinline)) void reading_in_syscall(int fd) {
  char byte;
  {
    gort::BlockingSection section;
    if (read(fd, &byte, 1) != 1) abort();
  }
  g_sink = byte;
}

int64_t count_values(const profilers::Profile& p) {
  int64_t n = 0;
  for (const auto& s : p.samples) n += s.values.at(0);
  return n;
}

bool stack_names(const std::vector<uintptr_t>& stack, const std::string& fn) {
  for (uintptr_t pc : stack)
    for (const profilers::Frame& f : profilers::Symbolizer::global().frames(pc - 1))
      if (f.function.find(fn) != std::string::npos) return true;
  return false;
}

}  // namespace

BOOST_AUTO_TEST_CASE(parked_labelled_sleeping_and_syscall_goroutines) {
  constexpr int kBlocked = 7, kLabeled = 3, kSleeping = 2;
  std::string text1, text2, text1_after;
  profilers::Profile prof;
  int64_t ng_before = 0, ng_after = 0, main_id = 0;
  std::vector<int64_t> blocked_ids, labeled_ids, sleeping_ids;
  int64_t syscall_id = 0;
  gort::run_main([&] {
    main_id = gort::goid();
    gort::Chan<int> ch;
    gort::WaitGroup wg;
    int pipefd[2];
    BOOST_REQUIRE(pipe(pipefd) == 0);
    for (int i = 0; i < kBlocked; i++) {
      wg.add(1);
      blocked_ids.push_back(gort::go([&] {
        blocked_on_chan(&ch);
        wg.done();
      }));
    }
    for (int i = 0; i < kLabeled; i++) {
      wg.add(1);
      labeled_ids.push_back(gort::go([&] {
        gort::set_labels({{"endpoint", "/work"}, {"tenant", "a\"b"}});
        labeled_blocked_on_chan(&ch);
        wg.done();
      }));
    }
    for (int i = 0; i < kSleeping; i++) sleeping_ids.push_back(gort::go([] { sleeping_forever(); }));
    wg.add(1);
    syscall_id = gort::go([&] {
      reading_in_syscall(pipefd[0]);
      wg.done();
    });
    std::vector<int64_t> chan_ids = blocked_ids;
    chan_ids.insert(chan_ids.end(), labeled_ids.begin(), labeled_ids.end());
    gort_test::wait_all_parked(chan_ids, gort::WaitReason::ChanReceive);
    gort_test::wait_all_parked(sleeping_ids, gort::WaitReason::Sleep);
    wait_until([&] { return gort_test::goroutine_state(syscall_id).status == gort::GStatus::Syscall; },
               "the reader is in its BlockingSection");

    ng_before = gort::num_goroutine();
    text1 = profilers::goroutine_profile_text(1);
    text2 = profilers::goroutine_profile_text(2);
    prof = profilers::goroutine_profile();
    ng_after = gort::num_goroutine();

    ch.close();
    BOOST_REQUIRE(write(pipefd[1], "x", 1) == 1);
    wg.wait();
    text1_after = profilers::goroutine_profile_text(1);
    close(pipefd[0]);
    close(pipefd[1]);
  });
  BOOST_TEST_MESSAGE("debug=1:\n" << text1);
  BOOST_TEST_MESSAGE("debug=2:\n" << text2);
  const bool lines = symbolizer_has_lines();
  BOOST_TEST(ng_before == ng_after);

  // debug=1
  CountText c = parse_count_text(text1, "goroutine");
  BOOST_TEST(c.total == ng_before);
  int64_t sum = 0;
  const CountBlock *blocked = nullptr, *labeled = nullptr;
  for (const CountBlock& b : c.blocks) {
    sum += b.count;
    if (b.count == kBlocked && b.labels.empty() && any_frame_names(b, "::blocked_on_chan")) blocked = &b;
    if (b.count == kLabeled && any_frame_names(b, "labeled_blocked_on_chan")) labeled = &b;
    // tabwriter: the name and file columns start at the same place on every line
    std::vector<size_t> first = display_columns(b.frames[0]);
    for (const std::string& f : b.frames) {
      std::vector<size_t> cols = display_columns(f);
      if (cols.size() == first.size()) BOOST_TEST(cols == first, "misaligned: " << f);
    }
  }
  BOOST_TEST(sum == c.total);
  BOOST_REQUIRE_MESSAGE(blocked != nullptr, "no record of " << kBlocked << " goroutines in blocked_on_chan");
  BOOST_REQUIRE_MESSAGE(labeled != nullptr, "no record of " << kLabeled << " goroutines in labeled_blocked_on_chan");
  BOOST_TEST(labeled->labels == R"({"endpoint":"/work", "tenant":"a\"b"})");
  if (lines && expands_inlines(blocked->frames, "gort::Chan<int>::recv")) {
    bool has_position = false;
    for (const std::string& f : blocked->frames)
      has_position |= f.find("::blocked_on_chan(") != std::string::npos &&
                      f.find("goroutine_profile_test.cpp:") != std::string::npos;
    BOOST_TEST(has_position, "blocked_on_chan's frame has no file:line");
  }
  CountText after = parse_count_text(text1_after, "goroutine");
  BOOST_TEST(after.total == c.total - kBlocked - kLabeled - 1);

  // debug=2
  std::vector<Traceback> dump = parse_dump(text2);
  BOOST_TEST(static_cast<int64_t>(dump.size()) == ng_before);
  std::map<int64_t, const Traceback*> by_id;
  for (const Traceback& t : dump) {
    BOOST_TEST(by_id.emplace(t.id, &t).second, "goroutine " << t.id << " twice");
    for (const std::string& f : t.functions) {
      // A name may end in ')' only as "operator()": the parameter list is gone.
      const bool ends_in_paren = !f.empty() && f.back() == ')';
      const bool is_call_operator = f.size() >= 10 && f.compare(f.size() - 10, 10, "operator()") == 0;
      BOOST_TEST((!ends_in_paren || is_call_operator), "parameters left in " << f);
    }
  }
  BOOST_REQUIRE(!dump.empty());
  BOOST_TEST(dump[0].id == main_id);
  BOOST_TEST(dump[0].state == "running");
  BOOST_TEST(dump[0].created_by.empty());  // goroutine 1
  BOOST_REQUIRE(!dump[0].functions.empty());
  // Go starts the caller's stack at the profiler's entry point (writeGoroutineStacks).
  BOOST_TEST(dump[0].functions[0].rfind("profilers::goroutine_profile_text", 0) == 0u, dump[0].functions[0]);
  auto check = [&](int64_t id, const std::string& state, const std::string& fn) {
    auto it = by_id.find(id);
    BOOST_REQUIRE_MESSAGE(it != by_id.end(), "goroutine " << id << " missing");
    const Traceback& t = *it->second;
    BOOST_TEST(t.state == state, "goroutine " << id);
    bool found = false;
    for (size_t k = 0; k < t.functions.size(); k++) {
      if (t.functions[k].find(fn) == std::string::npos) continue;
      found = true;
      // A frame's line is in this file unless the symbolizer leaves inlined
      // calls (Chan::recv) folded into it.
      const bool via_chan = fn.find("blocked_on_chan") != std::string::npos;
      if (lines && (!via_chan || (k > 0 && t.functions[k - 1].find("gort::Chan<int>::recv") != std::string::npos)))
        BOOST_TEST(t.positions[k].find("goroutine_profile_test.cpp:") != std::string::npos, t.positions[k]);
    }
    BOOST_TEST(found, "goroutine " << id << " does not show " << fn);
    BOOST_TEST(t.created_by.find("parked_labelled_sleeping_and_syscall_goroutines") != std::string::npos,
               "created by " << t.created_by);
    if (lines) BOOST_TEST(t.created_by_position.find("goroutine_profile_test.cpp:") != std::string::npos);
  };
  for (int64_t id : blocked_ids) check(id, "chan receive", "::blocked_on_chan");
  for (int64_t id : labeled_ids) check(id, "chan receive", "labeled_blocked_on_chan");
  for (int64_t id : sleeping_ids) check(id, "sleep", "sleeping_forever");
  check(syscall_id, "syscall", "reading_in_syscall");
  BOOST_TEST(text2.find(" in goroutine " + std::to_string(main_id) + "\n") != std::string::npos);

  // debug=0
  BOOST_REQUIRE(prof.sample_types.size() == 1u);
  BOOST_TEST(prof.sample_types[0].type == "goroutine");
  BOOST_TEST(prof.sample_types[0].unit == "count");
  BOOST_TEST(prof.period_type.type == "goroutine");
  BOOST_TEST(prof.period == 1);
  BOOST_TEST(prof.time_nanos > 0);
  BOOST_TEST(count_values(prof) == ng_before);
  int found_blocked = 0, found_labeled = 0;
  for (const profilers::Sample& s : prof.samples) {
    if (s.values[0] == kBlocked && s.labels.empty() && stack_names(s.stack, "::blocked_on_chan")) found_blocked++;
    if (s.values[0] == kLabeled && stack_names(s.stack, "labeled_blocked_on_chan")) {
      found_labeled++;
      BOOST_TEST((s.labels == profilers::Labels{{"endpoint", "/work"}, {"tenant", "a\"b"}}));
    }
  }
  BOOST_TEST(found_blocked == 1);
  BOOST_TEST(found_labeled == 1);

  // go tool pprof reads the encoded profile (once pprof_proto.cpp is real).
  std::string encoded = profilers::encode_pprof(prof);
  if (std::string(GO_PATH).empty() || encoded.empty()) {
    BOOST_TEST_MESSAGE("skipping go tool pprof: " << (encoded.empty() ? "encode_pprof is a stub" : "no go"));
  } else {
    char path[] = "/tmp/goroutine_profile_testXXXXXX";
    int fd = mkstemp(path);
    BOOST_REQUIRE(fd >= 0);
    BOOST_REQUIRE(write(fd, encoded.data(), encoded.size()) == static_cast<ssize_t>(encoded.size()));
    close(fd);
    std::string cmd = std::string(GO_PATH) + " tool pprof -raw " + path + " 2>&1";
    FILE* f = popen(cmd.c_str(), "r");
    BOOST_REQUIRE(f != nullptr);
    std::string raw;
    char buf[4096];
    for (size_t n; (n = fread(buf, 1, sizeof buf, f)) > 0;) raw.append(buf, n);
    BOOST_TEST(pclose(f) == 0, raw);
    unlink(path);
    BOOST_TEST(raw.find("goroutine/count") != std::string::npos, raw);
    BOOST_TEST(raw.find("blocked_on_chan") != std::string::npos, raw);
    BOOST_TEST(raw.find("endpoint:[/work]") != std::string::npos, raw);
  }
}

BOOST_AUTO_TEST_CASE(stack_text_helpers) {
  using profilers::traceback_function_name;
  BOOST_TEST(traceback_function_name("gortd::xorshift_rounds(unsigned long)") == "gortd::xorshift_rounds");
  BOOST_TEST(traceback_function_name("main::{lambda()#1}::operator()() const") == "main::{lambda()#1}::operator()");
  BOOST_TEST(traceback_function_name("f(int)::<lambda>::operator()") == "f(int)::<lambda>::operator()");
  BOOST_TEST(traceback_function_name("(anonymous namespace)::f(void (*)(int), int)") == "(anonymous namespace)::f");
  BOOST_TEST(traceback_function_name("plain") == "plain");
  BOOST_TEST(traceback_function_name("0x4a2e40") == "0x4a2e40");
  BOOST_TEST(profilers::go_quote("a\"b\\c\n\x01\xff\xc3\xa9") == "\"a\\\"b\\\\c\\n\\x01\\xff\xc3\xa9\"");
  // An empty stack prints as Go prints m0's: "#\t0x0".
  std::string out;
  profilers::append_stack_record(out, {});
  BOOST_TEST(out == "#\t0x0\n\n");
}

// Profiles taken while goroutines are spawned, parked and exit on every P
// must stay self-consistent and parseable.
BOOST_AUTO_TEST_CASE(profiles_while_goroutines_churn) {
  constexpr int kChurners = 8, kLive = 200, kProfiles = 50;
  std::atomic<bool> stop{false};
  std::atomic<int> filled{0};  // churners that have all their children
  std::vector<std::string> texts1, texts2;
  std::vector<profilers::Profile> profs;
  gort::run_main([&] {
    gort::WaitGroup wg;
    for (int c = 0; c < kChurners; c++) {
      wg.add(1);
      gort::go([&] {
        // Keep kLive / kChurners children parked on channels, releasing the
        // oldest and starting a new one each round.
        std::vector<std::unique_ptr<gort::Chan<int>>> chans;
        std::vector<std::unique_ptr<gort::Chan<int>>> dones;
        size_t next = 0;
        bool full = false;
        while (!stop.load(std::memory_order_relaxed)) {
          if (chans.size() < kLive / kChurners) {
            chans.push_back(std::make_unique<gort::Chan<int>>());
            dones.push_back(std::make_unique<gort::Chan<int>>(1));
          } else {
            chans[next]->send(1);
            dones[next]->recv();
          }
          gort::Chan<int>* in = chans[next].get();
          gort::Chan<int>* done = dones[next].get();
          gort::go([in, done] {
            if (in->recv() == 1) done->send(1);
          });
          next = (next + 1) % (kLive / kChurners);
          if (!full && chans.size() == kLive / kChurners) {
            full = true;
            filled++;
          }
          gort::yield();
        }
        for (size_t k = 0; k < chans.size(); k++) {
          chans[k]->send(1);
          dones[k]->recv();
        }
        wg.done();
      });
    }
    // Once every churner is full at least kLive goroutines live at any
    // moment: main, the churners, and each churner's children less the one
    // it may be replacing. Before that, a full churner's replacement can dip
    // the count below kLive while another is still filling up.
    wait_until([&] { return filled.load() == kChurners; }, "the churners keep 200 goroutines alive");
    for (int i = 0; i < kProfiles; i++) {
      switch (i % 3) {
        case 0: texts1.push_back(profilers::goroutine_profile_text(1)); break;
        case 1: texts2.push_back(profilers::goroutine_profile_text(2)); break;
        case 2: profs.push_back(profilers::goroutine_profile()); break;
      }
    }
    stop.store(true);
    wg.wait();
  });
  BOOST_TEST(texts1.size() + texts2.size() + profs.size() == static_cast<size_t>(kProfiles));
  for (const std::string& t : texts1) {
    CountText c = parse_count_text(t, "goroutine");
    int64_t sum = 0;
    for (const CountBlock& b : c.blocks) sum += b.count;
    BOOST_TEST(sum == c.total);
    BOOST_TEST(c.total >= kLive);
  }
  for (const std::string& t : texts2) {
    std::vector<Traceback> dump = parse_dump(t);
    std::set<int64_t> ids;
    for (const Traceback& g : dump) ids.insert(g.id);
    BOOST_TEST(ids.size() == dump.size());
    BOOST_TEST(dump.size() >= static_cast<size_t>(kLive));
    BOOST_TEST(dump[0].state == "running");
  }
  int64_t most = 0;
  for (const profilers::Profile& p : profs) {
    BOOST_TEST(count_values(p) >= kLive);
    most = std::max(most, count_values(p));
  }
  BOOST_TEST_MESSAGE("largest profile: " << most << " goroutines");
}
