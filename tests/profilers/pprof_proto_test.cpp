// pprof_proto_test.cpp — encode_pprof's output read two ways: by Go's own
// `go tool pprof` (-raw, -top, -traces, -lines, -tagfocus), for a profile
// whose stacks are real return addresses captured in the named noinline
// functions below, and by a small protobuf decoder here, for the wire
// details pprof's text output hides (gzip framing, string index 0, the
// location of an unmapped PC, an empty stack, one Location per PC).
#define BOOST_TEST_MODULE pprof_proto_test
#include <boost/test/unit_test.hpp>

#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "profilers/profile.h"
#include "profilers/symbolize.h"
#include "runtime/stackwalk.h"

using profilers::Profile;
using profilers::Sample;

namespace prototest {

int leaf_line = 0;     // line of leaf_work's capture_stack call
int mid_line = 0;      // line of mid_work's leaf_work call
int other_line = 0;    // line of other_work's capture_stack call
int inlined_line = 0;  // line of inlined_leaf's capture_stack call
int inliner_line = 0;  // line of inlining_caller's inlined_leaf call

__attribute__((noinline)) int leaf_work(uintptr_t* pcs, int max) {
  leaf_line = __LINE__ + 1;
  int n = gort::capture_stack(pcs, max);
  asm volatile("" : : "r"(n) : "memory");  // no tail call
  return n;
}

__attribute__((noinline)) int mid_work(uintptr_t* pcs, int max) {
  mid_line = __LINE__ + 1;
  int n = leaf_work(pcs, max);
  asm volatile("" : : "r"(n) : "memory");
  return n;
}

__attribute__((noinline)) int other_work(uintptr_t* pcs, int max) {
  other_line = __LINE__ + 1;
  int n = gort::capture_stack(pcs, max);
  asm volatile("" : : "r"(n) : "memory");
  return n;
}

__attribute__((always_inline)) inline int inlined_leaf(uintptr_t* pcs, int max) {
  inlined_line = __LINE__ + 1;
  int n = gort::capture_stack(pcs, max);
  asm volatile("" : : "r"(n) : "memory");
  return n;
}

__attribute__((noinline)) int inlining_caller(uintptr_t* pcs, int max) {
  inliner_line = __LINE__ + 1;
  int n = inlined_leaf(pcs, max);
  asm volatile("" : : "r"(n) : "memory");
  return n;
}

}  // namespace prototest

namespace {

// ---- a minimal protobuf reader: enough of the wire format for profile.proto ----

struct Field {
  int tag = 0;
  int wire = 0;
  uint64_t varint = 0;  // wire type 0
  std::string bytes;    // wire type 2
};

bool read_varint(std::string_view* s, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (s->empty()) return false;
    auto b = static_cast<uint8_t>(s->front());
    s->remove_prefix(1);
    *v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

// fields decodes one message; a malformed one fails the test.
std::vector<Field> fields(std::string_view s) {
  std::vector<Field> out;
  while (!s.empty()) {
    uint64_t key = 0;
    BOOST_REQUIRE(read_varint(&s, &key));
    Field f;
    f.tag = static_cast<int>(key >> 3);
    f.wire = static_cast<int>(key & 7);
    if (f.wire == 0) {
      BOOST_REQUIRE(read_varint(&s, &f.varint));
    } else {
      BOOST_REQUIRE_EQUAL(f.wire, 2);
      uint64_t len = 0;
      BOOST_REQUIRE(read_varint(&s, &len));
      BOOST_REQUIRE_LE(len, s.size());
      f.bytes = std::string(s.substr(0, len));
      s.remove_prefix(len);
    }
    out.push_back(std::move(f));
  }
  return out;
}

// ints returns the values of a repeated integer field, packed or not.
std::vector<uint64_t> ints(const std::vector<Field>& fs, int tag) {
  std::vector<uint64_t> out;
  for (const Field& f : fs) {
    if (f.tag != tag) continue;
    if (f.wire == 0) {
      out.push_back(f.varint);
      continue;
    }
    std::string_view run = f.bytes;
    uint64_t v;
    while (!run.empty()) {
      BOOST_REQUIRE(read_varint(&run, &v));
      out.push_back(v);
    }
  }
  return out;
}

uint64_t scalar(const std::vector<Field>& fs, int tag) {
  uint64_t v = 0;
  for (const Field& f : fs)
    if (f.tag == tag && f.wire == 0) v = f.varint;
  return v;
}

std::vector<std::vector<Field>> messages(const std::vector<Field>& fs, int tag) {
  std::vector<std::vector<Field>> out;
  for (const Field& f : fs)
    if (f.tag == tag) out.push_back(fields(f.bytes));
  return out;
}

std::string gunzip(const std::string& gz) {
  z_stream zs{};
  BOOST_REQUIRE_EQUAL(inflateInit2(&zs, 16 + 15), Z_OK);  // gzip framing only
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[1 << 14];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    BOOST_REQUIRE(rc == Z_OK || rc == Z_STREAM_END);
    out.append(buf, sizeof buf - zs.avail_out);
  } while (rc != Z_STREAM_END);
  BOOST_TEST(zs.avail_in == 0u);  // nothing after the gzip trailer
  inflateEnd(&zs);
  return out;
}

// Decoded is a profile.proto read back, by field number (see pprof_proto.cpp).
struct Decoded {
  std::vector<Field> top;
  std::vector<std::string> strings;
  std::vector<std::vector<Field>> samples, mappings, locations, functions;

  explicit Decoded(const std::string& gz) {
    top = fields(gunzip(gz));
    for (const Field& f : top)
      if (f.tag == 6) strings.push_back(f.bytes);
    samples = messages(top, 2);
    mappings = messages(top, 3);
    locations = messages(top, 4);
    functions = messages(top, 5);
  }
  std::string str(uint64_t i) const { return i < strings.size() ? strings[i] : "<bad index>"; }
  const std::vector<Field>* location(uint64_t id) const {
    for (const auto& l : locations)
      if (scalar(l, 1) == id) return &l;
    return nullptr;
  }
  const std::vector<Field>* function(uint64_t id) const {
    for (const auto& f : functions)
      if (scalar(f, 1) == id) return &f;
    return nullptr;
  }
};

// ---- running go tool pprof ----

std::string write_temp(const std::string& data) {
  char path[] = "/tmp/pprof_proto_test.XXXXXX";
  int fd = mkstemp(path);
  BOOST_REQUIRE(fd >= 0);
  BOOST_REQUIRE_EQUAL(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
  close(fd);
  return path;
}

// pprof runs `go tool pprof ARGS FILE` and returns its output (stdout and
// stderr); a non-zero exit fails the test.
std::string pprof(const std::string& args, const std::string& file) {
  std::string cmd = std::string(GO_PATH) + " tool pprof " + args + " '" + file + "' 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  BOOST_REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = pclose(p);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), cmd << " failed:\n" << out);
  return out;
}

bool have_go() {
  return std::string(GO_PATH).size() > 0 && access(GO_PATH, X_OK) == 0;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

std::vector<uintptr_t> stack_of(int (*f)(uintptr_t*, int)) {
  uintptr_t pcs[64];
  int n = f(pcs, 64);
  return std::vector<uintptr_t>(pcs, pcs + n);
}

// cpu_like returns a profile shaped as the CPU profile: leaf_work (via
// mid_work) three samples with labels endpoint=/work and bytes=4096,
// other_work one sample with endpoint=/other.
Profile cpu_like() {
  Profile p;
  p.sample_types = {{"samples", "count"}, {"cpu", "nanoseconds"}};
  p.default_sample_type = "samples";
  p.period_type = {"cpu", "nanoseconds"};
  p.period = 10'000'000;
  p.time_nanos = 1'700'000'000'000'000'000;
  p.duration_nanos = 2'000'000'000;
  p.comments = {"gort pprof_proto_test"};
  Sample a;
  a.stack = stack_of(prototest::mid_work);
  a.values = {3, 30'000'000};
  a.labels = {{"endpoint", "/work"}};
  a.num_labels = {{"bytes", 4096}};
  Sample b;
  b.stack = stack_of(prototest::other_work);
  b.values = {1, 10'000'000};
  b.labels = {{"endpoint", "/other"}};
  p.samples = {a, b};
  return p;
}

const std::string kLeaf = "prototest::leaf_work(unsigned long*, int)";
const std::string kMid = "prototest::mid_work(unsigned long*, int)";
const std::string kOther = "prototest::other_work(unsigned long*, int)";

}  // namespace

BOOST_AUTO_TEST_CASE(go_tool_pprof_reads_it) {
  if (!have_go()) {
    BOOST_TEST_MESSAGE("go not found; skipping the go tool pprof checks");
    return;
  }
  const Profile p = cpu_like();
  const std::string file = write_temp(profilers::encode_pprof(p));
  const std::string build_id = profilers::Symbolizer::global().mappings().at(0).build_id;
  BOOST_REQUIRE(!build_id.empty());

  const std::string raw = pprof("-raw -symbolize=none", file);
  BOOST_TEST(contains(raw, "PeriodType: cpu nanoseconds"), raw);
  BOOST_TEST(contains(raw, "Period: 10000000"));
  BOOST_TEST(contains(raw, "Duration: 2s"));
  BOOST_TEST(contains(raw, "samples/count[dflt] cpu/nanoseconds"));  // [dflt]: default_sample_type
  BOOST_TEST(contains(raw, "endpoint:[/work]"));
  BOOST_TEST(contains(raw, "endpoint:[/other]"));
  BOOST_TEST(contains(raw, "bytes:[4096]"));
  BOOST_TEST(contains(raw, kLeaf));
  BOOST_TEST(contains(raw, kMid));
  BOOST_TEST(contains(raw, kOther));
  BOOST_TEST(contains(raw, "pprof_proto_test.cpp:" + std::to_string(prototest::leaf_line)));
  // The main binary's mapping, with its build ID and symbolization flags.
  BOOST_TEST(contains(raw, self_exe() + " " + build_id + " [FN][FL][LN][IN]"));

  const std::string top = pprof("-top -symbolize=none", file);
  BOOST_TEST(contains(top, "Type: samples"), top);  // default_sample_type
  BOOST_TEST(contains(top, kLeaf));
  BOOST_TEST(contains(top, kOther));

  const std::string lines = pprof("-top -lines -symbolize=none", file);
  BOOST_TEST(contains(lines, "pprof_proto_test.cpp:" + std::to_string(prototest::leaf_line)), lines);
  BOOST_TEST(contains(lines, "pprof_proto_test.cpp:" + std::to_string(prototest::mid_line)));
  BOOST_TEST(contains(lines, "pprof_proto_test.cpp:" + std::to_string(prototest::other_line)));

  const std::string traces = pprof("-traces -symbolize=none", file);
  BOOST_TEST(contains(traces, "endpoint:  /work"), traces);
  BOOST_TEST(contains(traces, "bytes:  4kB"));  // pprof knows "bytes" is in bytes
  // leaf_work's trace lists mid_work right below it.
  const size_t leaf_at = traces.find(kLeaf);
  BOOST_TEST((leaf_at != std::string::npos && traces.find(kMid, leaf_at) != std::string::npos));

  const std::string work = pprof("-top -symbolize=none -tagfocus=endpoint=/work", file);
  BOOST_TEST(contains(work, kLeaf), work);
  BOOST_TEST(!contains(work, kOther));
  const std::string sized = pprof("-top -symbolize=none -tagfocus=bytes=4096B", file);
  BOOST_TEST(contains(sized, kLeaf), sized);
  BOOST_TEST(!contains(sized, kOther));

  // Local symbolization (pprof's default) has nothing left to do and must
  // not fail either.
  pprof("-raw", file);
  std::remove(file.c_str());
}

BOOST_AUTO_TEST_CASE(wire_format_of_a_real_profile) {
  const Profile p = cpu_like();
  const std::string gz = profilers::encode_pprof(p);
  BOOST_REQUIRE_GE(gz.size(), 18u);
  BOOST_TEST(static_cast<uint8_t>(gz[0]) == 0x1f);  // gzip magic
  BOOST_TEST(static_cast<uint8_t>(gz[1]) == 0x8b);
  Decoded d(gz);
  BOOST_REQUIRE(!d.strings.empty());
  BOOST_TEST(d.strings[0] == "");
  BOOST_TEST(std::set<std::string>(d.strings.begin(), d.strings.end()).size() ==
             d.strings.size());  // no duplicates

  // Sample types, period, times, comments, default type.
  auto types = messages(d.top, 1);
  BOOST_REQUIRE_EQUAL(types.size(), 2u);
  BOOST_TEST(d.str(scalar(types[1], 1)) == "cpu");
  BOOST_TEST(d.str(scalar(types[1], 2)) == "nanoseconds");
  BOOST_TEST(scalar(d.top, 12) == 10'000'000u);
  BOOST_TEST(scalar(d.top, 9) == static_cast<uint64_t>(p.time_nanos));
  BOOST_TEST(scalar(d.top, 10) == 2'000'000'000u);
  BOOST_TEST(d.str(scalar(d.top, 14)) == "samples");
  auto comments = ints(d.top, 13);
  BOOST_REQUIRE_EQUAL(comments.size(), 1u);
  BOOST_TEST(d.str(comments[0]) == "gort pprof_proto_test");

  // The first sample: its stack, one location per PC, innermost first.
  BOOST_REQUIRE_EQUAL(d.samples.size(), 2u);
  auto locs = ints(d.samples[0], 1);
  BOOST_REQUIRE_EQUAL(locs.size(), p.samples[0].stack.size());
  BOOST_TEST((ints(d.samples[0], 2) == std::vector<uint64_t>{3, 30'000'000}));
  const auto* leaf = d.location(locs[0]);
  BOOST_REQUIRE(leaf != nullptr);
  BOOST_TEST(scalar(*leaf, 3) == p.samples[0].stack[0] - 1);  // address: inside the call
  BOOST_TEST(scalar(*leaf, 2) == 1u);                         // the main binary's mapping
  auto lines = messages(*leaf, 4);
  BOOST_REQUIRE_EQUAL(lines.size(), 1u);
  BOOST_TEST(scalar(lines[0], 2) == static_cast<uint64_t>(prototest::leaf_line));
  const auto* fn = d.function(scalar(lines[0], 1));
  BOOST_REQUIRE(fn != nullptr);
  BOOST_TEST(d.str(scalar(*fn, 2)) == kLeaf);
  BOOST_TEST(d.str(scalar(*fn, 3)) == "_ZN9prototest9leaf_workEPmi");
  const std::string fname = d.str(scalar(*fn, 4));
  BOOST_TEST(fname.size() > 20);
  BOOST_TEST(fname.compare(fname.size() - 20, 20, "pprof_proto_test.cpp") == 0, fname);
  BOOST_TEST(scalar(*fn, 5) == static_cast<uint64_t>(prototest::leaf_line - 2));

  // Labels: a string label and a numeric one.
  auto labels = messages(d.samples[0], 3);
  BOOST_REQUIRE_EQUAL(labels.size(), 2u);
  BOOST_TEST(d.str(scalar(labels[0], 1)) == "endpoint");
  BOOST_TEST(d.str(scalar(labels[0], 2)) == "/work");
  BOOST_TEST(d.str(scalar(labels[1], 1)) == "bytes");
  BOOST_TEST(scalar(labels[1], 3) == 4096u);

  // Both stacks share their outer frames (the test body and below): each
  // PC has exactly one Location, and each function one Function.
  std::set<uintptr_t> pcs(p.samples[0].stack.begin(), p.samples[0].stack.end());
  pcs.insert(p.samples[1].stack.begin(), p.samples[1].stack.end());
  BOOST_TEST(d.locations.size() == pcs.size());
  std::set<std::string> fn_keys;
  for (const auto& f : d.functions)
    fn_keys.insert(d.str(scalar(f, 2)) + "|" + d.str(scalar(f, 3)) + "|" + d.str(scalar(f, 4)) + "|" +
                   std::to_string(scalar(f, 5)));
  BOOST_TEST(fn_keys.size() == d.functions.size());

  // Mappings: ids 1..n, the binary first with its build ID and flags.
  BOOST_REQUIRE(!d.mappings.empty());
  for (size_t i = 0; i < d.mappings.size(); i++) BOOST_TEST(scalar(d.mappings[i], 1) == i + 1);
  BOOST_TEST(d.str(scalar(d.mappings[0], 5)) == self_exe());
  BOOST_TEST(d.str(scalar(d.mappings[0], 6)) == profilers::Symbolizer::global().mappings()[0].build_id);
  for (int flag = 7; flag <= 10; flag++) BOOST_TEST(scalar(d.mappings[0], flag) == 1u);
  // Every location lies inside the mapping it names.
  for (const auto& l : d.locations) {
    const uint64_t mid = scalar(l, 2), addr = scalar(l, 3);
    BOOST_REQUIRE(mid >= 1 && mid <= d.mappings.size());
    BOOST_TEST(addr >= scalar(d.mappings[mid - 1], 2));
    BOOST_TEST(addr < scalar(d.mappings[mid - 1], 3));
  }
}

BOOST_AUTO_TEST_CASE(inlined_frames_are_lines_of_one_location) {
  Profile p;
  p.sample_types = {{"samples", "count"}};
  Sample s;
  s.stack = stack_of(prototest::inlining_caller);
  s.values = {1};
  p.samples = {s};
  const std::string gz = profilers::encode_pprof(p);
  Decoded d(gz);
  const auto* loc = d.location(ints(d.samples.at(0), 1).at(0));
  BOOST_REQUIRE(loc != nullptr);
  auto lines = messages(*loc, 4);
  BOOST_REQUIRE_EQUAL(lines.size(), 2u);  // innermost first: the inlined callee, then its caller
  BOOST_TEST(d.str(scalar(*d.function(scalar(lines[0], 1)), 2)) ==
             "prototest::inlined_leaf(unsigned long*, int)");
  BOOST_TEST(scalar(lines[0], 2) == static_cast<uint64_t>(prototest::inlined_line));
  BOOST_TEST(d.str(scalar(*d.function(scalar(lines[1], 1)), 2)) ==
             "prototest::inlining_caller(unsigned long*, int)");
  BOOST_TEST(scalar(lines[1], 2) == static_cast<uint64_t>(prototest::inliner_line));

  if (have_go()) {
    const std::string file = write_temp(gz);
    const std::string traces = pprof("-traces -symbolize=none", file);
    BOOST_TEST(contains(traces,
                        "prototest::inlined_leaf(unsigned long*, int) (inline)\n"
                        "             prototest::inlining_caller(unsigned long*, int)\n"),
               traces);
    std::remove(file.c_str());
  }
}

BOOST_AUTO_TEST_CASE(corner_cases) {
  // An empty profile still carries the string table's "" and the mappings.
  {
    Decoded d(profilers::encode_pprof(Profile{}));
    BOOST_REQUIRE(!d.strings.empty());
    BOOST_TEST(d.strings[0] == "");
    BOOST_TEST(d.samples.empty());
    BOOST_TEST(d.locations.empty());
    BOOST_TEST(d.functions.empty());
    BOOST_TEST(!d.mappings.empty());
  }

  const std::vector<uintptr_t> real = stack_of(prototest::other_work);
  Profile p;
  p.sample_types = {{"contentions", "count"}, {"delay", "nanoseconds"}};
  Sample empty_stack;
  empty_stack.values = {1, 5};
  Sample unmapped;
  unmapped.stack = {0x10};
  unmapped.values = {2, -7};  // negative: a ten-byte varint
  Sample dup1, dup2;
  dup1.stack = {real[0], 0x10};
  dup1.values = {1, 1};
  dup2.stack = {real[0], real[0]};
  dup2.values = {1, 1};
  p.samples = {empty_stack, unmapped, dup1, dup2};
  const std::string gz = profilers::encode_pprof(p);
  Decoded d(gz);

  BOOST_REQUIRE_EQUAL(d.samples.size(), 4u);
  BOOST_TEST(ints(d.samples[0], 1).empty());
  BOOST_TEST((ints(d.samples[0], 2) == std::vector<uint64_t>{1, 5}));
  BOOST_TEST(static_cast<int64_t>(ints(d.samples[1], 2).at(1)) == -7);

  // Two distinct PCs, two locations; repeats reuse them.
  BOOST_REQUIRE_EQUAL(d.locations.size(), 2u);
  const uint64_t unmapped_id = ints(d.samples[1], 1).at(0);
  const uint64_t real_id = ints(d.samples[2], 1).at(0);
  BOOST_TEST(unmapped_id != real_id);
  BOOST_TEST((ints(d.samples[2], 1) == std::vector<uint64_t>{real_id, unmapped_id}));
  BOOST_TEST((ints(d.samples[3], 1) == std::vector<uint64_t>{real_id, real_id}));

  // The unmapped PC: address 0xf, no mapping, no lines.
  const auto* u = d.location(unmapped_id);
  BOOST_REQUIRE(u != nullptr);
  BOOST_TEST(scalar(*u, 3) == 0xfu);
  BOOST_TEST(scalar(*u, 2) == 0u);
  BOOST_TEST(messages(*u, 4).empty());
  BOOST_REQUIRE_EQUAL(d.functions.size(), 1u);  // other_work only
  BOOST_TEST(d.str(scalar(d.functions[0], 2)) == kOther);

  if (have_go()) {
    const std::string file = write_temp(gz);
    const std::string raw = pprof("-raw -symbolize=none", file);
    BOOST_TEST(contains(raw, "contentions/count delay/nanoseconds"), raw);
    BOOST_TEST(contains(raw, kOther));
    BOOST_TEST(contains(raw, ": 0xf \n"));  // a location with no mapping (no "M=") and no lines
    const std::string top = pprof("-top -symbolize=none -sample_index=contentions", file);
    BOOST_TEST(contains(top, "<unknown>"), top);
    std::remove(file.c_str());
  }
}
