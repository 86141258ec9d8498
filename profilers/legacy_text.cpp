// legacy_text.cpp — Go's tabwriter layout, printStackRecord's record end
// and %v for floats, for the debug=1 text profiles (legacy_text.h).
#include "profilers/legacy_text.h"

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "profilers/stack_text.h"

namespace profilers {

namespace {

// runtime/pprof's tabwriter settings.
constexpr size_t kMinWidth = 1;
constexpr size_t kTabWidth = 8;
constexpr size_t kPadding = 1;

// text_width is a cell's width as tabwriter counts it: UTF-8 code points.
size_t text_width(std::string_view s) {
  size_t n = 0;
  for (char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) n++;
  return n;
}

using Line = std::vector<std::string_view>;  // cells; all but the last were tab-terminated

// Formatter is Go's tabwriter.Writer.format / writeLines over whole text.
struct Formatter {
  const std::vector<Line>& lines;
  std::string& out;
  std::vector<size_t> widths;

  void write_lines(size_t line0, size_t line1) {
    for (size_t i = line0; i < line1; i++) {
      const Line& line = lines[i];
      for (size_t j = 0; j < line.size(); j++) {
        out += line[j];
        if (j < widths.size() && j + 1 < line.size()) {
          size_t cellw = (widths[j] + kTabWidth - 1) / kTabWidth * kTabWidth;
          size_t n = cellw - text_width(line[j]);
          out.append((n + kTabWidth - 1) / kTabWidth, '\t');
        }
      }
      out += '\n';
    }
  }

  void format(size_t line0, size_t line1) {
    size_t column = widths.size();
    for (size_t cur = line0; cur < line1; cur++) {
      if (column + 1 >= lines[cur].size()) continue;
      // A cell in this column: print the lines before the block, then the
      // block with this column's width, formatting the next column inside.
      write_lines(line0, cur);
      line0 = cur;
      size_t width = kMinWidth;
      for (; cur < line1; cur++) {
        if (column + 1 >= lines[cur].size()) break;
        width = std::max(width, text_width(lines[cur][column]) + kPadding);
      }
      widths.push_back(width);
      format(line0, cur);
      widths.pop_back();
      line0 = cur;
      if (cur == line1) break;
    }
    write_lines(line0, line1);
  }
};

}  // namespace

std::string tabwriter_format(const std::string& text) {
  std::vector<Line> lines;
  std::string_view rest(text);
  bool trailing_newline = !text.empty() && text.back() == '\n';
  while (!rest.empty()) {
    size_t nl = rest.find('\n');
    std::string_view l = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    Line cells;
    for (;;) {
      size_t tab = l.find('\t');
      cells.push_back(l.substr(0, tab));
      if (tab == std::string_view::npos) break;
      l = l.substr(tab + 1);
    }
    lines.push_back(std::move(cells));
  }
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  Formatter f{lines, out, {}};
  f.format(0, lines.size());
  if (!trailing_newline && !out.empty()) out.pop_back();
  return out;
}

void append_frame_lines(std::string& out, const std::vector<uintptr_t>& stack) {
  append_stack_record(out, stack);
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\n\n") != 0) out += '\n';
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
