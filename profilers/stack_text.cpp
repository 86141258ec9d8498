// stack_text.cpp — Go's textual stack shapes (stack_text.h): pprof's stack
// records with text/tabwriter's column alignment, tracebacks, and the
// printCountProfile text shared by the goroutine and threadcreate profiles.
//
// Alignment. Go writes the debug=1 profiles through
// tabwriter.NewWriter(w, 1, 8, 1, '\t', 0): cells end at '\t'; a column's
// width is the widest cell of a run of consecutive lines that have that
// column, plus one, at least one; with '\t' as padding character a cell is
// padded with tabs up to the next multiple of 8 at or beyond that width. A
// line without tabs flushes the writer, so each record's "#" lines form a
// block of their own (the "N @ …" line before and the empty line after
// contain no tab), and aligning one record at a time gives Go's bytes.
// format_block below is tabwriter's format/writeLines, for one block.
#include "profilers/stack_text.h"

#include <algorithm>
#include <charconv>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <system_error>
#include <map>

#include "profilers/symbolize.h"

namespace profilers {

namespace {

// Go's text/tabwriter settings in runtime/pprof.
constexpr size_t kTabMinWidth = 1;
constexpr size_t kTabWidth = 8;
constexpr size_t kTabPadding = 1;

// Go's runtime.Frame for unknown code has no function; the symbolizer names
// it by its address instead (symbolize.h).
bool unknown_function(const Frame& f) { return f.entry == 0 && f.function.rfind("0x", 0) == 0; }

// runtime_function reports whether name belongs to gort's runtime (the
// namespace gort, possibly after a template function's return type), the
// counterpart of Go's "runtime." prefix.
bool runtime_function(const std::string& name) {
  if (name.rfind("gort::", 0) == 0) return true;
  size_t paren = name.find('(');
  size_t at = name.find(" gort::");
  return at != std::string::npos && at < paren && name.find('<') > at;
}

std::string hex(uintptr_t v) {
  char buf[24];
  snprintf(buf, sizeof buf, "0x%" PRIxPTR, v);
  return buf;
}

// rune_count is a cell's width for tabwriter: UTF-8 code points.
size_t rune_count(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

using Cells = std::vector<std::string>;  // a line: tab-terminated cells, then the trailing text

void write_lines(std::string& out, const std::vector<Cells>& lines, size_t l0, size_t l1,
                 const std::vector<size_t>& widths) {
  for (size_t i = l0; i < l1; i++) {
    const Cells& line = lines[i];
    for (size_t j = 0; j < line.size(); j++) {
      out += line[j];
      if (j < widths.size()) {
        // writePadding with padchar '\t': round the column up to a tab stop.
        size_t cellw = (widths[j] + kTabWidth - 1) / kTabWidth * kTabWidth;
        size_t pad = cellw - rune_count(line[j]);
        out.append((pad + kTabWidth - 1) / kTabWidth, '\t');
      }
    }
    out += '\n';
  }
}

// format_block is tabwriter's format: lines [l0, l1) with the widths of the
// columns left of widths.size() known.
void format_block(std::string& out, const std::vector<Cells>& lines, size_t l0, size_t l1,
                  std::vector<size_t>& widths) {
  const size_t column = widths.size();
  for (size_t t = l0; t < l1; t++) {
    if (column + 1 >= lines[t].size()) continue;  // the last cell is not a column
    write_lines(out, lines, l0, t, widths);
    l0 = t;
    size_t width = kTabMinWidth;
    for (; t < l1 && column + 1 < lines[t].size(); t++) width = std::max(width, rune_count(lines[t][column]) + kTabPadding);
    widths.push_back(width);
    format_block(out, lines, l0, t, widths);
    widths.pop_back();
    l0 = t;
    if (t == l1) break;
  }
  write_lines(out, lines, l0, l1, widths);
}

void stack_record_lines(std::vector<Cells>& rows, std::span<const uintptr_t> stack, bool all_frames, bool* shown) {
  bool show = all_frames;
  Symbolizer& sym = Symbolizer::global();
  for (uintptr_t ret : stack) {
    const uintptr_t pc = ret - 1;  // inside the call (Go's Frame.PC)
    const std::vector<Frame>& frames = sym.frames(pc);
    const uintptr_t entry = frames.back().entry;
    for (const Frame& f : frames) {
      if (unknown_function(f)) {
        // Go's CallersFrames drops PCs outside any function; we print them
        // bare (Go's form for a frame without a function) but, like Go, do
        // not let them end the hidden runtime prefix.
        if (show) rows.push_back({"#", hex(pc)});
      } else if (show || !runtime_function(f.function)) {
        show = true;
        rows.push_back({"#", hex(pc), f.function + "+" + hex(pc >= entry ? pc - entry : 0),
                        (f.file.empty() ? std::string("?") : f.file) + ":" + std::to_string(f.line)});
      }
    }
  }
  *shown = show;
}

}  // namespace

void append_stack_record(std::string& out, std::span<const uintptr_t> stack, bool all_frames) {
  std::vector<Cells> rows;
  if (stack.empty()) {
    rows.push_back({"#", "0x0"});  // Go's CallersFrames yields one empty Frame
  } else {
    bool shown = false;
    stack_record_lines(rows, stack, all_frames, &shown);
    if (!shown) {  // only runtime frames: print them all
      rows.clear();
      stack_record_lines(rows, stack, true, &shown);
    }
  }
  std::vector<size_t> widths;
  format_block(out, rows, 0, rows.size(), widths);
  out += '\n';
}

int append_traceback(std::string& out, std::span<const uintptr_t> stack, bool leaf_is_entry) {
  Symbolizer& sym = Symbolizer::global();
  int printed = 0;
  for (size_t i = 0; i < stack.size(); i++) {
    // Go's frame.pc: the return address, or the entry of a goroutine that
    // has not run; file:line come from the call instruction (tracepc).
    const uintptr_t frame_pc = i == 0 && leaf_is_entry ? stack[i] - 1 : stack[i];
    const std::vector<Frame>& frames = sym.frames(stack[i] - 1);
    const uintptr_t entry = frames.back().entry;
    for (size_t j = 0; j < frames.size(); j++) {
      const Frame& f = frames[j];
      out += traceback_function_name(f.function);
      out += "(...)\n\t";
      out += f.file.empty() ? std::string("?") : f.file;
      out += ':';
      out += std::to_string(f.line);
      if (j + 1 == frames.size() && entry != 0 && frame_pc > entry) {
        out += " +";
        out += hex(frame_pc - entry);
      }
      out += '\n';
      printed++;
    }
  }
  return printed;
}

void append_created_by(std::string& out, uintptr_t gopc, int64_t parent_goid) {
  if (gopc == 0) return;
  const std::vector<Frame>& frames = Symbolizer::global().frames(gopc - 1);
  const Frame& outer = frames.back();  // Go names the function containing the go statement
  if (unknown_function(outer)) return;
  const Frame& inner = frames.front();  // and its line table gives the innermost position
  out += "created by ";
  out += traceback_function_name(outer.function);
  if (parent_goid != 0) out += " in goroutine " + std::to_string(parent_goid);
  out += "\n\t";
  out += inner.file.empty() ? std::string("?") : inner.file;
  out += ':';
  out += std::to_string(inner.line);
  if (outer.entry != 0 && gopc > outer.entry) out += " +" + hex(gopc - outer.entry);
  out += '\n';
}

std::string traceback_function_name(const std::string& demangled) {
  std::string s = demangled;
  // Trailing " [clone .lto_priv.0]" (a compiler-made copy, named in the
  // ELF symbol table), then cv- and ref-qualifiers of a member function.
  for (bool again = true; again;) {
    again = false;
    if (s.size() > 9 && s.back() == ']') {
      size_t open = s.rfind(" [clone ");
      if (open != std::string::npos) {
        s.resize(open);
        again = true;
        continue;
      }
    }
    for (const char* q : {" const", " volatile", " &&", " &"}) {
      size_t n = strlen(q);
      if (s.size() > n && s.compare(s.size() - n, n, q) == 0) {
        s.resize(s.size() - n);
        again = true;
      }
    }
  }
  if (s.empty() || s.back() != ')') return s;
  int depth = 0;
  for (size_t i = s.size(); i-- > 0;) {
    if (s[i] == ')') depth++;
    if (s[i] == '(' && --depth == 0) {
      if (i == 0) return s;  // "(anonymous namespace)" alone: not a parameter list
      // "…::operator()" from DWARF, without a parameter list: the "()" is the name's.
      if (i + 2 == s.size() && i >= 8 && s.compare(i - 8, 8, "operator") == 0) return s;
      s.resize(i);
      return s;
    }
  }
  return s;
}

namespace {

// label_text is Go's labelMap.String: {"k":"v", …}, pairs sorted as text.
std::string label_text(const Labels& labels) {
  std::vector<std::string> kv;
  for (const auto& [k, v] : labels) kv.push_back(go_quote(k) + ":" + go_quote(v));
  std::sort(kv.begin(), kv.end());
  std::string out = "{";
  for (size_t i = 0; i < kv.size(); i++) out += (i > 0 ? ", " : "") + kv[i];
  return out + "}";
}

struct CountGroup {
  std::string key;  // "@ 0x… 0x…" plus "\n# labels: {…}": Go's map key
  int64_t count = 0;
  size_t first = 0;  // index of the first record with this key
};

// group_records counts records by key, in keysByCount order.
std::vector<CountGroup> group_records(std::span<const CountRecord> records) {
  std::map<std::string, size_t> index;
  std::vector<CountGroup> groups;
  for (size_t i = 0; i < records.size(); i++) {
    std::string key = "@";
    for (uintptr_t pc : records[i].stack) key += " " + hex(pc);
    if (!records[i].labels.empty()) key += "\n# labels: " + label_text(records[i].labels);
    auto [it, fresh] = index.try_emplace(key, groups.size());
    if (fresh) groups.push_back({std::move(key), 0, i});
    groups[it->second].count++;
  }
  std::sort(groups.begin(), groups.end(), [](const CountGroup& a, const CountGroup& b) {
    return a.count != b.count ? a.count > b.count : a.key < b.key;
  });
  return groups;
}

}  // namespace

void append_count_profile(std::string& out, const char* name, std::span<const CountRecord> records,
                          bool all_frames) {
  out += name;
  out += " profile: total " + std::to_string(records.size()) + "\n";
  for (const CountGroup& g : group_records(records)) {
    out += std::to_string(g.count) + " " + g.key + "\n";
    append_stack_record(out, records[g.first].stack, all_frames);
  }
}

Profile count_profile(const char* name, std::span<const CountRecord> records) {
  Profile p;
  p.sample_types = {{name, "count"}};
  p.period_type = {name, "count"};
  p.period = 1;
  for (const CountGroup& g : group_records(records)) {
    Sample s;
    s.stack = records[g.first].stack;
    s.values = {g.count};
    s.labels = records[g.first].labels;
    std::sort(s.labels.begin(), s.labels.end());
    p.samples.push_back(std::move(s));
  }
  return p;
}

std::string go_float_v(double v) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  if (ec != std::errc()) return "NaN";
  std::string_view s(buf, static_cast<size_t>(end - buf));
  if (s == "inf") return "+Inf";
  if (s == "-inf") return "-Inf";
  if (s.find('n') != std::string_view::npos) return "NaN";
  // s is [-]d[.ddd]e±XX: split into sign, digits and the decimal exponent.
  std::string out;
  if (s[0] == '-') {
    out += '-';
    s.remove_prefix(1);
  }
  size_t e = s.find('e');
  std::string digits;
  for (char c : s.substr(0, e))
    if (c != '.') digits += c;
  int exp = std::atoi(std::string(s.substr(e + 1)).c_str());
  if (digits == "0") return out + "0";
  if (exp < -4 || exp >= 6) {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out += digits.substr(1);
    }
    char eb[16];
    std::snprintf(eb, sizeof eb, "e%c%02d", exp < 0 ? '-' : '+', std::abs(exp));
    return out + eb;
  }
  if (exp < 0) return out + "0." + std::string(static_cast<size_t>(-exp - 1), '0') + digits;
  size_t int_digits = static_cast<size_t>(exp) + 1;
  if (digits.size() <= int_digits) return out + digits + std::string(int_digits - digits.size(), '0');
  return out + digits.substr(0, int_digits) + "." + digits.substr(int_digits);
}

}  // namespace profilers
