// duration.h — Go's time.Duration text forms for gortd: parse_go_duration
// reads flag values like "10s", "1m30s", "250ms" (time.ParseDuration's
// grammar) and format_go_duration prints "1.234567ms" / "2m3.5s" exactly as
// Duration.String does, so reply lines such as `contend … elapsed=…` read
// the same as the Go peer's.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gortd {

// parse_go_duration returns the duration in nanoseconds, or nullopt when s
// is not a valid Go duration ("[-+]?([0-9]*(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+"
// or "0") or overflows int64.
std::optional<int64_t> parse_go_duration(std::string_view s);

// format_go_duration returns Go's Duration.String() of ns.
std::string format_go_duration(int64_t ns);

}  // namespace gortd
