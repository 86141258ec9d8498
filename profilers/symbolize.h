// symbolize.h — program counters to names, files and lines, for the pprof
// writer, goroutine dumps and /debug/pprof/symbol.
//
// Names are demangled C++ (`gortd::xorshift_rounds(unsigned long)` …); files
// and lines come from the DWARF of the object that contains the PC (the
// executable or a shared library), read with elfutils' libdw; inlined calls
// are expanded into frames, innermost first, as Go's CallersFrames does.
// A PC without debug info falls back to the ELF symbol table (name only),
// and one in no known object yields its hex address as the name.
//
// Everything is cached per PC: the first lookup of a PC costs a DWARF
// search, later ones a hash-map probe. Never call from a signal handler
// (it allocates and locks).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace profilers {

struct Frame {
  std::string function;     // demangled name; "0x…" when unknown
  std::string system_name;  // mangled (linkage) name, or function if none
  std::string file;         // source file, absolute where DWARF says so; "" if unknown
  int64_t line = 0;         // line of this PC in file; 0 if unknown
  int64_t start_line = 0;   // line where the function begins (DW_AT_decl_line)
  uintptr_t entry = 0;      // address of the function's first instruction (0 if unknown)
};

struct Mapping {
  uint64_t start = 0;   // memory start
  uint64_t limit = 0;   // memory limit (exclusive)
  uint64_t offset = 0;  // file offset of start
  std::string file;     // path, or "" for anonymous
  std::string build_id; // GNU build ID, hex; "" if none
};

class Symbolizer final {
 public:
  // global returns the process-wide symbolizer (created on first use).
  static Symbolizer& global();

  // frames returns the frames at address pc — pass the address itself, not
  // a return address (callers subtract 1 from return addresses) — innermost
  // inlined call first, the function containing pc last; never empty.
  // Thread-safe; the reference stays valid for the process's life.
  const std::vector<Frame>& frames(uintptr_t pc);

  // mappings returns the executable mappings (r-xp) of /proc/self/maps with
  // their build IDs, the main executable first. Re-read on each call.
  std::vector<Mapping> mappings();

  Symbolizer(const Symbolizer&) = delete;
  Symbolizer& operator=(const Symbolizer&) = delete;
  ~Symbolizer();

 private:
  Symbolizer();
  struct Impl;
  Impl* impl_;
};

// symbol_addresses parses a pprof symbol request (Go's net/http/pprof
// Symbol handler): words separated by '+', each read as
// strconv.ParseUint(word, 0, 64) — 0x/0o/0b or leading-0 octal prefixes,
// '_' between digits; a word that does not parse (or overflows, or is 0)
// names nothing and is dropped. Returns the addresses in request order.
std::vector<uint64_t> symbol_addresses(std::string_view body);

// symbol_lookup answers pprof's remote symbolization (Go's
// net/http/pprof Symbol handler): for a GET (body empty) "num_symbols: 1\n";
// for a POST body of addresses ("0x4a2e40+0x4a2f10…", see
// symbol_addresses; the caller passes a GET's raw query the same way) one
// line per address that names a function: "0x4a2e40 name\n", after the
// "num_symbols: 1\n" line. Go's handler reads through a 4 KiB bufio.Reader
// and ends with "reading request: bufio: buffer full" at a longer word;
// gortd reads any word whole.
std::string symbol_lookup(std::string_view body);

}  // namespace profilers
