// pprof_writer_fuzz.cpp — fuzzes encode_pprof (profilers/pprof_proto.cpp),
// the writer of every profile gortd serves, by building a random Profile
// (profile.h) from the fuzzer's bytes and reading the gzipped profile.proto
// it writes back with a decoder of its own (below; the field numbers are
// Go's, runtime/pprof/protobuf.go and proto.go, and pprof's profile.proto).
//
// The profile: 0–4 sample types; samples whose stacks mix return
// addresses inside real functions (this binary's, libc's, the profilers'),
// unmapped and absurd addresses, 0, and repeats; values 0, ±1, INT64_MIN,
// INT64_MAX and anything between; string and numeric labels with arbitrary
// bytes (empty, invalid UTF-8, up to 64 KiB); period, period type, times,
// comments and the default sample type likewise.
//
// Properties checked (abort() on violation):
//   - the output is one gzip member that zlib inflates, and the message
//     decodes: known fields only, of the wire type profile.proto gives them;
//   - string_table[0] is "", every string index is in range, no string is
//     there twice;
//   - location, function and mapping ids are nonzero and unique, and every
//     id referenced (sample → location, location → mapping, line →
//     function) exists; a location's address is its PC − 1 and lies inside
//     its mapping; its lines are the symbolizer's known frames for it;
//   - one location per distinct PC;
//   - sample types, samples (stack, one value per sample type, labels in
//     order), period type, period, times, comments and default sample type
//     read back exactly as fed;
//   - subtract_profiles(after, before), with `before` made of some of
//     after's samples (same or other values) and some of its own, is the
//     delta computed here (int64 sums wrapping as Go's do), and encodes
//     as well.
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "profilers/profile.h"
#include "profilers/symbolize.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using profilers::Profile;
using profilers::Sample;
using profilers::ValueType;

[[noreturn]] void fail(const char* what, uint64_t a = 0, uint64_t b = 0) {
  std::fprintf(stderr, "pprof_writer: %s (%llu, %llu)\n", what, static_cast<unsigned long long>(a),
               static_cast<unsigned long long>(b));
  std::abort();
}
void check(bool ok, const char* what, uint64_t a = 0, uint64_t b = 0) {
  if (!ok) fail(what, a, b);
}

// ---- code addresses for the stacks ----

__attribute__((noinline)) int code_a(int x) {
  asm volatile("" : "+r"(x));
  return x * 3 + 1;
}
__attribute__((noinline)) int code_b(int x) {
  asm volatile("" : "+r"(x));
  return code_a(x) ^ 5;
}

uintptr_t code_addr(int which) {
  switch (which) {
    case 0: return reinterpret_cast<uintptr_t>(&code_a);
    case 1: return reinterpret_cast<uintptr_t>(&code_b);
    case 2: return reinterpret_cast<uintptr_t>(&profilers::encode_pprof);
    case 3: return reinterpret_cast<uintptr_t>(&std::strtol);
    default: return reinterpret_cast<uintptr_t>(&std::qsort);
  }
}

// random_pc picks a stack entry. Addresses come from a bounded set, so the
// symbolizer's per-PC cache stays small over millions of runs.
uintptr_t random_pc(fuzzin::Input& in, const std::vector<uintptr_t>& seen) {
  switch (in.below(8)) {
    case 0: return 0;
    case 1: return 1 + in.u8();
    case 2:
    case 3: return code_addr(in.below(5)) + in.below(64);
    case 4: return 0x400000 + (in.bytes_le(2) << 4);
    case 5: return ~uintptr_t{0} - in.u8();
    default: return seen.empty() ? 0x10 : seen[in.below(static_cast<uint32_t>(seen.size()))];
  }
}

int64_t random_value(fuzzin::Input& in) {
  switch (in.below(8)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return -1;
    case 3: return INT64_MIN;
    case 4: return INT64_MAX;
    case 5: return -static_cast<int64_t>(in.wide() >> 1);
    default: return static_cast<int64_t>(in.wide());
  }
}

constexpr size_t kLongText = 64 << 10;

Profile random_profile(fuzzin::Input& in) {
  Profile p;
  for (uint32_t i = 0, n = in.below(5); i < n; i++) p.sample_types.push_back({in.text(64), in.text(64)});
  if (in.flag()) p.default_sample_type = in.text(64);
  if (in.flag()) p.period_type = {in.text(64), in.text(64)};
  p.period = random_value(in);
  p.time_nanos = random_value(in);
  p.duration_nanos = random_value(in);
  for (uint32_t i = 0, n = in.below(4); i < n; i++) p.comments.push_back(in.text(kLongText));
  std::vector<uintptr_t> seen;
  for (uint32_t i = 0, n = in.below(24); i < n && !in.empty(); i++) {
    Sample s;
    for (uint32_t d = 0, depth = in.below(40); d < depth; d++) {
      s.stack.push_back(random_pc(in, seen));
      seen.push_back(s.stack.back());
    }
    for (size_t v = 0; v < p.sample_types.size(); v++) s.values.push_back(random_value(in));
    for (uint32_t l = 0, nl = in.below(4); l < nl; l++) s.labels.emplace_back(in.text(kLongText), in.text(kLongText));
    for (uint32_t l = 0, nl = in.below(3); l < nl; l++) s.num_labels.emplace_back(in.text(64), random_value(in));
    p.samples.push_back(std::move(s));
  }
  return p;
}

// ---- an independent profile.proto reader ----

struct Field {
  uint32_t tag = 0;
  int wire = 0;
  uint64_t num = 0;       // wire types 0, 1, 5
  std::string_view bytes;  // wire type 2
};

bool read_varint(std::string_view* s, uint64_t* v) {
  *v = 0;
  for (int i = 0; i < 10; i++) {
    if (s->empty()) return false;
    auto b = static_cast<uint8_t>(s->front());
    s->remove_prefix(1);
    *v |= static_cast<uint64_t>(b & 0x7f) << (7 * i);
    if ((b & 0x80) == 0) return true;
  }
  return false;
}

std::vector<Field> decode(std::string_view s) {
  std::vector<Field> out;
  while (!s.empty()) {
    uint64_t key = 0;
    check(read_varint(&s, &key), "truncated key");
    Field f;
    f.tag = static_cast<uint32_t>(key >> 3);
    f.wire = static_cast<int>(key & 7);
    check(f.tag != 0, "field number 0");
    switch (f.wire) {
      case 0:
        check(read_varint(&s, &f.num), "truncated varint", f.tag);
        break;
      case 1:
      case 5: {
        size_t n = f.wire == 1 ? 8 : 4;
        check(s.size() >= n, "truncated fixed", f.tag);
        std::memcpy(&f.num, s.data(), n);
        s.remove_prefix(n);
        break;
      }
      case 2: {
        uint64_t len = 0;
        check(read_varint(&s, &len), "truncated length", f.tag);
        check(len <= s.size(), "length past the message", f.tag, len);
        f.bytes = s.substr(0, len);
        s.remove_prefix(len);
        break;
      }
      default:
        fail("bad wire type", f.tag, static_cast<uint64_t>(f.wire));
    }
    out.push_back(f);
  }
  return out;
}

// Msg is one decoded message: its scalar fields, repeated integers (packed
// or not) and embedded messages by field number. `allowed` lists each
// known field with its kind: 'v' varint scalar, 'r' repeated integer, 'm'
// embedded message(s), 's' string(s).
struct Msg {
  std::map<uint32_t, uint64_t> scalar;
  std::map<uint32_t, std::vector<uint64_t>> ints;
  std::map<uint32_t, std::vector<std::string_view>> bytes;

  Msg(std::string_view s, const std::map<uint32_t, char>& allowed) {
    for (const Field& f : decode(s)) {
      auto it = allowed.find(f.tag);
      check(it != allowed.end(), "unknown field", f.tag);
      switch (it->second) {
        case 'v':
          check(f.wire == 0, "scalar not a varint", f.tag);
          check(scalar.count(f.tag) == 0, "scalar field twice", f.tag);
          scalar[f.tag] = f.num;
          break;
        case 'r':
          if (f.wire == 0) {
            ints[f.tag].push_back(f.num);
          } else {
            check(f.wire == 2, "repeated integer neither varint nor packed", f.tag);
            std::string_view run = f.bytes;
            uint64_t v;
            while (!run.empty()) {
              check(read_varint(&run, &v), "bad packed varint", f.tag);
              ints[f.tag].push_back(v);
            }
          }
          break;
        default:
          check(f.wire == 2, "message or string not length-delimited", f.tag);
          bytes[f.tag].push_back(f.bytes);
      }
    }
  }
  uint64_t get(uint32_t tag) const {
    auto it = scalar.find(tag);
    return it == scalar.end() ? 0 : it->second;
  }
  const std::vector<uint64_t>& list(uint32_t tag) const {
    static const std::vector<uint64_t> none;
    auto it = ints.find(tag);
    return it == ints.end() ? none : it->second;
  }
  const std::vector<std::string_view>& all(uint32_t tag) const {
    static const std::vector<std::string_view> none;
    auto it = bytes.find(tag);
    return it == bytes.end() ? none : it->second;
  }
};

// Field numbers and kinds, from profile.proto.
const std::map<uint32_t, char> kProfile = {{1, 'm'},  {2, 'm'},  {3, 'm'},  {4, 'm'}, {5, 'm'},
                                           {6, 's'},  {7, 'v'},  {8, 'v'},  {9, 'v'}, {10, 'v'},
                                           {11, 'm'}, {12, 'v'}, {13, 'r'}, {14, 'v'}};
const std::map<uint32_t, char> kValueType = {{1, 'v'}, {2, 'v'}};
const std::map<uint32_t, char> kSample = {{1, 'r'}, {2, 'r'}, {3, 'm'}};
const std::map<uint32_t, char> kLabel = {{1, 'v'}, {2, 'v'}, {3, 'v'}, {4, 'v'}};
const std::map<uint32_t, char> kMapping = {{1, 'v'}, {2, 'v'}, {3, 'v'}, {4, 'v'}, {5, 'v'},
                                           {6, 'v'}, {7, 'v'}, {8, 'v'}, {9, 'v'}, {10, 'v'}};
const std::map<uint32_t, char> kLocation = {{1, 'v'}, {2, 'v'}, {3, 'v'}, {4, 'm'}, {5, 'v'}};
const std::map<uint32_t, char> kLine = {{1, 'v'}, {2, 'v'}};
const std::map<uint32_t, char> kFunction = {{1, 'v'}, {2, 'v'}, {3, 'v'}, {4, 'v'}, {5, 'v'}};

std::string gunzip(const std::string& gz) {
  z_stream zs{};
  check(inflateInit2(&zs, 16 + 15) == Z_OK, "inflateInit2");  // gzip framing only
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(gz.data()));
  zs.avail_in = static_cast<uInt>(gz.size());
  std::string out;
  char buf[1 << 15];
  int rc;
  do {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    check(rc == Z_OK || rc == Z_STREAM_END, "inflate", static_cast<uint64_t>(rc));
    out.append(buf, sizeof buf - zs.avail_out);
  } while (rc != Z_STREAM_END);
  check(zs.avail_in == 0, "bytes after the gzip trailer", zs.avail_in);
  inflateEnd(&zs);
  return out;
}

bool known(const profilers::Frame& f) {  // as pprof_proto.cpp decides
  return f.entry != 0 || !f.file.empty() || f.function.rfind("0x", 0) != 0;
}

void check_profile(const Profile& p, const std::string& gz) {
  const std::string raw = gunzip(gz);
  const Msg top(raw, kProfile);

  // Strings.
  const std::vector<std::string_view>& strings = top.all(6);
  check(!strings.empty() && strings[0].empty(), "string_table[0] is not \"\"");
  check(std::set<std::string_view>(strings.begin(), strings.end()).size() == strings.size(), "a string twice");
  auto str = [&](uint64_t i) -> std::string_view {
    check(i < strings.size(), "string index out of range", i, strings.size());
    return strings[i];
  };
  auto same_type = [&](std::string_view m, const ValueType& t) {
    Msg vt(m, kValueType);
    check(str(vt.get(1)) == t.type && str(vt.get(2)) == t.unit, "value type differs");
  };

  // Sample types, period type and the scalars.
  check(top.all(1).size() == p.sample_types.size(), "sample type count", top.all(1).size(), p.sample_types.size());
  for (size_t i = 0; i < p.sample_types.size(); i++) same_type(top.all(1)[i], p.sample_types[i]);
  if (p.period_type.type.empty() && p.period_type.unit.empty()) {
    check(top.all(11).empty() || (Msg(top.all(11)[0], kValueType).get(1) == 0 &&
                                  Msg(top.all(11)[0], kValueType).get(2) == 0),
          "period type where none was set");
  } else {
    check(top.all(11).size() == 1, "period type count", top.all(11).size());
    same_type(top.all(11)[0], p.period_type);
  }
  check(static_cast<int64_t>(top.get(9)) == p.time_nanos, "time_nanos");
  check(static_cast<int64_t>(top.get(10)) == p.duration_nanos, "duration_nanos");
  check(static_cast<int64_t>(top.get(12)) == p.period, "period");
  check(str(top.get(14)) == p.default_sample_type, "default_sample_type");
  const std::vector<uint64_t>& comments = top.list(13);
  check(comments.size() == p.comments.size(), "comment count", comments.size(), p.comments.size());
  for (size_t i = 0; i < comments.size(); i++) check(str(comments[i]) == p.comments[i], "comment differs", i);

  // Mappings.
  struct Map {
    uint64_t start, limit;
  };
  std::map<uint64_t, Map> mappings;
  for (std::string_view m : top.all(3)) {
    Msg mm(m, kMapping);
    uint64_t id = mm.get(1);
    check(id != 0, "mapping id 0");
    check(mappings.emplace(id, Map{mm.get(2), mm.get(3)}).second, "mapping id twice", id);
    check(mm.get(2) <= mm.get(3), "mapping start above its limit", mm.get(2), mm.get(3));
    str(mm.get(5));
    str(mm.get(6));
  }

  // Functions.
  std::map<uint64_t, std::string_view> functions;  // id → name
  for (std::string_view m : top.all(5)) {
    Msg f(m, kFunction);
    uint64_t id = f.get(1);
    check(id != 0, "function id 0");
    check(functions.emplace(id, str(f.get(2))).second, "function id twice", id);
    str(f.get(3));
    str(f.get(4));
  }

  // Locations.
  std::map<uint64_t, uint64_t> address_of;  // location id → address
  std::set<uint64_t> addresses_seen;
  for (std::string_view m : top.all(4)) {
    Msg loc(m, kLocation);
    uint64_t id = loc.get(1), addr = loc.get(3), mid = loc.get(2);
    check(id != 0, "location id 0");
    check(address_of.emplace(id, addr).second, "location id twice", id);
    if (mid != 0) {
      auto it = mappings.find(mid);
      check(it != mappings.end(), "location's mapping missing", id, mid);
      check(addr >= it->second.start && addr < it->second.limit, "address outside its mapping", addr, mid);
    }
    std::vector<std::string_view> names;
    for (std::string_view l : loc.all(4)) {
      Msg line(l, kLine);
      auto it = functions.find(line.get(1));
      check(line.get(1) != 0 && it != functions.end(), "line's function missing", id, line.get(1));
      names.push_back(it->second);
    }
    std::vector<std::string_view> want;
    for (const profilers::Frame& f : profilers::Symbolizer::global().frames(addr))
      if (known(f)) want.push_back(f.function);
    check(names == want, "location's lines are not the symbolizer's frames", addr, names.size());
  }

  // Samples.
  std::set<uintptr_t> pcs;
  const std::vector<std::string_view>& samples = top.all(2);
  check(samples.size() == p.samples.size(), "sample count", samples.size(), p.samples.size());
  for (size_t i = 0; i < samples.size(); i++) {
    const Sample& want = p.samples[i];
    Msg s(samples[i], kSample);
    const std::vector<uint64_t>& locs = s.list(1);
    check(locs.size() == want.stack.size(), "stack depth", i, locs.size());
    for (size_t j = 0; j < locs.size(); j++) {
      auto it = address_of.find(locs[j]);
      check(locs[j] != 0 && it != address_of.end(), "sample's location missing", i, locs[j]);
      uintptr_t pc = want.stack[j];
      check(it->second == (pc > 0 ? pc - 1 : 0), "location address is not pc-1", it->second, pc);
      pcs.insert(pc);
    }
    const std::vector<uint64_t>& values = s.list(2);
    check(values.size() == p.sample_types.size(), "values per sample", values.size(), p.sample_types.size());
    for (size_t j = 0; j < values.size(); j++)
      check(static_cast<int64_t>(values[j]) == want.values[j], "value differs", i, j);
    const std::vector<std::string_view>& labels = s.all(3);
    check(labels.size() == want.labels.size() + want.num_labels.size(), "label count", i, labels.size());
    for (size_t j = 0; j < labels.size(); j++) {
      Msg l(labels[j], kLabel);
      if (j < want.labels.size()) {
        check(str(l.get(1)) == want.labels[j].first, "label key differs", i, j);
        check(str(l.get(2)) == want.labels[j].second, "label value differs", i, j);
        check(l.get(3) == 0, "string label has a number", i, j);
      } else {
        const auto& [key, num] = want.num_labels[j - want.labels.size()];
        check(str(l.get(1)) == key, "numeric label key differs", i, j);
        check(static_cast<int64_t>(l.get(3)) == num, "numeric label differs", i, j);
        check(l.get(2) == 0, "numeric label has a string", i, j);
      }
    }
  }
  check(address_of.size() == pcs.size(), "not one location per distinct PC", address_of.size(), pcs.size());
}

// dump writes what the writer produced to $GORT_FUZZ_DUMP, if set, for a
// look with Go's own tools (`go tool pprof`, shared/tools/check_go_trace.sh)
// at what a corpus input makes: GORT_FUZZ_DUMP=/tmp/x NAME_replay INPUT.
void dump(const std::string& bytes) {
  static const char* const path = std::getenv("GORT_FUZZ_DUMP");
  if (path != nullptr) std::ofstream(path, std::ios::binary) << bytes;
}

// random_before makes the earlier profile of a delta (`seconds=N`) from
// `after`: some of its samples dropped, kept, or kept with other values,
// and a few of its own.
Profile random_before(fuzzin::Input& in, const Profile& after) {
  Profile b;
  b.sample_types = after.sample_types;
  b.period_type = after.period_type;
  b.period = after.period;
  b.time_nanos = random_value(in);
  for (const Sample& s : after.samples) {
    switch (in.below(3)) {
      case 0:
        break;
      case 1:
        b.samples.push_back(s);
        break;
      default: {
        Sample c = s;
        for (int64_t& v : c.values) v = in.flag() ? v : random_value(in);
        b.samples.push_back(std::move(c));
      }
    }
  }
  const Profile extra = random_profile(in);
  for (uint32_t i = 0, n = in.below(3); i < n && i < extra.samples.size(); i++) {
    Sample s = extra.samples[i];
    s.values.resize(b.sample_types.size());
    b.samples.push_back(std::move(s));
  }
  return b;
}

// check_delta checks subtract_profiles(after, before) against a delta
// computed here: samples matched by (stack, labels), values summed with
// int64 wrap-around as Go's pprof Merge sums them, all-zero sums dropped,
// the rest in order of first appearance (after, then before).
void check_delta(const Profile& after, const Profile& before, const Profile& d) {
  using Key = std::tuple<std::vector<uintptr_t>, profilers::Labels, profilers::NumLabels>;
  std::vector<std::pair<Key, std::vector<uint64_t>>> sums;
  auto add = [&](const Sample& s, uint64_t sign) {
    Key k{s.stack, s.labels, s.num_labels};
    auto it = std::find_if(sums.begin(), sums.end(), [&](const auto& e) { return e.first == k; });
    if (it == sums.end()) it = sums.insert(sums.end(), {k, std::vector<uint64_t>(after.sample_types.size())});
    for (size_t i = 0; i < it->second.size(); i++) it->second[i] += sign * static_cast<uint64_t>(s.values[i]);
  };
  for (const Sample& s : after.samples) add(s, 1);
  for (const Sample& s : before.samples) add(s, ~uint64_t{0});
  size_t at = 0;
  for (const auto& [k, v] : sums) {
    if (std::all_of(v.begin(), v.end(), [](uint64_t x) { return x == 0; })) continue;
    check(at < d.samples.size(), "delta lost a sample", at);
    const Sample& s = d.samples[at++];
    check(Key{s.stack, s.labels, s.num_labels} == k, "delta sample out of order", at);
    for (size_t i = 0; i < v.size(); i++)
      check(static_cast<uint64_t>(s.values[i]) == v[i], "delta value", at, i);
  }
  check(at == d.samples.size(), "delta has a sample too many", d.samples.size(), at);
  check(d.time_nanos == after.time_nanos && d.period == after.period, "delta time or period");
  check(d.duration_nanos >= 0, "negative delta duration");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzzin::Input in(data, size);
  const Profile p = random_profile(in);
  const std::string gz = profilers::encode_pprof(p);
  dump(gz);
  check_profile(p, gz);
  if (in.empty()) return 0;
  // The same profile as a delta, as /debug/pprof/heap?seconds=N serves it.
  const Profile before = random_before(in, p);
  const Profile delta = profilers::subtract_profiles(p, before);
  check_delta(p, before, delta);
  check_profile(delta, profilers::encode_pprof(delta));
  return 0;
}
