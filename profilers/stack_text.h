// stack_text.h — stacks as text, in the shapes Go's profiles and goroutine
// dumps print them. Shared by every profile's debug=1 form (goroutine,
// threadcreate, heap, block, mutex) and by the debug=2 goroutine dump.
//
// Two shapes:
//   - the stack record of runtime/pprof (printStackRecord), one line per
//     frame, columns aligned by Go's text/tabwriter (minwidth 1, tabwidth 8,
//     padding 1, padchar '\t'):
//       #	0x4d2f1c	gortd::handle_work(Request&)+0x5c	/src/gortd/work.cpp:41
//   - the traceback of runtime/traceback.go (gentraceback, printcreatedby),
//     two lines per frame, with the parameter list dropped so that the
//     line ends in exactly one "(...)" (panicparse and Go's test grammar
//     split the name at the last '('):
//       gortd::handle_work(...)
//       	/src/gortd/work.cpp:41 +0x5c
//       created by gortd::serve in goroutine 7
//       	/src/gortd/server.cpp:90 +0x1a4
//
// Stacks hold return addresses, innermost first (profile.h): each is
// symbolized at pc-1 through Symbolizer::global(), which expands inlined
// calls into several frames. Offsets are from the entry of the function
// that physically contains the PC, for inlined frames too (Go's
// Frame.Entry). Symbolizes: never call with the world stopped or from a
// signal handler.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "profilers/go_quote.h"
#include "profilers/profile.h"

namespace profilers {

// append_stack_record appends Go's printStackRecord form of stack to out:
// "#\t0x<pc-1>\t<function>+0x<offset>\t<file>:<line>" per frame, columns
// aligned as Go's tabwriter aligns them, then an empty line. Unless
// all_frames, leading frames of the runtime itself (names beginning
// "gort::", Go's "runtime.") are hidden, as long as something else is left
// to show (the heap and goroutine profiles pass false, block and mutex
// true, as Go does). An empty stack prints "#\t0x0", as Go's does.
void append_stack_record(std::string& out, std::span<const uintptr_t> stack, bool all_frames = false);

// append_traceback appends Go's traceback of stack: for each frame
// "<function>(...)\n\t<file>:<line> +0x<offset>\n", where inlined frames
// carry no offset and the offset appears only when the PC lies past the
// function's entry. leaf_is_entry says stack[0] is a function's entry
// address plus one (a goroutine that has not run yet, profile.h's
// convention for a leaf that is not a return address). Returns how many
// frames it printed.
int append_traceback(std::string& out, std::span<const uintptr_t> stack, bool leaf_is_entry = false);

// append_created_by appends Go 1.21's "created by <function> in goroutine
// <parent>\n\t<file>:<line> +0x<offset>\n" for the go statement whose return
// address is gopc (" in goroutine N" only when parent_goid is not 0);
// nothing when gopc is 0 or names no known function.
void append_created_by(std::string& out, uintptr_t gopc, int64_t parent_goid);

// traceback_function_name returns a demangled C++ name without its
// parameter list, trailing qualifiers and " [clone …]" suffixes:
// "gortd::xorshift_rounds(unsigned long)" -> "gortd::xorshift_rounds",
// "main::{lambda()#1}::operator()() const" -> "main::{lambda()#1}::operator()".
std::string traceback_function_name(const std::string& demangled);


// CountRecord is one entry of a count profile (goroutine, threadcreate):
// one goroutine or thread, its stack and its labels.
struct CountRecord {
  std::vector<uintptr_t> stack;
  Labels labels;  // in any order; empty: none
};

// append_count_profile appends Go's printCountProfile debug=1 text for the
// profile called name ("goroutine", "threadcreate"):
//   <name> profile: total <records.size()>
//   <count> @ 0x<pc> 0x<pc> …
//   # labels: {"k1":"v1", "k2":"v2"}        (only when there are labels)
//   <stack record, append_stack_record>
// one block per distinct (stack, labels), by count descending, then by the
// text of the "@ …" line (Go's keysByCount). all_frames is passed to
// append_stack_record.
void append_count_profile(std::string& out, const char* name, std::span<const CountRecord> records,
                          bool all_frames = false);

// count_profile returns printCountProfile's debug=0 profile: sample type
// and period type <name>/count, period 1, one sample per distinct (stack,
// labels) with its count, labels sorted by key, in append_count_profile's
// order; time_nanos is left 0 for the caller.
Profile count_profile(const char* name, std::span<const CountRecord> records);

// go_float_v returns v as Go's fmt %v prints a float64: the shortest
// representation that reads back exactly, in %e form (1.5e-05, 2e+06) when
// the exponent is < -4 or >= 6, else plain (0.0123) — strconv's 'g' with
// the shortest precision, as the MemStats block's GCCPUFraction shows it.
std::string go_float_v(double v);

}  // namespace profilers
