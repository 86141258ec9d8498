// json.h — the two JSON scalars gortd writes by hand (/debug/vars,
// /debug/ui): quoted strings and numbers formatted as Go's encoding/json
// formats a float64, so gortd's JSON reads like a Go service's.
#pragma once

#include <string>
#include <string_view>

namespace gortd {

// json_string quotes s as a JSON string (control characters as \uXXXX).
std::string json_string(std::string_view s);

// json_float formats v as Go's encoding/json does a float64: the shortest
// representation that round-trips, in 'f' form unless the exponent is small
// or large (|v| < 1e-6 or >= 1e21), then 'e' with a one-digit exponent
// written without padding (1e-7, not 1e-07). NaN and infinities, which Go
// refuses to encode, are written as null.
std::string json_float(double v);

}  // namespace gortd
