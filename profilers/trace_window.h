// trace_window.h — a Go 1.19 trace file cut out of a running trace, between
// two ExecutionTracer cuts (tracer.h): what the flight recorder
// (flight_recorder.h) hands out.
//
// A running trace's stream cannot simply be cut anywhere: Go's parser
// wants every goroutine created (or declared) before its first event, and
// checks each goroutine's sequence numbers from the value its declaration
// gave. A cut therefore carries a prologue — the declarations a fresh start
// would have written at that moment — and the table of each declared
// goroutine's last sequence number in the stream. write_trace_window puts
// the prologue first and rewrites the stream's batches after it: sequence
// numbers of declared goroutines renumbered to follow on from the
// prologue, GC cycles renumbered from 0 as in any trace, timestamps before the cut raised to it (a P-less thread may
// have read the clock before the cut and written after it), and CPU
// samples taken before the cut dropped (their goroutine may not be
// declared yet at their time). The end cut's epilogue closes what is open
// and the dictionaries follow.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "profilers/tracer.h"

namespace profilers {

// write_trace_window returns the trace file from cut `from` to cut `to`:
// `stream` is every byte of whole batches written between them, in order
// (the take_batches chunks after `from`, then to.before), `dictionaries`
// the running trace's dictionaries taken after `to`. Returns "" and sets
// *why if the stream does not parse (a bug).
std::string write_trace_window(const ExecutionTracer::Cut& from, const std::vector<std::string_view>& stream,
                               const ExecutionTracer::Cut& to, std::string_view dictionaries, std::string* why);

}  // namespace profilers
