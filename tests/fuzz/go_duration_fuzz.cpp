// go_duration_fuzz.cpp — fuzzes Go's duration grammar (service/duration.h),
// which gortd reads from flags (--idle-timeout 2m, --profile-every 30s …)
// and writes into replies (`contend … elapsed=1.2ms`).
//
// Properties checked, as Go's time package guarantees them:
//   - parse_go_duration never crashes on any bytes;
//   - whatever it accepts, format_go_duration prints back in a form it
//     parses to the same value (ParseDuration(d.String()) == d);
//   - the first 8 bytes read as an int64 duration round-trip the same way.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <cstdio>
#include <string_view>

#include "service/duration.h"

namespace {

void check_round_trip(int64_t ns) {
  std::string text = gortd::format_go_duration(ns);
  auto back = gortd::parse_go_duration(text);
  if (!back || *back != ns) {
    std::fprintf(stderr, "round trip failed: %lld -> %s -> %s\n", static_cast<long long>(ns), text.c_str(),
                 back ? std::to_string(*back).c_str() : "error");
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view s(reinterpret_cast<const char*>(data), size);
  if (auto ns = gortd::parse_go_duration(s)) check_round_trip(*ns);
  if (size >= 8) {
    int64_t ns;
    std::memcpy(&ns, data, sizeof ns);
    check_round_trip(ns);
  }
  return 0;
}
