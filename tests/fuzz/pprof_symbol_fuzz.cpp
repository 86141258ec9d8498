// pprof_symbol_fuzz.cpp — fuzzes /debug/pprof/symbol, pprof's remote
// symbolization (profilers/symbolize.h): the POST body (or a GET's raw
// query) of '+'-separated addresses, parsed by symbol_addresses and
// answered by symbol_lookup from the process's own symbols.
//
// Properties checked, with Go's net/http/pprof Symbol handler as the
// reference:
//   - symbol_addresses(body) is, in order, every '+'-separated word that
//     strconv.ParseUint(word, 0, 64) reads without error as non-zero — a
//     transliteration of ParseUint and underscoreOK is written here;
//   - symbol_lookup(body) starts with "num_symbols: 1\n" and every other
//     line is "0x<lower-case hex, no leading zeros> <name>": an address
//     that symbol_addresses returned, in order, with a non-empty name;
//   - appending "+0x<address of a function in this program>" adds a last
//     line naming that function, whatever came before.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "profilers/symbolize.h"

namespace {

[[noreturn]] void fail(const char* what, std::string_view body, const std::string& detail = "") {
  std::fprintf(stderr, "%s (%s); body (%zu bytes): \"%.*s\"\n", what, detail.c_str(), body.size(),
               static_cast<int>(body.size()), body.data());
  std::abort();
}

char lower(char c) { return static_cast<char>(c | ('x' - 'X')); }

// underscore_ok is strconv's underscoreOK.
bool underscore_ok(std::string_view s) {
  char saw = '^';
  size_t i = 0;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  bool hex = false;
  if (s.size() >= 2 && s[0] == '0' && (lower(s[1]) == 'b' || lower(s[1]) == 'o' || lower(s[1]) == 'x')) {
    i = 2;
    saw = '0';
    hex = lower(s[1]) == 'x';
  }
  for (; i < s.size(); i++) {
    if (('0' <= s[i] && s[i] <= '9') || (hex && 'a' <= lower(s[i]) && lower(s[i]) <= 'f')) {
      saw = '0';
      continue;
    }
    if (s[i] == '_') {
      if (saw != '0') return false;
      saw = '_';
      continue;
    }
    if (saw == '_') return false;
    saw = '!';
  }
  return saw != '_';
}

// go_parse_uint is strconv.ParseUint(s, 0, 64); nullopt for any error.
std::optional<uint64_t> go_parse_uint(std::string_view s) {
  if (s.empty()) return std::nullopt;
  std::string_view s0 = s;
  unsigned base = 10;
  if (s[0] == '0') {
    if (s.size() >= 3 && lower(s[1]) == 'b') {
      base = 2;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && lower(s[1]) == 'o') {
      base = 8;
      s.remove_prefix(2);
    } else if (s.size() >= 3 && lower(s[1]) == 'x') {
      base = 16;
      s.remove_prefix(2);
    } else {
      base = 8;
      s.remove_prefix(1);
    }
  }
  const uint64_t cutoff = UINT64_MAX / base + 1;
  bool underscores = false;
  uint64_t n = 0;
  for (char c : s) {
    unsigned d;
    if (c == '_') {
      underscores = true;
      continue;
    } else if ('0' <= c && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if ('a' <= lower(c) && lower(c) <= 'z') {
      d = static_cast<unsigned>(lower(c) - 'a' + 10);
    } else {
      return std::nullopt;
    }
    if (d >= base) return std::nullopt;
    if (n >= cutoff) return std::nullopt;  // Go: maxVal and a range error
    n *= base;
    uint64_t n1 = n + d;
    if (n1 < n) return std::nullopt;
    n = n1;
  }
  if (underscores && !underscore_ok(s0)) return std::nullopt;
  return n;
}

std::vector<uint64_t> reference_addresses(std::string_view body) {
  std::vector<uint64_t> out;
  for (;;) {
    size_t plus = body.find('+');
    if (auto pc = go_parse_uint(body.substr(0, plus)); pc && *pc != 0) out.push_back(*pc);
    if (plus == std::string_view::npos) return out;
    body.remove_prefix(plus + 1);
  }
}

std::string hex(uint64_t pc) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(pc));
  return buf;
}

// check_reply checks symbol_lookup's reply shape against the addresses
// asked for; returns its lines after the first.
std::vector<std::string> check_reply(std::string_view body, const std::string& reply, const std::vector<uint64_t>& pcs) {
  constexpr std::string_view kFirst = "num_symbols: 1\n";
  if (reply.compare(0, kFirst.size(), kFirst) != 0) fail("reply does not start with num_symbols: 1", body, reply);
  if (reply.back() != '\n') fail("reply does not end in a newline", body, reply);
  std::vector<std::string> lines;
  size_t next_pc = 0;
  for (size_t at = kFirst.size(); at < reply.size();) {
    size_t eol = reply.find('\n', at);
    std::string line = reply.substr(at, eol - at);
    at = eol + 1;
    size_t space = line.find(' ');
    if (space == std::string::npos || space + 1 == line.size()) fail("line is not \"0x<hex> <name>\"", body, line);
    std::string addr = line.substr(0, space);
    while (next_pc < pcs.size() && hex(pcs[next_pc]) != addr) next_pc++;
    if (next_pc == pcs.size()) fail("line names an address not asked for, or out of order", body, line);
    next_pc++;
    lines.push_back(line);
  }
  return lines;
}

}  // namespace

// pprof_symbol_fuzz_known_function is an address in this program with a
// name to find (extern "C": the name is the same with or without DWARF).
extern "C" __attribute__((noinline, used)) int pprof_symbol_fuzz_known_function(int x) { return x * 3 + 1; }

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view body(reinterpret_cast<const char*>(data), size);
  std::vector<uint64_t> pcs = profilers::symbol_addresses(body);
  if (pcs != reference_addresses(body)) fail("symbol_addresses differs from strconv.ParseUint(word, 0, 64)", body);
  check_reply(body, profilers::symbol_lookup(body), pcs);

  const uint64_t known = reinterpret_cast<uintptr_t>(&pprof_symbol_fuzz_known_function);
  std::string with_known = std::string(body) + "+" + hex(known);
  std::vector<uint64_t> pcs2 = profilers::symbol_addresses(with_known);
  std::vector<std::string> lines = check_reply(with_known, profilers::symbol_lookup(with_known), pcs2);
  if (lines.empty() || lines.back() != hex(known) + " pprof_symbol_fuzz_known_function")
    fail("the known function is not the last line", with_known, lines.empty() ? "no lines" : lines.back());
  return 0;
}
