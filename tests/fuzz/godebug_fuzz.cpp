// godebug_fuzz.cpp — fuzzes $GODEBUG parsing (gort::godebug_lookup,
// runtime/godebug.cpp), which decides gctrace, schedtrace=MS and
// scheddetail at start-up.
//
// Properties checked, with Go 1.19's parsedebugvars (runtime/runtime1.go)
// as the reference:
//   - godebug_lookup agrees with a transliteration of Go's loop (split on
//     ',', key before the first '=', value through runtime.atoi32, a
//     malformed value ignored, the last good one winning) for the keys gort
//     reads and for a key taken from the input itself;
//   - appending ",key=N" (N in int32 range) makes the answer N, whatever
//     came before; appending ",key=<malformed>" or a field without '='
//     changes nothing; prepending "key=N," changes the answer only when the
//     input had none for key.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "runtime/gort.h"

namespace {

// go_atoi32 is runtime.atoi32 (through atoi64's overflow rules).
std::optional<int32_t> go_atoi32(std::string_view s) {
  if (s.empty()) return std::nullopt;
  bool neg = false;
  if (s[0] == '-') {
    neg = true;
    s.remove_prefix(1);
  }
  uint64_t un = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (un > UINT64_MAX / 10) return std::nullopt;
    un *= 10;
    uint64_t un1 = un + static_cast<uint64_t>(c - '0');
    if (un1 < un) return std::nullopt;
    un = un1;
  }
  if (!neg && un > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  if (neg && un > static_cast<uint64_t>(INT64_MAX) + 1) return std::nullopt;
  int64_t n = neg ? static_cast<int64_t>(0 - un) : static_cast<int64_t>(un);
  if (n != static_cast<int64_t>(static_cast<int32_t>(n))) return std::nullopt;
  return static_cast<int32_t>(n);
}

// go_parsedebugvars is parsedebugvars' loop for one variable.
std::optional<int32_t> go_parsedebugvars(std::string p, const std::string& name) {
  std::optional<int32_t> value;
  while (!p.empty()) {
    std::string field;
    size_t i = p.find(',');
    if (i == std::string::npos) {
      field = p;
      p.clear();
    } else {
      field = p.substr(0, i);
      p = p.substr(i + 1);
    }
    i = field.find('=');
    if (i == std::string::npos) continue;
    std::string key = field.substr(0, i), val = field.substr(i + 1);
    if (key == name)
      if (auto n = go_atoi32(val)) value = n;
  }
  return value;
}

std::string show(std::optional<int32_t> v) { return v ? std::to_string(*v) : "none"; }

void expect(const char* what, std::string_view godebug, std::string_view key, std::optional<int32_t> want) {
  std::optional<int32_t> got = gort::godebug_lookup(godebug, key);
  if (got == want) return;
  std::fprintf(stderr, "%s: godebug_lookup(\"%.*s\", \"%.*s\") = %s, want %s\n", what,
               static_cast<int>(godebug.size()), godebug.data(), static_cast<int>(key.size()), key.data(),
               show(got).c_str(), show(want).c_str());
  std::abort();
}

void check_key(std::string_view godebug, const std::string& key, int32_t n) {
  std::optional<int32_t> base = go_parsedebugvars(std::string(godebug), key);
  expect("differs from Go's parsedebugvars", godebug, key, base);
  std::string s(godebug);
  if (key.find(',') != std::string::npos) return;  // such a key can never be matched
  std::string set = key + "=" + std::to_string(n);
  expect("last key=N does not win", s + "," + set, key, n);
  expect("a later malformed value overrode", s + "," + key + "=+1", key, base);
  expect("a later malformed value overrode", s + "," + key + "=1x", key, base);
  expect("a field without '=' changed the answer", s + "," + key, key, base);
  expect("an earlier key=N overrode a later one", set + "," + s, key,
         base ? base : std::optional<int32_t>(n));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view godebug(reinterpret_cast<const char*>(data), size);
  int32_t n = 0;
  if (size >= 4) std::memcpy(&n, data, sizeof n);
  for (const char* key : {"gctrace", "schedtrace", "scheddetail"}) check_key(godebug, key, n);
  // A key from the input: the first field's, so keys with odd bytes
  // (spaces, '-', NUL) are tried too.
  std::string_view first = godebug.substr(0, godebug.find(','));
  check_key(godebug, std::string(first.substr(0, first.find('='))), n);
  return 0;
}
