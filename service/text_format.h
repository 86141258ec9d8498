// text_format.h — the Prometheus text exposition format (0.0.4) written
// exactly as client_golang writes it (prometheus/common/expfmt
// text_create.go), so that /metrics reads byte for byte like a Go
// service's: numbers in Go's shortest form (strconv 'g', -1: "0.1048576",
// "9.999999999999999e-10", "1.7e+09"), histograms as _bucket lines then
// _sum and _count, summaries as quantiles then _sum and _count, families
// without samples left out.
//
// Why not prometheus-cpp's TextSerializer: it prints 16 significant digits,
// so client_golang's bucket bound 24.999999999999996 (the float64 below 25
// that runtime/metrics histograms use) came out as le="25" — a different
// series from a Go service's, which breaks `sum by (le)` across a fleet
// and any query naming the bucket.
#pragma once

#include <prometheus/metric_family.h>

#include <ostream>
#include <string>
#include <vector>

namespace gortd {

// format_go_float returns f as Go's strconv.FormatFloat(f, 'g', -1, 64)
// does, with expfmt's spellings of the specials: "+Inf", "-Inf", "NaN".
std::string format_go_float(double f);

// write_text_format writes families in client_golang's text format.
void write_text_format(std::ostream& out, const std::vector<prometheus::MetricFamily>& families);

}  // namespace gortd
