// symbolize_test.cpp — the symbolizer against code whose names and lines the
// test knows: a plain function (name, file, __LINE__ of the call, entry),
// an always_inline helper (two frames, innermost the helper, the outer one
// at the call site's line), an out-of-line lambda in a test case body (an
// LTO clone, described by a DIE nested in the test case's), a libc function
// (ELF symbol table), an unmapped PC (hex name); mappings() (the test binary first, its build ID
// as `readelf -n` prints it); symbol_lookup's output for valid, invalid
// and garbage input; and concurrent lookups of uncached PCs, from threads
// and from goroutines (whose misses run inside a BlockingSection).
#define BOOST_TEST_MODULE symbolize_test
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <atomic>
#include <cinttypes>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "profilers/symbolize.h"
#include "runtime/gort.h"
#include "runtime/stackwalk.h"
#include "runtime/sync.h"

using profilers::Frame;
using profilers::Symbolizer;

namespace symtest {

int known_line = 0;    // line of the capture_stack call in known_function
int helper_line = 0;   // line of the capture_stack call in inlined_helper
int inliner_line = 0;  // line of the inlined_helper call in calls_inlined

// known_function stores its caller-side stack: pcs[0] is the return
// address of its call to capture_stack.
__attribute__((noinline)) int known_function(uintptr_t* pcs) {
  known_line = __LINE__ + 1;
  int n = gort::capture_stack(pcs, 8);
  asm volatile("" : : "r"(n) : "memory");  // no tail call: pcs[0] stays in this function
  return n;
}

__attribute__((always_inline)) inline int inlined_helper(uintptr_t* pcs) {
  helper_line = __LINE__ + 1;
  int n = gort::capture_stack(pcs, 8);
  asm volatile("" : : "r"(n) : "memory");
  return n;
}

__attribute__((noinline)) int calls_inlined(uintptr_t* pcs) {
  inliner_line = __LINE__ + 1;
  int n = inlined_helper(pcs);
  asm volatile("" : : "r"(n) : "memory");
  return n;
}

}  // namespace symtest

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string hex(uintptr_t x) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%#" PRIxPTR, x);
  return buf;
}

uintptr_t address_of(int (*f)(uintptr_t*)) {
  return reinterpret_cast<uintptr_t>(f);
}

// run returns a shell command's standard output.
std::string run(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  pclose(p);
  return out;
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

}  // namespace

BOOST_AUTO_TEST_CASE(plain_function) {
  uintptr_t pcs[8];
  BOOST_REQUIRE(symtest::known_function(pcs) >= 2);
  const uintptr_t pc = pcs[0] - 1;
  const std::vector<Frame>& fs = Symbolizer::global().frames(pc);
  BOOST_REQUIRE_EQUAL(fs.size(), 1u);
  BOOST_TEST(fs[0].function == "symtest::known_function(unsigned long*)");
  BOOST_TEST(fs[0].system_name == "_ZN7symtest14known_functionEPm");
  BOOST_TEST(ends_with(fs[0].file, "tests/profilers/symbolize_test.cpp"), fs[0].file);
  BOOST_TEST(fs[0].line == symtest::known_line);
  BOOST_TEST(fs[0].start_line == symtest::known_line - 2);  // the line of the signature
  BOOST_TEST(fs[0].entry == address_of(symtest::known_function));
  BOOST_TEST(fs[0].entry <= pc);

  // The next frame up is this test case's body.
  const std::vector<Frame>& up = Symbolizer::global().frames(pcs[1] - 1);
  BOOST_TEST(up.back().function.find("plain_function") != std::string::npos, up.back().function);
  BOOST_TEST(ends_with(up.back().file, "symbolize_test.cpp"));

  // A second lookup is served from the cache: the same vector.
  BOOST_TEST(&Symbolizer::global().frames(pc) == &fs);
}

BOOST_AUTO_TEST_CASE(inlined_call) {
  uintptr_t pcs[8];
  BOOST_REQUIRE(symtest::calls_inlined(pcs) >= 2);
  const uintptr_t pc = pcs[0] - 1;
  const std::vector<Frame>& fs = Symbolizer::global().frames(pc);
  BOOST_REQUIRE_GE(fs.size(), 2u);
  BOOST_TEST(fs[0].function == "symtest::inlined_helper(unsigned long*)");
  BOOST_TEST(fs[0].line == symtest::helper_line);
  BOOST_TEST(fs[0].start_line == symtest::helper_line - 2);
  BOOST_TEST(ends_with(fs[0].file, "symbolize_test.cpp"), fs[0].file);
  const Frame& outer = fs.back();
  BOOST_TEST(outer.function == "symtest::calls_inlined(unsigned long*)");
  BOOST_TEST(outer.line == symtest::inliner_line);
  BOOST_TEST(ends_with(outer.file, "symbolize_test.cpp"), outer.file);
  // Every frame of the PC shares the out-of-line function's entry.
  for (const Frame& f : fs) BOOST_TEST(f.entry == address_of(symtest::calls_inlined));
}

BOOST_AUTO_TEST_CASE(lambda_in_test_case_body) {
  // A lambda run out of line through std::function (gort::run_main's main
  // goroutine): GCC's LTO emits its operator() as a clone
  // ("…::{lambda()#1}::operator()() const [clone .lto_priv.0]" in the ELF
  // symbol table) described by a concrete DIE nested in the DIE of the
  // enclosing test_method. Its PCs get a file and line, and a DWARF name
  // qualified by the test case.
  int line = 0, n = 0;
  uintptr_t pcs[8];
  gort::run_main([&]() __attribute__((noinline)) {
    line = __LINE__ + 1;
    n = gort::capture_stack(pcs, 8);
    asm volatile("" : : "r"(n) : "memory");
  });
  BOOST_REQUIRE(n >= 2);
  const uintptr_t pc = pcs[0] - 1;
  const std::vector<Frame>& fs = Symbolizer::global().frames(pc);
  BOOST_REQUIRE(!fs.empty());
  const Frame& f = fs.back();
  BOOST_TEST(ends_with(f.file, "symbolize_test.cpp"), f.file);
  BOOST_TEST(f.line == line);
  BOOST_TEST(f.function.find("lambda_in_test_case_body") != std::string::npos, f.function);
  BOOST_TEST(f.function.find("lambda") < f.function.find("operator()"), f.function);  // not a bare operator()
  BOOST_TEST(f.function.find("[clone") == std::string::npos, f.function);  // from DWARF, not the ELF symbol
  BOOST_TEST(f.entry != 0u);
  BOOST_TEST(f.entry <= pc);
}

BOOST_AUTO_TEST_CASE(libc_function_from_symbol_table) {
  pid_t (*fn)() = &getpid;  // the PLT-free address in libc (PIE loads it from the GOT)
  const uintptr_t pc = reinterpret_cast<uintptr_t>(fn) + 1;
  const std::vector<Frame>& fs = Symbolizer::global().frames(pc);
  BOOST_REQUIRE_EQUAL(fs.size(), 1u);
  BOOST_TEST(fs[0].function.find("getpid") != std::string::npos, fs[0].function);
  BOOST_TEST(fs[0].entry == reinterpret_cast<uintptr_t>(fn));
  bool in_libc = false;
  for (const profilers::Mapping& m : Symbolizer::global().mappings())
    in_libc = in_libc || (pc >= m.start && pc < m.limit && m.file.find("libc") != std::string::npos);
  BOOST_TEST(in_libc);
}

BOOST_AUTO_TEST_CASE(unmapped_pc) {
  const std::vector<Frame>& fs = Symbolizer::global().frames(0x10);
  BOOST_REQUIRE_EQUAL(fs.size(), 1u);
  BOOST_TEST(fs[0].function == "0x10");
  BOOST_TEST(fs[0].file.empty());
  BOOST_TEST(fs[0].line == 0);
  BOOST_TEST(fs[0].entry == 0u);
}

BOOST_AUTO_TEST_CASE(mappings_list_the_binary_first_with_its_build_id) {
  std::vector<profilers::Mapping> ms = Symbolizer::global().mappings();
  BOOST_REQUIRE(!ms.empty());
  const std::string exe = self_exe();
  BOOST_TEST(ms[0].file == exe);
  BOOST_TEST(!ms[0].build_id.empty());
  const uintptr_t fn = address_of(symtest::known_function);
  bool found = false;
  for (const profilers::Mapping& m : ms) {
    BOOST_TEST(m.start < m.limit);
    if (fn >= m.start && fn < m.limit) {
      found = true;
      BOOST_TEST(m.file == exe);
      BOOST_TEST(m.build_id == ms[0].build_id);
    }
  }
  BOOST_TEST(found);

  const std::string notes = run("readelf -n '" + exe + "' 2>/dev/null");
  const size_t at = notes.find("Build ID: ");
  if (at == std::string::npos) {
    BOOST_TEST_MESSAGE("readelf unavailable or no build ID note; not compared");
    BOOST_TEST(!notes.empty());
    return;
  }
  const std::string id = notes.substr(at + 10, notes.find('\n', at) - at - 10);
  BOOST_TEST(ms[0].build_id == id);
}

BOOST_AUTO_TEST_CASE(symbol_lookup_like_go) {
  using profilers::symbol_lookup;
  const uintptr_t fn = address_of(symtest::known_function);
  const std::string name = "symtest::known_function(unsigned long*)";
  BOOST_TEST(symbol_lookup("") == "num_symbols: 1\n");

  std::string body = hex(fn) + "+garbage+0x10+" + hex(fn + 3) + "+" + std::to_string(fn) + "++0";
  std::string want = "num_symbols: 1\n" + hex(fn) + " " + name + "\n" + hex(fn + 3) + " " + name + "\n" +
                     hex(fn) + " " + name + "\n";
  BOOST_TEST(symbol_lookup(body) == want);

  // strconv.ParseUint(s, 0, 64) spellings: octal, upper-case hex, an
  // underscore after the base prefix; printed back as %#x.
  char octal[32];
  std::snprintf(octal, sizeof octal, "0%" PRIoPTR, fn);
  char upper[32];
  std::snprintf(upper, sizeof upper, "0X%" PRIXPTR, fn);
  std::string under = "0x_" + hex(fn).substr(2);
  want = "num_symbols: 1\n" + hex(fn) + " " + name + "\n" + hex(fn) + " " + name + "\n" + hex(fn) + " " +
         name + "\n";
  BOOST_TEST(symbol_lookup(std::string(octal) + "+" + upper + "+" + under) == want);
  // Malformed spellings name nothing: a trailing underscore, a sign, a
  // digit out of range, a 0x with no digits, overflow.
  BOOST_TEST(symbol_lookup(hex(fn) + "_+-" + hex(fn) + "+0x+08+0x1" + std::string(40, 'f')) ==
             "num_symbols: 1\n");

  // Garbage never crashes: 10k unmapped addresses, huge and binary input.
  std::string many;
  for (int i = 0; i < 10000; i++) many += hex(0x1000 + 16 * static_cast<uintptr_t>(i)) + "+";
  BOOST_TEST(symbol_lookup(many) == "num_symbols: 1\n");
  std::string binary;
  for (int i = 0; i < 4096; i++) binary += static_cast<char>(i * 7);
  BOOST_TEST(symbol_lookup(binary).rfind("num_symbols: 1\n", 0) == 0u);
  BOOST_TEST(symbol_lookup(std::string(1 << 20, '+')) == "num_symbols: 1\n");
}

BOOST_AUTO_TEST_CASE(concurrent_lookups_agree) {
  // PCs nobody has looked up yet: every instruction byte of calls_inlined's
  // first 256 bytes, resolved by four threads at once, then compared.
  const uintptr_t base = address_of(symtest::calls_inlined) + 1;
  constexpr int kThreads = 4, kPcs = 256;
  std::vector<std::vector<const std::vector<Frame>*>> got(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; t++) {
    ts.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      for (int i = 0; i < kPcs; i++) {
        const int k = (t % 2 == 0) ? i : kPcs - 1 - i;  // half the threads go backwards
        got[t].push_back(&Symbolizer::global().frames(base + static_cast<uintptr_t>(k)));
      }
    });
  }
  for (std::thread& t : ts) t.join();
  for (int t = 0; t < kThreads; t++) {
    for (int i = 0; i < kPcs; i++) {
      const int k = (t % 2 == 0) ? i : kPcs - 1 - i;
      const std::vector<Frame>& fs = Symbolizer::global().frames(base + static_cast<uintptr_t>(k));
      BOOST_TEST(got[t][i] == &fs);  // one cached entry per PC, whoever made it
      BOOST_TEST(!fs.empty());
    }
  }
}

BOOST_AUTO_TEST_CASE(lookups_from_goroutines) {
  // On a goroutine a cache miss runs inside a BlockingSection (the P is
  // handed off while libdw works); goroutines on two Ps resolve fresh PCs
  // at once, with GOMAXPROCS below their number.
  const uintptr_t base = address_of(symtest::known_function) + 1;
  constexpr int kGoroutines = 4, kPcs = 128;
  std::vector<std::string> names(kGoroutines * kPcs);
  gort::Config cfg;
  cfg.gomaxprocs = 2;
  gort::run_main(
      [&] {
        gort::WaitGroup wg;
        wg.add(kGoroutines);
        for (int g = 0; g < kGoroutines; g++) {
          gort::go([&, g] {
            for (int i = 0; i < kPcs; i++) {
              const uintptr_t pc = base + 4096 + static_cast<uintptr_t>(i * kGoroutines + g);
              names[static_cast<size_t>(i * kGoroutines + g)] = Symbolizer::global().frames(pc).back().function;
            }
            wg.done();
          });
        }
        wg.wait();
      },
      cfg);
  for (size_t k = 0; k < names.size(); k++) {
    BOOST_TEST(!names[k].empty());
    BOOST_TEST(names[k] == Symbolizer::global().frames(base + 4096 + k).back().function);
  }
}
