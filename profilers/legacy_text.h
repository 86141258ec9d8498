// legacy_text.h — pieces the debug=1 text profiles share (heap, block,
// mutex): Go's text/tabwriter pass that runtime/pprof runs its legacy text
// through, a record's frame lines, and Go's %v for a float64.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace profilers {

// tabwriter_format returns text as Go's tabwriter.NewWriter(w, 1, 8, 1,
// '\t', 0) writes it (runtime/pprof's settings for every debug=1 profile):
// tab-terminated cells of consecutive lines form columns, and each cell is
// padded with tabs to its column's width (widest cell + 1, rounded up to a
// multiple of 8), so the `#\t0x…\tname+0x…\tfile:line` lines line up.
std::string tabwriter_format(const std::string& text);

// append_frame_lines appends the `#\t…` lines of stack and the blank line
// that ends a record (Go's printStackRecord), via append_stack_record.
void append_frame_lines(std::string& out, const std::vector<uintptr_t>& stack);

// go_float_v returns v as Go's fmt %v prints a float64: the shortest
// representation that reads back exactly, in %e form (1.5e-05, 2e+06) when
// the exponent is < -4 or >= 6 (strconv's %g, shortest), else plain (0.0123).
std::string go_float_v(double v);

}  // namespace profilers
