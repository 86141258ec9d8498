// pprof_proto.cpp — encode_pprof: a Profile (profile.h) as the gzipped
// profile.proto that `go tool pprof` reads.
//
// The message, as github.com/google/pprof/proto/profile.proto defines it
// and Go's runtime/pprof/proto.go writes it (field numbers verbatim):
//
//   Profile  1 sample_type: ValueType*   2 sample: Sample*
//            3 mapping: Mapping*         4 location: Location*
//            5 function: Function*       6 string_table: string*
//            9 time_nanos  10 duration_nanos  11 period_type: ValueType
//            12 period     13 comment: int64* (string indices)
//            14 default_sample_type (string index)
//   ValueType 1 type  2 unit                       (string indices)
//   Sample    1 location_id: uint64* (packed)  2 value: int64* (packed)
//             3 label: Label*
//   Label     1 key  2 str (string indices)  3 num
//   Mapping   1 id  2 memory_start  3 memory_limit  4 file_offset
//             5 filename  6 build_id (string indices)
//             7 has_functions  8 has_filenames  9 has_line_numbers
//             10 has_inline_frames
//   Location  1 id  2 mapping_id  3 address  4 line: Line*
//   Line      1 function_id  2 line
//   Function  1 id  2 name  3 system_name  4 filename (string indices)
//             5 start_line
//
// String index 0 is always "". Ids start at 1; a mapping_id of 0 means "no
// mapping". Zero-valued scalars are omitted, as Go omits them.
//
// Tables. One Location per distinct PC in the profile's stacks (PCs are
// return addresses, so the location's address is pc-1, inside the call),
// its Lines the frames Symbolizer::global().frames(pc-1) returns, innermost
// first — pprof's order too: the last line is the function the others were
// inlined into. A PC in no known function gets a Location with no Line, so
// pprof shows its address. One Function per distinct (name, system name,
// file, start line). Mappings are Symbolizer::mappings(), the main
// executable first; each Location points at the mapping holding its
// address. A mapping says it has functions (file names, lines, inline
// frames) unless one of its locations lacks them, so pprof does not try to
// symbolize again what is already symbolized.
//
// Compression. The encoded message is gzipped with zlib (deflate with a
// gzip header and trailer: windowBits 16+15) at the fastest level, as Go
// uses gzip.BestSpeed.
#include <zlib.h>

#include <map>
#include <tuple>
#include <unordered_map>

#include "profilers/profile.h"
#include "profilers/protobuf_writer.h"
#include "profilers/symbolize.h"
#include "runtime/base.h"

namespace profilers {

namespace {

using detail::ProtoWriter;

// Field numbers of profile.proto (see the table above).
enum ProfileField {
  kSampleType = 1,
  kSample,
  kMapping,
  kLocation,
  kFunction,
  kStringTable,
  kTimeNanos = 9,
  kDurationNanos,
  kPeriodType,
  kPeriod,
  kComment,
  kDefaultSampleType
};
enum ValueTypeField { kValueTypeType = 1, kValueTypeUnit };
enum SampleField { kSampleLocation = 1, kSampleValue, kSampleLabel };
enum LabelField { kLabelKey = 1, kLabelStr, kLabelNum };
enum MappingField {
  kMappingId = 1,
  kMappingStart,
  kMappingLimit,
  kMappingOffset,
  kMappingFilename,
  kMappingBuildId,
  kMappingHasFunctions,
  kMappingHasFilenames,
  kMappingHasLineNumbers,
  kMappingHasInlineFrames
};
enum LocationField { kLocationId = 1, kLocationMappingId, kLocationAddress, kLocationLine };
enum LineField { kLineFunctionId = 1, kLineLine };
enum FunctionField {
  kFunctionId = 1,
  kFunctionName,
  kFunctionSystemName,
  kFunctionFilename,
  kFunctionStartLine
};

// kGzipWindowBits selects a gzip wrapper (16) around deflate's largest
// window (15).
constexpr int kGzipWindowBits = 16 + 15;

// known reports whether the symbolizer found anything for a frame (the
// symbolizer names an unknown PC by its hex address, with no entry or file).
bool known(const Frame& f) {
  return f.entry != 0 || !f.file.empty() || f.function.rfind("0x", 0) != 0;
}

class Builder final {
 public:
  explicit Builder(const Profile& p) : p_(p) {
    strings_.push_back("");
    index_.emplace("", 0);
  }

  std::string encode() {
    mappings_ = Symbolizer::global().mappings();
    mapping_state_.assign(mappings_.size(), MappingState{});
    for (const ValueType& t : p_.sample_types) value_type(kSampleType, t);
    for (const Sample& s : p_.samples) sample(s);
    for (size_t i = 0; i < mappings_.size(); i++) mapping(i);
    std::string body = out_.data();
    body += locations_.data();
    body += functions_.data();
    ProtoWriter tail;
    tail.int64_opt(kTimeNanos, p_.time_nanos);
    tail.int64_opt(kDurationNanos, p_.duration_nanos);
    if (!p_.period_type.type.empty() || !p_.period_type.unit.empty())
      value_type_into(tail, kPeriodType, p_.period_type);
    tail.int64_opt(kPeriod, p_.period);
    std::vector<int64_t> comments;
    for (const std::string& c : p_.comments) comments.push_back(string_index(c));
    tail.packed(kComment, comments);
    if (!p_.default_sample_type.empty())
      tail.int64_opt(kDefaultSampleType, string_index(p_.default_sample_type));
    for (const std::string& s : strings_) tail.bytes(kStringTable, s);
    body += tail.data();
    return body;
  }

 private:
  struct MappingState {
    bool lacks_functions = false;
    bool lacks_files = false;
  };

  int64_t string_index(const std::string& s) {
    auto [it, fresh] = index_.try_emplace(s, static_cast<int64_t>(strings_.size()));
    if (fresh) strings_.push_back(s);
    return it->second;
  }

  void value_type_into(ProtoWriter& w, int tag, const ValueType& t) {
    ProtoWriter m;
    m.int64_opt(kValueTypeType, string_index(t.type));
    m.int64_opt(kValueTypeUnit, string_index(t.unit));
    w.message(tag, m);
  }
  void value_type(int tag, const ValueType& t) { value_type_into(out_, tag, t); }

  void sample(const Sample& s) {
    std::vector<uint64_t> locs;
    locs.reserve(s.stack.size());
    for (uintptr_t pc : s.stack) locs.push_back(location_id(pc));
    ProtoWriter m;
    m.packed(kSampleLocation, locs);
    m.packed(kSampleValue, s.values);
    for (const auto& [k, v] : s.labels) {
      ProtoWriter l;
      l.int64_opt(kLabelKey, string_index(k));
      l.int64_opt(kLabelStr, string_index(v));
      m.message(kSampleLabel, l);
    }
    for (const auto& [k, n] : s.num_labels) {
      ProtoWriter l;
      l.int64_opt(kLabelKey, string_index(k));
      l.int64_opt(kLabelNum, n);
      m.message(kSampleLabel, l);
    }
    out_.message(kSample, m);
  }

  // mapping_index returns the index in mappings_ of the mapping holding
  // addr, or -1.
  int mapping_index(uint64_t addr) const {
    for (size_t i = 0; i < mappings_.size(); i++)
      if (addr >= mappings_[i].start && addr < mappings_[i].limit) return static_cast<int>(i);
    return -1;
  }

  uint64_t location_id(uintptr_t pc) {
    auto [it, fresh] = locations_by_pc_.try_emplace(pc, locations_by_pc_.size() + 1);
    if (!fresh) return it->second;
    const uint64_t id = it->second;
    const uintptr_t addr = pc > 0 ? pc - 1 : 0;
    const int mi = mapping_index(addr);
    ProtoWriter loc;
    loc.uint64_opt(kLocationId, id);
    loc.uint64_opt(kLocationMappingId, mi >= 0 ? static_cast<uint64_t>(mi) + 1 : 0);
    loc.uint64_opt(kLocationAddress, addr);
    const std::vector<Frame>& frames = Symbolizer::global().frames(addr);
    bool has_functions = true, has_files = true;
    for (const Frame& f : frames) {
      if (!known(f)) {
        has_functions = false;
        continue;
      }
      if (f.file.empty()) has_files = false;
      ProtoWriter line;
      line.uint64_opt(kLineFunctionId, function_id(f));
      line.int64_opt(kLineLine, f.line);
      loc.message(kLocationLine, line);
    }
    if (mi >= 0) {
      mapping_state_[static_cast<size_t>(mi)].lacks_functions |= !has_functions;
      mapping_state_[static_cast<size_t>(mi)].lacks_files |= !has_files || !has_functions;
    }
    locations_.message(kLocation, loc);
    return id;
  }

  uint64_t function_id(const Frame& f) {
    auto key = std::make_tuple(f.function, f.system_name, f.file, f.start_line);
    auto [it, fresh] = functions_by_key_.try_emplace(std::move(key), functions_by_key_.size() + 1);
    if (!fresh) return it->second;
    ProtoWriter fn;
    fn.uint64_opt(kFunctionId, it->second);
    fn.int64_opt(kFunctionName, string_index(f.function));
    fn.int64_opt(kFunctionSystemName, string_index(f.system_name));
    fn.int64_opt(kFunctionFilename, string_index(f.file));
    fn.int64_opt(kFunctionStartLine, f.start_line);
    functions_.message(kFunction, fn);
    return it->second;
  }

  void mapping(size_t i) {
    const Mapping& m = mappings_[i];
    const MappingState& st = mapping_state_[i];
    ProtoWriter w;
    w.uint64_opt(kMappingId, i + 1);
    w.uint64_opt(kMappingStart, m.start);
    w.uint64_opt(kMappingLimit, m.limit);
    w.uint64_opt(kMappingOffset, m.offset);
    w.int64_opt(kMappingFilename, string_index(m.file));
    w.int64_opt(kMappingBuildId, string_index(m.build_id));
    w.bool_opt(kMappingHasFunctions, !st.lacks_functions);
    w.bool_opt(kMappingHasFilenames, !st.lacks_files);
    w.bool_opt(kMappingHasLineNumbers, !st.lacks_files);
    w.bool_opt(kMappingHasInlineFrames, !st.lacks_files);
    out_.message(kMapping, w);
  }

  const Profile& p_;
  std::vector<std::string> strings_;
  std::unordered_map<std::string, int64_t> index_;
  std::vector<Mapping> mappings_;
  std::vector<MappingState> mapping_state_;
  std::unordered_map<uintptr_t, uint64_t> locations_by_pc_;
  std::map<std::tuple<std::string, std::string, std::string, int64_t>, uint64_t> functions_by_key_;
  ProtoWriter out_;        // sample types, samples, mappings
  ProtoWriter locations_;  // Location messages, in id order
  ProtoWriter functions_;  // Function messages, in id order
};

// gzip returns data compressed in the gzip format.
std::string gzip(const std::string& data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_BEST_SPEED, Z_DEFLATED, kGzipWindowBits, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    GORT_THROW("encode_pprof: deflateInit2 failed");
  std::string out;
  out.resize(deflateBound(&zs, static_cast<uLong>(data.size())) + 32);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  if (rc != Z_STREAM_END) GORT_THROW("encode_pprof: deflate did not finish");
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

}  // namespace

std::string encode_pprof(const Profile& p) {
  return gzip(Builder(p).encode());
}

}  // namespace profilers
